import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
import SQLiteKit
@testable import PanPostgres

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

    // MARK: migration files

    /// The package root: the first directory with a Package.swift above this file.
    static let packageRoot: URL? = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) { return directory }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    @Test("every file of migrations/ and migrations/postgres/ is embedded, in version order, none skipped")
    func everyFileEmbedded() throws {
        let root = try #require(Self.packageRoot)
        for (folder, embedded) in [("migrations", try PanDatabase.migrationRunner()), ("migrations/postgres", try PostgresEngine.migrationRunner())] {
            let url = root.appendingPathComponent(folder)
            let files = try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles])
                .filter { try $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory != true }
                .map(\.lastPathComponent).sorted()
            #expect(embedded.migrations.map(\.name) == files, "\(folder)")
            #expect(embedded.migrations.map(\.version) == Array(1...files.count), "\(folder): numbered 1, 2, 3… without gaps")
        }
    }

    @Test("the build refuses a misnamed or duplicate-numbered migration file (MigrationEmbedder exits 1, naming the file)")
    func embedderRefusesBadFiles() async throws {
        let root = try #require(Self.packageRoot)
        let candidates = ["MigrationEmbedder-tool", "MigrationEmbedder"].map { root.appendingPathComponent(".build/debug/" + $0).path }
        guard let embedder = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            Issue.record("no MigrationEmbedder at \(candidates): run `swift build` first")
            return
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func embed(_ names: [String]) async throws -> (status: Int32, stderr: String, output: String?) {
            let run = UUID().uuidString
            let output = directory + "/Embedded-\(run).swift", log = directory + "/stderr-\(run)"
            for name in names { try "SELECT 1;\n".write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
            defer { for name in names { try? FileManager.default.removeItem(atPath: directory + "/" + name) } }
            let ran = try await ChildProcess.run(embedder, [output] + names.map { directory + "/" + $0 }, stderr: .file(log), timeout: 30)
            return (ran.status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "", try? String(contentsOfFile: output, encoding: .utf8))
        }
        let good = try await embed(["0002_b.sql", "0001_a.sql"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.output?.contains("(\"0001_a.sql\"") == true)
        for bad in ["12_x.sql", "0012-x.txt", "0003_x.sql.orig"] {
            let run = try await embed(["0001_a.sql", bad])
            #expect(run.status == 1 && run.output == nil, "\(bad): \(run)")
            #expect(run.stderr.contains("/\(bad): error: migration file \(bad) is not named NNNN_description.sql"), "\(run.stderr)")
        }
        let duplicate = try await embed(["0001_a.sql", "0002_b.sql", "0002_c.sql"])
        #expect(duplicate.status == 1 && duplicate.output == nil, "\(duplicate)")
        #expect(duplicate.stderr.contains("/0002_c.sql: error: migration files 0002_b.sql and 0002_c.sql share version 2"), "\(duplicate.stderr)")
    }
}
