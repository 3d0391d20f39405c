import Foundation
import PanCore
import Synchronization

/// What a sign-in may cost, decided before any password is hashed (issue #14
/// item 2, issue #24 §2.4–§2.5). Memory only: a restart forgets everything,
/// which is acceptable for a brake on guessing (it costs an attacker nothing
/// they could not get by waiting) and keeps logins off the single writer.
///
/// Four rules, checked and charged in one step under one lock so that 200
/// concurrent attempts cannot all slip past a check before the first fails:
///
/// 1. **Per address, failures** (`perIP` per window): one address spraying
///    many accounts is refused (429).
/// 2. **Per account and address, failures** (`perAccount` per window): one
///    address guessing at one account is refused (429) — that address only.
///    Failures from elsewhere never refuse the owner: there is no account-wide
///    lockout, which let anyone lock anyone out for ever.
/// 3. **Per address, password checks** (`checksPerMinute`, a token bucket):
///    every attempt that reaches the hash costs one, successful or not, so
///    a flood of *correct* logins cannot fill the hash pool either.
/// 4. **Per account, a slow lane**: past `perAccount` failures from all
///    addresses together (a distributed guess), attempts from addresses the
///    account has not signed in from are spaced out — one per second, doubling
///    with every further `perAccount` failures, at most one a minute — and wait
///    their turn (up to `slowLaneMaxWait`, else 429 with the time of the next
///    turn). An address that signed in to the account before, or a request
///    carrying a valid session token of the account, skips the slow lane:
///    the owner's usual device always gets in at full speed (OWASP
///    Authentication cheat sheet, "Account Lockout").
///
/// An attempt is charged as a failure when admitted and refunded when the
/// password turns out right, or when it was never checked (the hash pool's
/// 503, a cancelled wait): an overload is not a wrong password.
package final class LoginThrottle: Sendable {
    package struct Limits: Sendable, Equatable {
        /// Failures per account from one address per window; also the
        /// account-wide failures past which the slow lane starts (0: both off).
        package var perAccount: Int
        /// Failures per client address per window (0: off).
        package var perIP: Int
        package var window: TimeInterval
        /// Password checks one address may start per minute: a burst of this
        /// many, then one every 60/N s (0: no limit).
        package var checksPerMinute: Int
    }

    /// Spacing of slow-lane attempts: the first step, and the cap.
    package static let slowLaneSpacing: TimeInterval = 1
    package static let slowLaneMaxSpacing: TimeInterval = 60
    /// The longest a slow-lane attempt is held before its turn; a later turn is a 429 naming it.
    package static let slowLaneMaxWait: TimeInterval = 5
    /// Addresses remembered per account as "signed in from here before", and for how long.
    package static let knownAddressesPerAccount = 8
    package static let knownAddressLifetime: TimeInterval = 30 * 86_400

    /// An admitted attempt: what it was charged, to settle once the password is checked.
    package struct Attempt: Sendable {
        package let address: String
        package let account: String
        /// Seconds to wait for the slow lane's turn before hashing (0: none).
        package let wait: TimeInterval
        fileprivate let addressWindow: TimeInterval?
        fileprivate let pairWindow: TimeInterval?
        fileprivate let chargedAccount: Bool
        fileprivate let tookCheck: Bool
    }

    package enum Admission: Sendable {
        case admitted(Attempt)
        /// Refused without charging anything; `retryAfter` in whole seconds.
        case refused(retryAfter: Int, reason: Reason)

        package var attempt: Attempt? { if case .admitted(let attempt) = self { attempt } else { nil } }
        package var retryAfter: Int? { if case .refused(let seconds, _) = self { seconds } else { nil } }
    }

    package enum Reason: Sendable, Equatable {
        case addressFailures, accountFailures, addressRate, slowLane
    }

    package enum Outcome {
        case succeeded, failed, notChecked
        /// Right, and checked without the hash pool (an app password's HMAC):
        /// settled as `succeeded`, and the address's password check is given
        /// back as for `notChecked` — the budget guards the pool, and a WebDAV
        /// client signs every request in.
        case succeededWithoutHash
    }

    package static func accountKey(_ id: Int64) -> String { "a:\(id)" }
    package static func loginKey(_ value: String) -> String { "l:\(value)" }

    private struct Window {
        var start: TimeInterval
        var count: Int
    }

    private struct AddressState {
        var failures: Window?
        var tokens: Double
        var refilled: TimeInterval
    }

    private struct AccountState {
        /// Failures (admitted attempts not yet refunded) since the account was last quiet for a window.
        var failures = 0
        var lastFailure: TimeInterval = 0
        /// Earliest start of the next slow-lane attempt.
        var nextTurn: TimeInterval = 0
        /// Address key → last successful sign-in from it.
        var known: [String: TimeInterval] = [:]
    }

    private struct State {
        var addresses: [String: AddressState] = [:]
        var pairs: [String: Window] = [:]
        var accounts: [String: AccountState] = [:]
        var nextPrune: TimeInterval = 0
        var entries: Int { addresses.count + pairs.count + accounts.count }
    }

    private let limits: Limits
    private let state = Mutex(State())
    private let clock: @Sendable () -> TimeInterval
    /// Past this many tracked keys, idle ones are dropped (at most one sweep per 10 s).
    private let pruneThreshold: Int

    package init(limits: Limits, pruneThreshold: Int = 100_000, clock: @escaping @Sendable () -> TimeInterval = { Date().timeIntervalSince1970 }) {
        self.limits = limits
        self.pruneThreshold = pruneThreshold
        self.clock = clock
    }

    private static func pairKey(_ account: String, _ address: String) -> String { account + "|" + address }

    /// Admits an attempt (charging it) or refuses it (charging nothing).
    /// `address` is `IPAddress.limitKey`; `knownDevice`: the request carries
    /// a valid session token of this account.
    package func admit(address: String, account: String, knownDevice: Bool) -> Admission {
        let now = clock()
        let limits = self.limits
        let rate = Double(limits.checksPerMinute) / 60
        let budgeted = limits.checksPerMinute > 0
        return state.withLock { state -> Admission in
            prune(&state, now: now)
            let pairKey = Self.pairKey(account, address)
            var waits: [(TimeInterval, Reason)] = []

            func current(_ window: Window?) -> Window? {
                guard let window, now - window.start < limits.window else { return nil }
                return window
            }
            let addressFailures = current(state.addresses[address]?.failures)
            if limits.perIP > 0, let window = addressFailures, window.count >= limits.perIP {
                waits.append((window.start + limits.window - now, .addressFailures))
            }
            let pairFailures = current(state.pairs[pairKey])
            if limits.perAccount > 0, let window = pairFailures, window.count >= limits.perAccount {
                waits.append((window.start + limits.window - now, .accountFailures))
            }
            var tokens = Double(limits.checksPerMinute)
            if budgeted, let entry = state.addresses[address] {
                tokens = min(tokens, entry.tokens + (now - entry.refilled) * rate)
                if tokens < 1 { waits.append(((1 - tokens) / rate, .addressRate)) }
            }
            var accountState = state.accounts[account] ?? AccountState()
            if now - accountState.lastFailure >= limits.window { accountState.failures = 0 }
            let known = knownDevice || accountState.known[address].map { now - $0 < Self.knownAddressLifetime } == true
            var turn = now
            if limits.perAccount > 0, !known, accountState.failures >= limits.perAccount {
                turn = max(now, accountState.nextTurn)
                if turn - now > Self.slowLaneMaxWait { waits.append((turn - now, .slowLane)) }
            }
            if let (longest, reason) = waits.max(by: { $0.0 < $1.0 }) {
                return .refused(retryAfter: max(1, Int(longest.rounded(.up))), reason: reason)
            }

            // Admitted: charge every rule at once.
            var addressWindow: TimeInterval?, pairWindow: TimeInterval?
            var addressState = state.addresses[address] ?? AddressState(tokens: Double(limits.checksPerMinute), refilled: now)
            if limits.perIP > 0 {
                var window = addressFailures ?? Window(start: now, count: 0)
                window.count += 1
                addressState.failures = window
                addressWindow = window.start
            }
            if budgeted {
                addressState.tokens = tokens - 1
                addressState.refilled = now
            }
            if limits.perIP > 0 || budgeted { state.addresses[address] = addressState }
            if limits.perAccount > 0 {
                var window = pairFailures ?? Window(start: now, count: 0)
                window.count += 1
                state.pairs[pairKey] = window
                pairWindow = window.start
                if !known, accountState.failures >= limits.perAccount {
                    // The slow lane's spacing doubles with every further `perAccount` failures.
                    let doublings = min(16, (accountState.failures - limits.perAccount) / limits.perAccount)
                    let spacing = min(Self.slowLaneMaxSpacing, Self.slowLaneSpacing * Double(1 << doublings))
                    accountState.nextTurn = turn + spacing
                }
                accountState.failures += 1
                accountState.lastFailure = now
                state.accounts[account] = accountState
            }
            let attempt = Attempt(
                address: address, account: account, wait: turn - now, addressWindow: addressWindow,
                pairWindow: pairWindow, chargedAccount: limits.perAccount > 0, tookCheck: budgeted
            )
            return .admitted(attempt)
        }
    }

    /// Settles an admitted attempt. `.failed` keeps its charges; `.succeeded`
    /// refunds them, forgets this address's failures at this account (the
    /// owner's own typos) and remembers the address as known — but leaves the
    /// account-wide count, so the owner signing in does not hand a distributed
    /// guesser a fresh set of fast attempts; `.notChecked` refunds everything,
    /// the password check included.
    package func settle(_ attempt: Attempt, _ outcome: Outcome) {
        guard outcome != .failed else { return }
        let now = clock()
        let limits = self.limits
        let rate = Double(limits.checksPerMinute) / 60
        state.withLock { state in
            if var entry = state.addresses[attempt.address] {
                if let start = attempt.addressWindow, var window = entry.failures, window.start == start, window.count > 0 {
                    window.count -= 1
                    entry.failures = window.count > 0 ? window : nil
                }
                if outcome == .notChecked || outcome == .succeededWithoutHash, attempt.tookCheck {
                    entry.tokens = min(Double(limits.checksPerMinute), entry.tokens + 1)
                }
                // Nothing left to remember (a 503 from a fresh address): drop it now, so a spray of
                // refused-by-the-pool attempts from ever new addresses leaves no trace.
                let rested = limits.checksPerMinute == 0
                    || entry.tokens + (now - entry.refilled) * rate >= Double(limits.checksPerMinute)
                state.addresses[attempt.address] = entry.failures == nil && rested ? nil : entry
            }
            let pairKey = Self.pairKey(attempt.account, attempt.address)
            if let start = attempt.pairWindow, var window = state.pairs[pairKey], window.start == start {
                window.count -= 1
                state.pairs[pairKey] = outcome == .succeeded || outcome == .succeededWithoutHash || window.count <= 0 ? nil : window
            }
            var account = state.accounts[attempt.account] ?? AccountState()
            if attempt.chargedAccount, account.failures > 0 { account.failures -= 1 }
            if outcome == .succeeded || outcome == .succeededWithoutHash {
                account.known[attempt.address] = now
                if account.known.count > Self.knownAddressesPerAccount,
                   let oldest = account.known.min(by: { $0.value < $1.value })?.key {
                    account.known[oldest] = nil
                }
            }
            let idle = account.failures == 0 && account.known.isEmpty && account.nextTurn <= now
            state.accounts[attempt.account] = idle ? nil : account
        }
    }

    /// Drops idle entries — failures out of their window, full buckets, quiet
    /// accounts with nothing known — once the maps are big, at most every 10 s
    /// (a sweep is O(entries); it must not run on every login under a spray).
    private func prune(_ state: inout State, now: TimeInterval) {
        guard state.entries > pruneThreshold, now >= state.nextPrune else { return }
        state.nextPrune = now + 10
        let limits = self.limits
        let rate = Double(limits.checksPerMinute) / 60
        state.addresses = state.addresses.filter { _, entry in
            let failing = entry.failures.map { now - $0.start < limits.window && $0.count > 0 } ?? false
            let spent = limits.checksPerMinute > 0 && entry.tokens + (now - entry.refilled) * rate < Double(limits.checksPerMinute)
            return failing || spent
        }
        state.pairs = state.pairs.filter { now - $0.value.start < limits.window && $0.value.count > 0 }
        state.accounts = state.accounts.compactMapValues { account in
            var account = account
            account.known = account.known.filter { now - $0.value < Self.knownAddressLifetime }
            let quiet = now - account.lastFailure >= limits.window && account.nextTurn <= now
            return quiet && account.known.isEmpty ? nil : account
        }
    }
}

