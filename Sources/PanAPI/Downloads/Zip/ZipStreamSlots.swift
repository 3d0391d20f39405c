import PanCore
import Synchronization

/// Zip streams running per user on this server: at most `perUser` (2) at a
/// time, so one account cannot tie up the disk and the server's tasks with
/// dozens of archives. Each slot is held from the snapshot until the last byte
/// is sent or the client goes away.
package final class ZipStreamSlots: Sendable {
    let perUser: Int
    private let running = Mutex<[Int64: Int]>([:])

    package init(perUser: Int = 2) { self.perUser = perUser }

    static let busy = PanError(
        status: 429, code: "TOO_MANY_DOWNLOADS", "too many zip downloads running for this account: wait for one to finish", retryAfter: 10
    )

    /// A slot, or 429 `TOO_MANY_DOWNLOADS`.
    func take(userId: Int64) throws(PanError) -> Slot {
        let taken = running.withLock { running in
            let count = running[userId, default: 0]
            guard count < perUser else { return false }
            running[userId] = count + 1
            return true
        }
        guard taken else { throw Self.busy }
        return Slot(owner: self, userId: userId)
    }

    func count(userId: Int64) -> Int { running.withLock { $0[userId, default: 0] } }

    fileprivate func release(userId: Int64) {
        running.withLock { running in
            let left = running[userId, default: 1] - 1
            running[userId] = left > 0 ? left : nil
        }
    }

    /// Released once: by the stream when it ends, or when the reply holding
    /// it is dropped without being streamed (`HEAD`, an error, a client gone early).
    final class Slot: Sendable {
        private let owner: ZipStreamSlots
        private let userId: Int64
        private let released = Atomic<Bool>(false)

        fileprivate init(owner: ZipStreamSlots, userId: Int64) {
            self.owner = owner
            self.userId = userId
        }

        func release() {
            if !released.exchange(true, ordering: .acquiringAndReleasing) { owner.release(userId: userId) }
        }

        deinit { release() }
    }
}
