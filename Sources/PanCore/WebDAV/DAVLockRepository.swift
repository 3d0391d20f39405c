import Foundation
import SQLCommon

/// WebDAV locks in SQL (`dav_locks`). Functions run on the caller's
/// connection, inside the caller's transaction (`SQLPanStore`), which for a
/// write holds the user's lock: taking a lock reads the user's locks and
/// inserts the new one in one atomic step, on every server alike.
enum DAVLockRepository {
    private static let columns = "l.token, l.node_id, l.depth, l.exclusive, l.owner, l.timeout, l.expires_at, n.path"

    private static func lock(_ row: Row) throws -> DAVLock {
        DAVLock(
            token: try row.string("token"), nodeId: try row.int64("node_id"), rootPath: try row.string("path"),
            infinite: try row.int64("depth") != 0, exclusive: try row.int64("exclusive") != 0, owner: try row.string("owner"),
            timeout: try row.int64("timeout"), expiresAt: try row.int64("expires_at")
        )
    }

    /// The user's locks alive at `now` whose root is a live node (at most
    /// `DAVLimits.maxLocksPerUser`: the cap holds them all), oldest first.
    static func active(userId: Int64, now: Int64, on db: any DatabaseConnection) async throws -> [DAVLock] {
        try await db.query(
            """
            SELECT \(columns) FROM dav_locks l JOIN nodes n ON n.user_id = l.user_id AND n.id = l.node_id
            WHERE l.user_id = ? AND l.expires_at > ? AND n.state = \(FileNode.State.live.sql)
            ORDER BY l.created_at, l.token LIMIT ?
            """,
            userId, now, DAVLimits.maxLocksPerUser
        ).map(lock)
    }

    /// Refuses a write (`davLocked`) that changes what a live lock protects
    /// without its token; in the write's own transaction. nil: nothing to check.
    static func require(_ lockGuard: DAVLockGuard?, userId: Int64, now: Int64, on db: any DatabaseConnection) async throws {
        guard let lockGuard else { return }
        if !lockGuard.unheld(try await active(userId: userId, now: now, on: db)).isEmpty { throw PanError.davLocked }
    }

    /// Takes a lock rooted at `node`: refused with `davLocked` when it
    /// conflicts with a live lock, `davTooManyLocks` past the user's cap.
    static func take(_ request: DAVLockRequest, on node: FileNode, now: Int64, on db: any DatabaseConnection) async throws -> DAVLock {
        let userId = node.userId
        // Expired ones go first: they neither conflict nor count.
        try await db.run("DELETE FROM dav_locks WHERE user_id = ? AND expires_at <= ?", userId, now)
        if try await active(userId: userId, now: now, on: db).contains(where: { $0.conflicts(with: request, at: node.path) }) {
            throw PanError.davLocked
        }
        // Locks on binned nodes count too until they expire: the cap bounds the rows.
        let held = try await db.scalar("SELECT COUNT(*) FROM dav_locks WHERE user_id = ?", userId) ?? 0
        if held >= Int64(DAVLimits.maxLocksPerUser) { throw PanError.davTooManyLocks }
        let lock = DAVLock(
            token: "urn:uuid:" + UUID().uuidString.lowercased(), nodeId: node.id, rootPath: node.path, infinite: request.infinite,
            exclusive: request.exclusive, owner: request.owner, timeout: request.timeout, expiresAt: now + request.timeout * 1000
        )
        try await db.run(
            """
            INSERT INTO dav_locks (user_id, token, node_id, depth, exclusive, owner, timeout, expires_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            userId, lock.token, node.id, lock.infinite ? -1 : 0, lock.exclusive ? 1 : 0, lock.owner, lock.timeout, lock.expiresAt, now
        )
        return lock
    }

    /// Gives the user's live locks `tokens` a new timeout from `now`; returns them as they are now.
    static func refresh(userId: Int64, tokens: [String], timeout: Int64, now: Int64, on db: any DatabaseConnection) async throws -> [DAVLock] {
        for token in tokens {
            try await db.run(
                "UPDATE dav_locks SET timeout = ?, expires_at = ? WHERE user_id = ? AND token = ? AND expires_at > ?",
                timeout, now + timeout * 1000, userId, token, now
            )
        }
        let wanted = Set(tokens)
        return try await active(userId: userId, now: now, on: db).filter { wanted.contains($0.token) }
    }

    /// Removes one of the user's locks; false when the user has none with that token.
    static func remove(userId: Int64, token: String, on db: any DatabaseConnection) async throws -> Bool {
        try await db.run("DELETE FROM dav_locks WHERE user_id = ? AND token = ?", userId, token) > 0
    }

    /// Ends the locks rooted at `node` or below it (WebDAV's DELETE and MOVE
    /// take them along, RFC 4918 §7.7, §9.9.1).
    static func removeWithin(_ node: FileNode, on db: any DatabaseConnection) async throws {
        try await db.run(
            "DELETE FROM dav_locks WHERE user_id = ? AND node_id IN (SELECT id FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ?)",
            node.userId, node.userId, node.lft, node.rgt
        )
    }

    /// Deletes up to `limit` locks of any user expired by `cutoff` (the sweeper).
    static func sweep(before cutoff: Int64, limit: Int, on db: any DatabaseConnection) async throws -> Int {
        // By key, so PostgreSQL deletes exactly the rows the bounded SELECT chose.
        var deleted = 0
        for row in try await db.query("SELECT user_id, token FROM dav_locks WHERE expires_at <= ? LIMIT ?", cutoff, limit) {
            deleted += try await db.run(
                "DELETE FROM dav_locks WHERE user_id = ? AND token = ?", try row.int64("user_id"), try row.string("token")
            )
        }
        return deleted
    }
}
