import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
import WCS

/// Security issue #14, findings 3–6: what an unauthenticated or hostile
/// uploader can make the server hold — memory, disk, connections, quota.
@Suite("Upload hardening: bounded forms, pre-token bytes, idle connections, pending sessions")
struct UploadHardeningTests {
    static func form(boundary: String, parts: [(headers: String, body: Data)]) -> Data {
        var body = Data()
        for part in parts {
            body.append(Data("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8))
            body.append(part.body)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return body
    }

    func post(_ server: TestServer, boundary: String, _ body: Data) async throws -> TestServer.Reply {
        try await server.request(.post, "/file/upload", headers: [.contentType: "multipart/form-data; boundary=\(boundary)"], body: body)
    }

    @Test("a 4 MiB part header and a 65-part form are refused with 400 before any token check, in linear time", arguments: TestBackend.allCases)
    func multipartBounds(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let boundary = "bound"
            let huge = "Content-Disposition: form-data; name=\"file\"; filename=\"" + String(repeating: "a", count: 4 << 20) + "\""
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await post(server, boundary: boundary, Self.form(boundary: boundary, parts: [(huge, Data("x".utf8))]))
            #expect(reply.status == 400, "\(reply.text.prefix(300))")
            #expect(reply.text.contains("headers"), "\(reply.text.prefix(300))")
            // Generous: the suites run in parallel on two cores (a quadratic parse would take hours).
            #expect(clock.now - start < .seconds(30), "a bounded header is cheap to refuse")
            let many = (0..<65).map { (headers: "Content-Disposition: form-data; name=\"x:f\($0)\"", body: Data("v".utf8)) }
            let tooMany = try await post(server, boundary: boundary, Self.form(boundary: boundary, parts: many))
            #expect(tooMany.status == 400 && tooMany.text.contains("parts"), "\(tooMany.text)")
            #expect(tooMany.json["message"] is String, "WCS errors carry a message")
        }
    }

    @Test("file bytes before the token: the Java SDK's order works for small files, a large unauthenticated part is 413 and nothing stays in tmp", arguments: TestBackend.allCases)
    func preauthBytes(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.preauthUploadBytes = 64 * 1024 }) { server in
            let (_, session) = try await server.user("java")
            for (size, name) in [(1000, "small.bin"), (200_000, "large.bin")] {
                let grant = try await server.post("/v1/store/token", ["name": name, "path": "/"], token: session)
                let token = try #require(grant.result["token"] as? String)
                let reply = try await server.formUpload(token: token, bytes: vectorBytes(size), fileName: name, fileFirst: true)
                if size == 1000 {
                    #expect(reply.status == 200, "\(reply.text)")
                } else {
                    #expect(reply.status == 413, "\(reply.text)")
                    // Token first, the same bytes are fine.
                    let again = try await server.formUpload(token: token, bytes: vectorBytes(size), fileName: name)
                    #expect(again.status == 200, "\(again.text)")
                }
            }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: server.services.objectStore.temporaryDirectory)
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }

