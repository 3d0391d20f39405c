import Foundation
import PanCore
import Synchronization

/// Brakes on guessing a share's password (issue #27): wrong passwords are
/// counted per share and address, per share from everywhere, and per address
/// across shares, in fixed windows; past a limit the next attempt is refused
/// (429 with `Retry-After`) before any hash is computed. Memory only and per
/// server, like `LoginThrottle`: a restart forgets, which costs a guesser
/// nothing they could not get by waiting.
package final class SharePasswordThrottle: Sendable {
    package struct Limits: Sendable {
        var perShareAndAddress = 10
        var perShare = 50
        var perAddress = 60
        var window: TimeInterval = 600
    }

    private struct Count {
        var failures: Int
        var windowStart: TimeInterval
    }

    private let limits: Limits
    private let counts = Mutex<[String: Count]>([:])
    /// Entries kept before expired ones are pruned; past twice this, the oldest half goes.
    private static let pruneAt = 20_000

    package init(limits: Limits = Limits()) { self.limits = limits }

    private func keys(share: String, address: String) -> [(String, Int)] {
        [("s\u{0}\(share)\u{0}\(address)", limits.perShareAndAddress), ("s\u{0}\(share)", limits.perShare), ("a\u{0}\(address)", limits.perAddress)]
    }

    /// Admits a password attempt and charges it as a failure, in one step
    /// under the lock (so 200 concurrent guesses cannot all pass the check
    /// before the first is counted); the caller refunds it when the password
    /// was right (`refund`). Returns the seconds to wait when it is refused.
    func admit(share: String, address: String, now: TimeInterval = Date().timeIntervalSince1970) -> Int? {
        counts.withLock { counts in
            let keys = keys(share: share, address: address)
            var wait: TimeInterval = 0
            for (key, limit) in keys {
                guard limit > 0, let count = counts[key], now - count.windowStart < limits.window, count.failures >= limit else { continue }
                wait = max(wait, count.windowStart + limits.window - now)
            }
            if wait > 0 { return max(1, Int(wait.rounded(.up))) }
            if counts.count > Self.pruneAt {
                counts = counts.filter { now - $0.value.windowStart < limits.window }
                if counts.count > Self.pruneAt * 2 {
                    let kept = counts.sorted { $0.value.windowStart > $1.value.windowStart }.prefix(Self.pruneAt)
                    counts = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
                }
            }
            for (key, _) in keys {
                if let count = counts[key], now - count.windowStart < limits.window {
                    counts[key] = Count(failures: count.failures + 1, windowStart: count.windowStart)
                } else {
                    counts[key] = Count(failures: 1, windowStart: now)
                }
            }
            return nil
        }
    }

    /// The attempt was right (or never checked): it was no failure.
    func refund(share: String, address: String) {
        counts.withLock { counts in
            for (key, _) in keys(share: share, address: address) {
                if let count = counts[key], count.failures > 0 { counts[key]?.failures = count.failures - 1 }
            }
        }
    }
}
