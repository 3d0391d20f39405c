import Foundation
import Logging
import NIOCore
import NIOPosix
import PanCore
import PostgresNIO
import SQLCommon
import Synchronization

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
    /// postgres-nio's pool. It works while its `run()` does: in the server,
    /// as a service of the app's `ServiceGroup` (`PanServices.background`),
    /// shut down after the HTTP server has drained; elsewhere (the CLI,
    /// tools) for the store's lifetime (`startRunning()`/`close()`).
    public let client: PostgresClient
    let statements = PreparedStatements()
    let logger: Logger
    /// The database's name (the URL's path), for logs and `PostgresStatementLog`.
    public let database: String
    /// How long a transaction waits for a pooled connection (the database
    /// down, or every connection busy) before the request gets a 503.
    let leaseWait: Duration
    /// Whether the database answered lately (`databaseProblem`, `/readyz`).
    let health: ConnectionHealth
    private let ownRun = Mutex<Task<Void, Never>?>(nil)
    /// Attempts of a transaction that keeps hitting serialization failures or deadlocks.
    static let maxAttempts = 5

    public init(url: String, poolSize: Int, timeouts: PostgresTimeouts = .init(), logger: Logger) throws {
        var configuration = try PostgresURL.configuration(from: url)
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = timeouts.connect
        // Bounds on the server's side too: a statement stuck on a lock, or a
        // transaction left open by a server that went away, end by themselves.
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", "\(timeouts.statement.components.seconds * 1000)"),
            ("idle_in_transaction_session_timeout", "\(timeouts.statement.components.seconds * 1000)"),
            // A prepared statement is planned once, not at every execution. Left to
            // choose, PostgreSQL costs a generic plan over hash partitions as if it
            // scanned them all (pruning happens when it starts, not in the costing),
            // so it keeps re-planning a custom plan at each execution. Every
            // per-user statement prunes to one partition when its generic plan
            // starts (`PostgresTests`, "planned custom and generic").
            ("plan_cache_mode", "force_generic_plan"),
        ]
        self.logger = logger
        database = configuration.database ?? configuration.username
        leaseWait = timeouts.leaseWait
        health = ConnectionHealth(logger: logger, database: configuration.database ?? configuration.username)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs the pool for the engine's lifetime, outside any `ServiceGroup`
    /// (the CLI, tools, tests); `close()` ends it. The server instead runs
    /// `client` as a service.
    public func startRunning() {
        ownRun.withLock { running in
            guard running == nil else { return }
            let client = self.client
            // `immediate`: run() has begun before the first lease (postgres-nio warns otherwise).
            running = Task.immediate { await client.run() }
        }
    }

    /// Ends the pool when the engine runs it itself; in a `ServiceGroup`, the group does.
    public func close() async {
        guard let running = ownRun.withLock({ $0 }) else { return }
        running.cancel()
        _ = await running.value
    }

    // MARK: SQLEngine

    public var runsUsersInParallel: Bool { true }

    /// Why the database is unreachable, when a connection could not be had
    /// (or was lost) since it last answered; nil while it answers.
    public var databaseProblem: String? { health.problem }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        // One snapshot for the whole read, as a SQLite read transaction gives.
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", readOnly: true) { db in try await body(db) }
    }

    public func readStatement<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        try await onConnection(readOnly: true) { db in try await body(db) }
    }

    /// Long reads need nothing special here: no thread is held while they wait.
    public func readLong<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        try await read(body)
    }

    public func write<T: Sendable>(
        lockingUser: Int64?, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T {
        try await transaction(begin: "BEGIN", readOnly: false) { db in
            if let lockingUser {
                // The user's row lock serializes that user's writers (across servers);
                // a deleted user simply has no row to lock, and the body finds nothing.
                try await db.execute("SELECT id FROM users WHERE id = ? FOR UPDATE", [lockingUser])
            }
            return try await body(db)
        }
    }

    public func writeExclusively<T: Sendable>(
        job: ExclusiveJob, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T? {
        try await transaction(begin: "BEGIN", readOnly: false) { db -> T? in
            // Released at COMMIT/ROLLBACK; another server holding it means it is already being done.
            let row = try await db.queryRow("SELECT pg_try_advisory_xact_lock(?) AS locked", arguments: [job.rawValue])
            guard try row?.bool("locked") == true else { return nil }
            return try await body(db)
        }
    }

    public func schemaVersion(on db: any DatabaseConnection) async throws -> Int {
        Int(try await db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0)
    }

    public var latestSchemaVersion: Int { (try? Self.migrationRunner().latestVersion) ?? 0 }

    /// Nothing to fold in: PostgreSQL's own checkpoints keep its files consistent.
    public func checkpoint() async throws {}

    // MARK: Transactions

    private func transaction<T: Sendable>(
        begin: String, readOnly: Bool, _ body: @escaping @Sendable (PostgresConnectionAdapter) async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await onConnection(readOnly: readOnly) { db in
                    try await db.execute(begin, [])
                    db.inTransaction = true
                    do {
                        let result = try await body(db)
                        try await db.execute("COMMIT", [])
                        return result
                    } catch {
                        // A lost connection has nothing to roll back: the server did.
                        if (error as? PostgresFailure)?.isConnectionFailure != true { _ = try? await db.execute("ROLLBACK", []) }
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

    /// Leases a pooled connection — waiting at most `leaseWait` for one — and runs `body` on it.
    /// What happens is recorded in `health`: an answer from the server, or a
    /// connection that could not be had or was lost.
    func onConnection<T: Sendable>(
        readOnly: Bool, _ body: @escaping @Sendable (PostgresConnectionAdapter) async throws -> T
    ) async throws -> T {
        let client = self.client, statements = self.statements, logger = self.logger, wait = self.leaseWait, database = self.database
        let health = self.health
        let lease = LeaseState()
        let started = ContinuousClock.now
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        // Too late: the wait has run out and the request has its 503.
                        guard lease.take() else { throw CancellationError() }
                        let db = PostgresConnectionAdapter(
                            connection: connection, statements: statements, logger: logger, isReadOnly: readOnly, database: database
                        )
                        do {
                            // postgres-nio's statements don't stop when their task is
                            // cancelled: closing the connection does (the server rolls
                            // the transaction back). A request cancelled at the end of
                            // a graceful shutdown so never waits on a database that
                            // doesn't answer.
                            let result = try await withTaskCancellationHandler {
                                // On the connection's own event loop: each statement's reply resumes the body there.
                                try await withTaskExecutorPreference(EventLoopExecutor(connection.eventLoop)) {
                                    try await body(db)
                                }
                            } onCancel: {
                                let _: EventLoopFuture<Void> = connection.close()
                            }
                            health.succeeded()
                            return result
                        } catch let failure as PostgresFailure {
                            if failure.isConnectionFailure {
                                health.failed(failure.message)
                            } else if failure.sqlState != nil {
                                health.succeeded()  // the server answered, with an error of the statement's
                            }
                            throw failure
                        }
                    }
                }
                group.addTask {
                    // Past the wait with no connection: the database is down or
                    // saturated; give up (the lease request is cancelled) rather
                    // than hold the request until it returns.
                    try await Task.sleep(for: wait)
                    if lease.abandon() { throw LeaseTimeout() }
                    return nil
                }
                while let result = try await group.next() {
                    if let result {
                        group.cancelAll()
                        return result
                    }
                }
                throw LeaseTimeout()
            }
        } catch let error where !Task.isCancelled && !lease.isTaken {
            // No connection was had: the wait ran out (the lease request was
            // cancelled by it), or leasing failed (no server, the pool closed,
            // its circuit breaker open after a long outage). No statement ran.
            let failure = error is LeaseTimeout || error is CancellationError
                ? PostgresFailure(unavailable: "no database connection within \(wait)")
                : PostgresFailure(unavailable: "no database connection: \(PostgresFailure(error, sql: nil).message)")
            // A closed pool is this process shutting down, not the database gone.
            if (error as? PSQLError)?.code != .poolClosed {
                health.failed(failure.message, since: started)
            }
            throw failure
        }
    }

    private struct LeaseTimeout: Error {}

    /// Whichever comes first, the connection or the end of the wait, wins:
    /// a connection that comes later runs nothing.
    private final class LeaseState: Sendable {
        private let state = Atomic<UInt8>(0)  // 0 waiting, 1 taken, 2 abandoned
        /// The connection came in time: run the body.
        func take() -> Bool { state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged }
        /// The wait ran out with no connection: answer unavailable.
        func abandon() -> Bool { state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged }
        var isTaken: Bool { state.load(ordering: .acquiring) == 1 }
    }

    // MARK: Migrations

    /// The embedded migrations/postgres/*.sql (their names and versions were
    /// checked when the build embedded them; parsing checks them again).
    public static func migrationRunner() throws -> MigrationRunner {
        try migrations.get()
    }

    private static let migrations = Result { try MigrationRunner(files: embeddedMigrations) }

    /// Applies (unless `statusOnly`) the pending migrations, each in its own
    /// transaction with its row in `schema_migrations`, under an advisory lock.
    public func migrate(statusOnly: Bool = false) async throws -> MigrationReport {
        let runner = try Self.migrationRunner()
        return try await onConnection(readOnly: false) { db in
            statusOnly ? try await runner.status(of: db, PostgresMigrations()) : try await runner.migrate(db, PostgresMigrations())
        }
    }
}

