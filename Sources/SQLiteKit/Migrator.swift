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

/// Applies migrations in order, each in its own transaction together with
/// `PRAGMA user_version`, so a crash never leaves a half-applied schema.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    public init(_ migrations: [Migration]) throws {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version)
        }
        self.migrations = sorted
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    public struct Status: Sendable {
        public let current: Int
        public let latest: Int
        public let pending: [Migration]
    }

    public func status(of connection: Connection) throws -> Status {
        let current = try connection.userVersion()
        return Status(current: current, latest: latestVersion, pending: migrations.filter { $0.version > current })
    }

    /// Applies what is pending; returns the migrations it applied.
    @discardableResult
    public func migrate(_ connection: Connection) throws -> [Migration] {
        let current = try connection.userVersion()
        guard current <= latestVersion else {
            throw MigrationError.databaseNewerThanBinary(database: current, binary: latestVersion)
        }
        var applied: [Migration] = []
        for migration in migrations where migration.version > current {
            try connection.transaction(.immediate) {
                // Re-read inside the write lock: another process may have migrated meanwhile.
                guard try connection.userVersion() < migration.version else { return }
                try connection.execute(migration.sql)
                try connection.execute("PRAGMA user_version = \(migration.version)")
                applied.append(migration)
            }
        }
        return applied
    }
}
