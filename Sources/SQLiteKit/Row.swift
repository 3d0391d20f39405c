import Foundation

/// A result row, copied out of the statement so it outlives the next `step`.
public struct Row: Sendable {
    public let columns: [String]
    public let values: [SQLiteValue]

    public subscript(_ index: Int) -> SQLiteValue { values[index] }

    public subscript(_ name: String) -> SQLiteValue {
        guard let index = columns.firstIndex(of: name) else { return .null }
        return values[index]
    }

    private func value(_ name: String) throws -> SQLiteValue {
        guard let index = columns.firstIndex(of: name) else { throw SQLiteUsageError.noSuchColumn(name) }
        return values[index]
    }

    // MARK: Typed reads. The optional variants return nil for NULL; the
    // non-optional ones throw instead of crashing on NULL or a wrong type.

    public func int64(_ name: String) throws -> Int64 {
        guard let value = try optionalInt64(name) else { throw SQLiteUsageError.unexpectedNull(column: name) }
        return value
    }

    public func optionalInt64(_ name: String) throws -> Int64? {
        switch try value(name) {
        case .integer(let v): return v
        case .real(let v):
            // Int64(v) traps outside its range: a bad value is an error, never a crash.
            guard let exact = Int64(exactly: v.rounded(.towardZero)) else {
                throw SQLiteUsageError.typeMismatch(column: name, expected: "INTEGER", found: "REAL \(v)")
            }
            return exact
        case .null: return nil
        case let other: throw SQLiteUsageError.typeMismatch(column: name, expected: "INTEGER", found: other.typeName)
        }
    }

    public func int(_ name: String) throws -> Int { Int(try int64(name)) }

    public func bool(_ name: String) throws -> Bool { try int64(name) != 0 }

    public func double(_ name: String) throws -> Double {
        switch try value(name) {
        case .integer(let v): return Double(v)
        case .real(let v): return v
        case .null: throw SQLiteUsageError.unexpectedNull(column: name)
        case let other: throw SQLiteUsageError.typeMismatch(column: name, expected: "REAL", found: other.typeName)
        }
    }

    public func string(_ name: String) throws -> String {
        guard let value = try optionalString(name) else { throw SQLiteUsageError.unexpectedNull(column: name) }
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
        case let other: throw SQLiteUsageError.typeMismatch(column: name, expected: "BLOB", found: other.typeName)
        }
    }
}