    @Test("idle connections are closed: unfinished headers, and a body that stops coming", arguments: TestBackend.allCases)
    func idleTimeout(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.idleTimeout = 1 }) { server in
            let clock = ContinuousClock()
            for (label, bytes) in [
                ("unfinished headers", "POST /v1/user/info HTTP/1.1\r\nHost: x\r\nX-Slow: "),
                ("stalled body", "POST /file/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n--b\r\n"),
                ("idle keep-alive", ""),
            ] {
                let start = clock.now
                let closed = try await RawConnection.closesAfterSending(port: server.port, Data(bytes.utf8), within: 8)
                #expect(closed, "\(label): the server kept the connection open")
                #expect(clock.now - start >= .milliseconds(900), "\(label): closed before the timeout")
            }
            // A connection that keeps talking is not cut.
            #expect(try await server.request(.get, "/healthz").status == 200)
        }
    }

    @Test("pending upload sessions are capped per user, and their declared sizes count against the quota", arguments: TestBackend.allCases)
    func pendingSessions(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.maxPendingUploads = 3 }) { server in
            let (_, session) = try await server.user("pending", capacity: 1_000_000)
            let (_, other) = try await server.user("neighbour")
            // Quota: two declared 400 KB uploads fit in 1 MB, a third does not while they are pending.
            for name in ["a", "b"] {
                #expect(try await server.post("/v1/store/token", ["name": name, "path": "/", "size": 400_000], token: session).result["token"] is String)
            }
            let over = try await server.post("/v1/store/token", ["name": "c", "path": "/", "size": 400_000], token: session)
            #expect(over.code == "QUOTA_EXCEEDED", "\(over.text)")
            _ = try await server.post("/v1/store/token", ["name": "d", "path": "/"], token: session)
            let capped = try await server.post("/v1/store/token", ["name": "e", "path": "/"], token: session)
            #expect(capped.status == 429 && capped.code == "TOO_MANY_PENDING_UPLOADS", "\(capped.text)")
            // Another user is not affected.
            #expect(try await server.post("/v1/store/token", ["name": "x", "path": "/"], token: other).result["token"] is String)
            // Expired sessions free their place.
            _ = try await server.write { db in try await db.run("UPDATE upload_sessions SET deadline = 0") }
            #expect(try await server.post("/v1/store/token", ["name": "f", "path": "/", "size": 900_000], token: session).result["token"] is String)
        }
    }

    /// The per-user pending counters (issue #18) run high, never low: every way
    /// a session leaves `pending` through a callback takes it off, the sweeper's
    /// bulk expiry does not, and a token that finds the bound at the cap counts
    /// exactly, refuses only what the exact count refuses, and sets the bound back.
    @Test("pending-upload counters: kept by token and callback, high after a sweep, reset by the exact count, low caught by fsck", arguments: TestBackend.allCases)
    func pendingCounters(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.maxPendingUploads = 4 }) { server in
            let (user, session) = try await server.user("counted", capacity: 10_000_000)
            @Sendable func counters() async throws -> [Int64] {
                try await server.read { db in
                    let row = try await db.queryRow("SELECT pending_uploads, pending_bytes FROM users WHERE id = ?", user.id)!
                    return [try row.int64("pending_uploads"), try row.int64("pending_bytes")]
                }
            }
            func token(_ name: String, size: Int? = nil) async throws -> String {
                var body: [String: Any] = ["name": name, "path": "/in"]
                if let size { body["size"] = size }
                let reply = try await server.post("/v1/store/token", body, token: session)
                return try #require(reply.result["token"] as? String, "\(reply.text)")
            }
            let plain = try await token("a")
            let sized = try await token("b", size: 1_000)
            let tooBig = try await token("c", size: 10)
            #expect(try await counters() == [3, 1_010])
            // Done: off the counters, with its declared size.
            let content = Data("one thousand".utf8)
            #expect(try await server.callback(forToken: sized, size: 12, hash: ContentHasher.hash(content)).status == 200)
            #expect(try await counters() == [2, 10])
            // Refused (larger than the session's limit): off too.
            let refused = try await server.callback(forToken: tooBig, size: 11, hash: ContentHasher.hash(Data("eleven byte".utf8)))
            #expect(refused.json["success"] as? Bool == false)
            #expect(try await counters() == [1, 0])
            // A retried callback changes nothing.
            _ = try await server.callback(forToken: sized, size: 12, hash: ContentHasher.hash(content))
            #expect(try await counters() == [1, 0])
            _ = plain
            // Three more reach the cap of 4; the fifth is refused.
            for name in ["d", "e", "f"] { _ = try await token(name) }
            #expect(try await counters() == [4, 0])
            #expect(try await server.post("/v1/store/token", ["name": "g", "path": "/in"], token: session).code == "TOO_MANY_PENDING_UPLOADS")
            // The sweeper expires them all and leaves the bound high: fsck is content with that…
            _ = try await server.write { db in
                try await db.run("UPDATE upload_sessions SET deadline = 0 WHERE user_id = ?", user.id)
                return try await UploadSessionRepository.expire(before: 1, on: db)
            }
            #expect(try await counters() == [4, 0])
            #expect(try await server.read { db in try await TreeChecker.check(on: db) }.isEmpty)
            // …and the next token, finding the bound at the cap, counts exactly: allowed, and the bound is reset.
            _ = try await token("h")
            #expect(try await counters() == [1, 0])
            // A bound lower than the sessions would let a user past the cap: fsck finds it, repair fixes it.
            _ = try await server.write { db in try await db.run("UPDATE users SET pending_uploads = 0 WHERE id = ?", user.id) }
            let findings = try await server.read { db in try await TreeChecker.check(on: db) }
            #expect(findings.map(\.check) == ["pending-counters"], "\(findings)")
            let repaired = try await server.write { db in try await TreeChecker.repair(on: db) }
            #expect(repaired.contains { $0.contains("pending uploads") }, "\(repaired)")
            #expect(try await counters() == [1, 0])
        }
    }
}
