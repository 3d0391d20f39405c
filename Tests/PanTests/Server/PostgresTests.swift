import AsyncHTTPClient
import Foundation
import Logging
import Synchronization
import Testing
@testable import PanCore
@testable import PanHTTPSupport
@testable import PanPostgres
import SQLCommon
import WCS

/// The shared-database backend for real: a throwaway PostgreSQL cluster
/// (`PostgresCluster`), Pan's own migrations, the real HTTP API, and two
/// `pan serve` processes behind a real nginx.
@Suite("PostgreSQL backend")
struct PostgresTests {
    static let keys = Credentials(accessKey: "multi-ak", secretKey: "multi-sk")

    @Test("the whole loop over HTTP on PostgreSQL: token, form upload, callback, instant upload, files API, fsck")
    func httpLoop() async throws {
        let url = try await PostgresCluster.shared().createDatabase(prefix: "http")
        try await withServer(configure: { configuration in
            configuration.databaseURL = url
            configuration.databasePoolSize = 4
            configuration.jwtSecret = "pg-test-secret"
            configuration.wcsKeys = [Self.keys]
        }) { server in
            let (_, session) = try await server.user("pg")
            let bytes = Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            let hash = ContentHasher.hash(bytes)
            let token = try await server.post("/v1/store/token", ["name": "a.bin", "path": "/docs", "hash": hash], token: session)
            #expect(token.status == 200)
            let upload = try #require(token.result["token"] as? String)
            let stored = try await server.formUpload(token: upload, bytes: bytes, fileName: "a.bin")
            #expect(stored.success == true, "\(stored.text)")
            // The same content again: instant upload, no token.
            let instant = try await server.post("/v1/store/token", ["name": "b.bin", "path": "/docs", "hash": hash], token: session)
            #expect(instant.result["storeId"] as? String == hash)
            let page = try await server.post("/v1/files/page", ["path": "/docs", "orderBy": 2], token: session)
            let names = ((page.result["list"] as? [[String: Any]]) ?? (page.json["list"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            #expect(names.sorted() == ["a.bin", "b.bin"], "\(page.text)")
            #expect(try await server.post("/v1/files/rename", ["path": "/docs/b.bin", "name": "c.bin"], token: session).status == 200)
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/archive/2026"], token: session).status == 200)
            #expect(try await server.post("/v1/files/move", ["path": "/docs/c.bin", "destPath": "/archive/2026"], token: session).status == 200)
            #expect(try await server.post("/v1/files/copy", ["path": "/archive", "destPath": "/docs"], token: session).status == 200)
            #expect(try await server.post("/v1/files/remove", ["path": "/docs/a.bin", "recycle": true], token: session).status == 200)
            let conflict = try await server.post("/v1/files/createDirectory", ["path": "/archive/2026/c.bin"], token: session)
            #expect(conflict.status == 409 || conflict.status == 400, "\(conflict.text)")
            let user = try #require(try await server.services.store.user(reference: "pg"))
            // a.bin (binned, still counted), c.bin and its copy.
            #expect(user.spaceUsed == Int64(bytes.count * 3))
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
            let stats = try await server.services.store.stats()
            #expect(stats.objects == 1 && stats.sessions["done"] == 1)
        }
    }

    @Test("pan migrate over PostgreSQL: the report SQLite's gives, idempotent, and refuses a database from a newer pan")
    func migrateCommand() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase(prefix: "migrate")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func migrate(_ arguments: String...) async throws -> CLITests.Run {
            try await CLITests.run(["migrate"] + arguments + ["--data-dir", directory], environment: ["PAN_DATABASE_URL": url], timeout: 60)
        }
        let latest = try PostgresEngine.migrationRunner().latestVersion

        let status = try await migrate("--status")
        #expect(status.status == 0, "\(status)")
        #expect(status.stdout.contains("database: PostgreSQL (PAN_DATABASE_URL)"), "\(status)")
        #expect(status.stdout.contains("schema version: 0 (this pan knows up to \(latest))"), "\(status)")
        #expect(status.stdout.contains("pending: 0001_init.sql"), "\(status)")
        #expect(!status.stdout.contains("applied:"), "\(status)")

        let first = try await migrate()
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("applied: 0001_init.sql"), "\(first)")
        #expect(first.stdout.contains("now at version \(latest)"), "\(first)")

        let again = try await migrate()
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("schema version: \(latest) (this pan knows up to \(latest))"), "\(again)")
        #expect(again.stdout.contains("up to date"), "\(again)")
        #expect(!again.stdout.contains("applied:") && !again.stdout.contains("pending:"), "\(again)")

        // A newer pan's migration: refused, on status and migrate alike, and left alone.
        _ = try await cluster.psql("INSERT INTO schema_migrations (version, name, applied) VALUES (999, '0999_future.sql', 0)", url: url)
        for newer in [try await migrate(), try await migrate("--status")] {
            #expect(newer.status != 0, "\(newer)")
            #expect(newer.output.contains("999") && newer.output.contains("newer"), "\(newer)")
        }
        let rows = try await cluster.psql("SELECT COUNT(*), MAX(version) FROM schema_migrations", url: url)
        #expect(rows.trimmingCharacters(in: .whitespacesAndNewlines) == "\(latest + 1)|999", "\(rows)")
    }

