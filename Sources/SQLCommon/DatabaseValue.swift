import Foundation

/// One column value, as bound to a statement or read from a row — the same
/// for every engine (SQLite's storage classes; PostgreSQL's types map onto them).
public enum DatabaseValue: Sendable, Equatable, Hashable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    case null

    public var typeName: String {
        switch self {
        case .integer: "INTEGER"
        case .real: "REAL"
        case .text: "TEXT"
        case .blob: "BLOB"
        case .null: "NULL"
        }
    }
}

/// A Swift value that can be bound to a statement parameter.
public protocol DatabaseBindable: Sendable {
    var databaseValue: DatabaseValue { get }
}

extension DatabaseValue: DatabaseBindable {
    public var databaseValue: DatabaseValue { self }
}
extension Int64: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(self) }
}
extension Int: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
}
extension Int32: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
}
extension Bool: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(self ? 1 : 0) }
}
extension Double: DatabaseBindable {
    public var databaseValue: DatabaseValue { .real(self) }
}
extension String: DatabaseBindable {
    public var databaseValue: DatabaseValue { .text(self) }
}
extension Substring: DatabaseBindable {
    public var databaseValue: DatabaseValue { .text(String(self)) }
}
extension Data: DatabaseBindable {
    public var databaseValue: DatabaseValue { .blob(self) }
}
extension Optional: DatabaseBindable where Wrapped: DatabaseBindable {
    public var databaseValue: DatabaseValue { self?.databaseValue ?? .null }
}
