import Foundation
import Testing
@testable import SQLiteKit

@Test func probeNUL() throws {
    try withTemporaryDatabase { path in
        let db = try Connection(path: path)
        try db.execute("CREATE TABLE t(a TEXT)")
        try db.run("INSERT INTO t VALUES (?)", "a\u{0}b")
        let r1 = try #require(try db.queryRow("SELECT a, length(CAST(a AS BLOB)) AS n FROM t"))
        print("PROBE1", r1.values)
        print("PROBE2", try db.scalar("SELECT 2.5") as Any, try db.scalar("SELECT '7'") as Any)
    }
}
