import Foundation
import Testing
@testable import SQLiteKit

/// `DatabasePool.write` shares one commit among the transactions that queue up
/// while the writer is busy; each must still succeed or fail on its own.
@Suite("Group commit: batched transactions stay independent")
struct GroupCommitTests {
    struct Refused: Error, Equatable { let n: Int }

    /// Holds the writer inside a transaction until `release` is set, so the next
    /// writes queue up and run as one batch.
    static func blockWriter(_ pool: DatabasePool, entered: Flag, release: Flag) -> Task<Void, any Error> {
        Task {
            _ = try await pool.write { db in
                try db.run("INSERT INTO t(n) VALUES (-1)")
                entered.set()
                _ = release.blockingWait(timeout: 10)
            }
        }
    }

    static func makePool(_ path: String) async throws -> DatabasePool {
        let pool = try DatabasePool(path: path, readerCount: 2)
        try await pool.writeWithoutTransaction { try $0.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER NOT NULL UNIQUE)") }
        return pool
    }

    @Test("In one batch, throwing transactions are undone alone; the others commit; every caller hears its own outcome")
    func failuresStayAlone() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await Self.makePool(path)
            let entered = Flag(), release = Flag()
            let blocker = Self.blockWriter(pool, entered: entered, release: release)
            #expect(await entered.wait())
            let outcomes = try await withThrowingTaskGroup(of: (Int, Result<Int, Refused>).self) { group in
                for n in 0..<40 {
                    group.addTask {
                        do {
                            let id = try await pool.write { db -> Int in
                                try db.run("INSERT INTO t(n) VALUES (?)", n)
                                // Every fourth writes a second row, then fails: both rows must vanish.
                                if n % 4 == 0 {
                                    try db.run("INSERT INTO t(n) VALUES (?)", 1000 + n)
                                    throw Refused(n: n)
                                }
                                return Int(db.lastInsertRowID)
                            }
                            return (n, .success(id))
                        } catch let error as Refused {
                            return (n, .failure(error))
                        }
                    }
                }
                // Let them all queue behind the blocked writer, then open the gate.
                try await Task.sleep(for: .milliseconds(200))
                release.set()
                return try await group.reduce(into: [Int: Result<Int, Refused>]()) { $0[$1.0] = $1.1 }
            }
            try await blocker.value
            for n in 0..<40 {
                if n % 4 == 0 { #expect(outcomes[n] == .failure(Refused(n: n))) } else { #expect((try? outcomes[n]?.get()) != nil) }
            }
            let stored = try await pool.read { db in try db.query("SELECT n FROM t WHERE n >= 0 ORDER BY n").map { try $0.int("n") } }
            #expect(stored == (0..<40).filter { $0 % 4 != 0 })
            #expect(try await pool.writeWithoutTransaction { $0.isInTransaction } == false)
        }
    }

    @Test("A constraint violation inside a batch fails that caller with its typed error only")
    func constraintViolation() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await Self.makePool(path)
            let entered = Flag(), release = Flag()
            let blocker = Self.blockWriter(pool, entered: entered, release: release)
            #expect(await entered.wait())
            async let first: Void = { _ = try await pool.write { try $0.run("INSERT INTO t(n) VALUES (7)") } }()
            async let duplicate: Result<Void, SQLiteError> = {
                do {
                    try await Task.sleep(for: .milliseconds(50))
                    _ = try await pool.write { try $0.run("INSERT INTO t(n) VALUES (7)") }
                    return .success(())
                } catch let error as SQLiteError { return .failure(error) }
            }()
            async let third: Void = { try await Task.sleep(for: .milliseconds(100)); _ = try await pool.write { try $0.run("INSERT INTO t(n) VALUES (8)") } }()
            try await Task.sleep(for: .milliseconds(300))
            release.set()
            try await first
            try await third
            let outcome = try await duplicate
            guard case .failure(let error) = outcome else { Issue.record("the duplicate insert succeeded"); return }
            #expect(error.isUniqueViolation)
            #expect(try await pool.read { try $0.count("t") } == 3) // -1, 7, 8
            try await blocker.value
        }
    }

    @Test("Every acknowledged write is committed: a second connection sees all of them")
    func acknowledgedMeansCommitted() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await Self.makePool(path)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<500 { group.addTask { _ = try await pool.write { try $0.run("INSERT INTO t(n) VALUES (?)", n) } } }
                try await group.waitForAll()
            }
            // Outside the pool: what a restarted process would read.
            let other = try Connection(path: path, readOnly: true)
            #expect(try other.count("t") == 500)
        }
    }

    @Test("With maxBatch 1 every transaction commits alone and failures still roll back")
    func unbatched() async throws {
        try await withTemporaryDatabase { path in
            let pool = try DatabasePool(path: path, readerCount: 1, maxBatch: 1)
            try await pool.writeWithoutTransaction { try $0.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER NOT NULL UNIQUE)") }
            await #expect(throws: Refused.self) {
                try await pool.write { db in
                    try db.run("INSERT INTO t(n) VALUES (1)")
                    throw Refused(n: 1)
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<100 { group.addTask { _ = try await pool.write { try $0.run("INSERT INTO t(n) VALUES (?)", n + 10) } } }
                try await group.waitForAll()
            }
            #expect(try await pool.read { try $0.count("t") } == 100)
        }
    }
}
