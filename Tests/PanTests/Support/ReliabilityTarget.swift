import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
import SQLiteKit
import WCS

/// Knobs of the reliability suites (issue #8), all from the environment, so
/// one binary runs the short CI form and the long on-demand form:
///
/// - `PAN_RELIABILITY=long` — the long form (more rounds, longer loads, more fuzz cases);
/// - `PAN_FUZZ_SEED=N` — replay a fuzz run (the seed is printed at every run);
/// - `PAN_FUZZ_COUNT=N`, `PAN_CONCURRENCY_SECONDS=S`, `PAN_CRASH_ROUNDS=N`, `PAN_REQUEST_TIMEOUT=S` — override one bound;
/// - `PAN_BINARY=/path/to/pan` — run the fuzz and concurrency suites against that
///   `pan serve` subprocess (e.g. an AddressSanitizer build) instead of in-process.
enum ReliabilitySettings {
    static let environment = ProcessInfo.processInfo.environment
    static var isLong: Bool { environment["PAN_RELIABILITY"]?.lowercased() == "long" }

    static func int(_ name: String, short: Int, long: Int) -> Int {
        if let text = environment[name], let value = Int(text), value > 0 { return value }
        return isLong ? long : short
    }

    /// Seconds one request may take before it counts as a hang (`PAN_REQUEST_TIMEOUT`, default 30).
    static var requestTimeout: Int64 { Int64(int("PAN_REQUEST_TIMEOUT", short: 30, long: 30)) }

    static var externalBinary: String? {
        guard let path = environment["PAN_BINARY"], !path.isEmpty else { return nil }
        return path
    }
}

/// A server a reliability suite talks to over real HTTP: the in-process one of
/// `withServer`, or (with `PAN_BINARY`) a `pan serve` subprocess.
struct Target: Sendable {
    typealias Reply = TestServer.Reply
    let port: Int
    let dataDirectory: String
    let credentials: [Credentials]
    let callbackPath: String
    let external: Bool
    var base: String { "http://127.0.0.1:\(port)" }

    /// One request; `timeout` bounds it, so a hung server fails the test instead of hanging it.
    func request(_ method: HTTPMethod, _ uri: String, headers: [(String, String)] = [], body: Data? = nil, timeout: Int64 = ReliabilitySettings.requestTimeout) async throws -> Reply {
        var request = HTTPClientRequest(url: base + uri)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await reliabilityHTTPClient.execute(request, timeout: .seconds(timeout))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return Reply(status: Int(response.status.code), headers: fields, body: Data(buffer: bytes))
    }

    func post(_ uri: String, _ object: [String: Any], token: String? = nil) async throws -> Reply {
        var headers = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try await request(.POST, uri, headers: headers, body: try JSONSerialization.data(withJSONObject: object))
    }

    func login(_ name: String, password: String = "secret") async throws -> String {
        let reply = try await post("/v1/user/login", ["value": name, "password": PasswordHasher.md5Hex(password)])
        guard reply.status == 200, let token = reply.json["token"] as? String else {
            throw TestFailure("login \(name) failed: \(reply.status) \(reply.text)")
        }
        return token
    }

    /// The callback body WCS would send for an upload token (`wcs.md` §3), not yet signed.
    func callbackBody(forToken token: String, size: Int64, hash: String, fileName: String = "upload.bin") throws -> Data {
        guard case .success(let policy) = UploadToken.verify(token, credentials: credentials) else {
            throw TestFailure("token does not verify")
        }
        let values: [String: String] = [
            "fsize": String(size), "hash": hash, "key": policy.scopeKey ?? "", "mimeType": "application/octet-stream",
            "ip": "127.0.0.1", "avinfo": "", "bucket": policy.bucket,
            "url": Base64URL.encode("http://example.invalid/\(policy.scopeKey ?? "")"), "fname": fileName,
        ]
        return MagicVariables.wireBody(for: MagicVariables.substitute(policy.callbackBody ?? "", values: values))
    }

