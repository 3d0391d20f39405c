import SQLCommon

/// A SQL database that runs Pan's transactions: SQLite embedded
/// (`PanSQLite`), or PostgreSQL shared by several servers (`PanPostgres`).
/// `SQLPanStore` holds the domain's transactions once, over either.
///
/// An engine owns what differs: how a transaction is opened and retried,
/// how concurrent writers are kept apart, how its errors are classified
/// (`DatabaseFailure`), and its own housekeeping.
public protocol SQLEngine: Sendable {
    /// One read-only transaction (a consistent snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T

    /// `read`, for reads that scan whole tables (statistics, fsck): never on
    /// the calling task's thread, which SQLite's short reads use (a long one
    /// there would hold one of the few threads every request runs on).
    func readLong<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T

    /// A read of exactly one statement: PostgreSQL sends it alone (a
    /// statement is its own snapshot), without a BEGIN and COMMIT around it.
    func readStatement<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T

    /// One write transaction, committed when `body` returns, rolled back when it throws.
    ///
    /// `lockingUser` names the user whose tree, sessions or quota the
    /// transaction changes. SQLite has one serial writer and ignores it;
    /// PostgreSQL takes that user's row lock first, so writers of one user
    /// run one at a time and different users in parallel. An engine may run
    /// `body` more than once (a serialization failure or deadlock), so it must
    /// not have side effects outside the transaction.
    func write<T: Sendable>(
        lockingUser: Int64?, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T

    /// Whether writers of different users run at the same time (PostgreSQL).
    /// Then a write shared by every user (a content object) goes in a short
    /// transaction of its own, so users never wait on each other's; with one
    /// serial writer (SQLite) it joins the user's transaction, saving a round.
    var runsUsersInParallel: Bool { get }

    /// Like `write`, but only one server at a time runs it (PostgreSQL: an
    /// advisory lock); returns nil when another server is already running it.
    func writeExclusively<T: Sendable>(
        job: ExclusiveJob, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T?

    /// The schema version the database is at, and the one this build migrates to.
    func schemaVersion(on db: any DatabaseConnection) async throws -> Int
    var latestSchemaVersion: Int { get }

    /// Makes the on-disk state self-contained (SQLite: a WAL checkpoint), e.g. at shutdown.
    func checkpoint() async throws
    /// Lets go of connections and threads (PostgreSQL's pool); the engine is unusable after.
    func close() async

    /// Why the database cannot be reached right now, from what recent
    /// transactions found (PostgreSQL: no connection within the lease wait,
    /// or the connection lost, since the server last answered); nil when it
    /// answers, and always for an embedded database. Cheap: no database work.
    var databaseProblem: String? { get }
}

extension SQLEngine {
    public var databaseProblem: String? { nil }

    /// A write transaction of one user that starts by locking the user's row
    /// and hands it to `body` (`UserRepository.lock`): the lock and the read
    /// of the user — with `session`, and whether that sign-in still exists
    /// (`User.sessionSeenAt`) — are one statement.
    func write<T: Sendable>(
        asUser userId: Int64, session: String? = nil, _ body: @escaping @Sendable (any DatabaseConnection, User) async throws -> T
    ) async throws -> T {
        try await write(lockingUser: nil) { db in
            guard let user = try await UserRepository.lock(id: userId, session: session, on: db) else { throw PanError.userNotFound }
            return try await body(db, user)
        }
    }
}

/// Maintenance jobs that run on one server at a time.
public enum ExclusiveJob: Int64, Sendable {
    case sweepSessions = 0x7061_6e01
    case collectObjects = 0x7061_6e02
    case sweepUserSessions = 0x7061_6e03
    case purgeBin = 0x7061_6e04
}