/// PostgreSQL's part of `MigrationRunner`: the version is the highest row
/// of `schema_migrations`, a migration file is split into statements
/// (`executeScript`), and a session advisory lock held for the whole run
/// makes several servers starting at once migrate one at a time.
struct PostgresMigrations: MigrationBackend {
    /// Lock key of `pan migrate`.
    static let lock: Int64 = 0x7061_6e00

    func withMigrationLock<T>(on db: PostgresConnectionAdapter, _ body: () async throws -> T) async throws -> T {
        try await db.execute("SELECT pg_advisory_lock(?)", [Self.lock])
        do {
            let result = try await body()
            _ = try? await db.execute("SELECT pg_advisory_unlock(?)", [Self.lock])
            return result
        } catch {
            _ = try? await db.execute("SELECT pg_advisory_unlock(?)", [Self.lock])
            throw error
        }
    }

    func prepare(on db: PostgresConnectionAdapter) async throws {
        try await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)", []
        )
    }

    func currentVersion(on db: PostgresConnectionAdapter) async throws -> Int {
        Int(try await db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0)
    }

    func transaction<T>(on db: PostgresConnectionAdapter, _ body: () async throws -> T) async throws -> T {
        try await db.execute("BEGIN", [])
        do {
            let result = try await body()
            try await db.execute("COMMIT", [])
            return result
        } catch {
            _ = try? await db.execute("ROLLBACK", [])
            throw error
        }
    }

    func executeScript(_ sql: String, on db: PostgresConnectionAdapter) async throws {
        try await db.executeScript(sql)
    }

    func record(_ migration: Migration, on db: PostgresConnectionAdapter) async throws {
        try await db.execute(
            "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)", [migration.version, migration.name, Millis.now()]
        )
    }
}

