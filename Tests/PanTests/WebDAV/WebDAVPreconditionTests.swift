import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// `If-Match` / `If-None-Match` on PUT: a client's "only if it is still the
/// version I read" holds even when two clients write at once.
@Suite struct WebDAVPreconditionTests {
    @Test(arguments: TestBackend.allCases)
    func ifMatchAndIfNoneMatch(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice")
            let first = Data("first\n".utf8)
            let created = try await WebDAVTests.dav(server, "PUT", "/dav/a.txt", headers: ["If-None-Match": "*"], body: first)
            #expect(created.status == 201)
            let etag = try #require(created.headers[.eTag])
            // Create-only: something is there now.
            #expect(try await WebDAVTests.dav(server, "PUT", "/dav/a.txt", headers: ["If-None-Match": "*"], body: Data("x".utf8)).status == 412)
            // A stale tag is refused, and the content stays.
            let stale = try await WebDAVTests.dav(server, "PUT", "/dav/a.txt", headers: ["If-Match": "\"Fto5o-5ea0sNMlW_75VgGJCv2AcJ\""], body: Data("y".utf8))
            #expect(stale.status == 412)
            #expect(stale.text.contains("PRECONDITION_FAILED"))
            #expect(try await WebDAVTests.dav(server, "GET", "/dav/a.txt").body == first)
            // The current tag (in a list) goes ahead.
            let second = Data("second\n".utf8)
            let replaced = try await WebDAVTests.dav(server, "PUT", "/dav/a.txt", headers: ["If-Match": "\"nope\", \(etag)"], body: second)
            #expect(replaced.status == 204)
            #expect(replaced.headers[.eTag] == "\"\(ContentHasher.hash(second))\"")
            // `If-Match: *` needs something there.
            #expect(try await WebDAVTests.dav(server, "PUT", "/dav/missing.txt", headers: ["If-Match": "*"], body: second).status == 412)
            #expect(try await server.count("nodes", "name = 'missing.txt'") == 0)
        }
    }

    @Test("two clients replace the version they both read, at once: exactly one wins, the other gets 412")
    func concurrentIfMatch() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            let put = try await WebDAVTests.dav(server, "PUT", "/dav/shared.txt", body: Data("v1\n".utf8))
            let etag = try #require(put.headers[.eTag])
            for round in 0..<5 {
                let current = try #require(try await WebDAVTests.dav(server, "HEAD", "/dav/shared.txt").headers[.eTag])
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for client in 0..<2 {
                        group.addTask {
                            let body = Data(repeating: UInt8(65 + client), count: 200_000 + round)
                            return try await WebDAVTests.dav(server, "PUT", "/dav/shared.txt", headers: ["If-Match": current], body: body).status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }.sorted()
                }
                #expect(statuses == [204, 412], "round \(round): \(statuses)")
            }
            #expect(etag != (try await WebDAVTests.dav(server, "HEAD", "/dav/shared.txt").headers[.eTag]))
        }
    }

    @Test("a lock taken while a PUT's body is arriving is honoured: the PUT, checked in its transaction, gets 423 and the file stays", arguments: TestBackend.allCases)
    func lockTakenDuringPut(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice")
            let original = Data("original\n".utf8)
            #expect(try await WebDAVTests.dav(server, "PUT", "/dav/a.txt", body: original).status == 201)
            let body = Data(repeating: 120, count: 100_000)
            let head = "PUT /dav/a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(WebDAVTests.basic("alice", "secret"))\r\n"
                + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            // The body in ten pieces over about two seconds; the lock comes after the first.
            async let put = Drip.send(
                from: "127.0.0.1", port: server.port, Data(head.utf8), then: body, chunk: 10_000, every: .milliseconds(200), timeout: .seconds(20)
            )
            try await Task.sleep(for: .milliseconds(500))
            let lockBody = Data("""
                <?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>
                """.utf8)
            let lock = try await WebDAVTests.dav(server, "LOCK", "/dav/a.txt", headers: ["Timeout": "Second-60"], body: lockBody)
            #expect(lock.status == 200, "\(lock.status) \(lock.text)")
            let reply = try await put
            #expect(reply.hasPrefix("HTTP/1.1 423"), "\(reply.prefix(300))")
            #expect(try await WebDAVTests.dav(server, "GET", "/dav/a.txt").body == original)
        }
    }
}
