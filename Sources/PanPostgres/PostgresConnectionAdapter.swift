import Foundation
import Logging
import NIOCore
import PostgresNIO
import SQLCommon
import Synchronization

/// One leased PostgreSQL connection seen as a `DatabaseConnection`, so the
/// repositories (written once over `SQLCommon`) run on it. Each statement is
/// awaited on postgres-nio's own event loop: no thread waits for it.
///
/// Every statement is a named prepared statement, parsed and planned once
/// per connection (see `PreparedText`), with its arguments bound in binary.
final class PostgresConnectionAdapter: DatabaseConnection, @unchecked Sendable {
    let connection: PostgresConnection
    let statements: PreparedStatements
    let logger: Logger
    let isReadOnly: Bool
    /// The database's name, for `PostgresStatementLog`.
    let database: String
    private var savepointDepth = 0
    /// Inside BEGIN … COMMIT (`PostgresEngine.transaction`).
    var inTransaction = false
    /// This transaction plans each execution (a listing ran: `PreparedText.plannedEachTime`).
    private var plansEachTime = false

    init(connection: PostgresConnection, statements: PreparedStatements, logger: Logger, isReadOnly: Bool, database: String) {
        self.connection = connection
        self.statements = statements
        self.logger = logger
        self.isReadOnly = isReadOnly
        self.database = database
    }

    var dialect: SQLDialect { .postgres }

    func query(_ sql: String, arguments: [any DatabaseBindable]) async throws -> [Row] {
        try await rows(sql, arguments)
    }

    func queryRow(_ sql: String, arguments: [any DatabaseBindable]) async throws -> Row? {
        try await rows(sql, arguments).first
    }

    @discardableResult
    func run(_ sql: String, arguments: [any DatabaseBindable]) async throws -> Int {
        try await execute(sql, arguments)
    }

    func savepoint<T>(named name: String, _ body: () async throws -> T) async throws -> T {
        // Nested savepoints get names of their own, so each text is one prepared statement.
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let label = "\(name)_\(savepointDepth)"
        try await execute("SAVEPOINT \(label)", [])
        do {
            let result = try await body()
            try await execute("RELEASE SAVEPOINT \(label)", [])
            return result
        } catch {
            _ = try? await execute("ROLLBACK TO SAVEPOINT \(label)", [])
            _ = try? await execute("RELEASE SAVEPOINT \(label)", [])
            throw error
        }
    }

    /// A statement's rows.
    func rows(_ sql: String, _ arguments: [any DatabaseBindable]) async throws -> [Row] {
        let values = arguments.map(\.databaseValue)
        let prepared = statements.prepared(sql, values)
        observe(prepared, values)
        if prepared.plannedEachTime, inTransaction, !plansEachTime {
            // For the rest of this transaction only (`SET LOCAL`): the connection
            // goes back to the pool planning once (`PostgresEngine`).
            plansEachTime = true
            try await execute("SET LOCAL plan_cache_mode = force_custom_plan", [])
        }
        try checkOpen()
        do {
            var layout: ColumnLayout?
            var rows: [Row] = []
            return try await PreparedText.$current.withValue(prepared) {
                for try await row in try await connection.execute(RowsStatement(bindings: Self.bindings(values)), logger: logger) {
                    rows.append(try Self.row(row, layout: &layout))
                }
                return rows
            }
        } catch {
            throw PostgresFailure(error, sql: sql)
        }
    }

    /// A statement run for its effect: the number of rows it changed.
    ///
    /// Counted as rows: DML is prepared with `RETURNING 1` (`PreparedStatements`).
    /// postgres-nio 1.33.2 has no other way to read a prepared statement's
    /// command tag: its `execute` for `Row == ()` reads the tag before the
    /// (empty) result is consumed and traps ("commandTag may only be called
    /// if all rows have been consumed").
    @discardableResult
    func execute(_ sql: String, _ arguments: [any DatabaseBindable]) async throws -> Int {
        try await rows(sql, arguments).count
    }

    private func observe(_ prepared: PreparedText, _ values: [DatabaseValue]) {
        if let observer = PostgresStatementLog.observers.withLock({ $0.isEmpty ? nil : $0[database] }) { observer(prepared.text, values) }
    }

