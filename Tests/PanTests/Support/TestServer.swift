import Foundation
import HTTPTypes
import Hummingbird
import AsyncHTTPClient
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Logging
import NIOCore
@testable import PanCore
@testable import PanSQLite
@testable import PanServer
@testable import PanHTTPSupport
@testable import PanPostgres
import SQLiteKit
import WCS

/// A real Pan on a real port with a real SQLite file in a fresh temp directory.
struct TestServer {
    let services: PanServices
    let port: Int
    let dataDirectory: String

    var configuration: PanConfiguration { services.configuration }
    /// The SQLite pool (SQLite-only tests); `read`/`write` work on either engine.
    var database: DatabasePool { (services.store as! SQLitePanStore).database }

    /// A read transaction on the server's own engine, for assertions about what is stored.
    func read<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        if let store = services.store as? PostgresPanStore { return try await store.engine.read(body) }
        return try await (services.store as! SQLitePanStore).engine.read(body)
    }

    /// The store's kept listing facts (ListingTests).
    var listings: ListingCache {
        if let store = services.store as? PostgresPanStore { return store.listings }
        return (services.store as! SQLitePanStore).listings
    }

    /// A write transaction on the server's own engine (setting up odd states).
    func write<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        if let store = services.store as? PostgresPanStore { return try await store.engine.write(lockingUser: nil, body) }
        return try await (services.store as! SQLitePanStore).engine.write(lockingUser: nil, body)
    }

    struct Reply {
        let status: Int
        let headers: HTTPFields
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var result: [String: Any] { json["result"] as? [String: Any] ?? [:] }
        var code: String? { json["code"] as? String }
        var success: Bool? { json["success"] as? Bool }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func request(
        _ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], body: Data? = nil,
        client: HTTPClient = testHTTPClient
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(uri)")
        request.method = HTTPMethod(rawValue: method.rawValue)
        for field in headers { request.headers.add(name: field.name.canonicalName, value: field.value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return Reply(status: Int(response.status.code), headers: fields, body: Data(buffer: bytes))
    }

    /// POST a JSON object (or raw text) to the API, optionally with a bearer token.
    func post(
        _ uri: String, _ object: [String: Any]? = nil, raw: String? = nil, token: String? = nil, headers extra: HTTPFields = [:],
        client: HTTPClient = testHTTPClient
    ) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers.append(contentsOf: extra)
        let body: Data? = if let raw { Data(raw.utf8) } else if let object { try JSONSerialization.data(withJSONObject: object) } else { nil }
        return try await request(.post, uri, headers: headers, body: body, client: client)
    }

    @discardableResult
    func createUser(_ name: String, password: String = "secret", capacity: Int64 = 1 << 30, phone: String? = nil) async throws -> User {
        let hash = try services.passwords.hash(plainPassword: password)
        return try await services.store.createUser(NewUser(name: name, phone: phone, passwordHash: hash, spaceCapacity: capacity))
    }

    /// Logs in over HTTP with the MD5 form most clients send.
    func login(_ name: String, password: String = "secret") async throws -> String {
        let reply = try await post("/v1/user/login", ["value": name, "password": PasswordHasher.md5Hex(password)])
        guard reply.status == 200, let token = reply.json["token"] as? String else {
            throw TestFailure("login failed: \(reply.status) \(reply.text)")
        }
        return token
    }

    /// A user and a session token in one step.
    func user(_ name: String, capacity: Int64 = 1 << 30) async throws -> (User, String) {
        let user = try await createUser(name, capacity: capacity)
        return (user, try await login(name))
    }

    /// Sends a callback exactly as WCS would for a token's session: the put-policy's
    /// callbackBody substituted, form-wrapped, signed with `wcs.md` §3's formula.
    func callback(
        forToken token: String, size: Int64, hash: String, fileName: String = "upload.bin",
        mimeType: String = "application/octet-stream", signWith credentials: Credentials? = nil,
        path: String? = nil, mutate: ((inout [String: String]) -> Void)? = nil
    ) async throws -> Reply {
        guard case .success(let policy) = UploadToken.verify(token, credentials: services.credentials) else {
            throw TestFailure("token does not verify")
        }
        var values: [String: String] = [
            "fsize": String(size), "hash": hash, "key": policy.scopeKey ?? "", "mimeType": mimeType, "ip": "127.0.0.1",
            "avinfo": "", "bucket": policy.bucket, "url": Base64URL.encode("http://example.invalid/\(policy.scopeKey ?? "")"),
            "fname": fileName,
        ]
        mutate?(&values)
        let substituted = MagicVariables.substitute(policy.callbackBody ?? "", values: values)
        return try await signedCallback(body: MagicVariables.wireBody(for: substituted), signWith: credentials, path: path)
    }

    func signedCallback(body: Data, signWith credentials: Credentials? = nil, path: String? = nil) async throws -> Reply {
        let path = path ?? configuration.callbackPath
        let url = configuration.effectivePublicBaseURL + path
        let pair = credentials ?? services.credentials[0]
        let headers: HTTPFields = [
            .contentType: "application/x-www-form-urlencoded",
            .authorization: CallbackSignature.authorization(url: url, body: body, credentials: pair),
        ]
        return try await request(.post, path, headers: headers, body: body)
    }

    /// Rows in a table, for "nothing was written" checks.
    func count(_ table: String, _ condition: String = "TRUE") async throws -> Int64 {
        try await read { db in try await db.scalar("SELECT COUNT(*) FROM \(table) WHERE \(condition)") ?? 0 }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Ports handed out in this process: never the same twice, so two tests
/// starting at once cannot end up talking to each other's server.
private let handedOutPorts = Mutex<Set<Int>>([])

/// A port the kernel says is free now, so the public URL (and the callback
/// URL inside tokens) can name it before the server starts.
func freePort() throws -> Int {
    for _ in 0..<100 {
        let port = try kernelFreePort()
        let fresh = handedOutPorts.withLock { ports in ports.insert(port).inserted }
        if fresh { return port }
    }
    throw TestFailure("no free port")
}

private func kernelFreePort() throws -> Int {
    let (fd, port) = try boundLoopbackSocket()
    close(fd)
    return port
}

/// A TCP socket bound to 127.0.0.1 on a port the kernel picks: the descriptor and the port.
func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { close(fd); throw TestFailure("bind failed") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("pan-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs `body` against a live server; the data directory is removed afterwards.
func withServer(
    backend: TestBackend = .sqlite,
    configure: (inout PanConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (TestServer) async throws -> Void
) async throws {
    try await withOpsServer(backend: backend, configure: configure) { server, _ in try await body(server) }
}

/// One client for every test: real HTTP, no redirects followed (tests look at 303s).
let testHTTPClient = HTTPClient(
    eventLoopGroupProvider: .singleton,
    // `connect` also bounds the wait for a pooled connection: 50 concurrent requests on a
    // busy machine (the suites run in parallel, on two engines) queue longer than 5 s.
    configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(30)))
)