    @Test("every per-user statement the store sends touches one partition, planned custom and generic (EXPLAIN)")
    func onePartitionPerStatement() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase(prefix: "explain")
        let seen = Mutex<[(String, [DatabaseValue])]>([])
        let database = String(try #require(URLComponents(string: url)?.path.dropFirst()))
        PostgresStatementLog.observe(database) { sql, arguments in seen.withLock { $0.append((sql, arguments)) } }
        defer { PostgresStatementLog.observe(database, nil) }
        let settings = UploadSettings(bucket: "pan", credentials: [Self.keys], uploadURL: "http://upload.invalid", callbackURL: "http://pan.invalid/cb")
        var logger = Logger(label: "pan-test-pg")
        logger.logLevel = .error
        let store = try await PostgresPanStore.open(url: url, poolSize: 2, timeouts: .forTests, settings: settings, logger: logger)
        // A second user, so there are rows in other partitions to skip.
        _ = try await store.createUser(NewUser(name: "other", passwordHash: "x", spaceCapacity: 1 << 20))
        try await PanStoreTests.loop(store, userName: "explained")
        // Natural name order's pages of a big directory (issue #26): the
        // listing, the learning of every 32nd child's key, and a keyset start.
        let (user, _) = try #require(try await store.credentials(forLogin: "explained"))
        let many = try await store.engine.write(lockingUser: nil) { db -> FileNode in
            let many = try await TreeRepository.directory(userId: user.id, path: "/many", on: db)
            for i in 1...300 {
                _ = try await TreeRepository.insert(
                    userId: user.id, parent: many, name: "n\(i)", kind: .directory, size: 0, mime: MimeType.directory, storeHash: nil, on: db
                )
            }
            return many
        }
        store.listings.learnAfterWalks.store(0, ordering: .relaxed)
        for code in [2, 3, 6] {
            for offset in [0, 64, 128] {
                let page = try await store.listing(
                    userId: user.id, of: NodeAddress(uuid: many.uuid, path: nil),
                    window: ListingWindow(type: nil, order: ListingOrder(code: code), limit: 20, offset: offset)
                )
                #expect(page.children.count == 20)
            }
        }
        #expect(store.listings.pagedDirectories >= 2, "no page started from learnt keys")
        // Search by name (issue #28): the trigram index, the short scan, the bin.
        for text in ["n12", "N30", "n1"] {
            let found = try await store.search(userId: user.id, try NameSearch(
                text: text, under: NodeAddress(uuid: many.uuid, path: nil), order: .nameAscending, limit: 20, offset: 0
            ))
            #expect(found.total > 0, "\(text)")
        }
        _ = try await store.search(userId: user.id, try NameSearch(text: "nothing", recycled: true))
        _ = try await store.search(userId: user.id, try NameSearch(text: "n300", offset: 40))
        await store.close()
        PostgresStatementLog.observe(database, nil)

        let partitioned = ["users", "nodes", "upload_sessions"]
        var checked = Set<String>()
        for (sql, arguments) in seen.withLock({ $0 }) {
            // Per-user statements name their user: `user_id = $n` (or the users row by id).
            guard sql.contains("user_id = $") || sql.contains("FROM users WHERE id = $") || sql.contains("UPDATE users SET") else { continue }
            guard !sql.hasPrefix("INSERT"), checked.insert(sql).inserted else { continue }
            // As the store's first executions plan it (the arguments known)…
            let custom = try await cluster.psql("EXPLAIN " + Self.inline(sql, arguments), url: url)
            // …and as a prepared statement's generic plan (PostgreSQL's choice after
            // five runs): its partitions are pruned when it starts, given the arguments.
            let literals = arguments.map(Self.literal).joined(separator: ", ")
            let generic = try await cluster.psql(
                "SET plan_cache_mode = force_generic_plan; PREPARE pan_check AS \(sql); EXPLAIN EXECUTE pan_check" + (arguments.isEmpty ? "" : "(\(literals))"),
                url: url
            )
            for plan in [custom, generic] {
                // What is read: a generic plan still lists every partition as a possible
                // target of its UPDATE or DELETE (initialised, never scanned), and
                // prunes the scans when it starts ("Subplans Removed").
                let scanned = plan.split(separator: "\n").filter {
                    let line = $0.trimmingCharacters(in: .whitespaces)
                    return !line.hasPrefix("Update on") && !line.hasPrefix("Delete on")
                }.joined(separator: "\n")
                for table in partitioned {
                    let partitions = Set(scanned.matches(of: try Regex("\\b\(table)_p[0-9]+\\b")).map { String(scanned[$0.range]) })
                    #expect(partitions.count <= 1, "\(sql)\n\(plan)")
                }
            }
        }
        #expect(checked.count >= 15, "too few per-user statements seen: \(checked.count)")
    }

