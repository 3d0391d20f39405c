import Foundation
import Testing
@testable import SQLiteKit

/// The single writer runs `async` transaction bodies (the repositories are
/// async for PostgreSQL's sake) but must never hold the writer across a real
/// suspension: one that suspends is caught, rolled back and reported.
@Suite("SQLite write bodies never suspend")
struct NonSuspendingTests {
    @Test("a body that awaits real work fails with TransactionSuspended, its writes undone; the next write runs")
    func suspensionIsCaught() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await GroupCommitTests.makePool(path)
            await #expect(throws: TransactionSuspended.self) {
                try await pool.write { db in
                    try await db.run("INSERT INTO t(n) VALUES (1)")
                    // An accidental suspension: a sleep, a network call, an actor hop.
                    try await Task.sleep(for: .milliseconds(20))
                    try await db.run("INSERT INTO t(n) VALUES (2)")
                }
            }
            #expect(try await pool.read { try $0.count("t") } == 0)
            // The writer is not stuck and still commits.
            try await pool.write { db in try await db.run("INSERT INTO t(n) VALUES (3)") }
            #expect(try await pool.read { try $0.count("t") } == 1)
        }
    }

    @Test("an async body that never suspends runs inline and commits, also in a batch with a suspending one")
    func nonSuspendingBodiesCommit() async throws {
        try await withTemporaryDatabase { path in
            let pool = try await GroupCommitTests.makePool(path)
            // Async calls that complete without suspending (like the repositories over SQLite).
            @Sendable func insert(_ n: Int, on db: Connection) async throws { try await db.run("INSERT INTO t(n) VALUES (?)", n) }
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for n in 0..<20 {
                    group.addTask {
                        do {
                            try await pool.write { db in
                                try await insert(n, on: db)
                                if n == 7 { await Task.yield() }
                            }
                            return true
                        } catch is TransactionSuspended {
                            return false
                        }
                    }
                }
                var committed = 0
                for try await ok in group where ok { committed += 1 }
                // Task.yield() may or may not suspend (it does when other work is queued): either
                // way every other body committed and the yielding one either committed or was refused whole.
                #expect(committed >= 19)
                #expect(try await pool.read { try $0.count("t") } == Int64(committed))
            }
        }
    }
}
