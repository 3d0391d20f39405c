import Foundation
import Testing
@testable import SQLiteKit

private struct Boom: Error {}

@Suite("Errors, transactions, the statement cache and PRAGMAs")
struct ConnectionTests {
    // MARK: Constraint errors

    @Test("A UNIQUE violation is SQLITE_CONSTRAINT_UNIQUE (2067)")
    func uniqueViolation() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
            try db.run("INSERT INTO u(name) VALUES (?)", "alice")
            do {
                try db.run("INSERT INTO u(name) VALUES (?)", "alice")
                Issue.record("duplicate insert succeeded")
            } catch let error as SQLiteError {
                #expect(error.isConstraintViolation)
                #expect(error.isUniqueViolation)
                #expect(!error.isForeignKeyViolation)
                #expect(!error.isBusy)
                #expect(error.extendedCode == 2067)
                #expect(error.extendedCode == SQLiteError.constraintUnique)
                #expect(error.primaryCode == 19)
                #expect(error.message.contains("UNIQUE"))
                #expect(error.sql == "INSERT INTO u(name) VALUES (?)")
            }
            // The same cached statement still works after the failure.
            try db.run("INSERT INTO u(name) VALUES (?)", "bob")
            #expect(try db.count("u") == 2)

            // Through sqlite3_exec as well.
            do {
                try db.execute("INSERT INTO u(name) VALUES ('bob')")
                Issue.record("duplicate insert succeeded")
            } catch let error as SQLiteError {
                #expect(error.extendedCode == 2067)
                #expect(error.isUniqueViolation)
            }
        }
    }

    @Test("A PRIMARY KEY violation counts as a unique violation (1555)")
    func primaryKeyViolation() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE k(name TEXT PRIMARY KEY) WITHOUT ROWID")
            try db.run("INSERT INTO k VALUES (?)", "x")
            let error = try #require(throws: SQLiteError.self) { try db.run("INSERT INTO k VALUES (?)", "x") }
            #expect(error.extendedCode == 1555)
            #expect(error.isConstraintViolation && error.isUniqueViolation)
        }
    }

    @Test("A foreign key violation is SQLITE_CONSTRAINT_FOREIGNKEY (787); foreign keys are on")
    func foreignKeyViolation() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            #expect(try db.scalar("PRAGMA foreign_keys") == 1)
            try db.execute("""
                CREATE TABLE parent(id INTEGER PRIMARY KEY);
                CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id));
                """)
            try db.run("INSERT INTO parent(id) VALUES (1)")
            try db.run("INSERT INTO child(parent_id) VALUES (?)", 1)
            let error = try #require(throws: SQLiteError.self) { try db.run("INSERT INTO child(parent_id) VALUES (?)", 99) }
            #expect(error.isConstraintViolation)
            #expect(error.isForeignKeyViolation)
            #expect(!error.isUniqueViolation)
            #expect(error.extendedCode == 787)
            // Deleting a referenced parent is refused too.
            let delete = try #require(throws: SQLiteError.self) { try db.run("DELETE FROM parent WHERE id = ?", 1) }
            #expect(delete.isForeignKeyViolation)
            #expect(try db.count("child") == 1)
            #expect(try db.count("parent") == 1)
        }
    }

    @Test("NOT NULL and CHECK violations are constraint violations but neither unique nor FK")
    func otherConstraints() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE c(a TEXT NOT NULL, b INTEGER CHECK (b > 0))")
            let notNull = try #require(throws: SQLiteError.self) { try db.run("INSERT INTO c(a, b) VALUES (?, 1)", Optional<String>.none) }
            #expect(notNull.isConstraintViolation)
            #expect(!notNull.isUniqueViolation && !notNull.isForeignKeyViolation)
            #expect(notNull.extendedCode == 1299) // SQLITE_CONSTRAINT_NOTNULL
            let check = try #require(throws: SQLiteError.self) { try db.run("INSERT INTO c(a, b) VALUES ('x', ?)", -1) }
            #expect(check.isConstraintViolation)
            #expect(check.extendedCode == 275) // SQLITE_CONSTRAINT_CHECK
        }
    }

    // MARK: Transactions

    @Test("transaction commits on return and rolls back on throw")
    func transactionRollback() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
            let value = try db.transaction { () -> Int in
                #expect(db.isInTransaction)
                try db.run("INSERT INTO t(v) VALUES ('kept')")
                return 7
            }
            #expect(value == 7)
            #expect(!db.isInTransaction)

            #expect(throws: Boom.self) {
                try db.transaction {
                    try db.run("INSERT INTO t(v) VALUES ('gone')")
                    try db.run("UPDATE t SET v = 'changed' WHERE v = 'kept'")
                    #expect(try db.count("t") == 2)
                    throw Boom()
                }
            }
            #expect(!db.isInTransaction)
            #expect(try db.count("t") == 1)
            #expect(try db.scalar("SELECT COUNT(*) FROM t WHERE v = 'gone'") == 0)
            #expect(try db.scalar("SELECT COUNT(*) FROM t WHERE v = 'kept'") == 1)

            // A SQLite error inside the body rolls back the whole transaction too.
            #expect(throws: SQLiteError.self) {
                try db.transaction(.deferred) {
                    try db.run("INSERT INTO t(v) VALUES ('also gone')")
                    try db.run("INSERT INTO t(id, v) VALUES (1, 'duplicate id')")
                }
            }
            #expect(!db.isInTransaction)
            #expect(try db.count("t") == 1)
        }
    }

    @Test("Rolled-back rows are absent for another connection as well")
    func rollbackVisibleFromOtherConnection() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE t(v)")
            try? db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                throw Boom()
            }
            let other = try Connection(path: path, readOnly: true)
            #expect(try other.count("t") == 0)
        }
    }

    @Test("A failing savepoint is undone alone; nested savepoints unwind one level at a time")
    func nestedSavepoints() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE t(v TEXT)")
            try db.transaction {
                try db.run("INSERT INTO t VALUES ('outer')")
                #expect(throws: Boom.self) {
                    try db.savepoint {
                        try db.run("INSERT INTO t VALUES ('sp1-gone')")
                        throw Boom()
                    }
                }
                #expect(db.isInTransaction)
                try db.savepoint {
                    try db.run("INSERT INTO t VALUES ('sp2-kept')")
                    #expect(throws: Boom.self) {
                        try db.savepoint {
                            try db.run("INSERT INTO t VALUES ('sp3-gone')")
                            throw Boom()
                        }
                    }
                    try db.savepoint {
                        _ = try db.run("INSERT INTO t VALUES ('sp4-kept')")
                    }
                }
                #expect(db.isInTransaction)
            }
            let values = try db.query("SELECT v FROM t ORDER BY rowid").map { try $0.string("v") }
            #expect(values == ["outer", "sp2-kept", "sp4-kept"])

            // A savepoint whose error escapes the transaction takes the whole transaction down.
            #expect(throws: Boom.self) {
                try db.transaction {
                    try db.run("INSERT INTO t VALUES ('tx-gone')")
                    try db.savepoint {
                        try db.run("INSERT INTO t VALUES ('sp-gone')")
                        throw Boom()
                    }
                }
            }
            #expect(try db.count("t") == 3)
            #expect(!db.isInTransaction)
        }
    }

    // MARK: The statement cache

    @Test("The same SQL 10,000 times in one transaction")
    func statementCacheReuse() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, s TEXT, b BLOB)")
            let sql = "INSERT INTO t(n, s, b) VALUES (?, ?, ?)"
            try db.transaction {
                for i in 0..<10_000 {
                    // Alternate NULL and non-NULL so a stale binding would show.
                    let text: String? = i.isMultiple(of: 2) ? "s\(i)" : nil
                    let blob: Data? = i.isMultiple(of: 3) ? Data([UInt8(i & 0xFF)]) : nil
                    let changed = try db.run(sql, i, text, blob)
                    #expect(changed == 1)
                }
            }
            #expect(try db.count("t") == 10_000)
            #expect(try db.scalar("SELECT SUM(n) FROM t") == Int64(9_999 * 10_000 / 2))
            #expect(try db.scalar("SELECT COUNT(*) FROM t WHERE s IS NULL") == 5_000)
            #expect(try db.scalar("SELECT COUNT(*) FROM t WHERE b IS NULL") == 10_000 - 3_334)
            #expect(try db.scalar("SELECT COUNT(*) FROM t WHERE s IS NOT NULL AND s <> 's' || n") == 0)
            // The same cached SELECT with different parameters gives different answers.
            for i in stride(from: 0, to: 10_000, by: 997) {
                let row = try #require(try db.queryRow("SELECT n, s FROM t WHERE n = ?", i))
                #expect(try row.int("n") == i)
                #expect(try row.optionalString("s") == (i.isMultiple(of: 2) ? "s\(i)" : nil))
            }
        }
    }

    @Test("reset() clears the bindings of a cached statement")
    func resetClearsBindings() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            let statement = try Statement(connection: db, sql: "SELECT ?1 AS a, ?2 AS b")
            try statement.bind([5, "five"])
            let first = try #require(try statement.step())
            #expect(first["a"] == .integer(5))
            #expect(first["b"] == .text("five"))
            statement.reset()
            // Stepped again without binding: the old values must be gone.
            let second = try #require(try statement.step())
            #expect(second["a"] == .null)
            #expect(second["b"] == .null)
            statement.reset()
        }
    }

    @Test("A query that stops after the first row leaves the cached statement reset")
    func queryRowResetsCursor() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE t(n INTEGER)")
            for n in 1...5 { try db.run("INSERT INTO t(n) VALUES (?)", n) }
            let sql = "SELECT n FROM t ORDER BY n"
            // Without a reset, the second call would continue at row 2.
            #expect(try db.queryRow(sql)?.int("n") == 1)
            #expect(try db.queryRow(sql)?.int("n") == 1)
            #expect(try db.scalar(sql) == 1)
            #expect(try db.scalar(sql) == 1)
            #expect(try db.query(sql).count == 5)
            // No statement is left running: no read transaction is open and
            // the table can be dropped (an active statement would make it SQLITE_LOCKED).
            #expect(!db.isInTransaction)
            try db.execute("DROP TABLE t")
        }
    }

    // MARK: PRAGMAs

    @Test("A writable connection uses WAL, synchronous NORMAL, foreign keys, a busy timeout")
    func writerPragmas() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            #expect(!db.isReadOnly)
            #expect(try db.queryRow("PRAGMA journal_mode")?["journal_mode"] == .text("wal"))
            #expect(try db.scalar("PRAGMA synchronous") == 1)
            #expect(try db.scalar("PRAGMA foreign_keys") == 1)
            #expect(try db.scalar("PRAGMA busy_timeout") == 5_000)
            var options = Connection.Options()
            options.busyTimeoutMilliseconds = 1234
            let other = try Connection(path: path, options: options)
            #expect(try other.scalar("PRAGMA busy_timeout") == 1234)
            // WAL mode is persistent: the file itself is in WAL mode.
            let reader = try Connection(path: path, readOnly: true)
            #expect(try reader.queryRow("PRAGMA journal_mode")?[0] == .text("wal"))
            #expect(try reader.scalar("PRAGMA foreign_keys") == 1)
        }
    }

    @Test("The pool's writer has the PRAGMAs; its readers are read-only")
    func poolPragmas() async throws {
        try await withTemporaryDatabase { path in
            let pool = try DatabasePool(path: path, readerCount: 2)
            let (journal, synchronous, foreignKeys) = try await pool.writeWithoutTransaction { db in
                (try db.queryRow("PRAGMA journal_mode")?[0], try db.scalar("PRAGMA synchronous"), try db.scalar("PRAGMA foreign_keys"))
            }
            #expect(journal == .text("wal"))
            #expect(synchronous == 1)
            #expect(foreignKeys == 1)
            // The same inside a write transaction (synchronous and foreign_keys are per-connection).
            let inTransaction = try await pool.write { db in
                (try db.scalar("PRAGMA synchronous"), try db.scalar("PRAGMA foreign_keys"), db.isInTransaction, db.isReadOnly)
            }
            #expect(inTransaction == (1, 1, true, false))
            try await pool.write { try $0.execute("CREATE TABLE t(v)") }
            for _ in 0..<4 { // round-robin over every reader
                let (readOnly, fk) = try await pool.read { db in (db.isReadOnly, try db.scalar("PRAGMA foreign_keys")) }
                #expect(readOnly)
                #expect(fk == 1)
                let error = try await #require(throws: SQLiteError.self) {
                    try await pool.read { try $0.run("INSERT INTO t VALUES (1)") }
                }
                #expect(error.primaryCode == 8) // SQLITE_READONLY
            }
            #expect(try await pool.read { try $0.count("t") } == 0)
        }
    }
}
