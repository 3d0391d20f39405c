import Foundation
import Testing

/// Lets a test whose verdict is a latency (a drip closed after its grace, a
/// `/healthz` answered beside it, an idle lapse not reached) run while no
/// other test's server is up.
///
/// Why: Swift Testing runs up to twice as many test cases at once as there are
/// cores (four here), all in this one process, and the servers of the others
/// share its threads. Raising every bound would test nothing; this makes the
/// bound mean what it says.
///
/// Every test server (`withOpsServer`), store (`TestBackend.withStore`) and
/// Python or browser client (`PythonClients.run`) holds the gate shared while
/// it runs; a `.quiet` test case holds it alone, once nothing holds it shared.
/// Holding is re-entrant within a task tree (a quiet test's own servers pass
/// straight in).
///
/// The gate is taken per test *case*, inside the slot Swift Testing gives it:
/// taken around a whole test, it waited for slots that cases blocked on the
/// gate held — a deadlock. And no wait is unbounded: past `patience` a waiter
/// goes ahead anyway (and says so), so a mistake here slows a run, never hangs it.
actor QuietGate {
    static let shared = QuietGate()
    static let patience: Duration = .seconds(300)

    enum Hold: Sendable { case none, shared, exclusive }
    @TaskLocal static var held: Hold = .none

    private var sharedCount = 0
    private var exclusiveHeld = false
    private var nextTicket = 0
    private var sharedWaiters: [(ticket: Int, continuation: CheckedContinuation<Void, Never>)] = []
    private var exclusiveWaiters: [(ticket: Int, continuation: CheckedContinuation<Void, Never>)] = []

    /// Runs `body` holding the gate shared (several at once, none while a quiet test runs).
    static func shared<T>(_ body: () async throws -> T) async throws -> T {
        guard held == .none else { return try await body() }
        let counted = await Self.shared.acquire(exclusive: false)
        do {
            let result = try await $held.withValue(.shared) { try await body() }
            if counted { await Self.shared.releaseShared() }
            return result
        } catch {
            if counted { await Self.shared.releaseShared() }
            throw error
        }
    }

    /// Runs `body` holding the gate alone.
    static func exclusive<T>(_ body: () async throws -> T) async throws -> T {
        guard held == .none else { return try await body() }
        let counted = await Self.shared.acquire(exclusive: true)
        do {
            let result = try await $held.withValue(.exclusive) { try await body() }
            if counted { await Self.shared.releaseExclusive() }
            return result
        } catch {
            if counted { await Self.shared.releaseExclusive() }
            throw error
        }
    }

    /// True when admitted (counted); false when `patience` ran out first (nothing counted).
    private func acquire(exclusive: Bool) async -> Bool {
        if exclusive ? (!exclusiveHeld && sharedCount == 0) : !exclusiveHeld {
            if exclusive { exclusiveHeld = true } else { sharedCount += 1 }
            return true
        }
        let ticket = nextTicket
        nextTicket += 1
        let timeout = Task {
            try await Task.sleep(for: Self.patience)
            self.giveUp(ticket: ticket, exclusive: exclusive)
        }
        // Admission counts the holder before resuming it; giving up resumes it uncounted.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if exclusive {
                exclusiveWaiters.append((ticket, continuation))
            } else {
                sharedWaiters.append((ticket, continuation))
            }
        }
        timeout.cancel()
        return gaveUp.remove(ticket) == nil
    }

    private var gaveUp: Set<Int> = []

    private func giveUp(ticket: Int, exclusive: Bool) {
        if exclusive, let index = exclusiveWaiters.firstIndex(where: { $0.ticket == ticket }) {
            gaveUp.insert(ticket)
            print("QuietGate: a quiet test waited \(Self.patience) for the others and goes ahead anyway")
            exclusiveWaiters.remove(at: index).continuation.resume()
        } else if !exclusive, let index = sharedWaiters.firstIndex(where: { $0.ticket == ticket }) {
            gaveUp.insert(ticket)
            print("QuietGate: a test waited \(Self.patience) for a quiet one and goes ahead anyway")
            sharedWaiters.remove(at: index).continuation.resume()
        }
    }

    private func releaseShared() {
        sharedCount -= 1
        admitExclusive()
    }

    private func releaseExclusive() {
        exclusiveHeld = false
        // The rest of the suite first (keeps the machine busy); the next quiet test once it drains.
        if !sharedWaiters.isEmpty {
            let waiting = sharedWaiters
            sharedWaiters.removeAll()
            sharedCount += waiting.count
            for waiter in waiting { waiter.continuation.resume() }
        }
        admitExclusive()
    }

    private func admitExclusive() {
        guard !exclusiveHeld, sharedCount == 0, !exclusiveWaiters.isEmpty else { return }
        exclusiveHeld = true
        exclusiveWaiters.removeFirst().continuation.resume()
    }
}

/// `@Test(.quiet)` / `@Suite(.quiet)`: each test case runs holding `QuietGate` alone.
/// `.busy`: holding it shared, for a test whose load does not go through
/// `withOpsServer` (servers of its own as child processes).
struct QuietTrait: TestTrait, SuiteTrait, TestScoping {
    let exclusive: Bool
    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        // Per test case, inside its slot (see `QuietGate`): never around a whole test or suite.
        testCase == nil ? nil : self
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
