import Foundation
import Testing
@testable import SQLiteKit

@Suite("DatabasePool: one writer, a reader pool, WAL snapshots")
struct DatabasePoolTests {
    private static func makePool(_ path: String, rows: Int, readers: Int = 4) async throws -> DatabasePool {
        let pool = try DatabasePool(path: path, readerCount: readers)
        try await pool.write { db in
            try db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, task INTEGER, n INTEGER)")
            for n in 0..<rows { try db.run("INSERT INTO t(task, n) VALUES (-1, ?)", n) }
        }
        return pool
    }

    @Test("Readers see the committed snapshot while a write transaction is in progress")
    func readersDuringWrite() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await Self.makePool(path, rows: 100)
            let inserted = Flag(), release = Flag()
            let write = Task {
                try await pool.write { db in
                    for n in 0..<500 { try db.run("INSERT INTO t(task, n) VALUES (0, ?)", n) }
                    // The writer sees its own rows...
                    let own = try db.count("t")
                    inserted.set()
                    // ...and holds the transaction open until the readers are done.
                    _ = release.blockingWait(timeout: 10)
                    return own
                }
            }
            #expect(await inserted.wait())
            // Many concurrent readers, on every reader connection: all see the old count.
            let counts = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await pool.read { try $0.count("t") } }
                }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            #expect(counts == Array(repeating: 100, count: 16))
            release.set()
            #expect(try await write.value == 600)
            // After the commit, every reader sees the new rows.
            for _ in 0..<8 {
                #expect(try await pool.read { try $0.count("t") } == 600)
            }
        }
    }

    @Test("One read is one snapshot, even when a write commits in the middle of it")
    func readIsOneSnapshot() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await Self.makePool(path, rows: 10)
            let firstCountDone = Flag(), committed = Flag()
            let read = Task {
                try await pool.read { db -> (Int64, Int64, Int64) in
                    let before = try db.count("t")
                    firstCountDone.set()
                    _ = committed.blockingWait(timeout: 10)
                    let after = try db.count("t")
                    let sum = try db.scalar("SELECT SUM(n) FROM t") ?? -1
                    return (before, after, sum)
                }
            }
            #expect(await firstCountDone.wait())
            try await pool.write { db in
                for n in 0..<50 { try db.run("INSERT INTO t(task, n) VALUES (0, ?)", 1000 + n) }
            }
            committed.set()
            let (before, after, sum) = try await read.value
            #expect(before == 10)
            #expect(after == 10)
            #expect(sum == 45)
            #expect(try await pool.read { try $0.count("t") } == 60)
        }
    }

    @Test("A write that throws is rolled back and readers never see it")
    func failedWriteRollsBack() async throws {
        struct Abort: Error {}
        try await withTemporaryDatabase { path in
            let pool = try await Self.makePool(path, rows: 3)
            await #expect(throws: Abort.self) {
                try await pool.write { db in
                    try db.run("INSERT INTO t(task, n) VALUES (9, 9)")
                    throw Abort()
                }
            }
            #expect(try await pool.read { try $0.count("t") } == 3)
            // The writer is usable afterwards (no transaction left open).
            let open = try await pool.writeWithoutTransaction { $0.isInTransaction }
            #expect(!open)
            _ = try await pool.write { try $0.run("INSERT INTO t(task, n) VALUES (9, 9)") }
            #expect(try await pool.read { try $0.count("t") } == 4)
        }
    }

    @Test("8 concurrent tasks × 200 write transactions: no SQLITE_BUSY, exactly 1600 rows")
    func concurrentWriters() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await Self.makePool(path, rows: 0)
            let busy = Counter(), otherErrors = Counter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        for n in 0..<200 {
                            do {
                                try await pool.write { db in
                                    // Read-modify-write inside the transaction: serialized writers keep n consistent.
                                    let next = (try db.scalar("SELECT COUNT(*) FROM t WHERE task = ?", task) ?? -1)
                                    try db.run("INSERT INTO t(task, n) VALUES (?, ?)", task, next)
                                    _ = n
                                }
                            } catch let error as SQLiteError where error.isBusy {
                                busy.increment()
                            } catch {
                                otherErrors.increment()
                            }
                        }
                    }
                    // Readers running at the same time must not disturb the writers.
                    group.addTask {
                        for _ in 0..<25 { _ = try await pool.read { try $0.count("t") } }
                    }
                }
                try await group.waitForAll()
            }
            #expect(busy.count == 0)
            #expect(otherErrors.count == 0)
            #expect(try await pool.read { try $0.count("t") } == 1600)
            let perTask = try await pool.read { db in
                try db.query("SELECT task, COUNT(*) AS c, COUNT(DISTINCT n) AS d, MAX(n) AS m FROM t GROUP BY task ORDER BY task")
                    .map { [try $0.int("task"), try $0.int("c"), try $0.int("d"), try $0.int("m")] }
            }
            #expect(perTask == (0..<8).map { [$0, 200, 200, 199] })
        }
    }

    @Test("A second pool on the same file (another process) writes concurrently thanks to busy_timeout")
    func twoPoolsSameFile() async throws {
        try await withTemporaryDatabase { path in
            let first = try await Self.makePool(path, rows: 0)
            let second = try DatabasePool(path: path, readerCount: 2)
            let failures = Counter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, pool) in [first, second, first, second].enumerated() {
                    group.addTask {
                        for n in 0..<150 {
                            do {
                                try await pool.write { db in
                                    try db.run("INSERT INTO t(task, n) VALUES (?, ?)", index, n)
                                    // Hold the write lock a little so the other pool has to wait for it.
                                    if n.isMultiple(of: 50) { usleep(20_000) }
                                }
                            } catch {
                                failures.increment()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(failures.count == 0)
            #expect(try await first.read { try $0.count("t") } == 600)
            #expect(try await second.read { try $0.count("t") } == 600)
            try await first.checkpoint()
            // After a checkpoint a brand-new connection sees everything.
            let fresh = try Connection(path: path, readOnly: true)
            #expect(try fresh.count("t") == 600)
        }
    }

    @Test("Without a busy timeout the second writer fails fast with a busy error")
    func noBusyTimeoutIsBusy() async throws {
        try await withTemporaryDatabase { path in
            let first = try await Self.makePool(path, rows: 0)
            var options = Connection.Options()
            options.busyTimeoutMilliseconds = 0
            let second = try DatabasePool(path: path, readerCount: 1, options: options)
            let locked = Flag(), release = Flag()
            let holder = Task {
                try await first.write { db in
                    try db.run("INSERT INTO t(task, n) VALUES (1, 1)")
                    locked.set()
                    _ = release.blockingWait(timeout: 10)
                }
            }
            #expect(await locked.wait())
            let error = try await #require(throws: SQLiteError.self) {
                try await second.write { try $0.run("INSERT INTO t(task, n) VALUES (2, 2)") }
            }
            #expect(error.isBusy)
            release.set()
            try await holder.value
            _ = try await second.write { try $0.run("INSERT INTO t(task, n) VALUES (2, 2)") }
            #expect(try await second.read { try $0.count("t") } == 2)
        }
    }
}
