import Foundation
import Logging
import PanCore
import ServiceLifecycle

/// Marks upload sessions past their deadline (plus grace) expired, on a timer,
/// for as long as the server runs.
struct SessionSweeper: Service {
    let store: any PanStore
    /// How long after its deadline a session still takes its callback (WCS may be mid-retry).
    let callbackGrace: Int64
    let objectStore: LocalObjectStore
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let expired = try await store.sweepSessions(before: Millis.now() - callbackGrace)
                    if expired > 0 { logger.info("expired upload sessions", metadata: ["count": "\(expired)"]) }
                    // Blocks go with their sessions: same deadline, same grace.
                    let (store, grace) = (objectStore, callbackGrace)
                    let blocks = try await BlockingIO.run { store.removeAbandoned(grace: grace) }
                    if blocks > 0 { logger.info("removed abandoned upload blocks", metadata: ["count": "\(blocks)"]) }
                } catch {
                    logger.error("session sweep failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(interval))
            }
        }
    }
}