package extension LoginThrottle {
    /// One sign-in's password check under the throttle: admitted or refused
    /// (429), its slow-lane turn awaited, `verify` run on the hash pool (503
    /// when its queue is full), and the attempt settled by the result.
    func check(
        address: String, account: String, knownDevice: Bool, on pool: HashPool, _ verify: @escaping @Sendable () -> Bool
    ) async throws -> Bool {
        let attempt = try admitOrRefuse(address: address, account: account, knownDevice: knownDevice)
        let matches: Bool
        do {
            if attempt.wait > 0 { try await Task.sleep(for: .milliseconds(Int64((attempt.wait * 1000).rounded(.up)))) }
            matches = try await pool.run(verify)
        } catch {
            settle(attempt, .notChecked)
            if error is HashPool.Busy {
                throw PanError(status: 503, code: "SERVICE_UNAVAILABLE", "too many sign-ins at once; try again shortly", retryAfter: 1)
            }
            throw error
        }
        settle(attempt, matches ? .succeeded : .failed)
        return matches
    }
}

package extension LoginThrottle {
    /// `admit`, with a refusal thrown as the 429 a client sees.
    func admitOrRefuse(address: String, account: String, knownDevice: Bool) throws(PanError) -> Attempt {
        switch admit(address: address, account: account, knownDevice: knownDevice) {
        case .admitted(let admitted):
            return admitted
        case .refused(let seconds, let reason):
            throw Self.refusal(retryAfter: seconds, reason: reason)
        }
    }

    /// The 429 a refused attempt answers.
    static func refusal(retryAfter seconds: Int, reason: Reason) -> PanError {
        if reason == .addressRate {
            return PanError(
                status: 429, code: "TOO_MANY_ATTEMPTS", "too many sign-ins from this address; try again in \(seconds) s",
                retryAfter: seconds
            )
        }
        return PanError.tooManyAttempts(retryAfter: seconds)
    }
}

package extension PanConfiguration {
    var loginLimits: LoginThrottle.Limits {
        .init(perAccount: loginFailuresPerAccount, perIP: loginFailuresPerIP, window: loginWindow, checksPerMinute: loginChecksPerIP)
    }
}
