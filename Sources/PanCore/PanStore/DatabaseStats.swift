import SQLCommon

/// What the database holds, for `pan stats` and the scrape-time gauges.
/// Counts are read in one snapshot (callers run this inside a read transaction).
public struct DatabaseStats: Codable, Sendable, Equatable {
    public var users: Int64
    public var disabledUsers: Int64
    /// Live files and directories (user roots included), and nodes in recycle bins.
    public var files: Int64
    public var directories: Int64
    public var recycledNodes: Int64
    public var objects: Int64
    /// Bytes of stored content objects (each object once, however many files share it).
    public var storedBytes: Int64
    /// Upload sessions by state; every state is present, zero or not.
    public var sessions: [String: Int64]
    public var schemaVersion: Int

    public static let sessionStates = UploadSession.State.allCases.map(\.rawValue)

    public static func collect(schemaVersion: Int, on db: any DatabaseConnection) async throws -> DatabaseStats {
        var sessions = Dictionary(uniqueKeysWithValues: sessionStates.map { ($0, Int64(0)) })
        for row in try await db.query("SELECT state, COUNT(*) AS n FROM upload_sessions GROUP BY state") {
            sessions[try row.string("state")] = try row.int64("n")
        }
        return DatabaseStats(
            users: try await db.scalar("SELECT COUNT(*) FROM users") ?? 0,
            disabledUsers: try await db.scalar("SELECT COUNT(*) FROM users WHERE status = \(User.Status.disabled.sql)") ?? 0,
            files: try await db.scalar("SELECT COUNT(*) FROM nodes WHERE state = \(FileNode.State.live.sql) AND type = \(FileNode.Kind.file.sql)") ?? 0,
            directories: try await db.scalar("SELECT COUNT(*) FROM nodes WHERE state = \(FileNode.State.live.sql) AND type = \(FileNode.Kind.directory.sql)") ?? 0,
            recycledNodes: try await db.scalar("SELECT COUNT(*) FROM nodes WHERE state = \(FileNode.State.recycled.sql)") ?? 0,
            objects: try await db.scalar("SELECT COUNT(*) FROM store_objects") ?? 0,
            storedBytes: try await db.scalar("SELECT COALESCE(SUM(size), 0) FROM store_objects") ?? 0,
            sessions: sessions,
            schemaVersion: schemaVersion
        )
    }
}
