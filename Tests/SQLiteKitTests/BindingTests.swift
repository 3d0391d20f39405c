import Foundation
import Testing
@testable import SQLiteKit

@Suite("Binding and reading values through a real SQLite file")
struct BindingTests {
    static let integers: [Int64] = [0, 1, -1, 42, Int64(Int32.max) + 1, Int64(Int32.min) - 1, Int64.min, Int64.max, Int64.min + 1, Int64.max - 1]
    static let doubles: [Double] = [
        0, -0.0, 1.5, -2.25, .pi, 1e-300, -1e300, 0.1 + 0.2,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, .leastNormalMagnitude,
        .infinity, -.infinity, 9_007_199_254_740_992, 9_007_199_254_740_994.5.nextUp,
    ]
    static let strings: [String] = [
        "", "a", "hello, world", "héllo wörld ñ ç", "中文汉字测试：文件名.pdf", "日本語テキスト", "한국어",
        "🙂", "👩‍👩‍👧‍👦 family", "🇨🇳🇺🇸 flags", "e\u{301} combining", "tab\tnew\nline\r\n", "quote ' and \" and \\",
        "5系标轴2.0.pdf.asset.1518484456597.pdf", String(repeating: "长", count: 10_000),
        "\u{FEFF}bom", "\u{10FFFF} max scalar", "%41 %% $(hash) @qzyfilestart",
    ]
    static let blobs: [Data] = [
        Data(), Data([0x00]), Data([0xFF]), Data(0...255), Data((0...255).reversed()),
        Data(repeating: 0, count: 1000), Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }),
        Data("not text \u{0} really".utf8),
    ]

    @Test("Int64 values round-trip, including Int64.min and Int64.max")
    func integersRoundTrip() throws {
        try withTemporaryDatabase { path in
            do {
                let db = try Connection(path: path)
                try db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, i INTEGER, a ANY)")
                try db.transaction {
                    for (index, value) in Self.integers.enumerated() {
                        try db.run("INSERT INTO v(id, i, a) VALUES (?, ?, ?)", index, value, value)
                    }
                }
            }
            // A new connection: the values really went through the file.
            let db = try Connection(path: path)
            let rows = try db.query("SELECT id, i, a, typeof(i) AS type FROM v ORDER BY id")
            #expect(rows.count == Self.integers.count)
            for row in rows {
                let expected = Self.integers[try row.int("id")]
                #expect(try row.int64("i") == expected)
                #expect(try row.optionalInt64("a") == expected)
                #expect(row["i"] == .integer(expected))
                #expect(try row.string("type") == "integer")
            }
            #expect(try db.scalar("SELECT i FROM v WHERE i = ?", Int64.min) == Int64.min)
            #expect(try db.scalar("SELECT i FROM v WHERE i = ?", Int64.max) == Int64.max)
            #expect(try db.scalar("SELECT MIN(i) FROM v") == Int64.min)
            #expect(try db.scalar("SELECT MAX(i) FROM v") == Int64.max)
        }
    }

    @Test("Int, Int32 and Bool bind as integers")
    func otherIntegerTypes() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE v(a, b, c, d)")
            try db.run("INSERT INTO v VALUES (?, ?, ?, ?)", Int.max, Int32.min, true, false)
            let row = try #require(try db.queryRow("SELECT a, b, c, d, typeof(c) AS tc FROM v"))
            #expect(try row.int("a") == Int.max)
            #expect(try row.int64("b") == Int64(Int32.min))
            #expect(try row.bool("c") == true)
            #expect(try row.bool("d") == false)
            #expect(try row.string("tc") == "integer")
        }
    }

    @Test("Double values round-trip bit for bit")
    func doublesRoundTrip() throws {
        try withTemporaryDatabase { path in
            do {
                let db = try Connection(path: path)
                try db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, r REAL)")
                for (index, value) in Self.doubles.enumerated() {
                    try db.run("INSERT INTO v(id, r) VALUES (?, ?)", index, value)
                }
            }
            let db = try Connection(path: path)
            let rows = try db.query("SELECT id, r, typeof(r) AS type FROM v ORDER BY id")
            #expect(rows.count == Self.doubles.count)
            for row in rows {
                let expected = Self.doubles[try row.int("id")]
                let actual = try row.double("r")
                #expect(actual.bitPattern == expected.bitPattern || (actual == 0 && expected == 0), "\(expected) came back as \(actual)")
                #expect(try row.string("type") == "real")
                #expect(row["r"] == .real(expected))
            }
            // An integer column read as a double converts.
            #expect(try #require(try db.queryRow("SELECT 7 AS x")).double("x") == 7)
        }
    }

    @Test("Strings round-trip: unicode, emoji, CJK, long text")
    func stringsRoundTrip() throws {
        try withTemporaryDatabase { path in
            do {
                let db = try Connection(path: path)
                try db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, t TEXT)")
                try db.transaction {
                    for (index, value) in Self.strings.enumerated() {
                        try db.run("INSERT INTO v(id, t) VALUES (?, ?)", index, value)
                    }
                    // Substring binds as text too.
                    try db.run("INSERT INTO v(id, t) VALUES (?, ?)", 1000, "prefix-中文-suffix".dropFirst(7).dropLast(7))
                }
            }
            let db = try Connection(path: path)
            let rows = try db.query("SELECT id, t, length(CAST(t AS BLOB)) AS bytes, typeof(t) AS type FROM v WHERE id < 1000 ORDER BY id")
            #expect(rows.count == Self.strings.count)
            for row in rows {
                let expected = Self.strings[try row.int("id")]
                let actual = try row.string("t")
                #expect(actual == expected)
                // Byte-exact, not just canonically equivalent.
                #expect(Array(actual.utf8) == Array(expected.utf8))
                #expect(try row.int("bytes") == expected.utf8.count)
                #expect(try row.string("type") == "text")
            }
            let substring = try #require(try db.queryRow("SELECT t FROM v WHERE id = 1000"))
            #expect(try substring.string("t") == "中文")
            // Text is found by an equality parameter, so binding is byte-exact both ways.
            for value in Self.strings {
                #expect(try db.scalar("SELECT COUNT(*) FROM v WHERE t = ?", value) == 1, "\(value)")
            }
        }
    }

    @Test("Blobs round-trip, including the empty blob and every byte value")
    func blobsRoundTrip() throws {
        try withTemporaryDatabase { path in
            do {
                let db = try Connection(path: path)
                try db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, b BLOB)")
                for (index, value) in Self.blobs.enumerated() {
                    try db.run("INSERT INTO v(id, b) VALUES (?, ?)", index, value)
                }
            }
            let db = try Connection(path: path)
            let rows = try db.query("SELECT id, b, typeof(b) AS type, length(b) AS len FROM v ORDER BY id")
            #expect(rows.count == Self.blobs.count)
            for row in rows {
                let expected = Self.blobs[try row.int("id")]
                // An empty blob is a blob, not NULL.
                #expect(try row.string("type") == "blob")
                #expect(try row.int("len") == expected.count)
                #expect(try row.data("b") == expected)
                #expect(row["b"] == .blob(expected))
            }
            #expect(try db.scalar("SELECT COUNT(*) FROM v WHERE b = ?", Data(0...255)) == 1)
            #expect(try db.scalar("SELECT COUNT(*) FROM v WHERE b = ?", Data()) == 1)
            #expect(try db.scalar("SELECT COUNT(*) FROM v WHERE b IS NULL") == 0)
        }
    }

    @Test("NULL round-trips; optional reads give nil, non-optional reads throw")
    func nullHandling() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, n, t TEXT, i INTEGER, b BLOB)")
            let none: String? = nil
            let noInt: Int64? = nil
            try db.run("INSERT INTO v(id, n, t, i, b) VALUES (1, ?, ?, ?, ?)", DatabaseValue.null, none, noInt, Optional<Data>.none)
            try db.run("INSERT INTO v(id, n, t, i, b) VALUES (2, ?, ?, ?, ?)", DatabaseValue.text("x"), Optional("y"), Optional(Int64(3)), Optional(Data([1])))

            let row = try #require(try db.queryRow("SELECT n, t, i, b, typeof(t) AS type FROM v WHERE id = 1"))
            #expect(try row.string("type") == "null")
            #expect(row["n"] == .null)
            #expect(try row.optionalString("n") == nil)
            #expect(try row.optionalString("t") == nil)
            #expect(try row.optionalInt64("i") == nil)
            #expect(try row.data("b") == nil)
            #expect(throws: RowError.self) { try row.string("n") }
            #expect(throws: RowError.self) { try row.string("t") }
            #expect(throws: RowError.self) { try row.int64("i") }
            #expect(throws: RowError.self) { try row.int("i") }
            #expect(throws: RowError.self) { try row.bool("i") }
            #expect(throws: RowError.self) { try row.double("i") }
            do {
                _ = try row.string("n")
                Issue.record("string() of NULL did not throw")
            } catch RowError.unexpectedNull(let column) {
                #expect(column == "n")
            }

            let filled = try #require(try db.queryRow("SELECT n, t, i, b FROM v WHERE id = 2"))
            #expect(try filled.string("n") == "x")
            #expect(try filled.optionalString("t") == "y")
            #expect(try filled.optionalInt64("i") == 3)
            #expect(try filled.data("b") == Data([1]))

            // A scalar over NULL is nil, not a crash.
            #expect(try db.scalar("SELECT NULL") == nil)
            #expect(try db.scalar("SELECT i FROM v WHERE id = 1") == nil)
            #expect(try db.scalar("SELECT i FROM v WHERE id = 99") == nil)
            #expect(try db.queryRow("SELECT * FROM v WHERE id = 99") == nil)
        }
    }

    @Test("Wrong types and unknown columns throw instead of crashing")
    func typeMismatches() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            let row = try #require(try db.queryRow("SELECT 'abc' AS t, x'0102' AS b, 5 AS i"))
            #expect(throws: RowError.self) { try row.int64("t") }
            #expect(throws: RowError.self) { try row.double("b") }
            #expect(throws: RowError.self) { try row.data("i") }
            #expect(throws: RowError.self) { try row.string("nope") }
            #expect(throws: RowError.self) { try row.optionalString("nope") }
            #expect(row["nope"] == .null)
            #expect(row[2] == .integer(5))
            #expect(row.columns == ["t", "b", "i"])
            // Lenient conversions that are documented by the Row API.
            #expect(try row.string("i") == "5")
            #expect(try row.data("t") == Data("abc".utf8))
        }
    }

    @Test("Wrong argument count throws SQLITE_RANGE and leaves the statement usable")
    func argumentCountMismatch() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE v(a, b)")
            do {
                try db.run("INSERT INTO v(a, b) VALUES (?, ?)", 1)
                Issue.record("missing argument was accepted")
            } catch let error as SQLiteError {
                #expect(error.primaryCode == 25) // SQLITE_RANGE
            }
            #expect(throws: SQLiteError.self) { try db.run("INSERT INTO v(a, b) VALUES (?, ?)", 1, 2, 3) }
            try db.run("INSERT INTO v(a, b) VALUES (?, ?)", 1, 2)
            #expect(try db.count("v") == 1)
            // A syntax error is a SQLiteError too.
            #expect(throws: SQLiteError.self) { try db.query("SELEC nonsense") }
            #expect(throws: SQLiteError.self) { try db.execute("CREATE TABLE (") }
        }
    }

    @Test("run() returns the number of changed rows; lastInsertRowID is set")
    func changesAndRowID() throws {
        try withTemporaryDatabase { path in
            let db = try Connection(path: path)
            try db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, a)")
            #expect(try db.run("INSERT INTO v(a) VALUES (?)", 1) == 1)
            #expect(db.lastInsertRowID == 1)
            try db.run("INSERT INTO v(id, a) VALUES (?, ?)", 41, 2)
            #expect(db.lastInsertRowID == 41)
            try db.run("INSERT INTO v(a) VALUES (3)")
            #expect(db.lastInsertRowID == 42)
            #expect(try db.run("UPDATE v SET a = a + 1") == 3)
            #expect(try db.run("DELETE FROM v WHERE a > ?", 2) == 2)
            #expect(try db.count("v") == 1)
        }
    }
}
