import Foundation
import Logging
import PanCore
import ServiceLifecycle
import Synchronization

/// When sign-in sessions were last seen, written off the requests.
///
/// Every authenticated request already reads its session's `last_seen_at`
/// (in the statement that reads the user); when that is older than
/// `UserSession.touchInterval` the request only notes the sighting here, in
/// memory, and adds no statement. `UserSessionActivityWriter` writes the
/// notes in one transaction per interval. So each session is written at most
/// about once per touch interval per server, whatever its request rate, and
/// never by a request. What a crash loses is a few minutes of "last seen".
package final class UserSessionActivity: Sendable {
    private struct Key: Hashable {
        let userId: Int64
        let sessionId: String
    }

    /// Past this many sessions waiting, new sightings are dropped until the next
    /// flush (a dropped one is noted again by the session's next request).
    package static let capacity = 20_000
    /// Sightings written per transaction.
    package static let batchSize = 500
    private let pending = Mutex<[Key: Int64]>([:])

    package init() {}

    /// A request of `sessionId` found it last seen at `lastSeenAt`: noted when that is stale.
    package func saw(userId: Int64, sessionId: String, lastSeenAt: Int64, now: Int64 = Millis.now()) {
        guard UserSession.isStale(lastSeenAt: lastSeenAt, now: now) else { return }
        pending.withLock { pending in
            let key = Key(userId: userId, sessionId: sessionId)
            guard pending[key] != nil || pending.count < Self.capacity else { return }
            pending[key] = now
        }
    }

    package var waiting: Int { pending.withLock { $0.count } }

    /// Writes what was noted (in batches); returns how many sessions. A failed
    /// batch is dropped: its sessions are noted again by their next requests.
    @discardableResult
    package func flush(to store: any PanStore) async throws -> Int {
        let taken = pending.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending.map { UserSessionSighting(userId: $0.key.userId, sessionId: $0.key.sessionId, at: $0.value) }
        }
        var start = 0
        while start < taken.count {
            let batch = Array(taken[start..<min(start + Self.batchSize, taken.count)])
            try await store.recordSightings(batch)
            start += batch.count
        }
        return taken.count
    }
}

/// Flushes `UserSessionActivity` every `interval` for as long as the server
/// runs, and once more at shutdown.
package struct UserSessionActivityWriter: Service {
    package let activity: UserSessionActivity
    package let store: any PanStore
    package let interval: TimeInterval
    package let logger: Logger

    package init(activity: UserSessionActivity, store: any PanStore, interval: TimeInterval, logger: Logger) {
        self.activity = activity
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(interval))
                await flush()
            }
        }
        await flush()
    }

    private func flush() async {
        do {
            try await activity.flush(to: store)
        } catch {
            logger.warning("recording when sign-in sessions were last seen failed", metadata: ["error": "\(error)"])
        }
    }
}
