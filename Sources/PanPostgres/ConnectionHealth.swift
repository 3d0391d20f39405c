import Logging
import Synchronization

/// Whether the database has been reachable lately, as every transaction
/// found it: a connection-level failure (no connection within the lease
/// wait, connection refused or lost, the server shutting down) makes it
/// unreachable until the server's next answer. `/readyz` reads it (`problem`, one lock,
/// no database work), so a server stops being ready as soon as its own
/// requests or its probe find the database gone, and is ready again at the
/// first answer after it returns.
///
/// Transitions are logged once each: an error when the database becomes
/// unreachable, a notice when it answers again (with how long it was out).
final class ConnectionHealth: Sendable {
    private struct State {
        var lastSuccess: ContinuousClock.Instant?
        var failure: String?
        /// The first failure after the last success; nil while reachable.
        var downSince: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let database: String

    init(logger: Logger, database: String) {
        self.logger = logger
        self.database = database
    }

    /// The server answered (a statement ran, or failed with the server's own error).
    func succeeded() {
        let outage = state.withLock { state -> Duration? in
            let now = ContinuousClock.now
            defer {
                state.lastSuccess = now
                state.downSince = nil
            }
            return state.downSince.map { now - $0 }
        }
        if let outage {
            logger.notice("database reachable again", metadata: [
                "database": "\(database)", "unreachable_seconds": "\(outage.components.seconds)",
            ])
        }
    }

    /// No connection could be had, or the one in use was lost. `since`: when
    /// the attempt began, for a wait that found no connection — an answer
    /// to anyone since then means the database is there and this one only
    /// waited its turn (a busy pool), which is not an outage.
    func failed(_ message: String, since: ContinuousClock.Instant? = nil) {
        let first = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            if let since, let success = state.lastSuccess, success >= since { return false }
            state.failure = message
            guard state.downSince == nil else { return false }
            state.downSince = now
            return true
        }
        if first {
            logger.error("database unreachable: requests get 503 until it answers again", metadata: [
                "database": "\(database)", "error": "\(message)",
            ])
        }
    }

    /// Why the database is not reachable, while the last connection-level
    /// failure is newer than the last answer; nil otherwise.
    var problem: String? {
        state.withLock { state in
            guard let since = state.downSince else { return nil }
            let seconds = (ContinuousClock.now - since).components.seconds
            return "unreachable for \(seconds) s: \(state.failure ?? "no connection")"
        }
    }
}
