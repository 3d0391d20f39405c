import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// `/dav/`, method by method, against a real server (issue #29).
@Suite struct WebDAVTests {
    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    static func dav(
        _ server: TestServer, _ method: String, _ path: String, user: String = "alice", password: String = "secret",
        headers extra: [String: String] = [:], body: Data? = nil
    ) async throws -> TestServer.Reply {
        var headers: HTTPFields = [.authorization: basic(user, password)]
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        return try await server.request(HTTPRequest.Method(method)!, path, headers: headers, body: body)
    }

    static func propfind(_ server: TestServer, _ path: String, depth: String = "1", user: String = "alice") async throws -> TestServer.Reply {
        try await dav(server, "PROPFIND", path, user: user, headers: ["Depth": depth])
    }

    @Test func optionsAnswersWithoutCredentials() async throws {
        try await withServer { server in
            let reply = try await server.request(HTTPRequest.Method("OPTIONS")!, "/dav/")
            #expect(reply.status == 200)
            #expect(reply.headers[HTTPField.Name("DAV")!] == "1, 2")
            #expect(reply.headers[.allow]?.contains("LOCK") == true)
            #expect(reply.headers[.allow]?.contains("PROPFIND") == true)
        }
    }

    @Test func basicAuthentication() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            let anonymous = try await server.request(HTTPRequest.Method("PROPFIND")!, "/dav/", headers: [HTTPField.Name("Depth")!: "0"])
            #expect(anonymous.status == 401)
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Basic realm=\"Pan\"") == true)
            #expect(try await Self.propfind(server, "/dav/", depth: "0").status == 207)
            // The MD5 hex form, as /v1/user/login takes it.
            let md5 = try await Self.dav(server, "PROPFIND", "/dav/", password: PasswordHasher.md5Hex("secret"), headers: ["Depth": "0"])
            #expect(md5.status == 207)
            let wrong = try await Self.dav(server, "PROPFIND", "/dav/", password: "nope", headers: ["Depth": "0"])
            #expect(wrong.status == 401)
            let nobody = try await Self.dav(server, "PROPFIND", "/dav/", user: "mallory", headers: ["Depth": "0"])
            #expect(nobody.status == 401)
            // Only /dav/ asks for Basic: the API's 401 has no challenge (browsers would pop a dialog).
            let api = try await server.post("/v1/user/info", [:])
            #expect(api.headers[.wwwAuthenticate] == nil)
        }
    }

    @Test(arguments: TestBackend.allCases) func treeRoundTrip(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let alice = try await server.createUser("alice").id
            #expect(try await Self.dav(server, "MKCOL", "/dav/docs").status == 201)
            #expect(try await Self.dav(server, "MKCOL", "/dav/docs").status == 405)
            #expect(try await Self.dav(server, "MKCOL", "/dav/missing/child").status == 409)
            #expect(try await Self.dav(server, "MKCOL", "/dav/withbody", body: Data("x".utf8)).status == 415)

            let content = Data("hello, dav\n".utf8)
            let put = try await Self.dav(server, "PUT", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt", body: content)
            #expect(put.status == 201)
            let etag = try #require(put.headers[.eTag])
            #expect(etag == "\"\(ContentHasher.hash(content))\"")
            #expect(try await Self.dav(server, "PUT", "/dav/nowhere/a.txt", body: content).status == 409)
            #expect(try await Self.dav(server, "PUT", "/dav/docs", body: content).status == 405)

            let get = try await Self.dav(server, "GET", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt")
            #expect(get.status == 200)
            #expect(get.body == content)
            #expect(get.headers[.eTag] == etag)
            let range = try await Self.dav(server, "GET", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt", headers: ["Range": "bytes=0-4"])
            #expect(range.status == 206)
            #expect(range.text == "hello")
            let cached = try await Self.dav(server, "GET", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt", headers: ["If-None-Match": etag])
            #expect(cached.status == 304)
            let head = try await Self.dav(server, "HEAD", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt")
            #expect(head.status == 200)
            #expect(head.headers[.contentLength] == String(content.count))

            // Replaced in place: same node, new content.
            let before = try await server.services.store.node(userId: alice, at: NodeAddress(uuid: nil, path: "/docs/你好.txt")).node
            #expect(try await Self.dav(server, "PUT", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt", body: Data("v2".utf8)).status == 204)
            let after = try await server.services.store.node(userId: alice, at: NodeAddress(uuid: nil, path: "/docs/你好.txt")).node
            #expect(after.uuid == before.uuid)
            #expect(after.size == 2)

            let listing = try await Self.propfind(server, "/dav/docs/")
            #expect(listing.status == 207)
            #expect(listing.text.contains("<D:href>/dav/docs/%E4%BD%A0%E5%A5%BD.txt</D:href>"))
            #expect(listing.text.contains("<D:href>/dav/docs/</D:href>"))
            #expect(listing.text.contains("<D:getcontentlength>2</D:getcontentlength>"))
            let root = try await Self.propfind(server, "/dav/", depth: "0")
            #expect(root.text.contains("quota-available-bytes"))
            #expect(root.text.contains("<D:collection/>"))
            let named = try await Self.dav(
                server, "PROPFIND", "/dav/docs/", headers: ["Depth": "0"],
                body: Data("<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/><X:odd xmlns:X=\"urn:x\"/></D:prop></D:propfind>".utf8)
            )
            #expect(named.status == 207)
            #expect(named.text.contains("404 Not Found"))
            #expect(named.text.contains("<odd xmlns=\"urn:x\"/>"))

            // COPY, then MOVE with a new name and parent, then the Overwrite rules.
            #expect(try await Self.dav(server, "COPY", "/dav/docs/", headers: ["Destination": "/dav/copy/"]).status == 201)
            #expect(try await Self.dav(server, "GET", "/dav/copy/%E4%BD%A0%E5%A5%BD.txt").text == "v2")
            #expect(try await Self.dav(server, "MKCOL", "/dav/other").status == 201)
            let move = try await Self.dav(
                server, "MOVE", "/dav/copy/%E4%BD%A0%E5%A5%BD.txt", headers: ["Destination": "http://127.0.0.1:\(server.port)/dav/other/moved.txt"]
            )
            #expect(move.status == 201)
            #expect(try await Self.dav(server, "GET", "/dav/copy/%E4%BD%A0%E5%A5%BD.txt").status == 404)
            #expect(try await Self.dav(server, "GET", "/dav/other/moved.txt").text == "v2")
            let refused = try await Self.dav(
                server, "COPY", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt", headers: ["Destination": "/dav/other/moved.txt", "Overwrite": "F"]
            )
            #expect(refused.status == 412)
            let replaced = try await Self.dav(server, "COPY", "/dav/docs/%E4%BD%A0%E5%A5%BD.txt", headers: ["Destination": "/dav/other/moved.txt"])
            #expect(replaced.status == 204)
            // The replaced destination went to the recycle bin.
            #expect(try await server.services.store.recycleBin(userId: alice, limit: 10, offset: 0).total == 1)

            #expect(try await Self.dav(server, "DELETE", "/dav/other/").status == 204)
            #expect(try await Self.dav(server, "PROPFIND", "/dav/other/", headers: ["Depth": "0"]).status == 404)
            #expect(try await server.services.store.recycleBin(userId: alice, limit: 10, offset: 0).total == 2)
            #expect(try await Self.dav(server, "DELETE", "/dav/").status == 403)
        }
    }

    @Test func hostileRequests() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            try await server.createUser("bob")
            #expect(try await Self.dav(server, "PUT", "/dav/secret.txt", user: "bob", body: Data("bob's".utf8)).status == 201)
            // Alice's tree is her own: bob's file is not there, however it is named.
            #expect(try await Self.dav(server, "GET", "/dav/secret.txt").status == 404)
            for path in ["/dav/%2e%2e/secret.txt", "/dav/a/%2E%2E/%2E%2E/secret.txt", "/dav/..%2Fsecret.txt", "/dav/a%00b"] {
                let reply = try await Self.dav(server, "GET", path)
                #expect(reply.status == 400, "\(path): \(reply.status)")
            }
            // Sent raw: an HTTP client would escape the stray `%` itself.
            let malformed = try await RawConnection.exchange(
                port: server.port, "GET /dav/%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(Self.basic("alice", "secret"))\r\nConnection: close\r\n\r\n"
            )
            #expect(malformed.hasPrefix("HTTP/1.1 400"), "\(malformed.prefix(80))")
            #expect(try await Self.dav(server, "PUT", "/dav/evil%E2%80%AEgpj.exe", body: Data()).status == 400)
            // A partial PUT is refused, not taken for the whole file.
            #expect(try await Self.dav(server, "PUT", "/dav/part.bin", body: Data(count: 10)).status == 201)
            let partial = try await Self.dav(server, "PUT", "/dav/part.bin", headers: ["Content-Range": "bytes 0-1/10"], body: Data(count: 2))
            #expect(partial.status == 400)
            #expect(try await Self.dav(server, "GET", "/dav/part.bin").body.count == 10)
            // Depth: infinity refused with its condition, nonsense refused.
            let infinite = try await Self.propfind(server, "/dav/", depth: "infinity")
            #expect(infinite.status == 403)
            #expect(infinite.text.contains("propfind-finite-depth"))
            #expect(try await Self.propfind(server, "/dav/", depth: "99999999999999999999").status == 400)
            // Destination elsewhere: another server, or outside /dav/.
            #expect(try await Self.dav(server, "MKCOL", "/dav/a").status == 201)
            let away = try await Self.dav(server, "COPY", "/dav/a/", headers: ["Destination": "http://evil.example/dav/b/"])
            #expect(away.status == 502)
            let outside = try await Self.dav(server, "COPY", "/dav/a/", headers: ["Destination": "/v1/files/b"])
            #expect(outside.status == 502)
            let escape = try await Self.dav(server, "MOVE", "/dav/a/", headers: ["Destination": "/dav/%2e%2e/b/"])
            #expect(escape.status == 400)
            let into = try await Self.dav(server, "MOVE", "/dav/a/", headers: ["Destination": "/dav/a/b/"])
            #expect(into.status == 403 || into.status == 409)
            // Bad XML is a 400, and an entity never expands.
            let xxe = """
            <?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop><D:x>&x;</D:x></D:prop></D:propfind>
            """
            let reply = try await Self.dav(server, "PROPFIND", "/dav/", headers: ["Depth": "0"], body: Data(xxe.utf8))
            #expect(!reply.text.contains("root:"))
            #expect(try await Self.dav(server, "PROPFIND", "/dav/", headers: ["Depth": "0"], body: Data("<not xml".utf8)).status == 400)
        }
    }

    @Test(arguments: TestBackend.allCases) func putPastQuotaLeavesNothing(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice", capacity: 1000)
            // Refused up front from Content-Length.
            let big = try await Self.dav(server, "PUT", "/dav/big.bin", body: Data(count: 2000))
            #expect(big.status == 507)
            // And while streaming, when the length is not declared (chunked).
            let raw = "PUT /dav/chunked.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(Self.basic("alice", "secret"))\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n" + "800\r\n" + String(repeating: "x", count: 2048) + "\r\n0\r\n\r\n"
            let answer = try await RawConnection.exchange(port: server.port, raw)
            #expect(answer.hasPrefix("HTTP/1.1 507"), "\(answer.prefix(100))")
            #expect(try await Self.dav(server, "GET", "/dav/big.bin").status == 404)
            #expect(try await Self.dav(server, "GET", "/dav/chunked.bin").status == 404)
            // Exactly filling the quota is allowed.
            #expect(try await Self.dav(server, "PUT", "/dav/fits.bin", body: Data(count: 1000)).status == 201)
            try await Self.expectNoStrayBytes(server, objects: 1)
        }
    }

    @Test func brokenPutLeavesNothing() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            let head = "PUT /dav/broken.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(Self.basic("alice", "secret"))\r\n"
                + "Content-Length: 100000\r\n\r\n" + String(repeating: "y", count: 5000)
            #expect(try await RawConnection.closesAfterSending(port: server.port, Data(head.utf8), within: 1) == false)
            // The connection dropped mid-body: give the server a moment to notice.
            var gone = false
            for _ in 0..<100 {
                try await Task.sleep(for: .milliseconds(50))
                if (try? FileManager.default.contentsOfDirectory(atPath: server.services.objectStore.temporaryDirectory))?.isEmpty ?? true { gone = true; break }
            }
            #expect(gone)
            #expect(try await Self.dav(server, "GET", "/dav/broken.bin").status == 404)
            try await Self.expectNoStrayBytes(server, objects: 0)
        }
    }

    @Test func samePutTwiceStoresOneObject() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            try await server.createUser("bob")
            let content = Data(repeating: 7, count: 10_000)
            #expect(try await Self.dav(server, "PUT", "/dav/a.bin", body: content).status == 201)
            #expect(try await Self.dav(server, "PUT", "/dav/b.bin", user: "bob", body: content).status == 201)
            try await Self.expectNoStrayBytes(server, objects: 1)
        }
    }

    /// The object directory holds exactly `objects` files, the temporary one none.
    static func expectNoStrayBytes(_ server: TestServer, objects expected: Int) async throws {
        let store = server.services.objectStore
        let temporary = (try? FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory)) ?? []
        #expect(temporary.isEmpty, "left in tmp: \(temporary)")
        var files = 0
        if let walker = FileManager.default.enumerator(atPath: store.objectsDirectory) {
            for case let item as String in walker {
                var directory: ObjCBool = false
                if FileManager.default.fileExists(atPath: store.objectsDirectory + "/" + item, isDirectory: &directory), !directory.boolValue { files += 1 }
            }
        }
        #expect(files == expected)
    }
}
