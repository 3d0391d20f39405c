import Foundation
import AsyncHTTPClient
import HTTPTypes
import NIOCore
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// `/dav/` with an external WCS (`PAN_UPLOAD_URL`, `PAN_DOWNLOAD_DOMAIN`): Pan
/// uploads a PUT to WCS itself with the slice API and redirects a GET to a
/// signed bucket URL. WCS is played by a second Pan's local endpoint over the
/// same PostgreSQL (as in `InstantUploadProofTests.wcsModeAgainstTheStandIn`):
/// its mkblk/mkfile and `/objects/` are the wire formats Wangsu's own serve.
@Suite struct WebDAVExternalWCSTests {
    static func withStandIn(downloadDomain: Bool = true, _ body: @Sendable @escaping (_ pan: TestServer, _ standIn: TestServer) async throws -> Void) async throws {
        var shared = PanConfiguration()
        try await TestBackend.postgres.configure(&shared)
        let frozen = shared
        @Sendable func common(_ configuration: inout PanConfiguration) {
            configuration.databaseURL = frozen.databaseURL
            configuration.databasePoolSize = 3
            configuration.jwtSecret = frozen.jwtSecret
            configuration.wcsKeys = frozen.wcsKeys
        }
        try await withServer(configure: common) { standIn in
            let wcs = "http://127.0.0.1:\(standIn.port)"
            try await withServer(configure: { common(&$0); $0.uploadURL = wcs; $0.downloadDomain = downloadDomain ? wcs + "/objects" : nil }) { pan in
                try await body(pan, standIn)
            }
        }
    }

    @Test("PUT goes to WCS block by block and is recorded with WCS's hash; GET is a 302 to a signed bucket URL; HEAD answers itself")
    func putAndGet() async throws {
        try await Self.withStandIn { pan, standIn in
            try await pan.createUser("alice")
            // Two blocks and a bit: the block order and mkfile's ctx list matter.
            let bytes = RcloneSyncTests.content(3, size: (8 << 20) + 5)
            let put = try await WebDAVTests.dav(pan, "PUT", "/dav/big.bin", body: bytes)
            #expect(put.status == 201, "\(put.status) \(put.text)")
            #expect(put.headers[.eTag] == "\"\(ContentHasher.hash(bytes))\"")
            let key = try #require(try await pan.read { db in try await StoreObjectRepository.find(hash: ContentHasher.hash(bytes), on: db) }?.objectKey)
            #expect(key.hasPrefix("pan/"))

            let get = try await WebDAVTests.dav(pan, "GET", "/dav/big.bin")
            #expect(get.status == 302, "\(get.status) \(get.text)")
            let location = try #require(get.headers[.location])
            #expect(location.hasPrefix("http://127.0.0.1:\(standIn.port)/objects/"), "\(location)")
            let relative = String(location.dropFirst("http://127.0.0.1:\(standIn.port)".count))
            let fetched = try await standIn.request(.get, relative)
            #expect(fetched.status == 200)
            #expect(fetched.body == bytes)
            // The bucket URL is signed: without its token it is refused.
            #expect(try await standIn.request(.get, "/objects/\(key)").status == 401)

            let head = try await WebDAVTests.dav(pan, "HEAD", "/dav/big.bin")
            #expect(head.status == 200)
            #expect(head.headers[.contentLength] == String(bytes.count))
            let cached = try await WebDAVTests.dav(pan, "GET", "/dav/big.bin", headers: ["If-None-Match": put.headers[.eTag] ?? ""])
            #expect(cached.status == 304)

            // A zero-byte file is one empty block.
            #expect(try await WebDAVTests.dav(pan, "PUT", "/dav/empty.txt", body: Data()).status == 201)
            #expect(try await pan.count("nodes", "name = 'empty.txt' AND size = 0 AND store_hash = '\(ContentHasher.hash(Data()))'") == 1)
        }
    }