/// The store over PostgreSQL.
public typealias PostgresPanStore = SQLPanStore<PostgresEngine>

extension SQLPanStore where Engine == PostgresEngine {
    /// Connects, migrates (under the advisory lock) and returns the store,
    /// its pool running until `close()`: for the CLI and tools. The server
    /// uses `unstarted` and runs the pool in its `ServiceGroup`.
    public static func open(
        url: String, poolSize: Int, timeouts: PostgresTimeouts = .init(), settings: UploadSettings, logger: Logger
    ) async throws -> PostgresPanStore {
        let engine = try PostgresEngine(url: url, poolSize: poolSize, timeouts: timeouts, logger: logger)
        engine.startRunning()
        do {
            _ = try await engine.migrate()
        } catch {
            await engine.close()
            throw error
        }
        return PostgresPanStore(engine: engine, settings: settings)
    }

    /// The store with its pool not yet running: the caller runs
    /// `engine.client` (a `Service`) and migrates once it does.
    public static func unstarted(
        url: String, poolSize: Int, timeouts: PostgresTimeouts = .init(), settings: UploadSettings, logger: Logger
    ) throws -> PostgresPanStore {
        PostgresPanStore(engine: try PostgresEngine(url: url, poolSize: poolSize, timeouts: timeouts, logger: logger), settings: settings)
    }
}

/// How long the PostgreSQL engine waits before it answers "unavailable"
/// (503 with `Retry-After`) instead of holding a request while the database
/// is down or saturated.
public struct PostgresTimeouts: Sendable {
    /// Connecting to the server.
    public var connect: Duration = .seconds(3)
    /// Waiting for a pooled connection (all busy, or none can be made).
    public var leaseWait: Duration = .seconds(5)
    /// One statement, and a transaction left idle (server-side).
    public var statement: Duration = .seconds(30)

    public init() {}

    public init(connect: Duration, leaseWait: Duration, statement: Duration) {
        self.connect = connect
        self.leaseWait = leaseWait
        self.statement = statement
    }
}
