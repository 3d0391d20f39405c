import Testing

/// Lets a test whose verdict is a latency (a drip closed after its grace, a
/// `/healthz` answered beside it, an idle lapse not reached) run while no
/// other test's server is up.
///
/// Why: the suites run at once in one process on two cores. In clean-clone
/// CI runs, dozens of servers, a PostgreSQL cluster and headless Chromium
/// beside them stretched such bounds past any margin (a `/healthz` unanswered
/// for 20 s; a slow upload's idle lapse reached because its bytes sat unread),
/// while the same tests pass alone in seconds. Raising every bound would test
/// nothing; this makes the bound mean what it says.
///
/// Every test server (`withOpsServer`), store (`TestBackend.withStore`) and
/// Python or browser client (`PythonClients.run`) holds the gate shared while
/// it runs; a `.quiet` test holds it alone, once nothing holds it shared — in
/// practice at the end of the run, when the rest is done. Holding is
/// re-entrant within a task tree (a quiet test's own servers pass straight in).
actor QuietGate {
    static let shared = QuietGate()

    enum Hold: Sendable { case none, shared, exclusive }
    @TaskLocal static var held: Hold = .none

    private var sharedCount = 0
    private var exclusiveHeld = false
    private var sharedWaiters: [CheckedContinuation<Void, Never>] = []
    private var exclusiveWaiters: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` holding the gate shared (several at once, none while a quiet test runs).
    static func shared<T>(_ body: () async throws -> T) async throws -> T {
        guard held == .none else { return try await body() }
        await Self.shared.acquireShared()
        do {
            let result = try await $held.withValue(.shared) { try await body() }
            await Self.shared.releaseShared()
            return result
        } catch {
            await Self.shared.releaseShared()
            throw error
        }
    }

    /// Runs `body` holding the gate alone.
    static func exclusive<T>(_ body: () async throws -> T) async throws -> T {
        guard held == .none else { return try await body() }
        await Self.shared.acquireExclusive()
        do {
            let result = try await $held.withValue(.exclusive) { try await body() }
            await Self.shared.releaseExclusive()
            return result
        } catch {
            await Self.shared.releaseExclusive()
            throw error
        }
    }

    private func acquireShared() async {
        if !exclusiveHeld {
            sharedCount += 1
            return
        }
        await withCheckedContinuation { sharedWaiters.append($0) }
    }

    private func releaseShared() {
        sharedCount -= 1
        admitExclusive()
    }

    private func acquireExclusive() async {
        if !exclusiveHeld, sharedCount == 0 {
            exclusiveHeld = true
            return
        }
        await withCheckedContinuation { exclusiveWaiters.append($0) }
    }

    private func releaseExclusive() {
        exclusiveHeld = false
        // The rest of the suite first (keeps the machine busy); the next quiet test once it drains.
        if !sharedWaiters.isEmpty {
            sharedCount += sharedWaiters.count
            let waiting = sharedWaiters
            sharedWaiters.removeAll()
            for waiter in waiting { waiter.resume() }
        }
        admitExclusive()
    }

    private func admitExclusive() {
        guard !exclusiveHeld, sharedCount == 0, !exclusiveWaiters.isEmpty else { return }
        exclusiveHeld = true
        exclusiveWaiters.removeFirst().resume()
    }
}

/// `@Test(.quiet)` / `@Suite(.quiet)`: the test runs holding `QuietGate` alone.
/// `.busy`: holding it shared, for a test whose load does not go through
/// `withOpsServer` (servers of its own as child processes).
struct QuietTrait: TestTrait, SuiteTrait, TestScoping {
    let exclusive: Bool
    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        // Once per test function (all its cases), never around a whole suite.
        test.isSuite || testCase != nil ? nil : self
    }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        if exclusive {
            try await QuietGate.exclusive { try await function() }
        } else {
            try await QuietGate.shared { try await function() }
        }
    }
}

extension Trait where Self == QuietTrait {
    /// A latency is part of the verdict: run with no other test server up (`QuietGate`).
    static var quiet: Self { QuietTrait(exclusive: true) }
    /// Loads the machine outside `withOpsServer`: a `.quiet` test waits for it (`QuietGate`).
    static var busy: Self { QuietTrait(exclusive: false) }
}
