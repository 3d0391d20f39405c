import Foundation
import Logging
import NIOCore
import PostgresNIO
import SQLCommon
import Synchronization

/// One leased PostgreSQL connection seen as a `DatabaseConnection`, so the
/// repositories (written once, synchronous, over `SQLCommon`) run on it.
///
/// Why blocking: the domain's transactions are synchronous code, which is what
/// SQLite's single writer needs (a suspension point inside a transaction
/// would hold the one writer across an await). Rather than write every
/// transaction twice, a PostgreSQL transaction runs on a thread of the
/// engine's own pool (never an event loop, never Swift's cooperative pool),
/// and each statement waits there for postgres-nio's future — the JDBC model:
/// one thread per transaction in flight, as many as pooled connections.
final class PostgresConnectionAdapter: DatabaseConnection {
    let connection: PostgresConnection
    let placeholders: PlaceholderCache
    let isReadOnly: Bool
    private var savepointDepth = 0

    init(connection: PostgresConnection, placeholders: PlaceholderCache, isReadOnly: Bool) {
        self.connection = connection
        self.placeholders = placeholders
        self.isReadOnly = isReadOnly
    }

    var dialect: SQLDialect { .postgres }

    func query(_ sql: String, arguments: [any DatabaseBindable]) throws -> [Row] {
        try execute(sql, arguments).rows
    }

    func queryRow(_ sql: String, arguments: [any DatabaseBindable]) throws -> Row? {
        try execute(sql, arguments).rows.first
    }

    @discardableResult
    func run(_ sql: String, arguments: [any DatabaseBindable]) throws -> Int {
        try execute(sql, arguments).changed
    }

    func savepoint<T>(named name: String, _ body: () throws -> T) throws -> T {
        // Nested savepoints get names of their own: PostgreSQL's RELEASE of a
        // repeated name releases the innermost, but clearer logs are cheap.
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let label = "\(name)_\(savepointDepth)"
        try execute("SAVEPOINT \(label)", [])
        do {
            let result = try body()
            try execute("RELEASE SAVEPOINT \(label)", [])
            return result
        } catch {
            _ = try? execute("ROLLBACK TO SAVEPOINT \(label)", [])
            _ = try? execute("RELEASE SAVEPOINT \(label)", [])
            throw error
        }
    }

    /// Runs a statement outside the row helpers (BEGIN, COMMIT, locks).
    @discardableResult
    func execute(_ sql: String, _ arguments: [any DatabaseBindable]) throws -> (rows: [Row], changed: Int) {
        let text = placeholders.postgres(sql)
        if let observer = PostgresStatementLog.observer.withLock({ $0 }) { observer(text, arguments.map(\.databaseValue)) }
        let binds = arguments.map { Self.bind($0.databaseValue) }
        let result: PostgresQueryResult
        do {
            result = try connection.query(text, binds).wait()
        } catch {
            throw PostgresFailure(error, sql: sql)
        }
        var layout: ColumnLayout?
        let rows = try result.rows.map { try Self.row($0, layout: &layout) }
        return (rows, result.metadata.rows ?? 0)
    }

    /// Runs a migration file statement by statement. postgres-nio speaks only
    /// the extended protocol (one statement per message), so the file is split
    /// at each `;` that ends a line outside a `$$`-quoted function body: Pan's
    /// PostgreSQL migrations are written that way.
    func executeScript(_ sql: String) throws {
        var statement = ""
        // Inside a `$$ … $$` body (a PL/pgSQL function) a `;` ends a line of
        // the body, not the statement.
        var inDollarQuote = false
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !inDollarQuote, trimmed.hasPrefix("--") || trimmed.isEmpty { continue }
            statement += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inDollarQuote.toggle() }
            if !inDollarQuote, trimmed.hasSuffix(";") {
                do { _ = try connection.query(statement, []).wait() } catch { throw PostgresFailure(error, sql: statement) }
                statement = ""
            }
        }
        if !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            do { _ = try connection.query(statement, []).wait() } catch { throw PostgresFailure(error, sql: statement) }
        }
    }

    private static func bind(_ value: DatabaseValue) -> PostgresData {
        switch value {
        case .integer(let v): PostgresData(int64: v)
        case .real(let v): PostgresData(double: v)
        case .text(let v): PostgresData(string: v)
        case .blob(let v): PostgresData(bytes: [UInt8](v))
        // Untyped: the server infers the parameter's type from where it is used.
        case .null: PostgresData.null
        }
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
}

/// `?` placeholders (what every statement of Pan's is written with, and
/// SQLite's) rewritten once per statement text into PostgreSQL's `$1, $2…`.
final class PlaceholderCache: Sendable {
    private let cache = Mutex<[String: String]>([:])

    func postgres(_ sql: String) -> String {
        if let known = cache.withLock({ $0[sql] }) { return known }
        let rewritten = Self.rewrite(sql)
        cache.withLock { $0[sql] = rewritten }
        return rewritten
    }

    /// Skips quoted text: a `?` inside '…' or "…" is not a placeholder.
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