    /// `$n` replaced by its argument as a literal, so EXPLAIN plans it as the store's custom plan would.
    static func inline(_ sql: String, _ arguments: [DatabaseValue]) -> String {
        var out = sql
        for (index, value) in arguments.enumerated().reversed() {
            out = out.replacingOccurrences(of: "$\(index + 1)", with: literal(value))
        }
        return out
    }

    static func literal(_ value: DatabaseValue) -> String {
        switch value {
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let v): "'" + v.replacingOccurrences(of: "'", with: "''") + "'"
        case .blob(let v): "'\\x" + v.map { String(format: "%02x", $0) }.joined() + "'::bytea"
        case .null: "NULL"
        }
    }

    @Test("two pan servers over one PostgreSQL behind nginx: concurrent uploads, one callback at both, mkdir -p, move/copy/remove; no 5xx, one node per session, fsck clean")
    func twoServers() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase(prefix: "multi")
        let dataDirectory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let (first, second, front) = (try freePort(), try freePort(), try freePort())
        let publicURL = "http://127.0.0.1:\(front)"
        let environment = [
            "PAN_DATABASE_URL": url, "PAN_DATABASE_POOL_SIZE": "4", "PAN_JWT_SECRET": "multi-secret",
            "PAN_WCS_KEYS": "\(Self.keys.accessKey):\(Self.keys.secretKey)", "PAN_PUBLIC_URL": publicURL,
            "PAN_DATA_DIR": dataDirectory, "PAN_TRUSTED_PROXIES": "127.0.0.1",
        ]
        // Both start (and migrate, under the advisory lock) at once.
        let servers = try [first, second].map { try ServerProcess.start(["serve", "--port", String($0)], environment: environment) }
        defer { servers.forEach { $0.kill() } }
        for (server, port) in zip(servers, [first, second]) { try await server.waitUntilHealthy(port: port) }
        let nginx = try NginxProcess.start(port: front, upstreamPorts: [first, second])
        defer { nginx.stop() }
        try await nginx.waitUntilProxying()

        let add = try await CLITests.run(["user", "add", "team", "--password", "secret", "--quota", "1T", "--database-url", url])
        #expect(add.status == 0, "\(add.output)")
        let front_ = Target(port: front, dataDirectory: dataDirectory, credentials: [Self.keys], callbackPath: "/v1/callback/ws/post", external: false)
        let direct = [first, second].map { Target(port: $0, dataDirectory: dataDirectory, credentials: [Self.keys], callbackPath: "/v1/callback/ws/post", external: false) }
        let session = try await front_.login("team")
        let failures = Failures()


        // 1. Bounded concurrent uploads into one directory, through nginx (so through both servers).
        let uploads = 24
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    for n in stride(from: worker, to: uploads, by: 6) {
                        let bytes = Data("file \(n) of the multi-server test".utf8)
                        let token = try await front_.post("/v1/store/token", ["name": "f\(n).txt", "path": "/shared", "hash": ContentHasher.hash(bytes)], token: session)
                        failures.check(token, "token \(n)")
                        guard let upload = token.result["token"] as? String else { continue }
                        let reply = try await front_.formUpload(token: upload, bytes: bytes, fileName: "f\(n).txt")
                        failures.check(reply, "upload \(n)")
                        if reply.json["success"] as? Bool != true { failures.add("upload \(n) refused: \(reply.text)") }
                    }
                }
            }
            try await group.waitForAll()
        }

        // 2. One signed callback delivered to both servers at once: one file.
        let bytes = Data("delivered twice".utf8)
        let hash = ContentHasher.hash(bytes)
        let token = try await front_.post("/v1/store/token", ["name": "twice.txt", "path": "/shared", "hash": hash], token: session)
        let upload = try #require(token.result["token"] as? String)
        let body = try front_.callbackBody(forToken: upload, size: Int64(bytes.count), hash: hash, fileName: "twice.txt")
        let path = "/v1/callback/ws/post"
        // Signed for the URL WCS calls: the public one, whichever server receives it.
        let authorization = CallbackSignature.authorization(url: publicURL + path, body: body, credentials: Self.keys)
        let replies = try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
            for target in direct + direct {
                group.addTask {
                    try await target.request(.POST, path, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", authorization)], body: body)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for reply in replies { failures.check(reply, "callback") }
        let uuids = Set(replies.compactMap { $0.result["uuid"] as? String })
        #expect(uuids.count == 1, "\(replies.map(\.text))")

        // 3. mkdir -p of one path through both servers at once.
        let made = try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
            for n in 0..<8 {
                group.addTask { try await direct[n % 2].post("/v1/files/createDirectory", ["path": "/deep/a/b/c"], token: session) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for reply in made { failures.check(reply, "mkdir -p") }
        #expect(Set(made.compactMap { $0.result["uuid"] as? String }).count == 1)

        // 4. Moves, copies and removes racing on the same files, through both servers.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<12 {
                group.addTask {
                    let target = direct[n % 2]
                    let file = "/shared/f\(n % 6).txt"
                    let reply = switch n % 3 {
                    case 0: try await target.post("/v1/files/move", ["path": file, "destPath": "/deep/a"], token: session)
                    case 1: try await target.post("/v1/files/copy", ["path": file, "destPath": "/deep/a/b", "conflict": "rename"], token: session)
                    default: try await target.post("/v1/files/remove", ["path": file, "recycle": n % 2 == 0], token: session)
                    }
                    // Losing a race is a clean refusal (the file moved or went away), never a 5xx.
                    failures.check(reply, "move/copy/remove \(n)", allowing: [200, 404, 409])
                }
            }
            try await group.waitForAll()
        }

        #expect(failures.all.isEmpty, "\(failures.all.joined(separator: "\n"))")
        for server in servers { #expect(!server.stderr.contains("Fatal error"), "\(server.stderr.suffix(2000))") }
        // Exactly one node per completed session, and fsck clean (through the CLI, on PostgreSQL).
        let orphans = try await cluster.psql(
            "SELECT COUNT(*) FROM upload_sessions s WHERE s.state = 'done' AND s.result_node_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.user_id = s.user_id AND n.id = s.result_node_id)",
            url: url
        )
        #expect(orphans.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("0"), "\(orphans)")
        let done = try await cluster.psql("SELECT COUNT(*) FROM upload_sessions WHERE state = 'done'", url: url)
        #expect(done.contains("\(uploads + 1)"), "\(done)")
        // With the servers' shared data directory: fsck also checks every recorded object has its bytes
        // there. Step 2's callback came without an upload (as WCS would send it), so its object alone has none.
        let fsck = try await CLITests.run(["fsck", "--database-url", url, "--data-dir", dataDirectory])
        let findings = fsck.stdout.split(separator: "\n").filter { $0.contains(": ") && !$0.hasPrefix("fsck") }
        #expect(findings.count == 1 && findings.allSatisfy { $0.contains("object-bytes") && $0.contains(hash) }, "\(fsck.output)")
        let stats = try await CLITests.run(["stats", "--database-url", url])
        #expect(stats.status == 0 && stats.stdout.contains("users"), "\(stats.output)")
    }
}

/// What went wrong in concurrent requests, collected from every task.
final class Failures: Sendable {
    private let list = Mutex<[String]>([])
    var all: [String] { list.withLock { $0 } }
    func add(_ failure: String) { list.withLock { $0.append(failure) } }

    /// A 5xx, or a status not in `allowed`, is a failure.
    @Sendable func check(_ reply: TestServer.Reply, _ what: String, allowing allowed: Set<Int> = [200]) {
        if reply.status >= 500 || !allowed.contains(reply.status) { add("\(what): \(reply.status) \(reply.text.prefix(300))") }
    }
}
