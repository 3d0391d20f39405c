import Dispatch
import Synchronization

/// Runs an `async` transaction body to completion on the current thread,
/// and proves it did not suspend.
///
/// Pan's repositories are `async` so PostgreSQL can await each statement
/// (`SQLCommon.DatabaseConnection`); over SQLite the same code calls
/// synchronous statements and never suspends. The writer must keep it that
/// way: a body that awaited something real would hold the single writer (and
/// every transaction batched with it) across that wait. `Task.immediate`
/// runs the body inline on this thread until its first suspension; if it
/// returns without having finished, the body suspended: we wait for it, then
/// fail the transaction with `TransactionSuspended` so it is rolled back and
/// the bug shows in tests rather than as a stalled writer in production.
enum NonSuspending {
    static func run<T>(_ body: @escaping () async throws -> T) throws -> T {
        let state = Outcome<T>()
        let transfer = UncheckedBody(body)
        let task = Task.immediate {
            let result: Result<T, any Error>
            do { result = .success(try await transfer.body()) } catch { result = .failure(error) }
            state.finish(result)
        }
        if let result = state.take() { return try result.get() }
        // Suspended: the rest of the body runs elsewhere. Wait for it to end
        // (it may still touch the connection), then refuse the transaction.
        state.waitForFinish()
        _ = task
        throw TransactionSuspended()
    }

    /// The body and its result cross into the task and back on this same
    /// thread (or, after a suspension, strictly before `waitForFinish` returns).
    private final class UncheckedBody<T>: @unchecked Sendable {
        let body: () async throws -> T
        init(_ body: @escaping () async throws -> T) { self.body = body }
    }

    /// Written once by the task; read on the calling thread either right
    /// after `Task.immediate` returned (the task ran inline, same thread) or
    /// after the semaphore (which orders the write before the read).
    private final class Outcome<T>: @unchecked Sendable {
        private var result: Result<T, any Error>?
        private let finished = Atomic<Bool>(false)
        private let done = DispatchSemaphore(value: 0)

        func finish(_ result: Result<T, any Error>) {
            self.result = result
            finished.store(true, ordering: .releasing)
            done.signal()
        }

        func take() -> Result<T, any Error>? {
            finished.load(ordering: .acquiring) ? result : nil
        }

        func waitForFinish() { done.wait() }
    }
}

/// A SQLite transaction body suspended (awaited real work) while holding the
/// writer; it was rolled back. A programming error: SQLite bodies run their
/// statements synchronously.
public struct TransactionSuspended: Error, CustomStringConvertible {
    public var description: String { "a SQLite transaction body suspended while holding the writer; it was rolled back" }
}
