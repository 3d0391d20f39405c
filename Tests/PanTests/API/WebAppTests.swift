import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanAPI
import WCS

/// Pan's web app (`web/`, served by `PanAPI/WebApp/`): the static serving itself, and
/// the app in a real headless Chromium (Debian's `chromium` and
/// `chromium-driver`, driven by Selenium from `Tests/PanTests/Clients/webapp_browser.py`).
@Suite(.serialized)
struct WebAppTests {
    static let chromedriver = "/usr/bin/chromedriver"

    static var artifacts: String {
        PythonClients.packageRoot.appendingPathComponent(".build/test-artifacts/webapp").path
    }

    // MARK: Static serving

    @Test("the app at / and /app/…: embedded bytes, content types, ETag and 304, a strict CSP; unknown paths still 404")
    func staticServing() async throws {
        try await withServer { server in
            let index = try await server.request(.get, "/")
            #expect(index.status == 200)
            #expect(index.headers[.contentType] == "text/html; charset=utf-8")
            #expect(index.text.contains("<script type=\"module\" src=\"/app/main.js\">"))
            let csp = try #require(index.headers[.contentSecurityPolicy])
            #expect(csp.contains("default-src 'self'"))
            #expect(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"))
            #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"))
            #expect(csp.contains("connect-src 'self' http://127.0.0.1:\(server.port)"), "\(csp)")
            #expect(index.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(index.headers[.cacheControl] == "no-cache")

            let types = [
                "/app/main.js": "text/javascript; charset=utf-8", "/app/hash-worker.js": "text/javascript; charset=utf-8",
                "/app/style.css": "text/css; charset=utf-8", "/app/icon.svg": "image/svg+xml",
            ]
            for (path, type) in types {
                let reply = try await server.request(.get, path)
                #expect(reply.status == 200, "\(path)")
                #expect(reply.headers[.contentType] == type, "\(path)")
                // The embedded copy is the file in web/ (the plugin re-embeds on every build).
                let onDisk = try Data(contentsOf: PythonClients.packageRoot.appendingPathComponent("web" + path))
                #expect(reply.body == onDisk, "\(path) differs from web\(path)")
            }

            // ETag: a matching If-None-Match (strong, weak, in a list, or *) is a 304 without a body.
            let etag = try #require(index.headers[.eTag])
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count == 34)
            for header in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                let cached = try await server.request(.get, "/", headers: [.ifNoneMatch: header])
                #expect(cached.status == 304, "\(header)")
                #expect(cached.body.isEmpty)
                #expect(cached.headers[.eTag] == etag)
            }
            #expect(try await server.request(.get, "/", headers: [.ifNoneMatch: "\"stale\""]).status == 200)
            let script = try await server.request(.get, "/app/main.js")
            #expect(script.headers[.eTag] != etag)
            #expect(try await server.request(.get, "/app/main.js", headers: [.ifNoneMatch: script.headers[.eTag] ?? ""]).status == 304)

            // HEAD: the headers, no body.
            let head = try await server.request(.head, "/app/style.css")
            #expect(head.status == 200 && head.body.isEmpty)
            #expect(head.headers[.contentLength] == String(try await server.request(.get, "/app/style.css").body.count))