    /// POSTs a callback body signed as WCS signs it (`wcs.md` §3).
    func signedCallback(body: Data, path: String? = nil) async throws -> Reply {
        let path = path ?? callbackPath
        let authorization = CallbackSignature.authorization(url: base + path, body: body, credentials: credentials[0])
        return try await request(.POST, path, headers: [
            ("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", authorization),
        ], body: body)
    }

    static func multipart(boundary: String, parts: [(name: String, fileName: String?, value: Data)]) -> Data {
        var body = Data()
        for part in parts {
            var disposition = "Content-Disposition: form-data; name=\"\(part.name)\""
            if let fileName = part.fileName { disposition += "; filename=\"\(fileName)\"\r\nContent-Type: application/octet-stream" }
            body.append(Data("--\(boundary)\r\n\(disposition)\r\n\r\n".utf8))
            body.append(part.value)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return body
    }

    /// A WCS form upload of `bytes` with an upload token; the reply is Pan's callback answer.
    func formUpload(token: String, bytes: Data, fileName: String) async throws -> Reply {
        let boundary = "rel-\(UUID().uuidString)"
        let body = Self.multipart(boundary: boundary, parts: [("token", nil, Data(token.utf8)), ("file", fileName, bytes)])
        return try await request(.POST, "/file/upload", headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: body)
    }
}

/// The reliability suites' own client: up to 64 connections per server (the shared
/// client's 8 would queue two dozen concurrent clients into pool timeouts).
let reliabilityHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(30)))
    configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// What a server is seeded with before it starts.
struct TargetSeed: Sendable {
    var users: [(name: String, capacity: Int64)] = []
    /// Store objects that exist already (instant uploads find them).
    var objects: [(hash: String, size: Int64)] = []

    func apply(on db: Connection) async throws {
        let passwords = PasswordHasher(rounds: 1_000)
        for user in users {
            try await UserRepository.create(.init(name: user.name, passwordHash: try passwords.hash(plainPassword: "secret"), spaceCapacity: user.capacity), on: db)
        }
        for object in objects {
            try await StoreObjectRepository.upsert(hash: object.hash, size: object.size, mime: "", bucket: "pan", objectKey: "seed-\(object.hash)", on: db)
        }
    }
}

/// Every invariant that must hold after any load: fsck (tree, intervals, names,
/// reference counts, each user's spaceUsed, sessions) and SQLite's own integrity check.
func consistencyFindings(_ database: DatabasePool) async throws -> [String] {
    try await database.read { db in
        var findings = try await TreeChecker.check(on: db).map(\.description)
        let integrity = try await db.query("PRAGMA integrity_check").map { try $0.string("integrity_check") }
        if integrity != ["ok"] { findings.append("integrity_check: \(integrity.prefix(5))") }
        return findings
    }
}

/// Runs `body` against a seeded server, then checks the database. In-process by
/// default; with `PAN_BINARY` a `pan serve` subprocess, whose standard error is
/// scanned for sanitizer reports and which must exit 0 on SIGTERM.
func withTarget(_ seed: TargetSeed, _ body: @escaping @Sendable (Target) async throws -> Void) async throws {
    if let binary = ReliabilitySettings.externalBinary {
        try await withExternalTarget(binary: binary, seed, body)
        return
    }
    // Seeded objects belong to no one's tree: only the original server's rule makes them instant.
    try await withServer(configure: { if !seed.objects.isEmpty { $0.instantUpload = .global } }) { server in
        try await server.database.write { db in try await seed.apply(on: db) }
        let target = Target(
            port: server.port, dataDirectory: server.dataDirectory, credentials: server.services.credentials,
            callbackPath: server.configuration.callbackPath, external: false
        )
        try await body(target)
        let findings = try await consistencyFindings(server.database)
        #expect(findings.isEmpty, "after the load: \(findings.prefix(10))")
    }
}

