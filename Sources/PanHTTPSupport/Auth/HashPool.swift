import Foundation
import PanCore

/// Where password hashes run: a few dedicated threads, one per core, fed
/// from a bounded queue.
///
/// PBKDF2 costs tens of milliseconds of CPU on purpose. Run on the database
/// reader queues (as it once was) a flood of logins held all four readers and
/// every authenticated request queued behind it (2.7–3.3 s for `user/info`,
/// issue #14); run on Swift's cooperative pool or NIO's event loops it would
/// stall those instead. Here it can only ever use these threads, which run at
/// a lower scheduling priority (nice 5) so request threads get most of the
/// CPU when both want it. Not lower: at nice 10 a busy machine starved logins
/// (a 5 s client timeout expired in the test suite), and a login must still
/// finish. One pool per server (a process runs one; tests run many, and
/// one test's flood must not fill another's queue); its threads end when the
/// server's router is released. Image renditions (`Thumbnails`) run on a
/// pool of their own, for the same reasons.
package final class HashPool: Sendable {
    private let queue: JobQueue
    package let threadCount: Int

    package struct Busy: Error {}

    package init(threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount), maximumQueued: Int? = nil, name: String = "pan-hash") {
        threadCount = threads
        queue = JobQueue(maximumQueued: maximumQueued ?? 64 * threads)
        for index in 0..<threads {
            // The threads hold the queue, not the pool: releasing the pool stops them.
            let queue = self.queue
            let thread = Thread {
                // On Linux nice is per thread and `who = 0` is the calling thread
                // only: hashing yields to serving, the rest of the process keeps nice 0.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 5)
                queue.work()
            }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    deinit { queue.stop() }

    /// Runs `body` on a hash thread. Throws `Busy` at once, without queueing,
    /// when `maximumQueued` jobs already wait: an overload is refused cheaply
    /// rather than answered minutes late.
    package func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = queue.enqueue { continuation.resume(returning: body()) }
            if !accepted { continuation.resume(throwing: Busy()) }
        }
    }

    private final class JobQueue: @unchecked Sendable {
        // Everything below is guarded by `condition`.
        private let condition = NSCondition()
        private var jobs: [@Sendable () -> Void] = []
        private var head = 0
        private var stopped = false
        let maximumQueued: Int

        init(maximumQueued: Int) { self.maximumQueued = maximumQueued }

        func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            guard !stopped, jobs.count - head < maximumQueued else { return false }
            jobs.append(job)
            condition.signal()
            return true
        }

        func stop() {
            condition.lock()
            stopped = true
            condition.broadcast()
            condition.unlock()
        }

        /// A thread's loop: jobs in order until stopped and drained.
        func work() {
            while true {
                condition.lock()
                while head == jobs.count, !stopped { condition.wait() }
                if head == jobs.count {
                    condition.unlock()
                    return
                }
                let job = jobs[head]
                head += 1
                // Compact now and then so the array does not grow forever.
                if head > 1024, head * 2 > jobs.count {
                    jobs.removeFirst(head)
                    head = 0
                }
                condition.unlock()
                job()
            }
        }
    }
}
