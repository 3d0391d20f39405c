import Foundation
import PanCore
import SQLiteKit

/// The embedded engine: one SQLite file through a `DatabasePool` (one
/// writer with group commit, read-only readers in WAL mode).
///
/// One serial writer is what keeps concurrent requests apart here, so the
/// per-user lock and exclusive jobs of `SQLEngine` need nothing more.
public struct SQLiteEngine: SQLEngine {
    public let database: DatabasePool

    public init(database: DatabasePool) {
        self.database = database
    }

    public var runsUsersInParallel: Bool { false }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        try await database.read { try await body($0) }
    }

    /// A reader's transaction costs two cached statements here: the same as `read`.
    public func readStatement<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        try await database.read { try await body($0) }
    }

    public func readLong<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        try await database.readDetached { try await body($0) }
    }

    public func write<T: Sendable>(
        lockingUser: Int64?, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T {
        try await database.write { try await body($0) }
    }

    public func writeExclusively<T: Sendable>(
        job: ExclusiveJob, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T? {
        try await database.write { try await body($0) }
    }

    public func schemaVersion(on db: any DatabaseConnection) async throws -> Int {
        Int(try await db.scalar("PRAGMA user_version") ?? 0)
    }

    public var latestSchemaVersion: Int { (try? PanDatabase.migrationRunner().latestVersion) ?? 0 }

    public func checkpoint() async throws {
        try await database.checkpoint()
    }

    /// The pool's connections close when it is released.
    public func close() async {}
}

/// The embedded store: `swift run pan`'s default.
public typealias SQLitePanStore = SQLPanStore<SQLiteEngine>

extension SQLPanStore where Engine == SQLiteEngine {
    public var database: DatabasePool { engine.database }

    public init(database: DatabasePool, settings: UploadSettings) {
        self.init(engine: SQLiteEngine(database: database), settings: settings)
    }

    /// Opens (creating and migrating) the database of a data directory.
    public static func open(dataDirectory: String, settings: UploadSettings, readerCount: Int = 4, maxBatch: Int = 64) throws -> SQLitePanStore {
        SQLitePanStore(database: try PanDatabase.open(dataDirectory: dataDirectory, readerCount: readerCount, maxBatch: maxBatch), settings: settings)
    }
}