private func withExternalTarget(binary: String, _ seed: TargetSeed, _ body: @escaping @Sendable (Target) async throws -> Void) async throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
        let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)
        try await database.write { db in try await seed.apply(on: db) }
    }
    let credentials = [Credentials(accessKey: "reliability-ak", secretKey: "reliability-sk-\(UUID().uuidString)")]
    let port = try freePort()
    let stderrPath = directory + "/server.stderr"
    var environment = CLITests.environment()
    environment["PAN_WCS_KEYS"] = "\(credentials[0].accessKey):\(credentials[0].secretKey)"
    environment["PAN_SHUTDOWN_TIMEOUT"] = "20"
    if !seed.objects.isEmpty { environment["PAN_INSTANT_UPLOAD"] = "global" }
    environment["ASAN_OPTIONS"] = ProcessInfo.processInfo.environment["ASAN_OPTIONS"] ?? "detect_leaks=0:abort_on_error=0"
    let process = try ChildProcess(
        binary, ["serve", "--data-dir", directory, "--host", "127.0.0.1", "--port", String(port)],
        environment: environment, stderr: .file(stderrPath)
    )
    func serverErrors() -> String {
        let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return String(text.suffix(8000))
    }
    let target = Target(port: port, dataDirectory: directory, credentials: credentials, callbackPath: "/v1/callback/ws/post", external: true)
    var ready = false
    for _ in 0..<600 where process.isRunning {
        if (try? await target.request(.GET, "/healthz", timeout: 2))?.status == 200 { ready = true; break }
        try await Task.sleep(for: .milliseconds(50))
    }
    guard ready else {
        process.kill()
        throw TestFailure("\(binary) serve did not start: \(serverErrors())")
    }
    var failure: (any Error)?
    do { try await body(target) } catch { failure = error }
    process.signal(SIGTERM)
    if await !process.waitForExit(timeout: 30) {
        process.kill()
        Issue.record("pan serve did not stop within 30 s of SIGTERM")
    }
    process.waitUntilExit()
    let log = serverErrors()
    #expect(process.exitedNormally && process.terminationStatus == 0,
            "pan serve ended with \(process.exitedNormally ? "exit" : "signal") \(process.terminationStatus): \(log)")
    for marker in ["AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:", "Fatal error", "SUMMARY:"] {
        #expect(!log.contains(marker), "the server's standard error reports \(marker): \(log)")
    }
    if let failure { throw failure }
    let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)
    let findings = try await consistencyFindings(database)
    #expect(findings.isEmpty, "after the load: \(findings.prefix(10))")
}

/// `api.md` §2: every Pan reply is `{status, success, code, message, result[, token]}`,
/// `status` equal to the HTTP status, `code` machine-readable (`OK` exactly on success).
/// Returns what is wrong, or nil.
func envelopeProblem(_ reply: TestServer.Reply) -> String? {
    guard let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] else {
        return "not a JSON object: \(reply.status) \(reply.text.prefix(200))"
    }
    guard let status = object["status"] as? Int, status == reply.status else { return "status field ≠ HTTP \(reply.status): \(reply.text.prefix(200))" }
    guard let success = object["success"] as? Bool else { return "no success flag: \(reply.text.prefix(200))" }
    guard let code = object["code"] as? String, !code.isEmpty,
          code.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") })
    else { return "no machine-readable code: \(reply.text.prefix(200))" }
    guard object["message"] is String, object.keys.contains("result") else { return "no message or result: \(reply.text.prefix(200))" }
    if success != (code == "OK") { return "success \(success) with code \(code)" }
    if success && reply.status != 200 { return "success with HTTP \(reply.status)" }
    return nil
}

/// The local WCS endpoint's error shape: `{"code": <the HTTP status>, "message": "…"}`.
func wcsErrorProblem(_ reply: TestServer.Reply) -> String? {
    guard let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] else {
        return "not a JSON object: \(reply.status) \(reply.text.prefix(200))"
    }
    guard let code = object["code"] as? Int, code == reply.status, object["message"] is String, object.count == 2 else {
        return "not {code,message} with code = HTTP \(reply.status): \(reply.text.prefix(200))"
    }
    return nil
}

/// Replies must never leak a busy or locked database.
func mentionsBusyDatabase(_ reply: TestServer.Reply) -> Bool {
    let text = reply.text.lowercased()
    return text.contains("database is locked") || text.contains("sqlite_busy") || text.contains("database is busy") || text.contains("sqlite_locked")
}
