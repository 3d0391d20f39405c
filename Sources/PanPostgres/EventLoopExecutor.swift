import NIOCore

/// A task executor over one NIO event loop: the thread a PostgreSQL
/// connection's replies arrive on.
///
/// A transaction's body runs with this executor preferred
/// (`PostgresEngine.onConnection`), so each awaited statement resumes where
/// its reply was read instead of being handed to Swift's cooperative pool
/// and back: profiling the token row showed those thread switches (futex
/// wake-ups, `finish_task_switch`) as the largest share of Pan's CPU per
/// request on PostgreSQL. NIO 2.101 ships no such executor (only a serial
/// executor for actors), hence this one, a few lines.
final class EventLoopExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
