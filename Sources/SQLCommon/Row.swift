import Foundation

/// A result's column names and where each is, made once per statement and
/// shared by its rows: reading a row by name is one hash lookup, not a scan
/// comparing names (that scan was ~6% of a 20-node page, issue #18).
public final class ColumnLayout: Sendable {
    public let names: [String]
    private let positions: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        // The first of duplicate names wins, as `firstIndex(of:)` did.
        positions = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func position(of name: String) -> Int? { positions[name] }
}

/// A result row, copied out of the statement so it outlives the next `step`.
public struct Row: Sendable {
    public let layout: ColumnLayout
    public let values: [DatabaseValue]

    public var columns: [String] { layout.names }

    public init(layout: ColumnLayout, values: [DatabaseValue]) {
        self.layout = layout
        self.values = values
    }

    public init(columns: [String], values: [DatabaseValue]) {
        self.init(layout: ColumnLayout(columns), values: values)
    }

    public subscript(_ index: Int) -> DatabaseValue { values[index] }

    public subscript(_ name: String) -> DatabaseValue {
        guard let index = layout.position(of: name) else { return .null }
        return values[index]
    }

    private func value(_ name: String) throws -> DatabaseValue {
        guard let index = layout.position(of: name) else { throw RowError.noSuchColumn(name) }
        return values[index]
    }

    // MARK: Typed reads. The optional variants return nil for NULL; the
    // non-optional ones throw instead of crashing on NULL or a wrong type.

    public func int64(_ name: String) throws -> Int64 {
        guard let value = try optionalInt64(name) else { throw RowError.unexpectedNull(column: name) }
        return value
    }

    public func optionalInt64(_ name: String) throws -> Int64? {
        switch try value(name) {
        case .integer(let v): return v
        case .real(let v):
            // Int64(v) traps outside its range: a bad value is an error, never a crash.
            guard let exact = Int64(exactly: v.rounded(.towardZero)) else {
                throw RowError.typeMismatch(column: name, expected: "INTEGER", found: "REAL \(v)")
            }
            return exact
        case .null: return nil
        case let other: throw RowError.typeMismatch(column: name, expected: "INTEGER", found: other.typeName)
        }
    }

    public func int(_ name: String) throws -> Int { Int(try int64(name)) }

    public func bool(_ name: String) throws -> Bool { try int64(name) != 0 }

    public func double(_ name: String) throws -> Double {
        switch try value(name) {
        case .integer(let v): return Double(v)
        case .real(let v): return v
        case .null: throw RowError.unexpectedNull(column: name)
        case let other: throw RowError.typeMismatch(column: name, expected: "REAL", found: other.typeName)
        }
    }

    public func string(_ name: String) throws -> String {
        guard let value = try optionalString(name) else { throw RowError.unexpectedNull(column: name) }
        return value
    }

    public func optionalString(_ name: String) throws -> String? {
        switch try value(name) {
        case .text(let v): return v
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .blob(let v): return String(decoding: v, as: UTF8.self)
        case .null: return nil
        }
    }

    public func data(_ name: String) throws -> Data? {
        switch try value(name) {
        case .blob(let v): return v
        case .text(let v): return Data(v.utf8)
        case .null: return nil
        case let other: throw RowError.typeMismatch(column: name, expected: "BLOB", found: other.typeName)
        }
    }
}

/// Reading a row the wrong way: a missing column, NULL where a value must be, a wrong type.
public enum RowError: Error, CustomStringConvertible, Sendable {
    case noSuchColumn(String)
    case typeMismatch(column: String, expected: String, found: String)
    case unexpectedNull(column: String)

    public var description: String {
        switch self {
        case .noSuchColumn(let name): "no column named \(name) in the row"
        case let .typeMismatch(column, expected, found): "column \(column): expected \(expected), found \(found)"
        case .unexpectedNull(let column): "column \(column) is NULL"
        }
    }
}