    static func bindings(_ values: [DatabaseValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .integer(let v): bindings.append(v)
            case .real(let v): bindings.append(v)
            case .text(let v): bindings.append(v)
            case .blob(let v): bindings.append(ByteBuffer(bytes: v))
            // Untyped: the server infers the parameter's type from where it is used.
            case .null: bindings.appendNull()
            }
        }
        return bindings
    }

    /// `layout`: the previous row's, reused while the names match (one per result).
    private static func row(_ row: PostgresRow, layout: inout ColumnLayout?) throws -> Row {
        var columns: [String] = []
        var values: [DatabaseValue] = []
        for cell in row {
            columns.append(cell.columnName)
            values.append(try value(of: cell))
        }
        if layout?.names != columns { layout = ColumnLayout(columns) }
        return Row(layout: layout!, values: values)
    }

    private static func value(of cell: PostgresCell) throws -> DatabaseValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return .integer(try cell.decode(Int64.self))
        case .bool:
            return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .float4, .float8:
            return .real(try cell.decode(Double.self))
        case .numeric:
            // SUM() of a bigint column is numeric: Pan's sums are whole byte counts.
            let decimal = try cell.decode(Decimal.self)
            return .integer(NSDecimalNumber(decimal: decimal).int64Value)
        case .bytea:
            var buffer = try cell.decode(ByteBuffer.self)
            return .blob(Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
        default:
            return .text(try cell.decode(String.self))
        }
    }

    /// Fails at once on a connection already closed (the server went away,
    /// or sent 57P01 and hung up): postgres-nio 1.33.2 writes a statement to
    /// its channel without a write promise, and one written after the
    /// channel's handlers are gone is dropped with its result promise — the
    /// await would never end (a `ROLLBACK` after the server's FATAL did,
    /// under `DatabaseOutageTests`).
    private func checkOpen() throws {
        if connection.isClosed { throw PostgresFailure(unavailable: "the database connection is closed") }
    }

    /// Runs a migration file statement by statement, unprepared (each runs
    /// once, ever). postgres-nio speaks only the extended protocol (one
    /// statement per message), so the file is split at each `;` that ends a
    /// line outside a `$$`-quoted function body: Pan's PostgreSQL migrations
    /// are written that way.
    func executeScript(_ sql: String) async throws {
        var statement = ""
        var inDollarQuote = false
        func flush() async throws {
            guard !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return }
            try checkOpen()
            do { _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect() } catch {
                throw PostgresFailure(error, sql: statement)
            }
            statement = ""
        }
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !inDollarQuote, trimmed.hasPrefix("--") || trimmed.isEmpty { continue }
            statement += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inDollarQuote.toggle() }
            if !inDollarQuote, trimmed.hasSuffix(";") { try await flush() }
        }
        try await flush()
    }
}

/// Pan's statements, named for postgres-nio's per-connection prepared
/// statement cache.
///
/// postgres-nio prepares a statement once per connection and then only
/// binds and executes it — but only through `PostgresPreparedStatement`,
/// whose name and SQL are *static* (one Swift type per statement). Pan's
/// statements are texts written once over both engines, so the two types
/// below read their name and text from a task-local set around each
/// `execute` (postgres-nio reads both synchronously when the statement is
/// submitted). `PostgresQuery` alone would send every statement unnamed,
/// parsed and planned each time (issue #25: the per-request cost).
///
/// A name covers the text *and* the types of its arguments: a statement
/// prepared with a NULL (type inferred by the server) and later bound with
/// an int8 would otherwise be sent bytes of a type it was not planned for.
struct PreparedText: Sendable {
    let name: String
    /// With `$n` placeholders (and `RETURNING 1` on DML that had no RETURNING).
    let text: String
    /// Planned with each execution's arguments (`PreparedStatements.plannedEachTime`).
    var plannedEachTime = false

    @TaskLocal static var current = PreparedText(name: "", text: "")
}

struct RowsStatement: PostgresPreparedStatement {
    static var name: String { PreparedText.current.name }
    static var sql: String { PreparedText.current.text }
    typealias Row = PostgresRow
    let bindings: PostgresBindings
    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// Every statement text Pan has sent, rewritten (`?` → `$n`) and named once
/// per process; the names are the same on every connection.
final class PreparedStatements: Sendable {
    private struct Key: Hashable {
        let sql: String
        let types: [UInt8]
    }

    private let known = Mutex<[Key: PreparedText]>([:])

    func prepared(_ sql: String, _ values: [DatabaseValue]) -> PreparedText {
        let key = Key(sql: sql, types: values.map(Self.typeCode))
        if let prepared = known.withLock({ $0[key] }) { return prepared }
        return known.withLock { known in
            if let prepared = known[key] { return prepared }
            let text = Self.countingChanges(Self.rewrite(sql))
            let prepared = PreparedText(name: "pan_\(known.count + 1)", text: text, plannedEachTime: Self.plannedEachTime(text))
            known[key] = prepared
            return prepared
        }
    }

    private static func typeCode(_ value: DatabaseValue) -> UInt8 {
        switch value {
        case .integer: 1
        case .real: 2
        case .text: 3
        case .blob: 4
        case .null: 0
        }
    }

    /// A listing (`ORDER BY` … `LIMIT`) is planned at each execution: which
    /// index serves it best depends on the arguments (how far the window
    /// reaches, where a keyset page starts), and its generic plan, costed
    /// without them, took 17 ms a page of a 10k directory (pg_stat_statements)
    /// — 4.5× the database CPU per page. Its transaction switches to custom
    /// plans (`SET LOCAL`) before it; every other statement is planned once
    /// per connection (`plan_cache_mode = force_generic_plan`, `PostgresEngine`).
    static func plannedEachTime(_ sql: String) -> Bool {
        sql.range(of: "ORDER BY", options: .caseInsensitive) != nil
    }

    /// INSERT, UPDATE and DELETE return a row per changed row, so the
    /// changed count is the number of rows (see `execute`): one small row
    /// each, which a bulk statement pays for on the wire.
    static func countingChanges(_ sql: String) -> String {
        let head = sql.drop { $0.isWhitespace }.prefix(7).uppercased()
        guard head.hasPrefix("INSERT") || head.hasPrefix("UPDATE") || head.hasPrefix("DELETE") else { return sql }
        guard sql.range(of: "RETURNING", options: .caseInsensitive) == nil else { return sql }
        return sql + " RETURNING 1"
    }

    /// `?` placeholders (what every statement of Pan's is written with, and
    /// SQLite's) → PostgreSQL's `$1, $2…`. Skips quoted text.
    static func rewrite(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else if character == "?" {
                number += 1
                out += "$\(number)"
            } else {
                out.append(character)
            }
        }
        return out
    }
}