            // Everything else is as before: unknown files and API paths are 404 with the envelope.
            for path in ["/app/nope.js", "/app/../Package.swift", "/app/", "/index.html", "/v1/nope", "/web/index.html"] {
                let reply = try await server.request(.get, path)
                #expect(reply.status == 404, "\(path)")
                #expect(reply.code == "NOT_FOUND", "\(path): \(reply.text)")
            }
            #expect(try await server.post("/v1/files/nope", [:]).status == 404)
            #expect(try await server.request(.get, "/healthz").text == "ok\n")
        }
    }

    @Test("the CSP lets the app reach an external upload host, and only that")
    func contentSecurityPolicyNamesTheUploadHost() {
        var configuration = PanConfiguration()
        configuration.publicBaseURL = "https://pan.example.com/"
        configuration.uploadURL = "https://UP.example.net:8443/some/path"
        let csp = WebAppController.contentSecurityPolicy(configuration)
        #expect(csp.contains("connect-src 'self' https://pan.example.com https://up.example.net:8443;"), "\(csp)")
        #expect(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"))
        #expect(WebAppController.origin(of: "javascript:alert(1)") == nil)
    }

    @Test("PAN_WEB_DIR serves the app from a folder, read on each request, without leaving it")
    func webDirectory() async throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/app", withIntermediateDirectories: true)
        try Data("<p>one</p>".utf8).write(to: URL(fileURLWithPath: folder + "/index.html"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/.secret"))
        try await withServer(configure: { $0.webDirectory = folder }) { server in
            let first = try await server.request(.get, "/")
            #expect(first.text == "<p>one</p>")
            try Data("<p>two</p>".utf8).write(to: URL(fileURLWithPath: folder + "/index.html"))
            let second = try await server.request(.get, "/", headers: [.ifNoneMatch: first.headers[.eTag] ?? ""])
            #expect(second.status == 200 && second.text == "<p>two</p>")
            #expect(try await server.request(.get, "/app/../.secret").status == 404)
            #expect(try await server.request(.get, "/app/%2e%2e/.secret").status == 404)
            #expect(try await server.request(.get, "/app/main.js").status == 404)
        }
    }

    @Test("the app through the nginx site: / and its files pass through with their ETag and CSP")
    func throughNginx() async throws {
        try await withNginxSite { _, _, proxy in
            let proxyPort = proxy.port
            for path in ["/", "/app/main.js", "/app/style.css"] {
                let (status, headers, _) = try await Self.get("http://127.0.0.1:\(proxyPort)\(path)")
                #expect(status == 200, "\(path) / nginx: \(proxy.errors)")
                #expect(headers["Content-Security-Policy"].first?.contains("connect-src 'self' http://127.0.0.1:\(proxyPort)") == true)
                let etag = try #require(headers["ETag"].first)
                let (cached, _, body) = try await Self.get("http://127.0.0.1:\(proxyPort)\(path)", ifNoneMatch: etag)
                #expect(cached == 304 && body == 0, "\(path)")
            }
        }
    }

    static func get(_ url: String, ifNoneMatch: String? = nil) async throws -> (Int, HTTPHeaders, Int) {
        var request = HTTPClientRequest(url: url)
        if let ifNoneMatch { request.headers.add(name: "If-None-Match", value: ifNoneMatch) }
        let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), response.headers, body.readableBytes)
    }

    // MARK: In a real browser

    @Test("in headless Chromium: sign in (kept across a reload), folder, upload 9 MiB + 0 B, instant upload, download, rename, move, bin, restore, copy, conflict, delete forever, sign out")
    func browserFlow() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.chromedriver) else {
            Issue.record("chromium-driver is missing at \(Self.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return
        }
        let workdir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workdir) }
        try? FileManager.default.removeItem(atPath: Self.artifacts)
        try await withServer { server in
            try await server.createUser("webuser")
            let run = try await PythonClients.run(
                "webapp_browser.py", ["flow", "http://127.0.0.1:\(server.port)", "webuser", "secret", workdir, Self.artifacts],
                timeout: 600, browser: true
            )
            #expect(run.status == 0 && run.stdout.contains("\"ok\": true"), "\(run.stdout)\n\(run.stderr.suffix(4000))")
            // What the browser did is what the server has.
            let session = try await server.login("webuser")
            let restored = try await server.post("/v1/files/get", ["path": "/Archive/renamed.bin"], token: session)
            #expect(restored.result["size"] as? Int == 9 << 20)
            let instant = try await server.post("/v1/files/get", ["path": "/Docs/again.bin"], token: session)
            #expect(instant.result["storeId"] as? String == restored.result["storeId"] as? String)
            #expect(try await server.post("/v1/files/get", ["path": "/Docs/empty.txt"], token: session).result["size"] as? Int == 0)
            let copy = try await server.post("/v1/files/get", ["path": "/Docs/renamed.bin"], token: session)
            #expect(copy.result["storeId"] as? String == restored.result["storeId"] as? String)
            let bin = try await server.post("/v1/files/page", ["recycle": 1], token: session)
            #expect(bin.result["totalCount"] as? Int == 0, "deleted forever: \(bin.text)")
        }
        for name in ["01-sign-in.png", "02-uploaded.png", "03-instant.png", "05-recycle-bin.png"] {
            #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/" + name), "screenshot \(name)")
        }
    }

    @Test("the browser's content hash (Web Crypto, and the plain-JS SHA-1 for plain HTTP) equals Pan's: 0 B, 1 B, 4 MiB, 4 MiB + 1, 9 MiB")
    func browserHash() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.chromedriver) else {
            Issue.record("chromium-driver is missing at \(Self.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return
        }
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sizes = ["0B": 0, "1B": 1, "4MiB": 4 << 20, "4MiB+1": (4 << 20) + 1, "9MiB": 9 << 20]
        var expected: [String: String] = [:]
        for (name, size) in sizes {
            var bytes = Data(count: size)
            var state = UInt64(size) &+ 0x9E37_79B9_7F4A_7C15
            bytes.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
                for index in 0..<size {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    raw[index] = UInt8(truncatingIfNeeded: state >> 33)
                }
            }
            let path = folder + "/" + name
            try bytes.write(to: URL(fileURLWithPath: path))
            expected[name] = try ContentHasher.hash(fileAtPath: path).hash
        }
        #expect(expected["0B"] == "Fto5o-5ea0sNMlW_75VgGJCv2AcJ")
        let wanted = expected
        try await withServer { server in
            let run = try await PythonClients.run(
                "webapp_browser.py", ["hash", "http://127.0.0.1:\(server.port)"] + sizes.keys.sorted().map { folder + "/" + $0 },
                timeout: 300, browser: true
            )
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr.suffix(3000))")
            let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(run.stdout)")
            #expect(json["secure"] as? Bool == true, "127.0.0.1 is a secure context: crypto.subtle is used")
            let hashes = try #require(json["hashes"] as? [String: [String: String]])
            for (name, hash) in wanted {
                #expect(hashes[name]?["subtle"] == hash, "\(name) with crypto.subtle")
                #expect(hashes[name]?["js"] == hash, "\(name) with the plain-JS SHA-1")
            }
        }
    }
}
