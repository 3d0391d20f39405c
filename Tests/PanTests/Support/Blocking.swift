import Foundation

/// Runs blocking work — waiting for a child process (psql, initdb, pip), a
/// lock held across a cluster's start — on a thread of its own, never on
/// Swift's global executor.
///
/// Why: that executor has one thread per core (two here), and the in-process
/// test servers run their request handlers on it. Test code that blocks those
/// threads stalls every server in the process: in a clean-clone CI run, with
/// pip installing the clients' packages and the shared PostgreSQL starting
/// under a mutex, another suite's `/healthz` went unanswered for 20 s and a
/// malformed request got its 408 (the event loop's pace timer) before its 400
/// (the handler's task). `Task.detached` is no way out: it runs there too.
func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = "pan-test-blocking"
        thread.start()
    }
}

/// `offCooperativePool` for work that cannot throw.
func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.name = "pan-test-blocking"
        thread.start()
    }
}
