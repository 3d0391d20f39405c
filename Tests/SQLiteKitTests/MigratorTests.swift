import Foundation
import Testing
@testable import SQLiteKit

@Suite("MigrationRunner over SQLite: ordered, transactional, refuses newer databases")
struct MigratorTests {
    // Deliberately out of order: 0002 and 0003 depend on 0001.
    static func migrations() throws -> [Migration] {
        [
            try Migration(name: "0002_b.sql", sql: "ALTER TABLE a ADD COLUMN extra TEXT; CREATE TABLE b(id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));"),
            try Migration(name: "0001_a.sql", sql: "CREATE TABLE a(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"),
            try Migration(name: "0003_c.sql", sql: "CREATE INDEX b_a ON b(a_id); INSERT INTO a(name, extra) VALUES ('seeded', 'x');"),
        ]
    }

    static func tables(_ db: Connection) throws -> [String] {
        try db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map { try $0.string("name") }
    }

    @Test("Migration names give versions; misnamed files and duplicate versions are refused")
    func migrationValues() throws {
        #expect(try Migration(name: "0001_a.sql", sql: "").version == 1)
        #expect(try Migration(name: "0042_x.sql", sql: "").version == 42)
        #expect(try Migration(name: "0013_pending_counters_by_trigger.sql", sql: "").version == 13)
        #expect(try Migration(name: "9999_Upper_9.sql", sql: "").version == 9999)
        for bad in [
            "12_x.sql", "0012-x.txt", "0012-x.sql", "0012_x.txt", "0012_x.SQL", "0012_.sql", "0012.sql", "7.sql",
            "00012_x.sql", "a_0001.sql", "_1.sql", "0000_zero.sql", "0012_x y.sql", "0012_x.sql~", "0012_é.sql", "",
        ] {
            #expect(throws: MigrationError.self, "\(bad)") { try Migration(name: bad, sql: "") }
            #expect(Migration.version(ofFileNamed: bad) == nil, "\(bad)")
        }
        do {
            _ = try MigrationRunner([try Migration(name: "0001_a.sql", sql: ""), try Migration(name: "0001_b.sql", sql: "")])
            Issue.record("two migrations with one version were accepted")
        } catch let error as MigrationError {
            #expect(error.description == "migration files 0001_a.sql and 0001_b.sql share version 1")
        }
        // As the binary parses what the plugin embedded: one bad file fails the whole set.
        #expect(throws: MigrationError.self) {
            try MigrationRunner(files: [("0001_a.sql", ""), ("12_x.sql", "")])
        }
        #expect(throws: MigrationError.self) {
            try MigrationRunner(files: [("0001_a.sql", ""), ("0002_b.sql", ""), ("0002_c.sql", "")])
        }
        let runner = try MigrationRunner(try Self.migrations())
        #expect(runner.migrations.map(\.version) == [1, 2, 3])
        #expect(runner.latestVersion == 3)
        #expect(try MigrationRunner([]).latestVersion == 0)
    }

    @Test("A fresh database gets every migration in order and user_version = latest")
    func freshDatabase() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            let migrator = try MigrationRunner(try Self.migrations())
            #expect(try db.userVersion() == 0)
            let before = try migrator.status(of: db)
            #expect(before.current == 0 && before.latest == 3)
            #expect(before.pending.map(\.version) == [1, 2, 3])

            let applied = try migrator.migrate(db).applied
            #expect(applied.map(\.name) == ["0001_a.sql", "0002_b.sql", "0003_c.sql"])
            #expect(try db.userVersion() == 3)
            #expect(try Self.tables(db) == ["a", "b"])
            #expect(try db.queryRow("SELECT name, extra FROM a")?.string("extra") == "x")
            #expect(!db.isInTransaction)

            // Again: nothing to do, nothing changes.
            #expect(try migrator.migrate(db).applied.isEmpty)
            #expect(try db.userVersion() == 3)
            #expect(try db.count("a") == 1)
            #expect(try migrator.status(of: db).pending.isEmpty)

            // And from a new connection (the version is in the file).
            let reopened = try Connection(path: path)
            #expect(try reopened.userVersion() == 3)
            #expect(try migrator.migrate(reopened).applied.isEmpty)
        }
    }

    @Test("A database part-way through applies only what is pending")
    func partialDatabase() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            let all = try Self.migrations()
            let first = try MigrationRunner(all.filter { $0.version == 1 })
            #expect(try first.migrate(db).applied.map(\.version) == [1])
            #expect(try db.userVersion() == 1)
            let migrator = try MigrationRunner(all)
            #expect(try migrator.status(of: db).pending.map(\.version) == [2, 3])
            #expect(try migrator.migrate(db).applied.map(\.version) == [2, 3])
            #expect(try db.userVersion() == 3)
        }
    }

    @Test("A database newer than the binary is refused and left untouched")
    func newerDatabase() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("PRAGMA user_version = 7")
            let migrator = try MigrationRunner(try Self.migrations())
            do {
                try migrator.migrate(db)
                Issue.record("a newer database was migrated")
            } catch let error as MigrationError {
                guard case let .databaseNewerThanBinary(database, binary) = error else {
                    Issue.record("wrong error \(error)")
                    return
                }
                #expect(database == 7)
                #expect(binary == 3)
                #expect(error.description.contains("7"))
            }
            #expect(try db.userVersion() == 7)
            #expect(try Self.tables(db).isEmpty)
            // `pan migrate --status` refuses it as well.
            #expect(throws: MigrationError.self) { try migrator.status(of: db) }
        }
    }

    @Test("A migration with an SQL error rolls back completely")
    func failingMigrationRollsBack() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            let good = try Migration(name: "0001_a.sql", sql: "CREATE TABLE a(id INTEGER PRIMARY KEY);")
            // The first statements succeed, the last one fails.
            let bad = try Migration(name: "0002_bad.sql", sql: """
                CREATE TABLE half(x);
                INSERT INTO half VALUES (1);
                ALTER TABLE a ADD COLUMN y;
                INSERT INTO no_such_table VALUES (1);
                """)
            let migrator = try MigrationRunner([good, bad])
            #expect(throws: SQLiteError.self) { try migrator.migrate(db) }
            // 0001 went in on its own transaction; 0002 left nothing behind.
            #expect(try db.userVersion() == 1)
            #expect(try Self.tables(db) == ["a"])
            #expect(try db.query("SELECT name FROM pragma_table_info('a')").map { try $0.string("name") } == ["id"])
            #expect(!db.isInTransaction)

            // On a fresh database, a failing first migration leaves version 0 and no table.
            try withTemporaryDatabase { otherPath in
                let fresh = try Connection(path: otherPath)
                let onlyBad = try MigrationRunner([try Migration(name: "0001_bad.sql", sql: "CREATE TABLE half(x); SELECT * FROM nope;")])
                #expect(throws: SQLiteError.self) { try onlyBad.migrate(fresh) }
                #expect(try fresh.userVersion() == 0)
                #expect(try Self.tables(fresh).isEmpty)
            }

            // Fixing the migration lets it apply.
            let fixed = try Migration(name: "0002_bad.sql", sql: "CREATE TABLE half(x);")
            #expect(try MigrationRunner([good, fixed]).migrate(db).applied.map(\.version) == [2])
            #expect(try db.userVersion() == 2)
        }
    }

    @Test("Migrating through a pool's writer works and readers see the schema")
    func migrateThroughPool() async throws {
        try await withTemporaryDatabase { path in
            let pool = try DatabasePool(path: path, readerCount: 2)
            let migrator = try MigrationRunner(try Self.migrations())
            let applied = try await pool.writeWithoutTransaction { try migrator.migrate($0).applied.map(\.version) }
            #expect(applied == [1, 2, 3])
            #expect(try await pool.read { try $0.userVersion() } == 3)
            #expect(try await pool.read { try $0.count("a") } == 1)
        }
    }

    @Test("The synchronous SQLite runner works from the main actor (PanDatabase.open's callers) and never suspends")
    @MainActor
    func fromMainActor() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            let report = try MigrationRunner(try Self.migrations()).migrate(db)
            #expect(report.current == 0 && report.versionAfter == 3 && report.applied.count == 3)
        }
    }
}
