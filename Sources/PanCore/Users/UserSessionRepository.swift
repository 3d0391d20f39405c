import SQLCommon

/// Sign-in sessions (`sessions`). Every function runs on a connection the
/// caller holds, inside the caller's transaction; every statement names one
/// user but the sweeper's.
public enum UserSessionRepository {
    /// Starts a session, then ends the least recently seen ones past `limit`
    /// (the new one is the most recently seen), in the caller's transaction:
    /// a user never holds more than `limit` sessions, however many servers log in at once.
    static func start(
        userId: Int64, device: String, address: String, limit: Int, on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> UserSession {
        let session = UserSession(
            id: RandomID.hex32(), userId: userId, device: device, address: address, createdAt: now, lastSeenAt: now
        )
        try await db.run(
            "INSERT INTO sessions (user_id, id, device, address, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            userId, session.id, device, address, now, now
        )
        let count = try await db.scalar("SELECT COUNT(*) FROM sessions WHERE user_id = ?", userId) ?? 0
        if count > Int64(limit) {
            // Bounded: one past the limit after every login (more only after the limit was lowered).
            try await db.run(
                """
                DELETE FROM sessions WHERE user_id = ? AND id IN (
                    SELECT id FROM sessions WHERE user_id = ? AND id <> ? ORDER BY last_seen_at, created_at, id LIMIT ?
                )
                """,
                userId, userId, session.id, count - Int64(limit)
            )
        }
        return session
    }

    /// The user's sessions, most recently seen first (at most `limit`: every user has fewer).
    static func list(userId: Int64, limit: Int, on db: any DatabaseConnection) async throws -> [UserSession] {
        try await db.query(
            """
            SELECT id, user_id, device, address, created_at, last_seen_at FROM sessions
            WHERE user_id = ? ORDER BY last_seen_at DESC, created_at DESC, id LIMIT ?
            """,
            userId, limit
        ).map { row in
            UserSession(
                id: try row.string("id"), userId: try row.int64("user_id"), device: try row.string("device"),
                address: try row.string("address"), createdAt: try row.int64("created_at"), lastSeenAt: try row.int64("last_seen_at")
            )
        }
    }

    /// Ends one of the user's sessions; false when the user has none with that id.
    static func end(userId: Int64, id: String, on db: any DatabaseConnection) async throws -> Bool {
        try await db.run("DELETE FROM sessions WHERE user_id = ? AND id = ?", userId, id) > 0
    }

    /// Ends every session of the user (at most its limit of rows).
    static func endAll(userId: Int64, on db: any DatabaseConnection) async throws {
        try await db.run("DELETE FROM sessions WHERE user_id = ?", userId)
    }

    /// Records when sessions were seen again; never moves `last_seen_at` back,
    /// and a session that ended meanwhile stays ended (nothing to update).
    static func touch(_ sightings: [UserSessionSighting], on db: any DatabaseConnection) async throws {
        // In key order: two servers flushing at once lock the rows in the same order, never in a cycle.
        for sighting in sightings.sorted(by: { ($0.userId, $0.sessionId) < ($1.userId, $1.sessionId) }) {
            try await db.run(
                "UPDATE sessions SET last_seen_at = ? WHERE user_id = ? AND id = ? AND last_seen_at < ?",
                sighting.at, sighting.userId, sighting.sessionId, sighting.at
            )
        }
    }

    /// Deletes up to `limit` sessions last seen before `cutoff` (their tokens have all expired); returns how many.
    static func sweep(before cutoff: Int64, limit: Int, on db: any DatabaseConnection) async throws -> Int {
        try await db.run(
            """
            DELETE FROM sessions WHERE (user_id, id) IN (
                SELECT user_id, id FROM sessions WHERE last_seen_at < ? ORDER BY last_seen_at LIMIT ?
            )
            """,
            cutoff, limit
        )
    }
}
