import Foundation
import Logging
import NIOCore
import NIOPosix
import PanCore
import PostgresNIO
import SQLCommon

/// Pan's shared-database engine: PostgreSQL through postgres-nio's
/// `PostgresClient` (its pool), for several Pan servers over one database.
///
/// What SQLite's single writer gave for free is made explicit here:
/// - every write transaction that changes a user's data first takes that
///   user's row lock (`SELECT … FOR UPDATE`), so one user's writers run one
///   at a time (sibling intervals, quota, mkdir -p, free names) while other
///   users' run in parallel, on any server;
/// - maintenance jobs take a transaction-level advisory lock, so one server
///   at a time sweeps sessions or collects objects;
/// - serialization failures and deadlocks rerun the whole transaction, a
///   bounded number of times (then 503, `PanError(storeError:)`).
public final class PostgresEngine: SQLEngine {
    let client: PostgresClient
    /// Threads the synchronous transactions run on (see `PostgresConnectionAdapter`).
    let threads: NIOThreadPool
    let placeholders = PlaceholderCache()
    let logger: Logger
    private let running: Task<Void, Never>
    /// Attempts of a transaction that keeps hitting serialization failures or deadlocks.
    static let maxAttempts = 5

    public init(url: String, poolSize: Int, logger: Logger) throws {
        var configuration = try PostgresURL.configuration(from: url)
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.minimumConnections = 0
        self.logger = logger
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        threads = NIOThreadPool(numberOfThreads: max(1, poolSize))
        threads.start()
        // The client's pool lives while `run()` does; `close()` ends it.
        let client = self.client
        // `immediate`: run() has begun before the first lease (postgres-nio warns otherwise).
        running = Task.immediate { await client.run() }
    }

    /// Ends the pool (its connections close) and the transaction threads.
    public func close() async {
        running.cancel()
        _ = await running.value
        try? await threads.shutdownGracefully()
    }

    // MARK: SQLEngine

    public var runsUsersInParallel: Bool { true }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) throws -> T) async throws -> T {
        // One snapshot for the whole read, as a SQLite read transaction gives.
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", readOnly: true) { db in try body(db) }
    }

    /// Every transaction already runs on the engine's own threads.
    public func readLong<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) throws -> T) async throws -> T {
        try await read(body)
    }

    public func write<T: Sendable>(
        lockingUser: Int64?, _ body: @escaping @Sendable (any DatabaseConnection) throws -> T
    ) async throws -> T {
        try await transaction(begin: "BEGIN", readOnly: false) { db in
            if let lockingUser {
                // The user's row lock serializes that user's writers (across servers);
                // a deleted user simply has no row to lock, and the body finds nothing.
                try db.execute("SELECT id FROM users WHERE id = ? FOR UPDATE", [lockingUser])
            }
            return try body(db)
        }
    }

    public func writeExclusively<T: Sendable>(
        job: ExclusiveJob, _ body: @escaping @Sendable (any DatabaseConnection) throws -> T
    ) async throws -> T? {
        try await transaction(begin: "BEGIN", readOnly: false) { db -> T? in
            // Released at COMMIT/ROLLBACK; another server holding it means it is already being done.
            let row = try db.queryRow("SELECT pg_try_advisory_xact_lock(?) AS locked", arguments: [job.rawValue])
            guard try row?.bool("locked") == true else { return nil }
            return try body(db)
        }
    }

    public func schemaVersion(on db: any DatabaseConnection) throws -> Int {
        Int(try db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0)
    }

    public var latestSchemaVersion: Int { Self.migrations.last?.version ?? 0 }

    /// Nothing to fold in: PostgreSQL's own checkpoints keep its files consistent.
    public func checkpoint() async throws {}

    // MARK: Transactions

    private func transaction<T: Sendable>(
        begin: String, readOnly: Bool, _ body: @escaping @Sendable (PostgresConnectionAdapter) throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await onConnection(readOnly: readOnly) { db in
                    try db.execute(begin, [])
                    do {
                        let result = try body(db)
                        try db.execute("COMMIT", [])
                        return result
                    } catch {
                        _ = try? db.execute("ROLLBACK", [])
                        throw error
                    }
                }
            } catch let failure as PostgresFailure where failure.isRetryable && attempt < Self.maxAttempts {
                logger.debug("transaction retried", metadata: ["attempt": "\(attempt)", "error": "\(failure)"])
                attempt += 1
                // A little jitter, growing: the transactions that conflicted should not meet again.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << attempt))))
            }
        }
    }

    /// Leases a pooled connection and runs `body` on one of the engine's threads.
    func onConnection<T: Sendable>(readOnly: Bool, _ body: @escaping @Sendable (PostgresConnectionAdapter) throws -> T) async throws -> T {
        let threads = self.threads, placeholders = self.placeholders
        do {
            return try await client.withConnection { connection in
                try await threads.runIfActive {
                    try body(PostgresConnectionAdapter(connection: connection, placeholders: placeholders, isReadOnly: readOnly))
                }
            }
        } catch let error as PSQLError {
            // Leasing or connecting failed (no server, pool closed): no statement ran.
            throw PostgresFailure(error, sql: nil)
        }
    }

    // MARK: Migrations

    static let migrations: [Migration] = embeddedMigrations.compactMap { try? Migration(name: $0.name, sql: $0.sql) }

    /// Lock key of `pan migrate`: several servers starting at once migrate one at a time.
    static let migrationLock: Int64 = 0x7061_6e00

    public struct MigrationReport: Sendable {
        public var current: Int
        public var latest: Int
        public var pending: [String]
        public var applied: [String]
    }

    /// Applies (unless `statusOnly`) the pending migrations, each in its own
    /// transaction with its row in `schema_migrations`, under an advisory lock.
    public func migrate(statusOnly: Bool = false) async throws -> MigrationReport {
        try await onConnection(readOnly: false) { db in
            try db.execute("SELECT pg_advisory_lock(?)", [Self.migrationLock])
            defer { _ = try? db.execute("SELECT pg_advisory_unlock(?)", [Self.migrationLock]) }
            try db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)", []
            )
            let current = Int(try db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0)
            let latest = Self.migrations.last?.version ?? 0
            guard current <= latest else {
                throw PanError.internalError(
                    "the database is at schema version \(current) but this pan knows only up to \(latest): refusing to touch a database written by a newer pan"
                )
            }
            let pending = Self.migrations.filter { $0.version > current }
            var report = MigrationReport(current: current, latest: latest, pending: pending.map(\.name), applied: [])
            guard !statusOnly else { return report }
            for migration in pending {
                try db.execute("BEGIN", [])
                do {
                    try db.executeScript(migration.sql)
                    try db.execute(
                        "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                        [migration.version, migration.name, Millis.now()]
                    )
                    try db.execute("COMMIT", [])
                } catch {
                    _ = try? db.execute("ROLLBACK", [])
                    throw error
                }
                report.applied.append(migration.name)
            }
            return report
        }
    }
}

/// The store over PostgreSQL.
public typealias PostgresPanStore = SQLPanStore<PostgresEngine>

extension SQLPanStore where Engine == PostgresEngine {
    /// Connects, migrates (under the advisory lock) and returns the store.
    public static func open(url: String, poolSize: Int, settings: UploadSettings, logger: Logger) async throws -> PostgresPanStore {
        let engine = try PostgresEngine(url: url, poolSize: poolSize, logger: logger)
        do {
            _ = try await engine.migrate()
        } catch {
            await engine.close()
            throw error
        }
        return PostgresPanStore(engine: engine, settings: settings)
    }
}
