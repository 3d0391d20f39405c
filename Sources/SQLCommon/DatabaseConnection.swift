/// What Pan's SQL needs from a database connection inside one transaction,
/// whatever the engine: SQLite's `Connection` (SQLiteKit) and the PostgreSQL
/// adapter (PanPostgres) both conform, so every repository is written once.
///
/// Statements use `?` placeholders and the SQL both engines share; where
/// they differ (a handful of spots), code asks `dialect`.
///
/// The seam is `async` so each engine runs natively: PostgreSQL awaits each
/// statement on postgres-nio's event loop (no thread parked per
/// transaction), while SQLite's statements are synchronous calls that
/// satisfy these requirements without ever suspending — a SQLite write
/// transaction must never suspend (it would hold the one writer across an
/// await), and `DatabasePool.write` checks that it didn't.
public protocol DatabaseConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// A read-only connection (a reader of the pool): nothing may be created on it.
    var isReadOnly: Bool { get }
    func query(_ sql: String, arguments: [any DatabaseBindable]) async throws -> [Row]
    func queryRow(_ sql: String, arguments: [any DatabaseBindable]) async throws -> Row?
    /// Runs a statement that returns no rows; returns the number of changed rows.
    @discardableResult
    func run(_ sql: String, arguments: [any DatabaseBindable]) async throws -> Int
    /// A savepoint inside the current transaction: undone alone if `body` throws.
    func savepoint<T>(named name: String, _ body: () async throws -> T) async throws -> T
}

public enum SQLDialect: Sendable, Equatable {
    case sqlite
    case postgres
}

extension DatabaseConnection {
    @discardableResult
    public func query(_ sql: String, _ arguments: any DatabaseBindable...) async throws -> [Row] {
        try await query(sql, arguments: arguments)
    }

    public func queryRow(_ sql: String, _ arguments: any DatabaseBindable...) async throws -> Row? {
        try await queryRow(sql, arguments: arguments)
    }

    /// The first column of the first row as an integer (COUNT, MAX…), nil if NULL or no row.
    public func scalar(_ sql: String, _ arguments: any DatabaseBindable...) async throws -> Int64? {
        guard let row = try await queryRow(sql, arguments: arguments) else { return nil }
        if case .integer(let value) = row[0] { return value }
        return nil
    }

    @discardableResult
    public func run(_ sql: String, _ arguments: any DatabaseBindable...) async throws -> Int {
        try await run(sql, arguments: arguments)
    }

    public func savepoint<T>(_ body: () async throws -> T) async throws -> T {
        try await savepoint(named: "pan_sp", body)
    }
}

/// An engine's error, classified the way Pan's domain needs: a unique key
/// taken (a name already in use), a foreign key missing, the database busy
/// or full, a transaction to retry.
public protocol DatabaseFailure: Error {
    var isUniqueViolation: Bool { get }
    var isForeignKeyViolation: Bool { get }
    /// Locked or busy past the timeout: try again later (503).
    var isBusy: Bool { get }
    /// The disk (or the engine's size limit) ran out (507).
    var isFull: Bool { get }
    /// A serialization failure or deadlock: the whole transaction may be run again.
    var isRetryable: Bool { get }
}
