import ServiceLifecycle
import Synchronization

/// Opens once the store is ready for requests (PostgreSQL: its pool running
/// and migrations applied, in `beforeServerStarts`); background services that
/// use the store wait for it, so they never run against a half-made schema.
final class StoreGate: Sendable {
    private struct State {
        var open = false
        var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    init(open: Bool) {
        state.withLock { $0.open = open }
    }

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Returns when open, or when the task is cancelled (then the caller checks).
    func wait() async {
        let id = state.withLock { state -> Int in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.open || Task.isCancelled { return true }
                    state.waiting[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { $0.waiting.removeValue(forKey: id) }
            continuation?.resume()
        }
    }
}

/// A service that starts its work once the store is ready (`StoreGate`).
struct AfterStoreReady: Service, CustomStringConvertible {
    let gate: StoreGate
    let base: NamedService

    var description: String { base.description }

    func run() async throws {
        // A shutdown before the store was ever ready ends the wait.
        await cancelWhenGracefulShutdown { await gate.wait() }
        guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
        try await base.run()
    }
}
