import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanHTTPSupport
import WCS

/// Helpers for the share-link tests (issue #27, docs/api.md §8): the owner's API, the
/// public API, and the download links, all over HTTP against a real server.
enum ShareClient {
    typealias Object = [String: Any]

    /// Uploads `bytes` to `path/name` (local endpoint) and returns the node as `files/get` shows it.
    @discardableResult
    static func put(_ server: TestServer, _ token: String, _ bytes: Data, name: String, path: String = "/") async throws -> Node {
        _ = try await InstantUploadProofTests.upload(server, token, bytes, name: name, path: path)
        return try await node(server, token, path == "/" ? "/\(name)" : "\(path)/\(name)")
    }

    struct Node {
        let uuid: String
        let path: String
        /// The content hash (files only).
        let storeId: String?
        /// The storage key, read from the owner's `/dl/` address (files only).
        let objectKey: String?
    }

    static func node(_ server: TestServer, _ token: String, _ path: String) async throws -> Node {
        let reply = try await server.post("/v1/files/get", ["path": path], token: token)
        #expect(reply.status == 200, "files/get \(path): \(reply.text)")
        let uuid = try #require(reply.result["uuid"] as? String, "\(reply.text)")
        var objectKey: String?
        if let address = reply.result["downloadAddress"] as? String, let range = address.range(of: "/dl/") {
            let encoded = address[range.upperBound...].prefix { $0 != "?" }
            objectKey = Base64URL.decode(String(encoded)).map { String(decoding: $0, as: UTF8.self) }
        }
        return Node(uuid: uuid, path: path, storeId: reply.result["storeId"] as? String, objectKey: objectKey)
    }

    static func mkdir(_ server: TestServer, _ token: String, _ path: String) async throws {
        let parent = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        let reply = try await server.post("/v1/files/createDirectory", ["path": parent, "name": name], token: token)
        #expect(reply.status == 200, "createDirectory \(path): \(reply.text)")
    }

    // MARK: Owner's API

    /// `share/create`, expecting success: the share object.
    static func create(_ server: TestServer, _ token: String, _ body: Object) async throws -> Object {
        let reply = try await server.post("/v1/share/create", body, token: token)
        #expect(reply.status == 200, "share/create \(body): \(reply.text)")
        let share = reply.result
        _ = try #require(share["id"] as? String, "share/create: \(reply.text)")
        return share
    }

    static func id(_ share: Object) -> String { share["id"] as? String ?? "" }

    /// `share/list` of the caller (all of them, one page of 100).
    static func list(_ server: TestServer, _ token: String, _ extra: Object = [:]) async throws -> [Object] {
        let reply = try await server.post("/v1/share/list", ["pageSize": 100].merging(extra) { $1 }, token: token)
        #expect(reply.status == 200, "share/list: \(reply.text)")
        return reply.result["list"] as? [Object] ?? []
    }

    /// The caller's share with this id as `share/list` shows it, or nil.
    static func listed(_ server: TestServer, _ token: String, _ id: String) async throws -> Object? {
        try await list(server, token).first { $0["id"] as? String == id }
    }

    static func int(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }

    // MARK: Public API

    static func open(_ server: TestServer, _ id: String, password: String? = nil) async throws -> TestServer.Reply {
        var body: Object = ["id": id]
        if let password { body["password"] = password }
        return try await server.post("/v1/share/open", body)
    }

    /// `share/open`, expecting success.
    static func opened(_ server: TestServer, _ id: String, password: String? = nil) async throws -> Object {
        let reply = try await open(server, id, password: password)
        #expect(reply.status == 200, "share/open \(id): \(reply.text)")
        _ = try #require(reply.result["grant"] as? String, "share/open: \(reply.text)")
        return reply.result
    }

    static func page(_ server: TestServer, _ id: String, grant: Any?, path: Any? = nil, _ extra: Object = [:]) async throws -> TestServer.Reply {
        var body: Object = ["id": id]
        if let grant { body["grant"] = grant }
        if let path { body["path"] = path }
        return try await server.post("/v1/share/page", body.merging(extra) { $1 })
    }

    /// The entries of a `share/page` reply by name.
    static func entries(_ reply: TestServer.Reply) -> [String: Object] {
        var result: [String: Object] = [:]
        for entry in reply.result["list"] as? [Object] ?? [] { result[entry["name"] as? String ?? ""] = entry }
        return result
    }

    /// A public URL's path and query (`/s/…`), for `server.request`.
    static func relative(_ url: String) -> String {
        guard let range = url.range(of: "/s/") else { return url }
        return String(url[range.lowerBound...])
    }

    static func get(_ server: TestServer, _ url: String, range: String? = nil) async throws -> TestServer.Reply {
        var headers: HTTPFields = [:]
        if let range { headers[.range] = range }
        return try await server.request(.get, relative(url), headers: headers)
    }

    /// The same download link with `uuid` in place of the one in its path.
    static func swapUUID(_ url: String, to uuid: String) -> String {
        let relative = relative(url)
        guard let f = relative.range(of: "/f/") else { return relative }
        let rest = relative[f.upperBound...]
        let end = rest.firstIndex(of: "?") ?? rest.endIndex
        return String(relative[..<f.upperBound]) + uuid + String(rest[end...])
    }

    /// The same download link with another share id in its path.
    static func swapShare(_ url: String, to id: String) -> String {
        let relative = relative(url)
        guard let f = relative.range(of: "/f/") else { return relative }
        return "/s/" + id + String(relative[f.lowerBound...])
    }

    /// The query items of a link.
    static func query(_ url: String) -> [String: String] {
        var result: [String: String] = [:]
        for item in URLComponents(string: url)?.queryItems ?? [] { result[item.name] = item.value ?? "" }
        return result
    }

    /// A link with one query item replaced (or added).
    static func withQuery(_ url: String, _ name: String, _ value: String) -> String {
        var components = URLComponents(string: url)!
        var items = components.queryItems ?? []
        items.removeAll { $0.name == name }
        items.append(URLQueryItem(name: name, value: value))
        components.queryItems = items
        return relative(components.string!)
    }

    /// A refusal: status and code.
    static func expectRefused(
        _ reply: TestServer.Reply, _ status: Int, _ code: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(reply.status == status && reply.code == code, "\(what): expected \(status) \(code), got \(reply.status) \(reply.text.prefix(300))", sourceLocation: sourceLocation)
    }

    /// Random bytes of a given size.
    static func bytes(_ count: Int, seed: UInt8 = 7) -> Data {
        var generator = SplitMix(seed: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(count))
        return Data((0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
