import Foundation
import AsyncHTTPClient
import HTTPTypes
import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanServer
@testable import PanHTTPSupport
import SQLiteKit
import WCS

/// Health, readiness, Prometheus metrics, request logs, backups, stats and
/// graceful shutdown (issue #7), against real servers and the real `pan` binary.
@Suite("Operations: readiness, metrics, logs, backup, stats, shutdown")
struct OperationsTests {
    // MARK: Metrics

    @Test("/metrics moves by exactly the workload: tokens, instant uploads, callbacks, requests by route, gauges")
    func metricsExactDeltas() async throws {
        // The database gauges are recounted in the background (issue #24 §2.7): often, here.
        try await withServer(configure: { $0.metricsInterval = 0.1 }) { server in
            let (_, session) = try await server.user("metrics")
            // One stored object to upload instantly, through the local endpoint (a real self-callback).
            let seed = vectorBytes(1000)
            let seedToken = try await uploadToken(server, session, ["name": "seed.bin"])
            #expect(try await server.formUpload(token: seedToken, bytes: seed).success == true)

            let before = try await Scrape.of(server)
            // N = 3 tokens left pending.
            var pending: [String] = []
            for i in 0..<3 { pending.append(try await uploadToken(server, session, ["name": "pending\(i).bin"])) }
            // M = 2 instant uploads.
            for i in 0..<2 {
                let reply = try await server.post("/v1/store/token", ["name": "instant\(i).bin", "hash": ContentHasher.hash(seed)], token: session)
                #expect(reply.result["uuid"] is String, "instant \(i): \(reply.text)")
            }
            // K = 2 accepted callbacks (2 more tokens), one replay, one forged signature.
            var sizes: Int64 = 0
            for i in 0..<2 {
                let upload = try await uploadToken(server, session, ["name": "cb\(i).bin"])
                let bytes = vectorBytes(2000 + i)
                sizes += Int64(bytes.count)
                let reply = try await server.callback(forToken: upload, size: Int64(bytes.count), hash: ContentHasher.hash(bytes))
                #expect(reply.success == true, "callback \(i): \(reply.text)")
                if i == 1 {
                    let replay = try await server.callback(forToken: upload, size: Int64(bytes.count), hash: ContentHasher.hash(bytes))
                    #expect(replay.success == true)
                }
            }
            let forged = try await server.callback(
                forToken: pending[0], size: 5, hash: ContentHasher.hash(Data("forge".utf8)),
                signWith: Credentials(accessKey: server.services.credentials[0].accessKey, secretKey: "wrong")
            )
            #expect(forged.status == 401)
            // Scrape until the background recount has seen the workload: all of it. A recount between
            // the pending tokens and the callbacks also saw 3 pending sessions (and 1 object).
            var after = try await Scrape.of(server)
            var scrapes = 1
            for _ in 0..<100 where after.value("pan_upload_sessions_pending") != 3 || after.value("pan_stored_objects") != 3 {
                try await Task.sleep(for: .milliseconds(50))
                after = try await Scrape.of(server)
                scrapes += 1
            }

            func delta(_ name: String, _ labels: [String: String] = [:]) -> Double {
                after.value(name, labels) - before.value(name, labels)
            }
            #expect(delta("pan_upload_tokens_issued_total") == 5)
            // The user's own content: kind "own" (issue #24).
            #expect(delta("pan_instant_uploads_total", ["kind": "own"]) == 2)
            #expect(delta("pan_instant_uploads_total", ["kind": "proof"]) == 0 && delta("pan_instant_uploads_total", ["kind": "global"]) == 0)
            #expect(delta("pan_callbacks_total", ["result": "accepted"]) == 2)
            #expect(delta("pan_callbacks_total", ["result": "replayed"]) == 1)
            #expect(delta("pan_callbacks_rejected_total", ["reason": "CALLBACK_SIGNATURE_INVALID"]) == 1)
            // Requests by route pattern and status; every scrape but the last is counted once.
            let tokenRoute = ["route": "/v1/store/token", "method": "POST", "status": "200"]
            #expect(delta("pan_http_requests_total", tokenRoute) == 7)
            #expect(delta("pan_http_request_duration_seconds_count", tokenRoute) == 7)
            let callbackRoute = server.configuration.callbackPath
            #expect(delta("pan_http_requests_total", ["route": callbackRoute, "method": "POST", "status": "200"]) == 3)
            #expect(delta("pan_http_requests_total", ["route": callbackRoute, "method": "POST", "status": "401"]) == 1)
            #expect(delta("pan_http_requests_total", ["route": "/metrics", "method": "GET", "status": "200"]) == Double(scrapes))
            // Gauges are recounted from the database, not kept by increments.
            #expect(after.value("pan_upload_sessions_pending") == 3)
            #expect(after.value("pan_stored_objects") == 3)
            #expect(after.value("pan_stored_bytes") == Double(Int64(seed.count) + sizes))
        }
    }

