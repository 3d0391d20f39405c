import Dispatch
import Synchronization

/// The writer connection, its serial queue, and group commit.
///
/// Under load, most of a small transaction's cost is the commit itself (WAL
/// page writes, locks, checkpoints). Transactions queued while the writer is
/// busy are therefore run as one batch: `BEGIN IMMEDIATE`, each body in a
/// savepoint (a throwing body rolls back to it and fails alone), one `COMMIT`,
/// and only then is every caller resumed — so a result is never reported
/// before it is durable to the same degree as an unbatched commit.
final class WriteQueue: @unchecked Sendable {
    // Touched only on `queue`.
    private let connection: Connection
    private let queue: DispatchQueue
    private let maxBatch: Int
    private let pending = Mutex(Pending())

    private struct Pending {
        var jobs: [Job] = []
        var scheduled = false
    }

    /// One caller's transaction body, type-erased.
    private struct Job: Sendable {
        /// Runs the body (on the writer queue); returns how to resume the caller
        /// once the commit outcome is known, and the body's own error, if any.
        let run: @Sendable (Connection, _ inSavepoint: Bool) -> (finish: @Sendable ((any Error)?) -> Void, error: (any Error)?)
        /// Resumes the caller with `error` without running the body.
        let fail: @Sendable (any Error) -> Void
    }

    init(_ connection: Connection, label: String, maxBatch: Int) {
        self.connection = connection
        self.queue = DispatchQueue(label: label)
        self.maxBatch = max(1, maxBatch)
    }

    /// `body` is async (the shared repositories are) but must not suspend: it
    /// runs on the writer's thread, to completion, or fails (`NonSuspending`).
    func write<T: Sendable>(_ body: @escaping @Sendable (Connection) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job(
                run: { connection, inSavepoint in
                    let run = { try NonSuspending.run { try await body(connection) } }
                    let result = Result { inSavepoint ? try connection.savepoint(named: "pan_batch") { try run() } : try run() }
                    let error: (any Error)? = if case .failure(let error) = result { error } else { nil }
                    return ({ commitError in
                        if let commitError, error == nil {
                            continuation.resume(throwing: commitError)
                        } else {
                            continuation.resume(with: result)
                        }
                    }, error)
                },
                fail: { continuation.resume(throwing: $0) }
            )
            enqueue(job)
        }
    }

    /// Runs `body` on the writer outside any transaction, in turn with the batches.
    func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }

    private func enqueue(_ job: Job) {
        let schedule = pending.withLock { state in
            state.jobs.append(job)
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        if schedule { queue.async { self.drain() } }
    }

    /// Takes what is pending (up to `maxBatch`) and commits it; re-schedules
    /// itself while more is waiting, so `run` items interleave fairly.
    private func drain() {
        let batch: [Job] = pending.withLock { state in
            let count = min(state.jobs.count, maxBatch)
            let batch = Array(state.jobs.prefix(count))
            state.jobs.removeFirst(count)
            return batch
        }
        commit(batch)
        let more = pending.withLock { state in
            if state.jobs.isEmpty { state.scheduled = false }
            return !state.jobs.isEmpty
        }
        if more { queue.async { self.drain() } }
    }

    private func commit(_ batch: [Job]) {
        var index = batch.startIndex
        while index < batch.endIndex {
            do {
                try connection.run("BEGIN IMMEDIATE")
            } catch {
                for job in batch[index...] { job.fail(error) }
                return
            }
            // A lone transaction needs no savepoint: its failure rolls back everything anyway.
            let inSavepoints = batch.count > 1
            var finishers: [@Sendable ((any Error)?) -> Void] = []
            var abort: (any Error)? = nil
            while index < batch.endIndex {
                let (finish, error) = batch[index].run(connection, inSavepoints)
                index += 1
                finishers.append(finish)
                if let error {
                    if !inSavepoints {
                        abort = error
                        break
                    }
                    // Some errors (disk full, I/O) make SQLite roll back the whole transaction:
                    // the bodies before this one are gone too, and say so. Later ones get a new transaction.
                    if !connection.isInTransaction {
                        abort = error
                        break
                    }
                }
            }
            if abort == nil {
                do {
                    try connection.run("COMMIT")
                } catch {
                    abort = error
                }
            }
            if abort != nil, connection.isInTransaction { _ = try? connection.run("ROLLBACK") }
            for finish in finishers { finish(abort) }
        }
    }
}
