import CSQLite
import Foundation
@_exported import SQLCommon

/// One SQLite connection. Not thread-safe on purpose: every connection is
/// confined to one serial queue of a `DatabasePool` (or to one CLI task).
public final class Connection {
    let handle: OpaquePointer
    public let path: String
    public let isReadOnly: Bool
    private var cache = StatementCache()

    public struct Options: Sendable {
        /// How long a connection waits for a lock held by another process.
        public var busyTimeoutMilliseconds: Int32 = 5_000
        public init() {}
    }

    public init(path: String, readOnly: Bool = false, options: Options = .init()) throws {
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open database"
            if let handle { sqlite3_close_v2(handle) }
            throw SQLiteError(extendedCode: code, message: "\(message) (\(path))")
        }
        self.handle = handle
        self.path = path
        self.isReadOnly = readOnly
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, options.busyTimeoutMilliseconds)
        try execute("PRAGMA foreign_keys = ON")
        // 16 MiB of page cache per connection instead of SQLite's 2 MiB: with the
        // default, a callback spent a quarter of its CPU in pread copying pages
        // back from the OS cache once the tree and sessions outgrew 2 MiB (issue #18).
        try execute("PRAGMA cache_size = -16384")
        if !readOnly {
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
        }
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    func lastError(sql: String? = nil) -> SQLiteError {
        SQLiteError(
            extendedCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)),
            sql: sql
        )
    }

    /// Runs one or more SQL statements without arguments (schema, pragmas).
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if code != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(errorMessage)
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(handle), message: message, sql: sql)
        }
    }

    /// Runs a cached prepared statement and returns all its rows.
    @discardableResult
    public func query(_ sql: String, _ arguments: any DatabaseBindable...) throws -> [Row] {
        try query(sql, arguments: arguments)
    }

    public func query(_ sql: String, arguments: [any DatabaseBindable]) throws -> [Row] {
        let statement = try cache.statement(for: sql, on: self)
        defer { statement.reset() }
        try statement.bind(arguments)
        var rows: [Row] = []
        while let row = try statement.step() { rows.append(row) }
        return rows
    }

    /// The first row, or nil.
    public func queryRow(_ sql: String, _ arguments: any DatabaseBindable...) throws -> Row? {
        try queryRow(sql, arguments: arguments)
    }

    public func queryRow(_ sql: String, arguments: [any DatabaseBindable]) throws -> Row? {
        let statement = try cache.statement(for: sql, on: self)
        defer { statement.reset() }
        try statement.bind(arguments)
        return try statement.step()
    }

    /// The first column of the first row as an integer (COUNT, MAX…), nil if NULL or no row.
    public func scalar(_ sql: String, _ arguments: any DatabaseBindable...) throws -> Int64? {
        let statement = try cache.statement(for: sql, on: self)
        defer { statement.reset() }
        try statement.bind(arguments)
        guard let row = try statement.step() else { return nil }
        if case .integer(let value) = row[0] { return value }
        return nil
    }

    /// Runs a statement that returns no rows; returns the number of changed rows.
    @discardableResult
    public func run(_ sql: String, _ arguments: any DatabaseBindable...) throws -> Int {
        try run(sql, arguments: arguments)
    }

    @discardableResult
    public func run(_ sql: String, arguments: [any DatabaseBindable]) throws -> Int {
        let statement = try cache.statement(for: sql, on: self)
        defer { statement.reset() }
        try statement.bind(arguments)
        while try statement.step() != nil {}
        return Int(sqlite3_changes(handle))
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    public enum TransactionKind: String, Sendable {
        case deferred = "DEFERRED"
        /// Takes the write lock at once, so a transaction never fails half-way
        /// with SQLITE_BUSY when it upgrades from reading to writing.
        case immediate = "IMMEDIATE"
    }

    /// Runs `body` in a transaction: commits on return, rolls back on throw.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        // Cached statements: parsing BEGIN/COMMIT for every transaction showed in profiles.
        try run(kind == .immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            if isInTransaction { _ = try? run("ROLLBACK") }
            throw error
        }
    }

    /// A savepoint inside the current transaction: undone alone if `body` throws.
    /// Savepoints nest, also under the same name.
    public func savepoint<T>(named name: String = "pan_sp", _ body: () throws -> T) throws -> T {
        try run("SAVEPOINT \(name)")
        do {
            let result = try body()
            try run("RELEASE \(name)")
            return result
        } catch {
            _ = try? run("ROLLBACK TO \(name)")
            _ = try? run("RELEASE \(name)")
            throw error
        }
    }

    /// `transaction`, for an async body: a read on the calling task (`ReaderPool`).
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () async throws -> T) async throws -> T {
        try runSync(kind == .immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let result = try await body()
            try runSync("COMMIT")
            return result
        } catch {
            if isInTransaction { _ = try? runSync("ROLLBACK") }
            throw error
        }
    }

    /// `savepoint`, for an async body (the shared repositories' `DatabaseConnection.savepoint`).
    public func savepoint<T>(named name: String = "pan_sp", _ body: () async throws -> T) async throws -> T {
        try runSync("SAVEPOINT \(name)")
        do {
            let result = try await body()
            try runSync("RELEASE \(name)")
            return result
        } catch {
            _ = try? runSync("ROLLBACK TO \(name)")
            _ = try? runSync("RELEASE \(name)")
            throw error
        }
    }

    /// The synchronous `run`, named apart: in an async context a plain `run`
    /// would pick `DatabaseConnection`'s async one.
    private func runSync(_ sql: String) throws {
        _ = try run(sql, arguments: [])
    }

    public func userVersion() throws -> Int {
        Int(try scalar("PRAGMA user_version") ?? 0)
    }
}

extension Connection: DatabaseConnection {
    public var dialect: SQLDialect { .sqlite }
}
