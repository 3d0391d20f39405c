import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
import SQLiteKit

/// Migrations that change the schema keep what the previous schema held.
@Suite("Schema migrations keep existing data")
struct SchemaMigrationTests {
    @Test("0004: a failed session's \"status|message\" moves to its own columns; done sessions replay from their node")
    func sessionFailures() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = PanDatabase.path(inDataDirectory: directory)
        let all = try PanDatabase.migrationRunner().migrations
        let before = try MigrationRunner(all.filter { $0.version < 4 })
        do {
            let connection = try Connection(path: path)
            _ = try before.migrate(connection)
            #expect(try connection.userVersion() == 3)
            try await connection.run("INSERT INTO users (name, password_hash, space_capacity, create_time) VALUES ('old', 'x', 100, 1)")
            for (id, state, json, code) in [("s1", "failed", "410|the upload session has expired", "UPLOAD_SESSION_EXPIRED"),
                                            ("s2", "done", "{\"uuid\":\"u\"}", nil), ("s3", "pending", nil, nil)] {
                try await connection.run(
                    """
                    INSERT INTO upload_sessions (id, user_id, dir_path, name, conflict, size_limit, bucket, object_key, deadline, state,
                                                 result_json, failure_code, created)
                    VALUES (?, 1, '/', ?, 'fail', 1, 'pan', ?, 1, ?, ?, ?, 1)
                    """,
                    id, id + ".bin", "key-" + id, state, json, code
                )
            }
        }
        let connection = try Connection(path: path)
        _ = try PanDatabase.migrationRunner().migrate(connection)
        let failed = try await #require(try UploadSessionRepository.find(id: "s1", on: connection))
        #expect(failed.state == .failed)
        #expect(failed.recordedFailure == PanError(status: 410, code: "UPLOAD_SESSION_EXPIRED", "the upload session has expired"))
        await #expect(try UploadSessionRepository.find(id: "s2", on: connection)?.state == .done)
        await #expect(try UploadSessionRepository.find(id: "s3", on: connection)?.state == .pending)
        await #expect(try connection.scalar("SELECT COUNT(*) FROM upload_sessions WHERE result_json IS NOT NULL") == 0)
    }
}
