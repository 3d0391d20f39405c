import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process of the test run (`pan`, nginx, PostgreSQL, python3), started
/// with `posix_spawn` directly.
///
/// Why not Foundation's `Process`: on Linux its `run()` finds the highest open
/// descriptor by reading `/proc/self/fd` and copies each entry's whole 256-byte
/// `d_name`, reading past glibc's buffer; it SIGSEGVs now and then once the
/// process holds a thousand or so descriptors, as this suite does while its
/// suites run in parallel (swift-corelibs-foundation PR #5472, not in Swift
/// 6.3.1). Why not swift-subprocess: its child lives inside one closure, while
/// the servers here are started in one call and stopped, often with SIGKILL in
/// the middle of a write, from another.
///
/// Output goes to files, never pipes: nothing to drain, nothing to deadlock on.
final class ChildProcess: @unchecked Sendable {
    enum Output: Equatable {
        case null
        /// The test process's own descriptor.
        case inherit
        /// Appends to the file, creating it if needed.
        case file(String)
    }

    let processIdentifier: pid_t
    /// The raw wait status once reaped; guarded by `lock`.
    private var waitStatus: Int32?
    private let lock = NSLock()

    /// - Parameters:
    ///   - environment: `nil` inherits the test process's.
    ///   - directory: the child's working directory; `nil` keeps the test's.
    init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        directory: String? = nil, stdout: Output = .null, stderr: Output = .null
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        try Self.check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "stdin")
        try Self.redirect(1, to: stdout, actions: &actions)
        if case .file = stderr, stderr == stdout {
            try Self.check(posix_spawn_file_actions_adddup2(&actions, 1, 2), "stderr")
        } else {
            try Self.redirect(2, to: stderr, actions: &actions)
        }
        if let directory { try Self.check(Self.gnu.addchdir(&actions, directory), "chdir \(directory)") }
        // Nothing else of the test process's leaks into the child: listening
        // sockets, SQLite files, other children's log files.
        try Self.check(Self.gnu.addclosefrom(&actions, 3), "closefrom")

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (a ^C to the test run is the harness's to
        // forward), no blocked signals inherited from the spawning thread,
        // and default SIGPIPE even though the test process ignores it.
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, signal) }
        try Self.check(posix_spawnattr_setsigmask(&attributes, &empty), "sigmask")
        try Self.check(posix_spawnattr_setsigdefault(&attributes, &defaults), "sigdefault")
        try Self.check(posix_spawnattr_setpgroup(&attributes, 0), "pgroup")
        let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        try Self.check(posix_spawnattr_setflags(&attributes, Int16(flags)), "flags")

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = environmentLines.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }

        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw TestFailure("posix_spawn \(executable): \(String(cString: strerror(status)))")
        }
        processIdentifier = pid
        startReaper()
    }

    /// Reaps the child as soon as it exits, whoever holds this object — or
    /// nobody (a watchdog `sh` started and forgotten).
    ///
    /// Why: once any exit test has run (`#expect(processExitsWith:)`, in
    /// SQLiteKitTests), Swift Testing keeps a thread in `waitid(P_ALL, …,
    /// WEXITED | WNOWAIT)`; it reaps only its own children, so while one of
    /// ours is an unreaped zombie that call returns at once, forever: one of
    /// the machine's two cores spun in it (100 % system time) for the rest of
    /// the run, which is what stretched the latency-bound tests in CI. A
    /// child reaped only when polled was such a zombie from its exit to the
    /// next poll, and one nobody polled, until the run ended.
    ///
    /// The thread waits with `WNOWAIT` (the child stays a zombie, its pid
    /// reserved), then reaps under `lock`, so `signal` — also under `lock` —
    /// never sends to a pid that may have been reused.
    private func startReaper() {
        let pid = processIdentifier
        let thread = Thread { [self] in
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
            _ = reap()
        }
        thread.name = "pan-test-reaper"
        thread.stackSize = 64 * 1024
        thread.start()
    }

    /// Runs to completion (or `timeout`, then SIGKILL and a recorded failure
    /// in the returned value's `timedOut`).
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdout: Output = .null, stderr: Output = .null, timeout: TimeInterval
    ) async throws -> (status: Int32, exited: Bool, timedOut: Bool) {
        let child = try ChildProcess(executable, arguments, environment: environment, stdout: stdout, stderr: stderr)
        let finished = await child.waitForExit(timeout: timeout)
        if !finished { child.kill() }
        return (child.terminationStatus, child.exitedNormally, !finished)
    }

    var isRunning: Bool { reap() == nil }

    /// Sends `signal` unless the child is already reaped (its pid may be reused).
    func signal(_ signal: Int32) {
        lock.withLock { if waitStatus == nil { _ = Glibc.kill(processIdentifier, signal) } }
    }

    /// SIGKILL and reap: a no-op once it has exited.
    func kill() {
        signal(SIGKILL)
        waitUntilExit()
    }

    /// Polls (no thread blocked in `waitpid`): true once it has exited.
    func waitForExit(timeout: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() > deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Blocks this thread until the child has exited. Polls, so a `signal`
    /// from another thread is never stuck behind a blocked `waitpid`.
    func waitUntilExit() {
        while isRunning { usleep(5_000) }
    }

    /// As `waitUntilExit`, for code outside any task: false if still running at `timeout`.
    func waitUntilExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            guard Date() < deadline else { return false }
            usleep(5_000)
        }
        return true
    }

    /// Its exit code, or the signal that ended it; -1 while it runs.
    var terminationStatus: Int32 {
        guard let status = reap() else { return -1 }
        return Self.exited(status) ? (status >> 8) & 0xff : status & 0x7f
    }

    /// True when it called exit (false when a signal ended it, or still running).
    var exitedNormally: Bool { reap().map(Self.exited) ?? false }

    private static func exited(_ status: Int32) -> Bool { status & 0x7f == 0 }

    /// The wait status once it has exited; nil while it runs. Never blocks.
    private func reap() -> Int32? {
        lock.withLock {
            if let waitStatus { return waitStatus }
            var status: Int32 = 0
            while true {
                let result = waitpid(processIdentifier, &status, WNOHANG)
                if result == processIdentifier { waitStatus = status; return status }
                if result == -1, errno == EINTR { continue }
                return nil
            }
        }
    }

    private static func redirect(_ descriptor: Int32, to output: Output, actions: inout posix_spawn_file_actions_t) throws {
        switch output {
        case .inherit:
            break
        case .null:
            try check(posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0), "fd \(descriptor)")
        case .file(let path):
            try check(posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_APPEND, 0o644), path)
        }
    }

    private static func check(_ status: Int32, _ what: String) throws {
        guard status == 0 else { throw TestFailure("posix_spawn file action \(what): \(String(cString: strerror(status)))") }
    }

    /// glibc's `_np` spawn actions (2.29, 2.34). Swift's Glibc module is built
    /// without `_GNU_SOURCE`, so they are looked up by name.
    private static let gnu = GNUSpawnActions()

    private struct GNUSpawnActions: @unchecked Sendable {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        let addclosefrom: AddCloseFrom
        let addchdir: AddChdir

        init() {
            let handle = dlopen(nil, RTLD_NOW)
            guard let closefrom = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np"),
                  let chdir = dlsym(handle, "posix_spawn_file_actions_addchdir_np")
            else { fatalError("glibc ≥ 2.34 is needed for posix_spawn_file_actions_addclosefrom_np") }
            addclosefrom = unsafeBitCast(closefrom, to: AddCloseFrom.self)
            addchdir = unsafeBitCast(chdir, to: AddChdir.self)
        }
    }
}
