import Foundation
import Logging
import PanCore
import ServiceLifecycle
import Synchronization

/// What `/readyz` and `/metrics` report about the database, measured in the
/// background so that a request for them costs no database work at all
/// (issue #24 §2.7). Counting every user's nodes took 10 ms at 32k nodes and
/// grows with the tree, and the writability check takes the write lock: per
/// request, a small flood of either raised other users' p99 from 7 to 315 ms.
/// Here each runs once per interval, whatever the request rate.
final class OperationsProbe: Sendable {
    /// The last writability check: the schema version it read, or why it failed.
    struct DatabaseCheck: Sendable {
        var schemaVersion: Int?
        var failure: String?
        var finished: ContinuousClock.Instant
    }

    let store: any PanStore
    let metrics: ServerMetrics
    let readinessInterval: Duration
    let metricsInterval: Duration
    private let check = Mutex<DatabaseCheck?>(nil)

    init(store: any PanStore, metrics: ServerMetrics, configuration: PanConfiguration) {
        self.store = store
        self.metrics = metrics
        self.readinessInterval = .milliseconds(Int64(configuration.readinessInterval * 1000))
        self.metricsInterval = .milliseconds(Int64(configuration.metricsInterval * 1000))
    }

    /// The last finished check; nil before the first.
    var lastCheck: DatabaseCheck? { check.withLock { $0 } }

    /// A check older than this is not believed: the checker is stuck behind
    /// the lock or the database (a write waiting past its busy timeout would
    /// have reported by now), which is itself not ready.
    var staleAfter: Duration { max(readinessInterval * 3, .seconds(15)) }

    /// The write lock (a no-op `BEGIN IMMEDIATE`; PostgreSQL: a write
    /// transaction) and the schema version, once.
    func checkDatabase() async {
        var result = DatabaseCheck(schemaVersion: nil, failure: nil, finished: .now)
        do {
            result.schemaVersion = try await store.checkWritable()
        } catch {
            result.failure = "not writable: \(error)"
        }
        result.finished = .now
        check.withLock { $0 = result }
    }

    /// The database gauges of `/metrics`, once.
    func refreshStatistics(logger: Logger) async {
        do {
            metrics.record(try await store.stats())
        } catch {
            // The previous values stay; their timestamp gauge says how old they are.
            logger.error("refreshing the database gauges failed", metadata: ["error": "\(error)"])
        }
    }
}

/// Runs `OperationsProbe`'s two measurements, each at once and then every
/// interval, until graceful shutdown.
struct OperationsRefresher: Service {
    let probe: OperationsProbe
    let logger: Logger

    func run() async throws {
        let probe = self.probe
        let logger = self.logger
        try? await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await Self.every(probe.readinessInterval) { await probe.checkDatabase() } }
                group.addTask { await Self.every(probe.metricsInterval) { await probe.refreshStatistics(logger: logger) } }
            }
        }
    }

    private static func every(_ interval: Duration, _ work: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            await work()
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
