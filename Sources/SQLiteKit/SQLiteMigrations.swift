/// SQLite's part of `MigrationRunner`: the version is `PRAGMA user_version`
/// (in the file's header, so it commits or rolls back with the migration),
/// a migration file runs whole through `sqlite3_exec`, and each migration's
/// `BEGIN IMMEDIATE` is the lock (the runner re-reads the version inside it).
public struct SQLiteMigrations: MigrationBackend {
    public init() {}

    public func withMigrationLock<T>(on db: Connection, _ body: () async throws -> T) async throws -> T {
        try await body()
    }

    public func prepare(on db: Connection) async throws {}

    public func currentVersion(on db: Connection) async throws -> Int {
        try db.userVersion()
    }

    public func transaction<T>(on db: Connection, _ body: () async throws -> T) async throws -> T {
        try await db.transaction(.immediate, body)
    }

    public func executeScript(_ sql: String, on db: Connection) async throws {
        try db.execute(sql)
    }

    public func record(_ migration: Migration, on db: Connection) async throws {
        try db.execute("PRAGMA user_version = \(migration.version)")
    }
}

extension MigrationRunner {
    /// `migrate` over SQLite, synchronously: SQLite's statements never
    /// suspend, so the shared runner runs inline (`NonSuspending`) for
    /// synchronous callers such as `PanDatabase.open`.
    @discardableResult
    public func migrate(_ connection: Connection) throws -> MigrationReport {
        try NonSuspending.run { try await self.migrate(connection, SQLiteMigrations()) }
    }

    /// `status` over SQLite, synchronously.
    public func status(of connection: Connection) throws -> MigrationReport {
        try NonSuspending.run { try await self.status(of: connection, SQLiteMigrations()) }
    }
}
