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
        self.checkTimeout = .milliseconds(Int64(configuration.readinessTimeout * 1000))
    }

    /// The last finished check; nil before the first.
    var lastCheck: DatabaseCheck? { check.withLock { $0 } }

    /// A check older than this is not believed: the checker is stuck behind
    /// the lock or the database (a write waiting past its busy timeout would
    /// have reported by now), which is itself not ready.
    var staleAfter: Duration { max(readinessInterval * 3, .seconds(15)) }

    /// How long one check may take before it counts as failed (`PAN_READY_TIMEOUT`,
    /// 1 s): the database that does not answer within it is not ready, whatever the reason.
    let checkTimeout: Duration

    /// A check still running past `checkTimeout`: the next one waits for it
    /// again rather than starting another behind it.
    private let pending = Mutex<Task<Int, any Error>?>(nil)

    /// The write lock (a no-op `BEGIN IMMEDIATE`; PostgreSQL: a write
    /// transaction) and the schema version, once, answered within `checkTimeout`.
    func checkDatabase() async {
        let store = self.store
        let task = pending.withLock { current in
            if let current { return current }
            let task = Task { try await store.checkWritable() }
            current = task
            return task
        }
        let outcome = await Self.outcome(of: task, within: checkTimeout)
        var result = DatabaseCheck(schemaVersion: nil, failure: nil, finished: .now)
        switch outcome {
        case .answered(let version):
            result.schemaVersion = version
        case .failed(let error):
            result.failure = "not writable: \(error)"
        case .timedOut:
            result.failure = "not writable: no answer within \(checkTimeout)"
        case .cancelled:
            return  // shutting down
        }
        if case .timedOut = outcome {} else { pending.withLock { if $0 == task { $0 = nil } } }
        check.withLock { $0 = result }
    }

    /// Whether the last check failed or the store saw the database unreachable
    /// since: then checks come every second, so the return is noticed soon.
    var isFailing: Bool {
        lastCheck?.failure != nil || store.databaseProblem != nil
    }

    /// Stops a check still waiting (graceful shutdown).
    func cancelPendingCheck() {
        pending.withLock { $0?.cancel() }
    }

    private enum Outcome: Sendable {
        case answered(Int)
        case failed(String)
        case timedOut
        case cancelled
    }

    /// `task`'s result, or `.timedOut` once `limit` has passed (the task goes
    /// on: a store call need not stop when cancelled, and nothing here may
    /// wait for one that does not).
    private static func outcome(of task: Task<Int, any Error>, within limit: Duration) async -> Outcome {
        let once = ResumeOnce<Outcome>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                once.set(continuation)
                Task {
                    do { once.resume(.answered(try await task.value)) } catch { once.resume(.failed("\(error)")) }
                }
                let timer = Task {
                    try? await Task.sleep(for: limit)
                    once.resume(.timedOut)
                }
                once.onResume { timer.cancel() }
            }
        } onCancel: {
            once.resume(.cancelled)
        }
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
                group.addTask { await Self.checks(probe) }
                group.addTask { await Self.every(probe.metricsInterval) { await probe.refreshStatistics(logger: logger) } }
            }
        }
        probe.cancelPendingCheck()
    }

    /// The database check every `readinessInterval`, and every second while
    /// it fails or requests find the database unreachable: a server is ready
    /// again within about a second of the database's return.
    private static func checks(_ probe: OperationsProbe) async {
        let step = min(probe.readinessInterval, .seconds(1))
        while !Task.isCancelled {
            await probe.checkDatabase()
            let next = ContinuousClock.now + probe.readinessInterval
            repeat {
                do { try await Task.sleep(for: step) } catch { return }
            } while ContinuousClock.now < next && !probe.isFailing
        }
    }

    private static func every(_ interval: Duration, _ work: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            await work()
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}

/// Resumes a continuation once, whichever racer comes first; the set-up may
/// come after the first `resume` (a cancellation that came before).
private final class ResumeOnce<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, Never>?
        var value: Value?
        var done = false
        var onResume: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    func set(_ continuation: CheckedContinuation<Value, Never>) {
        let early = state.withLock { state -> Value? in
            if let value = state.value {
                state.value = nil
                return value
            }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    func onResume(_ action: @escaping @Sendable () -> Void) {
        let done = state.withLock { state -> Bool in
            if state.done { return true }
            state.onResume = action
            return false
        }
        if done { action() }
    }

    func resume(_ value: Value) {
        let (continuation, action) = state.withLock { state -> (CheckedContinuation<Value, Never>?, (@Sendable () -> Void)?) in
            guard !state.done else { return (nil, nil) }
            state.done = true
            defer { state.continuation = nil; state.onResume = nil }
            if state.continuation == nil { state.value = value }
            return (state.continuation, state.onResume)
        }
        continuation?.resume(returning: value)
        action?()
    }
}
