import CSQLite
import Foundation

// SQLite copies bound text and blobs when given this destructor.
let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// A prepared statement. Owned by one `Connection` and used only on its queue;
/// the connection's cache hands it out again after a `reset`.
public final class Statement {
    let handle: OpaquePointer
    public let sql: String
    private unowned let connection: Connection
    /// Made at the first row and kept across executions (a cached statement's
    /// rows share one). SQLite re-prepares a statement after a schema change,
    /// and a `SELECT *`'s columns change with it: the layout is made again
    /// whenever SQLite's count of re-preparations has moved.
    private var columnLayout: ColumnLayout?
    private var layoutPreparation: Int32 = -1

    init(connection: Connection, sql: String) throws {
        var handle: OpaquePointer?
        let code = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard code == SQLITE_OK, let handle else {
            throw connection.lastError(sql: sql)
        }
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    /// Clears previous bindings and the cursor so the statement can be reused.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ arguments: [any DatabaseBindable]) throws {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard arguments.count == expected else {
            throw SQLiteError(extendedCode: SQLITE_RANGE, message: "statement takes \(expected) arguments, got \(arguments.count)", sql: sql)
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch argument.databaseValue {
            case .integer(let v): code = sqlite3_bind_int64(handle, index, v)
            case .real(let v): code = sqlite3_bind_double(handle, index, v)
            // The byte count, not -1: text with an embedded NUL is stored whole.
            case .text(let v): code = sqlite3_bind_text(handle, index, v, Int32(v.utf8.count), SQLITE_TRANSIENT)
            case .blob(let v):
                code = v.withUnsafeBytes { raw in
                    // A zero-length blob must still bind as a blob, not NULL.
                    sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(v.count), SQLITE_TRANSIENT)
                }
            case .null: code = sqlite3_bind_null(handle, index)
            }
            guard code == SQLITE_OK else { throw connection.lastError(sql: sql) }
        }
    }

    /// Steps once; returns the row, or nil when done.
    func step() throws -> Row? {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return currentRow()
        case SQLITE_DONE: return nil
        default: throw connection.lastError(sql: sql)
        }
    }

    private func currentRow() -> Row {
        let count = sqlite3_column_count(handle)
        var values: [DatabaseValue] = []
        values.reserveCapacity(Int(count))
        for i in 0..<count {
            switch sqlite3_column_type(handle, i) {
            case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, i)))
            case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, i)))
            case SQLITE_TEXT:
                if let text = sqlite3_column_text(handle, i) {
                    let length = Int(sqlite3_column_bytes(handle, i))
                    values.append(.text(String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self)))
                } else {
                    values.append(.null)
                }
            case SQLITE_BLOB:
                let length = Int(sqlite3_column_bytes(handle, i))
                if let bytes = sqlite3_column_blob(handle, i), length > 0 {
                    values.append(.blob(Data(bytes: bytes, count: length)))
                } else {
                    values.append(.blob(Data()))
                }
            default: values.append(.null)
            }
        }
        let preparation = sqlite3_stmt_status(handle, SQLITE_STMTSTATUS_REPREPARE, 0)
        if columnLayout == nil || preparation != layoutPreparation {
            columnLayout = ColumnLayout((0..<count).map { String(cString: sqlite3_column_name(handle, $0)) })
            layoutPreparation = preparation
        }
        return Row(layout: columnLayout!, values: values)
    }
}

/// Prepared statements keyed by SQL text, as GRDB's `StatementCache`.
struct StatementCache {
    private var statements: [String: Statement] = [:]

    mutating func statement(for sql: String, on connection: Connection) throws -> Statement {
        if let cached = statements[sql] { return cached }
        let statement = try Statement(connection: connection, sql: sql)
        statements[sql] = statement
        return statement
    }

    mutating func removeAll() { statements.removeAll() }
}
