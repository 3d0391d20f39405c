/// What differs between engines in migrating a schema: where the version is
/// kept, how a migration file runs, what keeps two processes from migrating
/// at once. Everything else — order, pending, refusing a database newer than
/// the binary, one transaction per migration, the report — is
/// `MigrationRunner`'s, the same for every engine.
///
/// SQLite (`SQLiteKit.SQLiteMigrations`): `PRAGMA user_version`, the whole
/// file through `sqlite3_exec`, each migration's `BEGIN IMMEDIATE` as the lock.
/// PostgreSQL (`PanPostgres`): rows of `schema_migrations`, the file split
/// into statements, an advisory lock held for the whole run.
public protocol MigrationBackend {
    associatedtype Connection: DatabaseConnection

    /// Runs `body` (the whole run) holding the engine's migration lock, if it
    /// needs one beyond each migration's own transaction.
    func withMigrationLock<T>(on db: Connection, _ body: () async throws -> T) async throws -> T
    /// Creates where the version is kept, if it must be created: under the
    /// lock, outside any transaction, before the version is first read.
    func prepare(on db: Connection) async throws
    /// The version the database is at: 0 for a new one.
    func currentVersion(on db: Connection) async throws -> Int
    /// One migration's transaction: its script and its recorded version
    /// commit together or not at all.
    func transaction<T>(on db: Connection, _ body: () async throws -> T) async throws -> T
    /// Runs a migration file (several statements).
    func executeScript(_ sql: String, on db: Connection) async throws
    /// Records, in the migration's transaction, that the database is now at its version.
    func record(_ migration: Migration, on db: Connection) async throws
}

/// What a migration run found and did, whatever the engine: `pan migrate`'s report.
public struct MigrationReport: Sendable {
    /// The version the database was at.
    public var current: Int
    /// The version this binary migrates to.
    public var latest: Int
    /// What was pending when the run began.
    public var pending: [Migration]
    /// What this run applied (fewer than `pending` if another process applied some meanwhile).
    public var applied: [Migration] = []
    /// The version the database is at now.
    public var versionAfter: Int
}

/// Applies a set of migrations in order, each in its own transaction
/// together with the recorded version, so a failure never leaves a
/// half-applied migration, over any engine's `MigrationBackend`.
public struct MigrationRunner: Sendable {
    /// In version order.
    public let migrations: [Migration]

    /// Refuses two migrations with one version.
    public init(_ migrations: [Migration]) throws {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version, a.name, b.name)
        }
        self.migrations = sorted
    }

    /// Parses files as the EmbedMigrations plugin embeds them: a misnamed or
    /// duplicate-numbered file is an error, never skipped.
    public init(files: [(name: String, sql: String)]) throws {
        try self.init(files.map { try Migration(name: $0.name, sql: $0.sql) })
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Where the database is and what is pending; applies nothing.
    /// Throws `MigrationError.databaseNewerThanBinary` as `migrate` does.
    public func status<Backend: MigrationBackend>(of db: Backend.Connection, _ backend: Backend) async throws -> MigrationReport {
        try await run(db, backend, apply: false)
    }

    /// Applies what is pending. A database at a version newer than this
    /// binary knows is refused and left untouched.
    @discardableResult
    public func migrate<Backend: MigrationBackend>(_ db: Backend.Connection, _ backend: Backend) async throws -> MigrationReport {
        try await run(db, backend, apply: true)
    }

    private func run<Backend: MigrationBackend>(_ db: Backend.Connection, _ backend: Backend, apply: Bool) async throws -> MigrationReport {
        try await backend.withMigrationLock(on: db) {
            try await backend.prepare(on: db)
            let current = try await backend.currentVersion(on: db)
            guard current <= latestVersion else {
                throw MigrationError.databaseNewerThanBinary(database: current, binary: latestVersion)
            }
            var report = MigrationReport(
                current: current, latest: latestVersion, pending: migrations.filter { $0.version > current }, versionAfter: current
            )
            guard apply else { return report }
            for migration in report.pending {
                let applied = try await backend.transaction(on: db) { () async throws -> Bool in
                    // Re-read inside the transaction: another process may have
                    // migrated meanwhile (SQLite's lock is this transaction).
                    guard try await backend.currentVersion(on: db) < migration.version else { return false }
                    try await backend.executeScript(migration.sql, on: db)
                    try await backend.record(migration, on: db)
                    return true
                }
                if applied { report.applied.append(migration) }
            }
            report.versionAfter = try await backend.currentVersion(on: db)
            return report
        }
    }
}
