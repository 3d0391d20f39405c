import SQLCommon

/// How much tree one request and one user may make (issue #24 §2.3).
///
/// Empty files and directories cost no quota, and every write of a user holds
/// the writer (SQLite's one writer; PostgreSQL's per-user lock) for as long as
/// its transaction runs. One `copy` of a single source repeated 1,000 times
/// held it for 7 s, another made 32,100 nodes in 2.2 s. So: a request names
/// at most `sourcesPerRequest` nodes and makes at most `nodesPerRequest` (a
/// copy is counted before anything is written), and a user has at most
/// `PAN_MAX_NODES` nodes, counted in `users.node_count` and checked in the
/// same statement that counts a new node (`take`), inside the transaction
/// that inserts it — `TreeRepository.insert` is where every node is made.
public enum NodeLimits {
    /// Most nodes one move, copy or remove request may name.
    public static let sourcesPerRequest = 1_000
    /// Most nodes one request may create (a copy of 10,000 nodes takes ~0.7 s of the writer).
    public static let nodesPerRequest = 10_000
    /// `PAN_MAX_NODES`'s default: most nodes (files and directories, live or
    /// in the bin) one user may have. 0 is no cap.
    public static let defaultPerUser: Int64 = 1_000_000

    public static func requireSources(_ count: Int) throws(PanError) {
        if count > sourcesPerRequest {
            throw PanError(status: 400, code: "TOO_MANY_SOURCES", "a request may name at most \(sourcesPerRequest) files (\(count) given)")
        }
    }

    public static func requireNewNodes(_ count: Int) throws(PanError) {
        if count > nodesPerRequest {
            throw PanError(
                status: 413, code: "TOO_MANY_NODES",
                "this request would create \(count) files and directories; one request may create at most \(nodesPerRequest)"
            )
        }
    }

    static func nodeCapReached(_ limit: Int64) -> PanError {
        PanError(status: 403, code: "NODE_LIMIT_EXCEEDED", "an account may hold at most \(limit) files and directories (the recycle bin included)")
    }

    /// Counts `count` new nodes of the user, refused past `limit` (≤ 0: no
    /// cap). Check and count are one conditional UPDATE of the user's row,
    /// inside the caller's write transaction.
    /// `addingSpace`: bytes added to `space_used` in the same UPDATE (a placed file's).
    static func take(_ count: Int, userId: Int64, limit: Int64, addingSpace: Int64 = 0, on db: any DatabaseConnection) async throws {
        if limit <= 0 {
            try await db.run(
                "UPDATE users SET node_count = node_count + ?, space_used = CASE WHEN space_used + ? < 0 THEN 0 ELSE space_used + ? END WHERE id = ?",
                count, addingSpace, addingSpace, userId
            )
            return
        }
        let counted = try await db.run(
            """
            UPDATE users SET node_count = node_count + ?, space_used = CASE WHEN space_used + ? < 0 THEN 0 ELSE space_used + ? END
            WHERE id = ? AND node_count + ? <= ?
            """,
            count, addingSpace, addingSpace, userId, count, limit
        )
        if counted == 0 { throw nodeCapReached(limit) }
    }

    /// Refuses `count` more nodes past `limit` without counting them (a
    /// copy's whole subtree, before its first insert; each insert still `take`s).
    static func requireRoom(for count: Int, userId: Int64, limit: Int64, on db: any DatabaseConnection) async throws {
        guard limit > 0 else { return }
        let current = try await db.scalar("SELECT node_count FROM users WHERE id = ?", userId) ?? 0
        if current + Int64(count) > limit { throw nodeCapReached(limit) }
    }

    /// Forgets `count` deleted nodes.
    static func release(_ count: Int, userId: Int64, on db: any DatabaseConnection) async throws {
        guard count > 0 else { return }
        try await db.run("UPDATE users SET node_count = node_count - ? WHERE id = ?", count, userId)
    }
}
