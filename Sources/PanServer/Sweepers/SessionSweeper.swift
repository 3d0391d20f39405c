import Foundation
import Logging
import PanCore
import ServiceLifecycle

/// Marks upload sessions past their deadline (plus grace), or lapsed (no
/// bytes for `PAN_UPLOAD_IDLE`), expired, their slice blocks going with them;
/// and deletes sign-in sessions whose tokens have all expired; on a timer,
/// for as long as the server runs.
struct SessionSweeper: Service {
    let store: any PanStore
    /// How long after its deadline a session still takes its callback (WCS may be mid-retry).
    let callbackGrace: Int64
    let objectStore: LocalObjectStore
    /// Seconds a session token lives: a sign-in not seen for longer (plus a margin) has no live token.
    let sessionTokenLifetime: TimeInterval
    /// Sign-in sessions deleted per transaction, and transactions per round:
    /// a backlog goes in bounded steps over the rounds.
    static let userSessionBatch = 1_000
    static let userSessionBatchesPerRound = 10
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let expired = try await store.expireSessions(before: Millis.now() - callbackGrace)
                    let (store, grace) = (objectStore, callbackGrace)
                    if !expired.isEmpty {
                        logger.info("expired upload sessions", metadata: ["count": "\(expired.count)"])
                        // A lapsed session's blocks go now, not at its token's deadline.
                        let ended = Set(expired)
                        _ = try await BlockingIO.run { store.removeBlocks(ofSessions: ended) }
                    }
                    // Blocks go with their sessions: same deadline, same grace.
                    let blocks = try await BlockingIO.run { store.removeAbandoned(grace: grace) }
                    if blocks > 0 { logger.info("removed abandoned upload blocks", metadata: ["count": "\(blocks)"]) }
                    let signIns = try await sweepUserSessions()
                    if signIns > 0 { logger.info("ended sign-in sessions not seen for a token lifetime", metadata: ["count": "\(signIns)"]) }
                    // Share download tickets outlive their address by nothing: gone once it has expired.
                    let tickets = try await self.store.sweepShareTickets(before: Millis.now(), limit: 10_000)
                    if tickets > 0 { logger.debug("removed expired share download tickets", metadata: ["count": "\(tickets)"]) }
                    // WebDAV locks past their timeout count for nothing; their rows go here.
                    let locks = try await self.store.sweepDAVLocks(before: Millis.now(), limit: 10_000)
                    if locks > 0 { logger.debug("removed expired WebDAV locks", metadata: ["count": "\(locks)"]) }
                } catch {
                    logger.error("session sweep failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(interval))
            }
        }
    }

    /// Sign-in sessions last seen more than a token lifetime (plus `UserSession.sweepMargin`) ago.
    func sweepUserSessions(now: Int64 = Millis.now()) async throws -> Int {
        let cutoff = now - Int64(sessionTokenLifetime * 1000) - UserSession.sweepMargin
        var total = 0
        for _ in 0..<Self.userSessionBatchesPerRound {
            let deleted = try await store.sweepUserSessions(before: cutoff, limit: Self.userSessionBatch)
            total += deleted
            if deleted < Self.userSessionBatch { break }
        }
        return total
    }
}
