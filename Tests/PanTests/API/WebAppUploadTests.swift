import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanPostgres
import SQLiteKit
import WCS

/// The web app's uploads in a real headless Chromium against a real `pan serve`
/// (issue #26), driven by `Tests/PanTests/Clients/webapp_uploads.py`, which runs
/// the server itself so it can kill and restart it: cancel by a real pointer
/// click with the quota released at once, resume after a reload from the blocks
/// already stored, a server down for 32 s mid-upload, folder upload (picker and
/// drop), and the panel's states at desktop 1366×850 and phone 390×844 in English
/// and Chinese. Screenshots go to `.build/test-artifacts/webapp-uploads/`. What
/// the browser did is then checked in the server's database.
@Suite(.serialized)
struct WebAppUploadTests {
    static var artifacts: String {
        PythonClients.packageRoot.appendingPathComponent(".build/test-artifacts/webapp-uploads").path
    }

    struct Outcome {
        let json: [String: Any]
        let data: String
        let workdir: String
        let databaseURL: String?
        subscript(_ key: String) -> [String: Any] { json[key] as? [String: Any] ?? [:] }
    }

    /// Runs the driver's `cases` on a fresh data directory (and, for PostgreSQL, a fresh database);
    /// `check` looks at what the server stored, with the server stopped.
    func run(_ cases: [String], backend: TestBackend, timeout: TimeInterval = 900,
             _ check: (Outcome) async throws -> Void) async throws {
        guard FileManager.default.isExecutableFile(atPath: WebAppTests.chromedriver) else {
            Issue.record("chromium-driver is missing at \(WebAppTests.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return
        }
        let data = try temporaryDirectory(), workdir = try temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: data)
            try? FileManager.default.removeItem(atPath: workdir)
        }
        var environment: [String] = []
        var databaseURL: String?
        if backend == .postgres {
            let url = try await PostgresCluster.shared().createDatabase(prefix: "webup")
            databaseURL = url
            environment = ["PAN_DATABASE_URL=\(url)", "PAN_DATABASE_POOL_SIZE=4", "PAN_JWT_SECRET=webup-secret", "PAN_WCS_KEYS=webup-ak:webup-sk"]
        }
        let port = try freePort()
        let run = try await PythonClients.run(
            "webapp_uploads.py", [try CLITests.pan(), data, String(port), workdir, Self.artifacts] + cases + environment,
            timeout: timeout, browser: true
        )
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        #expect(run.status == 0 && json["ok"] as? Bool == true, "\(run.stdout.suffix(3000))\n\(run.stderr.suffix(4000))")
        guard json["ok"] as? Bool == true else { return }
        try await check(Outcome(json: json, data: data, workdir: workdir, databaseURL: databaseURL))
    }

    /// One query on the stopped server's database.
    func read<T: Sendable>(_ outcome: Outcome, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        try await ReliabilityTests.onEngine(directory: outcome.data, url: outcome.databaseURL) { engine in try await engine.read(body) }
    }

    /// The user's live nodes: path → size (nil for a folder), and each file's content hash.
    func tree(_ outcome: Outcome, user: String) async throws -> (nodes: [String: Int64?], hashes: [String: String]) {
        let rows = try await read(outcome) { db in
            try await db.query("""
                SELECT n.path, n.type, n.size, n.store_hash FROM nodes n JOIN users u ON u.id = n.user_id
                WHERE u.name = ? AND n.state = 0 AND n.path <> '/'
                """, user).map { row in
                (try row.string("path"), try row.int64("type"), try row.int64("size"), try row.optionalString("store_hash"))
            }
        }
        var nodes: [String: Int64?] = [:], hashes: [String: String] = [:]
        for (path, type, size, hash) in rows {
            nodes[path] = type == 1 ? nil : size
            if let hash { hashes[path] = hash }
        }
        return (nodes, hashes)
    }

    func pendingSessions(_ outcome: Outcome, user: String) async throws -> Int64 {
        try await read(outcome) { db in
            try await db.scalar("""
                SELECT COUNT(*) FROM upload_sessions s JOIN users u ON u.id = s.user_id WHERE u.name = ? AND s.state = 'pending'
                """, user) ?? 0
        }
    }

    /// Token directories left under the local object store's blocks.
    func blockDirectories(_ outcome: Outcome) -> [String] {
        let blocks = outcome.data + "/storage/blocks"
        return ((try? FileManager.default.contentsOfDirectory(atPath: blocks)) ?? []).filter { LocalObjectStore.isOwner($0) }
    }

    @Test("cancel by a real pointer click mid-upload (the panel is not rebuilt under it): the session ends and its quota is free at once",
          arguments: TestBackend.allCases)
    func cancel(backend: TestBackend) async throws {
        try await run(["cancel"], backend: backend) { outcome in
            let result = outcome["cancel"]
            let percent = result["cancelled_at_percent"] as? Double ?? 0
            #expect(percent > 0 && percent < 90, "cancelled at \(percent) %")
            #expect((result["status_while_sending"] as? String ?? "").contains("/s"), "speed shown: \(result)")
            #expect(result["listed_after_cancel"] as? Bool == false)
            // 90 MB asked for right after cancelling 60 MB of a 100 MB quota: the reservation is gone.
            #expect(result["cancel_route"] as? Bool == true, "\(result)")
            #expect(result["quota_released"] as? Bool == true, "\(result)")
            let pending = try await pendingSessions(outcome, user: "canceller")
            #expect(pending == 0)
            let cancelled = try await read(outcome) { db in
                try await db.scalar("SELECT COUNT(*) FROM upload_sessions WHERE state = 'cancelled'") ?? 0
            }
            #expect(cancelled == 2, "the upload's session and the probe's")
            #expect(blockDirectories(outcome).isEmpty, "blocks left: \(blockDirectories(outcome))")
            let nodes = try await tree(outcome, user: "canceller").nodes
            #expect(nodes["/sixty.bin"] == nil)
        }
    }

    @Test("reload mid-upload, add the same file again: only the missing blocks are sent, and the bytes are right",
          arguments: TestBackend.allCases)
    func resumeAfterReload(backend: TestBackend) async throws {
        try await run(["resume"], backend: backend) { outcome in
            let result = outcome["resume"]
            let stored = result["stored_before_reload"] as? Int ?? 0, sent = result["sent_after_reload"] as? Int ?? -1
            #expect(stored >= 2 && sent == 6 - stored, "\(result)")
            #expect((result["interrupted_text"] as? String ?? "").contains("resume.bin"))
            let (nodes, hashes) = try await tree(outcome, user: "resumer")
            #expect((nodes["/resume.bin"] ?? nil) == Int64(24 << 20))
            let expected = try ContentHasher.hash(fileAtPath: outcome.workdir + "/resume.bin").hash
            #expect(hashes["/resume.bin"] == expected)
            let pending = try await pendingSessions(outcome, user: "resumer")
            #expect(pending == 0)
        }
    }

    @Test("a server killed mid-upload and back after 32 s: the upload pauses, then completes with the right bytes",
          arguments: TestBackend.allCases)
    func serverRestart(backend: TestBackend) async throws {
        try await run(["outage"], backend: backend) { outcome in
            #expect((outcome["outage"]["paused_text"] as? String ?? "").isEmpty == false)
            let (nodes, hashes) = try await tree(outcome, user: "outage")
            #expect((nodes["/outage.bin"] ?? nil) == Int64(20 << 20))
            let expected = try ContentHasher.hash(fileAtPath: outcome.workdir + "/outage.bin").hash
            #expect(hashes["/outage.bin"] == expected)
        }
    }

    @Test("folder upload: a nested tree through the picker and one dropped (with an empty folder) are exactly the server's tree",
          arguments: TestBackend.allCases)
    func folders(backend: TestBackend) async throws {
        try await run(["folder"], backend: backend) { outcome in
            let (nodes, _) = try await tree(outcome, user: "folders")
            var expected: [String: Int64?] = [
                "/Photos 2024": nil, "/Photos 2024/sub": nil, "/Photos 2024/sub/deeper": nil, "/Photos 2024/other": nil,
                "/Photos 2024/a.txt": 10, "/Photos 2024/sub/b.bin": (5 << 20) + 3, "/Photos 2024/sub/deeper/c.txt": 0,
                "/Photos 2024/sub/deeper/d.txt": 7, "/Photos 2024/other/e.txt": 1,
                "/Dropped": nil, "/Dropped/empty": nil, "/Dropped/x.txt": 1, "/Dropped/nested": nil, "/Dropped/nested/y.txt": 2,
                "/Dropped/nested/deep": nil, "/Dropped/nested/deep/z.txt": 3,
            ]
            for index in 0..<7 { expected["/Dropped/n\(index).txt"] = 1 }
            #expect(nodes == expected)
        }
    }

    @Test("the panel at desktop and phone, English and Chinese: uploading with speed and time left, paused offline, Keep both shown as stored, failed counted as failed with Retry")
    func panelStates() async throws {
        try await run(["panel"], backend: .sqlite) { outcome in
            for tag in ["desktop-en", "desktop-zh", "phone-en", "phone-zh"] {
                let result = outcome["panel-\(tag)"]
                #expect((result["failed_total"] as? String ?? "").contains(tag.hasSuffix("zh") ? "1 个失败" : "1 failed"), "\(tag): \(result)")
                for state in ["1-uploading", "2-paused", "3-conflict", "4-failed"] {
                    let name = "\(tag)-panel-\(state).png"
                    #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/" + name), "screenshot \(name)")
                }
            }
        }
    }
}
