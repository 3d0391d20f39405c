import Foundation

/// One numbered schema change: `0003_add_thing.sql` has version 3.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(name: String, sql: String) throws {
        guard let number = Int(name.prefix { $0.isNumber }), number > 0 else {
            throw MigrationError.badName(name)
        }
        self.version = number
        self.name = name
        self.sql = sql
    }
}

public enum MigrationError: Error, CustomStringConvertible, Sendable {
    case badName(String)
    case duplicateVersion(Int)
    case databaseNewerThanBinary(database: Int, binary: Int)

    public var description: String {
        switch self {
        case .badName(let name): "migration file \(name) does not start with a number"
        case .duplicateVersion(let version): "two migrations share version \(version)"
        case let .databaseNewerThanBinary(database, binary):
            "the database is at schema version \(database) but this pan knows only up to \(binary): refusing to touch a database written by a newer pan"
        }
    }
}
