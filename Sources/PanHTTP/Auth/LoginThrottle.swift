import Foundation
import PanCore
import Synchronization

/// Counts failed sign-ins per account and per client IP in fixed windows, in
/// memory. Past a limit, logins from that IP or to that account are refused
/// with 429 and `Retry-After` before any password is hashed: a guessing
/// flood costs the server a dictionary lookup per request, not a PBKDF2.
///
/// An attempt is charged when it starts and refunded when it succeeds, so
/// 200 concurrent guesses cannot all slip past the check before the first
/// one has failed. Memory only: a restart forgets the counts, which is
/// acceptable for a brake on guessing (a restart costs an attacker nothing
/// they could not get by waiting one window), and keeps the hot path off the
/// single database writer.
final class LoginThrottle: Sendable {
    struct Limits: Sendable, Equatable {
        /// Failures per account per window (0 turns the per-account limit off).
        var perAccount: Int
        /// Failures per client IP per window (0 turns it off).
        var perIP: Int
        var window: TimeInterval
    }

    private struct Counter {
        var windowStart: TimeInterval
        var count: Int
    }

    private let limits: Limits
    private let counters = Mutex<[String: Counter]>([:])
    private let clock: @Sendable () -> TimeInterval
    /// Past this many tracked keys, expired ones are dropped (bounded memory under a spray of IPs/names).
    private let pruneThreshold = 100_000

    init(limits: Limits, clock: @escaping @Sendable () -> TimeInterval = { Date().timeIntervalSince1970 }) {
        self.limits = limits
        self.clock = clock
    }

    static func accountKey(_ id: Int64) -> String { "a:\(id)" }
    static func loginKey(_ value: String) -> String { "l:\(value)" }
    static func ipKey(_ ip: String) -> String { "i:\(ip)" }

    private func limit(of key: String) -> Int {
        key.hasPrefix("i:") ? limits.perIP : limits.perAccount
    }

    /// Charges one attempt to every key, or — if any key is at its limit —
    /// charges none and returns the seconds until the first of them frees up.
    func begin(_ keys: [String]) -> Int? {
        let now = clock()
        return counters.withLock { counters -> Int? in
            if counters.count > pruneThreshold {
                counters = counters.filter { now - $0.value.windowStart < limits.window }
            }
            var wait: TimeInterval?
            for key in keys {
                let limit = limit(of: key)
                guard limit > 0, let counter = counters[key], now - counter.windowStart < limits.window else { continue }
                if counter.count >= limit {
                    let remaining = counter.windowStart + limits.window - now
                    wait = max(wait ?? 0, remaining)
                }
            }
            if let wait { return max(1, Int(wait.rounded(.up))) }
            for key in keys where limit(of: key) > 0 {
                if var counter = counters[key], now - counter.windowStart < limits.window {
                    counter.count += 1
                    counters[key] = counter
                } else {
                    counters[key] = Counter(windowStart: now, count: 1)
                }
            }
            return nil
        }
    }

    /// A correct password: the account's slate is wiped; the IP gets its attempt back
    /// (but not its earlier failures, or one good account would launder guesses at others).
    func succeeded(account: [String], ip: String) {
        counters.withLock { counters in
            for key in account { counters[key] = nil }
            if var counter = counters[ip], counter.count > 0 {
                counter.count -= 1
                counters[ip] = counter
            }
        }
    }
}

extension PanConfiguration {
    var loginLimits: LoginThrottle.Limits {
        .init(perAccount: loginFailuresPerAccount, perIP: loginFailuresPerIP, window: loginWindow)
    }
}
