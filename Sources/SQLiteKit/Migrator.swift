import Foundation

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