    @Test("request metrics use the route pattern, not the raw path: 404s and downloads stay one series each")
    func routeCardinality() async throws {
        try await withServer { server in
            for i in 0..<5 { #expect(try await server.request(.get, "/scan/\(i)").status == 404) }
            let (_, session) = try await server.user("routes")
            let upload = try await uploadToken(server, session, ["name": "d.bin"])
            #expect(try await server.formUpload(token: upload, bytes: vectorBytes(10)).success == true)
            let get = try await server.post("/v1/files/get", ["path": "/d.bin"], token: session)
            let address = try #require(get.result["downloadAddress"] as? String)
            let relative = String(address.dropFirst(server.configuration.effectivePublicBaseURL.count))
            #expect(try await server.request(.get, relative).status == 200)
            let scrape = try await Scrape.of(server)
            #expect(scrape.value("pan_http_requests_total", ["route": "NotFound", "method": "GET", "status": "404"]) == 5)
            let routes = Set(scrape.series("pan_http_requests_total").compactMap { $0["route"] })
            #expect(!routes.contains { $0.hasPrefix("/scan") || $0.contains(relative.prefix(12).dropFirst(4)) }, "\(routes)")
            #expect(routes.contains { $0.hasPrefix("/dl/") }, "\(routes)")
        }
    }

    // MARK: Readiness

    @Test("/readyz: ready with the current schema; 503 with a foreign schema version or the write lock held elsewhere")
    func readiness() async throws {
        // The database check runs in the background (issue #24 §2.7): often, here; /readyz reports its last result.
        try await withServer(configure: { $0.readinessInterval = 0.1 }) { server in
            /// /readyz once it answers `status` (the next background check has run), or its last answer.
            func readyz(becoming status: Int) async throws -> TestServer.Reply {
                var reply = try await server.request(.get, "/readyz")
                for _ in 0..<200 where reply.status != status {
                    try await Task.sleep(for: .milliseconds(50))
                    reply = try await server.request(.get, "/readyz")
                }
                return reply
            }
            let latest = try PanDatabase.migrationRunner().latestVersion
            let ready = try await readyz(becoming: 200)
            #expect(ready.status == 200)
            #expect(ready.json["ready"] as? Bool == true)
            #expect(ready.json["schemaVersion"] as? Int == latest)

            // Another process's newer schema: not ready.
            let other = try Connection(path: server.database.path)
            try other.execute("PRAGMA user_version = \(latest + 1)")
            let newer = try await readyz(becoming: 503)
            #expect(newer.status == 503)
            #expect(newer.json["ready"] as? Bool == false)
            try other.execute("PRAGMA user_version = \(latest)")
            #expect(try await readyz(becoming: 200).status == 200)

            // The write lock held by another connection past the busy timeout: not ready.
            try other.execute("BEGIN IMMEDIATE")
            // On a loaded machine the first 503 can be an overdue check; the lock's own reason follows.
            var locked = try await readyz(becoming: 503)
            for _ in 0..<200 where (locked.json["database"] as? String)?.contains("not writable") != true {
                try await Task.sleep(for: .milliseconds(50))
                locked = try await server.request(.get, "/readyz")
            }
            try other.execute("ROLLBACK")
            #expect(locked.status == 503)
            #expect((locked.json["database"] as? String)?.contains("not writable") == true, "\(locked.text)")
            #expect(try await readyz(becoming: 200).status == 200)
            #expect(try await server.request(.get, "/healthz").text == "ok\n")
        }
    }

    @Test("PAN_ADMIN_PORT: health, readiness and metrics move to the admin listener and leave the public one")
    func adminListener() async throws {
        let adminPort = try freePort()
        try await withOpsServer(configure: { $0.adminPort = adminPort }, probePort: adminPort) { server, _ in
            let admin = "http://127.0.0.1:\(adminPort)"
            #expect(try await server.request(.get, "/metrics").status == 404)
            #expect(try await server.request(.get, "/healthz").status == 404)
            #expect(try await server.request(.get, "/readyz").status == 404)
            #expect(try await fetch(admin + "/healthz").status == 200)
            // Ready once its background checks have answered (their first run can be slow on a loaded machine).
            var ready = try await fetch(admin + "/readyz")
            for _ in 0..<300 where ready.status != 200 {
                try await Task.sleep(for: .milliseconds(100))
                ready = try await fetch(admin + "/readyz")
            }
            #expect(ready.status == 200, "\(ready.text)")
            let metrics = try await fetch(admin + "/metrics")
            #expect(metrics.status == 200)
            // The admin listener reports the public listener's requests (and not its own).
            let scrape = Scrape(metrics.text)
            // The three above, and the public-URL check's GET /healthz (not served on the public port: 404).
            let probes = Double(server.services.publicURLCheck.attempts)
            #expect(scrape.value("pan_http_requests_total", ["route": "NotFound", "method": "GET", "status": "404"]) == 3 + probes)
            #expect(scrape.series("pan_http_requests_total").allSatisfy { $0["route"] == "NotFound" })
        }
    }

    // MARK: Logs

    @Test("one log line per request: request id, client IP through trusted proxies only, user, route, status; no secrets")
    func requestLogs() async throws {
        for trusted in [false, true] {
            let logs = LogCapture()
            try await withOpsServer(configure: { if trusted { $0.trustedProxies = ["127.0.0.1"] } }, logs: logs) { server, _ in
                let password = "pw-\(UUID().uuidString)"
                let user = try await server.createUser("logger", password: password)
                let session = try await server.login("logger", password: password)
                let reply = try await server.post("/v1/user/info", [:], token: session, headers: [
                    .requestId: "ops-log-1", .forwardedFor: "203.0.113.7",
                ])
                #expect(reply.status == 200)
                #expect(reply.headers[.requestId] == "ops-log-1")
                let line = try #require(logs.records.first { $0.message == "request" && $0.metadata["request_id"] == "ops-log-1" })
                #expect(line.metadata["client_ip"] == (trusted ? "203.0.113.7" : "127.0.0.1"))
                #expect(line.metadata["user_id"] == String(user.id))
                #expect(line.metadata["route"] == "/v1/user/info")
                #expect(line.metadata["status"] == "200")
                #expect(line.metadata["duration_ms"].flatMap(Double.init) != nil)
                // A whole upload's secrets: the session token, the upload token, the password.
                let upload = try await uploadToken(server, session, ["name": "private.bin"])
                #expect(try await server.formUpload(token: upload, bytes: vectorBytes(100)).success == true)
                let withQueryToken = try await server.request(.post, "/v1/user/info?token=\(session)")
                #expect(withQueryToken.status == 200)
                let everything = logs.records.map(\.rendered).joined(separator: "\n")
                #expect(logs.records.count > 4)
                let jwtSecret = try String(contentsOfFile: server.dataDirectory + "/jwt-secret", encoding: .utf8)
                let secrets = [
                    "session token": session, "upload token": upload, "password": password,
                    "password MD5": PasswordHasher.md5Hex(password), "WCS secret key": server.services.credentials[0].secretKey,
                    "JWT secret": jwtSecret.trimmingCharacters(in: .whitespacesAndNewlines),
                ]
                for (name, secret) in secrets {
                    let leaked = everything.contains(secret)
                    #expect(!leaked, "the \(name) was logged")
                }
            }
        }
    }

    // MARK: Backup and stats

    @Test("pan backup during a write load: consistent, integrity_check ok, never overwrites")
    func backupUnderLoad() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("backup")
            let stop = SharedCount()
            let progress = SharedCount()
            let load = Task {
                var i = 0
                while stop.value == 0 {
                    let upload = try await uploadToken(server, session, ["name": "w\(i).bin", "path": "/load/\(i % 7)"])
                    let bytes = vectorBytes(100 + i)
                    let reply = try await server.callback(forToken: upload, size: Int64(bytes.count), hash: ContentHasher.hash(bytes))
                    guard reply.success == true else { throw TestFailure("load callback: \(reply.text)") }
                    i += 1
                    progress.add()
                }
                return i
            }
            let scratch = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            var doneCounts: [Int64] = []
            // The load must be running before the first copy (a busy machine starts it late).
            for _ in 0..<600 where progress.value < 3 { try await Task.sleep(for: .milliseconds(50)) }
            for n in 0..<3 {
                try await Task.sleep(for: .milliseconds(150))
                let destination = scratch + "/backup\(n).sqlite"
                let run = try await CLITests.run(["backup", destination, "--data-dir", server.dataDirectory])
                #expect(run.status == 0 && run.exited, "\(run)")
                #expect(run.stdout.contains("integrity_check: ok"))
                // Opened on its own: intact, and a single snapshot (every done session has its file).
                let copy = try Connection(path: destination, readOnly: true)
                await #expect(try copy.query("PRAGMA integrity_check").map { try $0.string("integrity_check") } == ["ok"])
                let done = try await copy.scalar("SELECT COUNT(*) FROM upload_sessions WHERE state = 'done'") ?? -1
                let files = try await copy.scalar("SELECT COUNT(*) FROM nodes WHERE type = 0") ?? -2
                #expect(done == files)
                await #expect(try copy.scalar("SELECT COALESCE(SUM(size), 0) FROM nodes WHERE type = 0")
                    == copy.scalar("SELECT space_used FROM users WHERE name = 'backup'"))
                doneCounts.append(done)
            }
            stop.add()
            let uploads = try await load.value
            #expect(uploads > 0)
            #expect(doneCounts.last! > 0, "the load ran while backing up: \(doneCounts)")
            #expect(doneCounts == doneCounts.sorted())