    @Test("past the quota while streaming to WCS: 507, nothing recorded; WCS down: 502 WCS_UPLOAD_FAILED, nothing recorded")
    func refusals() async throws {
        try await Self.withStandIn { pan, _ in
            try await pan.createUser("alice", capacity: 5 << 20)
            let bytes = RcloneSyncTests.content(4, size: 6 << 20)
            // Chunked (no Content-Length): caught while streaming, after a block went to WCS.
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(pan.port)/dav/over.bin")
            request.method = .PUT
            request.headers.add(name: "Authorization", value: WebDAVTests.basic("alice", "secret"))
            let chunks = AsyncStream<ByteBuffer> { continuation in
                for offset in stride(from: 0, to: bytes.count, by: 1 << 20) {
                    continuation.yield(ByteBuffer(bytes: bytes[offset..<min(offset + (1 << 20), bytes.count)]))
                }
                continuation.finish()
            }
            request.body = .stream(chunks, length: .unknown)
            // The server may answer and close before it has read the whole body.
            let status = try? await testHTTPClient.execute(request, timeout: .seconds(60)).status.code
            #expect(status == nil || status == 507, "\(String(describing: status))")
            #expect(try await pan.count("nodes", "name = 'over.bin'") == 0)
        }
        // WCS that cannot be reached.
        let closed = try freePort()
        try await withServer(configure: { $0.uploadURL = "http://127.0.0.1:\(closed)"; $0.downloadDomain = "http://127.0.0.1:\(closed)/objects" }) { pan in
            try await pan.createUser("alice")
            let put = try await WebDAVTests.dav(pan, "PUT", "/dav/a.txt", body: Data("hello".utf8))
            #expect(put.status == 502, "\(put.status) \(put.text)")
            #expect(put.text.contains("WCS_UPLOAD_FAILED"))
            #expect(try await pan.count("nodes", "name = 'a.txt'") == 0)
        }
    }

    @Test("rclone copies up and back through a Pan whose bytes are in WCS (it follows the GET redirect)",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/rclone")))
    func rcloneBothWays() async throws {
        try await Self.withStandIn { pan, _ in
            try await pan.createUser("alice")
            let scratch = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let config = scratch + "/rclone.conf"
            FileManager.default.createFile(atPath: config, contents: Data())
            let (_, obscured) = try await WebDAVClientTests.rclone(["obscure", "secret"], config: config)
            let remote = ":webdav,url='http://127.0.0.1:\(pan.port)/dav/',vendor=other,user=alice,pass=\(obscured.trimmingCharacters(in: .whitespacesAndNewlines)):云"
            let source = scratch + "/src"
            let files = ["文档/一.txt": RcloneSyncTests.content(1, size: 1000), "b.bin": RcloneSyncTests.content(2, size: (4 << 20) + 1), "空.txt": Data()]
            for (path, data) in files {
                let full = source + "/" + path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: full, contents: data)
            }
            let up = try await WebDAVClientTests.rclone(["copy", source, remote], config: config)
            #expect(up.status == 0, "rclone copy up:\n\(up.output.suffix(2000))")
            let back = scratch + "/back"
            let down = try await WebDAVClientTests.rclone(["copy", remote, back], config: config)
            #expect(down.status == 0, "rclone copy down:\n\(down.output.suffix(2000))")
            for (path, data) in files {
                #expect(FileManager.default.contents(atPath: back + "/" + path) == data, "\(path)")
            }
            let check = try await WebDAVClientTests.rclone(["check", "--download", source, remote], config: config)
            #expect(check.status == 0, "rclone check:\n\(check.output.suffix(2000))")
        }
    }

    @Test("without PAN_DOWNLOAD_DOMAIN a PUT still goes to WCS; a GET says plainly which setting is missing (503), HEAD answers")
    func withoutDownloadDomain() async throws {
        try await Self.withStandIn(downloadDomain: false) { pan, _ in
            try await pan.createUser("alice")
            #expect(try await WebDAVTests.dav(pan, "PUT", "/dav/a.txt", body: Data("hello".utf8)).status == 201)
            let get = try await WebDAVTests.dav(pan, "GET", "/dav/a.txt")
            #expect(get.status == 503)
            #expect(get.text.contains("DOWNLOAD_DOMAIN_NOT_SET"), "\(get.text)")
            let head = try await WebDAVTests.dav(pan, "HEAD", "/dav/a.txt")
            #expect(head.status == 200 && head.headers[.contentLength] == "5")
        }
    }
}
