import Foundation
import Logging
import PanCore
import PanHTTPSupport
import ServiceLifecycle

/// `PAN_BIN_RETENTION`: deletes for good what has been in a recycle bin
/// longer than the retention, on a timer, in bounded steps (`RecycleBin`;
/// each its own transaction, at most `stepsPerTick` a tick, so a huge backlog
/// is worked off over several ticks without holding the writer). With no
/// retention it still finishes purges a stopped server left half done.
struct BinSweeper: Service {
    let store: any PanStore
    /// Seconds; nil: items are kept until their user empties the bin.
    let retention: TimeInterval?
    let interval: TimeInterval
    let metrics: PanMetrics
    let logger: Logger

    /// Most purge steps one tick runs (`RecycleBin.StepSize.standard`: 1,000 nodes each).
    static let stepsPerTick = 20

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await sweep()
                } catch {
                    logger.error("recycle bin sweep failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(interval))
            }
        }
    }

    /// One tick: up to `stepsPerTick` steps, while there is something due.
    func sweep(now: Int64 = Millis.now()) async throws {
        // Binned at or before the cutoff is due; 0 takes only half-done purges (marked below any time).
        let cutoff = retention.map { now - Int64($0 * 1000) } ?? 0
        var items = 0, nodes = 0, bytes: Int64 = 0
        for _ in 0..<Self.stepsPerTick {
            // nil: another server is sweeping (PostgreSQL).
            guard let step = try await store.purgeBin(binnedBy: cutoff), step.nodes > 0 else { break }
            (items, nodes, bytes) = (items + step.items, nodes + step.nodes, bytes + step.bytes)
        }
        guard nodes > 0 else { return }
        metrics.binItemsExpired.increment(by: items)
        metrics.binNodesExpired.increment(by: nodes)
        logger.info(
            "deleted expired recycle bin items",
            metadata: ["items": "\(items)", "nodes": "\(nodes)", "bytes": "\(bytes)", "retention": "\(retention.map { "\(Int($0))s" } ?? "off")"]
        )
    }
}
