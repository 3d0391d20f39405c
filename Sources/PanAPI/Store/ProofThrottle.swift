import Foundation
import PanCore
import Synchronization

/// Counts refused proofs of possession per user and per client address in
/// fixed windows, in memory — the brake sign-ins had before issue #24 (a
/// wrong answer costs like a failed sign-in): past a limit, proofs are
/// refused with 429 and `Retry-After` before any stored byte is read.
///
/// An attempt is charged when it starts and refunded when it holds, so
/// concurrent wrong answers cannot all slip past the check. Sign-ins have a
/// throttle of their own (`LoginThrottle`), with known devices and a slow
/// lane; a proof needs neither: its user is already signed in, and a refused
/// proof only means uploading the bytes.
package final class ProofThrottle: Sendable {
    package struct Limits: Sendable, Equatable {
        /// Refused proofs per user per window (0 turns the per-user limit off).
        var perAccount: Int
        /// Refused proofs per client address per window (0 turns it off).
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

    package init(limits: Limits, clock: @escaping @Sendable () -> TimeInterval = { Date().timeIntervalSince1970 }) {
        self.limits = limits
        self.clock = clock
    }

    static func accountKey(_ id: Int64) -> String { "a:\(id)" }
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

    /// A proof that held: the user's slate is wiped; the address gets its attempt back
    /// (but not its earlier failures).
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
    /// The same numbers as failed sign-ins (`PAN_LOGIN_MAX_FAILURES`, `_IP`, `PAN_LOGIN_WINDOW`).
    package var proofLimits: ProofThrottle.Limits {
        .init(perAccount: loginFailuresPerAccount, perIP: loginFailuresPerIP, window: loginWindow)
    }
}