            // An existing destination is refused and left untouched.
            let existing = scratch + "/backup0.sqlite"
            let sizeBefore = FileOps.size(of: existing)
            let again = try await CLITests.run(["backup", existing, "--data-dir", server.dataDirectory])
            #expect(again.status != 0)
            #expect(again.stderr.contains("refusing to overwrite"), "\(again)")
            #expect(FileOps.size(of: existing) == sizeBefore)
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).count == 3, "no partial files left")
        }
    }

    @Test("pan backup of a damaged database fails and writes nothing")
    func backupOfDamagedDatabase() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: directory + "/pan.sqlite"))
        let run = try await CLITests.run(["backup", directory + "/copy.sqlite", "--data-dir", directory])
        #expect(run.status != 0 && run.exited, "\(run)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/copy.sqlite"))
    }

    @Test("pan stats: users, nodes, objects, bytes, sessions by state (JSON and table)")
    func stats() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("stats1")
            try await server.createUser("stats2")
            let upload = try await uploadToken(server, session, ["name": "a.bin", "path": "/docs"])
            #expect(try await server.formUpload(token: upload, bytes: vectorBytes(1000)).success == true)
            let copy = try await server.post("/v1/store/token", ["name": "b.bin", "hash": ContentHasher.hash(vectorBytes(1000))], token: session)
            #expect(copy.result["uuid"] is String)
            _ = try await uploadToken(server, session, ["name": "pending.bin"])

            let run = try await CLITests.run(["stats", "--json", "--data-dir", server.dataDirectory])
            #expect(run.status == 0, "\(run)")
            let stats = try JSONDecoder().decode(DatabaseStats.self, from: Data(run.stdout.utf8))
            #expect(stats.users == 2)
            #expect(stats.files == 2)
            #expect(stats.directories == 3, "two roots and /docs")
            #expect(stats.objects == 1)
            #expect(stats.storedBytes == 1000)
            #expect(stats.sessions == ["pending": 1, "done": 1, "failed": 0, "expired": 0, "cancelled": 0])
            #expect(stats.schemaVersion == (try PanDatabase.migrationRunner().latestVersion))
            let table = try await CLITests.run(["stats", "--data-dir", server.dataDirectory])
            // Rows with their padding collapsed: the column's width is the longest label's.
            let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            #expect(rows.contains { $0.hasPrefix("stored bytes 1000") }, "\(table)")
            #expect(rows.contains("sessions pending 1"))
            #expect(rows.contains("sessions cancelled 0"))
        }
    }

    // MARK: Graceful shutdown

    @Test("SIGTERM under an upload load: every acknowledged upload has its file; the WAL is checkpointed; exit 0")
    func sigtermLosesNothing() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = try freePort()
        var configuration = PanConfiguration()
        configuration.dataDirectory = directory
        configuration.port = port
        configuration.passwordRounds = 1_000
        // Same data directory as the server: same secrets, so the test can sign and log in.
        let services = try await PanServices.open(configuration)
        let client = TestServer(services: services, port: port, dataDirectory: directory)
        try await client.createUser("term")

        let server = try ServerProcess.start(["serve", "--data-dir", directory, "--port", String(port)], environment: ["PAN_SHUTDOWN_TIMEOUT": "3"])
        // 3 s: in-flight uploads whose self-callback can no longer connect are cut off, not waited out.
        defer { server.kill() }
        try await server.waitUntilHealthy(port: port)
        let session = try await client.login("term")

        let wal = PanDatabase.path(inDataDirectory: directory) + "-wal"
        let succeeded = SharedCount()
        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<48 {
                group.addTask {
                    // Requests refused or cut off by the shutdown are simply not acknowledged.
                    guard let upload = try? await uploadToken(client, session, ["name": "t\(i).bin", "path": "/term"]),
                          let reply = try? await client.formUpload(token: upload, bytes: vectorBytes(256 * 1024 + i))
                    else { return (i, false) }
                    let ok = reply.status == 200 && reply.success == true
                    if ok { succeeded.add() }
                    return (i, ok)
                }
            }
            group.addTask {
                // Mid-load: some uploads acknowledged, most still in flight.
                let deadline = ContinuousClock.now + .seconds(30)
                while succeeded.value < 8, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
                // Committed work sits in the WAL now; the shutdown must fold it in.
                #expect((FileOps.size(of: wal) ?? 0) > 0)
                server.signal(SIGTERM)
                return (-1, false)
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        let exit = try await server.waitForExit(timeout: 20)
        #expect(exit.exited && exit.status == 0, "pan serve after SIGTERM: \(exit)")
        #expect(exit.stderr.contains("Fatal") == false)

        let acknowledged = outcomes.filter { $0.key >= 0 && $0.value }.map(\.key).sorted()
        #expect(acknowledged.count >= 8)
        let present = try await (services.store as! SQLitePanStore).database.read { db in
            Set(try db.query("SELECT path FROM nodes WHERE type = 0").map { try $0.string("path") })
        }
        for i in acknowledged { #expect(present.contains("/term/t\(i).bin"), "acknowledged upload \(i) has no file") }
        // The checkpoint at shutdown left nothing in the WAL.
        #expect((FileOps.size(of: wal) ?? 0) == 0)
    }
}

// MARK: - Helpers shared with NginxTests

func uploadToken(_ server: TestServer, _ session: String, _ body: [String: Any]) async throws -> String {
    let reply = try await server.post("/v1/store/token", body, token: session)
    guard let token = reply.result["token"] as? String else { throw TestFailure("no upload token: \(reply.status) \(reply.text)") }
    return token
}

/// A counter tasks can share.
final class SharedCount: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func add() { count.add(1, ordering: .relaxed) }
}
