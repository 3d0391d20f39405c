import Foundation
import Testing
@testable import SQLiteKit

/// Regressions: bugs found in SQLiteKit while writing its tests, now fixed.
@Suite("SQLiteKit regressions")
struct KnownIssueTests {
    @Test("A cached SELECT * reports the right column names after the schema changes")
    func staleColumnNamesAfterSchemaChange() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE t(a, b)")
            try db.run("INSERT INTO t VALUES (1, 2)")
            let before = try #require(try db.queryRow("SELECT * FROM t"))
            #expect(before.columns == ["a", "b"])
            try db.execute("ALTER TABLE t ADD COLUMN c DEFAULT 3")
            try db.execute("ALTER TABLE t RENAME COLUMN a TO z")
            // SQLite re-prepares the cached statement, but Statement.columnNames is
            // a lazy var computed once: the row keeps the old names.
            let after = try #require(try db.queryRow("SELECT * FROM t"))
            #expect(after.values == [.integer(1), .integer(2), .integer(3)])
            let c = try? after.int64("c"), z = try? after.int64("z")
            do {
                #expect(after.columns == ["z", "b", "c"])
                #expect(c == 3)
                #expect(z == 1)
            }
        }
    }

    @Test("Text with an embedded NUL is stored whole")
    func textWithNUL() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE t(a TEXT)")
            try db.run("INSERT INTO t VALUES (?)", "a\u{0}b")
            let row = try #require(try db.queryRow("SELECT a, length(CAST(a AS BLOB)) AS n FROM t"))
            let text = try row.string("a"), bytes = try row.int("n")
            do {
                #expect(text == "a\u{0}b")
                #expect(bytes == 3)
            }
        }
    }

    @Test("int64() of a REAL outside Int64's range throws instead of trapping")
    func realOutOfRangeDoesNotTrap() async throws {
        do {
            await #expect(processExitsWith: .success) {
                // In memory: the child process crashes, so it could not clean up a file.
                let db = try? Connection(path: ":memory:")
                let row = try? db?.queryRow("SELECT 1e300 AS x")
                _ = try? row?.int64("x") // must throw (typeMismatch), not crash the process
            }
        }
    }
}
