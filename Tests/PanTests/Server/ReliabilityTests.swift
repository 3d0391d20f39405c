import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanPostgres
import Logging
import SQLiteKit
import WCS

/// The short form of the crash suite (issue #8): `kill -9` a real `pan serve`
/// at random moments under an upload + callback + instant-upload load,
/// restart it, repeat; every upload that was acknowledged must be there
/// exactly once, and the database must pass fsck and integrity_check.
/// `PAN_RELIABILITY=long` runs the long form (25 rounds); `PAN_CRASH_ROUNDS=N` sets the count.
@Suite("Crash consistency under load (ReliabilityTests)")
struct ReliabilityTests {
    static let rounds = ReliabilitySettings.int("PAN_CRASH_ROUNDS", short: 4, long: 25)

    struct Server {
        let process: ChildProcess
        let base: String
    }

    func start(_ directory: String, port: Int, environment extra: [String: String] = [:]) async throws -> Server {
        let server = try ChildProcess(
            try CLITests.pan(), ["serve", "--data-dir", directory, "--port", String(port)],
            environment: CLITests.environment().merging(extra) { $1 }
        )
        let base = "http://127.0.0.1:\(port)"
        for _ in 0..<300 {
            if let reply = try? await send(.GET, base + "/healthz"), reply.status == 200 { return Server(process: server, base: base) }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.kill()
        throw TestFailure("pan serve did not start")
    }

    struct Reply {
        let status: Int
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var result: [String: Any] { json["result"] as? [String: Any] ?? [:] }
    }

    func send(_ method: HTTPMethod, _ url: String, body: Data? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await testHTTPClient.execute(request, timeout: .seconds(10))
        return Reply(status: Int(response.status.code), body: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
    }

    func json(_ object: [String: Any]) -> Data { (try? JSONSerialization.data(withJSONObject: object)) ?? Data() }

    /// One client: token, then a form upload whose reply is Pan's own callback answer,
    /// or an instant upload. Returns the paths the server acknowledged.
    func worker(_ base: String, token: String, id: Int, knownHash: String) async -> [String] {
        var acknowledged: [String] = []
        var i = 0
        while true {
            let name = "w\(id)-\(i).bin"
            i += 1
            do {
                if i % 3 == 0 {
                    let reply = try await send(.POST, base + "/v1/store/token", body: json(["name": name, "path": "/instant", "hash": knownHash]),
                                               headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")])
                    if reply.status == 200, let path = reply.result["path"] as? String, reply.result["uuid"] != nil { acknowledged.append(path) }
                    continue
                }
                let grant = try await send(.POST, base + "/v1/store/token", body: json(["name": name, "path": "/up/\(id)"]),
                                           headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")])
                guard let uploadToken = grant.result["token"] as? String else { continue }
                let boundary = "crash-\(id)-\(i)"
                var form = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n\(uploadToken)\r\n".utf8)
                form.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\n\r\nbytes of \(name)\r\n--\(boundary)--\r\n".utf8))
                let reply = try await send(.POST, base + "/file/upload", body: form, headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")])
                if reply.status == 200, reply.json["success"] as? Bool == true, let path = reply.result["path"] as? String { acknowledged.append(path) }
            } catch {
                // The server died under us: what was not acknowledged may or may not exist.
                return acknowledged
            }
        }
    }

    @Test("kill -9 during uploads and callbacks loses nothing acknowledged and corrupts nothing", arguments: TestBackend.allCases)
    func killNine(backend: TestBackend) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var environment: [String: String] = [:]
        if backend == .postgres {
            environment = [
                "PAN_DATABASE_URL": try await PostgresCluster.shared().createDatabase(prefix: "crash"), "PAN_DATABASE_POOL_SIZE": "4",
                "PAN_JWT_SECRET": "crash-secret", "PAN_WCS_KEYS": "crash-ak:crash-sk",
            ]
        }
        let add = try await CLITests.run(
            ["user", "add", "crash", "--password", "pw", "--data-dir", directory] + (environment["PAN_DATABASE_URL"].map { ["--database-url", $0] } ?? [])
        )
        try #require(add.status == 0, "\(add)")
        let knownHash = ContentHasher.hash(Data("seed".utf8))
        let url = environment["PAN_DATABASE_URL"]
        @Sendable func write<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
            try await Self.onEngine(directory: directory, url: url) { engine in try await engine.write(lockingUser: nil, body) }
        }
        _ = try await write { db in
            try await StoreObjectRepository.upsert(hash: knownHash, size: 4, mime: "", bucket: "pan", objectKey: "seed", on: db)
        }
        let port = try freePort()
        var acknowledged: [String] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<Self.rounds {
            let server = try await start(directory, port: port, environment: environment)
            let login = try await send(.POST, server.base + "/v1/user/login", body: json(["value": "crash", "password": "pw"]),
                                       headers: [("Content-Type", "application/json")])
            let token = try #require(login.json["token"] as? String)
            // PostgreSQL here commits each upload with its own fsync: a longer window gets a comparable load.
            let delay = backend == .sqlite ? Int.random(in: 400...1200, using: &generator) : Int.random(in: 1500...3000, using: &generator)
            let pid = server.process.processIdentifier
            let killer = Task {
                try await Task.sleep(for: .milliseconds(delay))
                kill(pid, SIGKILL)
            }
            let paths = await withTaskGroup(of: [String].self) { group in
                for id in 0..<6 { group.addTask { await worker(server.base, token: token, id: id, knownHash: knownHash) } }
                return await group.reduce(into: []) { $0.append(contentsOf: $1) }
            }
            try await killer.value
            _ = await server.process.waitForExit(timeout: 30)
            acknowledged.append(contentsOf: paths)
        }
        print("crash: \(Self.rounds) kill -9 rounds, \(acknowledged.count) acknowledged uploads checked")
        // The load must really have run (a busy machine, with the other suites in
        // parallel, acknowledges fewer per round than a quiet one).
        #expect(acknowledged.count > 10, "the load acknowledged \(acknowledged.count) uploads")
        // A last restart runs the migrations/recovery path once more, then the checks.
        let server = try await start(directory, port: port, environment: environment)
        server.process.signal(SIGTERM)
        if await !server.process.waitForExit(timeout: 60) { server.process.kill() }
        let paths = acknowledged
        let found = try await write { db in
            var counts: [Int64] = []
            for path in paths {
                counts.append(try await db.scalar("SELECT COUNT(*) FROM nodes WHERE path_id = ? AND state = 0", PanPath.pathId(path)) ?? 0)
            }
            return counts
        }
        let missing = zip(paths, found).filter { $0.1 != 1 }
        #expect(missing.isEmpty, "acknowledged but not present exactly once: \(missing.prefix(5))")
        let findings = try await write { db in try await TreeChecker.check(on: db) }
        #expect(findings.isEmpty, "fsck: \(findings)")
        if backend == .sqlite {
            let integrity = try await write { db in try await db.queryRow("PRAGMA integrity_check")?.optionalString("integrity_check") }
            #expect(integrity == "ok")
        }
    }

    /// The engine the servers used, opened from the test (SQLite's file, or the PostgreSQL database).
    static func onEngine<T: Sendable>(directory: String, url: String?, _ body: (any SQLEngine) async throws -> T) async throws -> T {
        guard let url else {
            return try await body(SQLiteEngine(database: try PanDatabase.open(dataDirectory: directory, readerCount: 1)))
        }
        var logger = Logger(label: "pan-test-crash")
        logger.logLevel = .error
        let engine = try PostgresEngine(url: url, poolSize: 1, timeouts: .forTests, logger: logger)
        engine.startRunning()
        do {
            let result = try await body(engine)
            await engine.close()
            return result
        } catch {
            await engine.close()
            throw error
        }
    }
}
