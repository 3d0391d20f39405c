import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanHTTPSupport
@testable import PanServer

/// Issue #29's hostile user against `/dav/`: paths that try to be deep or to
/// climb out, a slow PUT, oversized bodies. Each gets a clear 4xx quickly, and
/// another user is served meanwhile.
@Suite struct WebDAVHostileTests {

    @Test("a 10,000-segment path, as request and as Destination, is a 400 without work; Depth 10000 is a 400")
    func deepPaths() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            #expect(try await WebDAVTests.dav(server, "MKCOL", "/dav/a").status == 201)
            let deep = "/dav/" + Array(repeating: "d", count: 10_000).joined(separator: "/")
            let started = ContinuousClock.now
            let propfind = try await WebDAVTests.dav(server, "PROPFIND", deep, headers: ["Depth": "1"])
            #expect(propfind.status == 400, "\(propfind.status) \(propfind.text.prefix(200))")
            #expect(propfind.text.contains("INVALID_PATH"), "\(propfind.text.prefix(200))")
            let put = try await WebDAVTests.dav(server, "PUT", deep, body: Data("x".utf8))
            #expect(put.status == 400)
            let copy = try await WebDAVTests.dav(server, "COPY", "/dav/a", headers: ["Destination": "http://127.0.0.1:\(server.port)\(deep)"])
            #expect(copy.status == 400)
            #expect(ContinuousClock.now - started < .seconds(10))
            // A depth just inside the tree's bound is a plain 404.
            let inside = "/dav/" + Array(repeating: "d", count: PanPath.maximumDepth).joined(separator: "/")
            #expect(try await WebDAVTests.dav(server, "PROPFIND", inside, headers: ["Depth": "0"]).status == 404)
            #expect(try await WebDAVTests.dav(server, "PROPFIND", "/dav/a", headers: ["Depth": "10000"]).status == 400)
            // Nothing was made on the way.
            #expect(try await server.count("nodes", "name = 'd'") == 0)
        }
    }

    @Test("paths that climb: `..` and `.` segments, encoded or not, are refused, never resolved, as request and as Destination")
    func climbingPaths() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            try await server.createUser("bob")
            #expect(try await WebDAVTests.dav(server, "MKCOL", "/dav/a").status == 201)
            #expect(try await WebDAVTests.dav(server, "PUT", "/dav/a/f.txt", body: Data("alice".utf8)).status == 201)
            for path in ["/dav/a/%2E%2E/%2E%2E/etc", "/dav/%2e%2e", "/dav/a/%2E/f.txt", "/dav/a%2F..%2F..%2Fetc"] {
                let reply = try await WebDAVTests.dav(server, "PROPFIND", path, headers: ["Depth": "0"])
                #expect(reply.status == 400, "\(path): \(reply.status)")
            }
            for destination in ["/dav/a/%2E%2E/%2E%2E/b", "http://127.0.0.1:\(server.port)/dav/%2E%2E/bob", "/v1/user/info", "/dav2/x"] {
                let reply = try await WebDAVTests.dav(server, "COPY", "/dav/a/f.txt", headers: ["Destination": destination])
                #expect(reply.status == 400 || reply.status == 502, "\(destination): \(reply.status)")
            }
            // Bob sees none of it.
            let bob = try await WebDAVTests.dav(server, "PROPFIND", "/dav/a/f.txt", user: "bob", headers: ["Depth": "0"])
            #expect(bob.status == 404)
            #expect(try await server.count("nodes", "name = 'b' OR name = 'bob' OR name = 'etc'") == 0)
        }
    }

    @Test("oversized bodies: a PROPFIND or PROPPATCH body past 1 MiB is a 413, before the store is touched")
    func oversizedBodies() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            let big = Data(("<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>" + String(repeating: "<D:displayname/>", count: 80_000) + "</D:prop></D:propfind>").utf8)
            #expect(big.count > 1 << 20)
            let propfind = try await WebDAVTests.dav(server, "PROPFIND", "/dav/", headers: ["Depth": "0"], body: big)
            #expect(propfind.status == 413, "\(propfind.status)")
            let proppatch = try await WebDAVTests.dav(server, "PROPPATCH", "/dav/", body: big)
            #expect(proppatch.status == 413, "\(proppatch.status)")
        }
    }

    @Test("a slow PUT is closed after the grace with nothing stored, and another user is served meanwhile")
    func slowPut() async throws {
        try await withServer(configure: { SlowRequestTests.configure(&$0); $0.requestGrace = 3 }) { server in
            try await server.createUser("alice")
            try await server.createUser("bob")
            let head = "PUT /dav/slow.bin HTTP/1.1\r\nHost: pan\r\nAuthorization: \(WebDAVTests.basic("alice", "secret"))\r\n"
                + "Content-Length: 1000000\r\n\r\nx"
            async let drip = Drip.run(from: "127.0.0.3", port: server.port, head: head, every: .milliseconds(200), for: .seconds(30))
            try await Task.sleep(for: .milliseconds(500))
            let bob = try await WebDAVTests.dav(server, "PUT", "/dav/bob.txt", user: "bob", body: Data("bob's".utf8))
            #expect(bob.status == 201)
            let result = try await drip
            let closed = try #require(result.closedAfter, "the slow PUT was never closed: \(result)")
            #expect(closed > .milliseconds(2_500) && closed < .seconds(25), "\(result)")
            #expect(result.response.isEmpty || result.response.contains("408"), "\(result)")
            // Nothing of it stayed: no node, no temporary bytes.
            #expect(try await WebDAVTests.dav(server, "PROPFIND", "/dav/slow.bin", headers: ["Depth": "0"]).status == 404)
            var gone = false
            for _ in 0..<100 where !gone {
                gone = (try? FileManager.default.contentsOfDirectory(atPath: server.services.objectStore.temporaryDirectory))?.isEmpty ?? true
                if !gone { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await WebDAVTests.expectNoStrayBytes(server, objects: 1)
        }
    }
}
