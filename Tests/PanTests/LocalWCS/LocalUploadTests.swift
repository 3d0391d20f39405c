import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
@testable import PanServer
import WCS

@Suite("Local WCS-compatible endpoint: the whole loop on one machine (wcs.md §4)")
struct LocalUploadTests {
    func token(_ server: TestServer, _ session: String, _ body: [String: Any]) async throws -> String {
        let reply = try await server.post("/v1/store/token", body, token: session)
        guard let token = reply.result["token"] as? String else { throw TestFailure("no upload token: \(reply.text)") }
        #expect(reply.result["uploadUrl"] as? String == "http://127.0.0.1:\(server.port)")
        return token
    }

    /// The relayed `response` is the callback's envelope with the new file.
    func checkResponse(_ response: String?, path: String, hash: String, size: Int) throws {
        let data = try #require(response.map { Data($0.utf8) })
        let envelope = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(envelope["success"] as? Bool == true)
        let file = try #require(envelope["result"] as? [String: Any])
        #expect(file["path"] as? String == path)
        #expect(file["storeId"] as? String == hash)
        #expect(file["size"] as? Int == size)
    }

    func download(_ server: TestServer, _ session: String, path: String, range: String? = nil) async throws -> TestServer.Reply {
        let get = try await server.post("/v1/files/get", ["path": path], token: session)
        let address = try #require(get.result["downloadAddress"] as? String)
        let prefix = "http://127.0.0.1:\(server.port)"
        #expect(address.hasPrefix(prefix + "/dl/"))
        var headers: HTTPFields = [:]
        if let range { headers[.range] = range }
        return try await server.request(.get, String(address.dropFirst(prefix.count)), headers: headers)
    }

    @Test("vector sizes in every slice style: hash, relayed response, instant re-upload, download", arguments: TestServer.SliceStyle.allCases)
    func sliceStyles(style: TestServer.SliceStyle) async throws {
        try await withServer { server in
            let (_, session) = try await server.user("slice")
            for (n, expected) in hashVectors {
                let bytes = vectorBytes(n)
                let upload = try await token(server, session, ["name": "v\(n).bin", "path": "/\(style)"])
                let reply = try await server.sliceUpload(token: upload, bytes: bytes, style: style)
                #expect(reply.status == 200, "\(style) \(n): \(reply.text)")
                #expect(reply.json["hash"] as? String == expected, "\(style) \(n)")
                #expect((reply.json["key"] as? String)?.isEmpty == false)
                try checkResponse(reply.json["response"] as? String, path: "/\(style)/v\(n).bin", hash: expected, size: n)
                // The same bytes again: instant.
                let again = try await server.post("/v1/store/token", ["name": "again\(n).bin", "path": "/\(style)", "hash": expected], token: session)
                #expect(again.result["uuid"] is String, "\(style) \(n) instant")
                let downloaded = try await download(server, session, path: "/\(style)/v\(n).bin")
                #expect(downloaded.status == 200)
                #expect(downloaded.body == bytes, "\(style) \(n) bytes")
            }
            #expect(try await server.count("nodes", "type = 0") == 10)
        }
    }

    @Test("form upload of the vector sizes, token first or last, Android's extra part", arguments: TestBackend.allCases)
    func formUploads(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, session) = try await server.user("form")
            for (index, (n, expected)) in hashVectors.enumerated() {
                let bytes = vectorBytes(n)
                let upload = try await token(server, session, ["name": "f\(n).bin", "path": "/form"])
                let reply = try await server.formUpload(token: upload, bytes: bytes, fileFirst: index % 2 == 1, androidExtra: index == 2)
                #expect(reply.status == 200, "\(n): \(reply.text)")
                #expect(reply.success == true)
                #expect(reply.result["storeId"] as? String == expected)
                #expect(reply.result["path"] as? String == "/form/f\(n).bin")
                let downloaded = try await download(server, session, path: "/form/f\(n).bin")
                #expect(downloaded.body == bytes)
            }
        }
    }

    @Test("downloads: headers, Range, UTF-8 name, bad and expired links", arguments: TestBackend.allCases)
    func downloads(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, session) = try await server.user("dl")
            let bytes = vectorBytes(100_000)
            let upload = try await token(server, session, ["name": "报告 final.pdf", "path": "/docs"])
            #expect(try await server.formUpload(token: upload, bytes: bytes).success == true)
            let full = try await download(server, session, path: "/docs/报告 final.pdf")
            #expect(full.headers[.contentLength] == "100000")
            #expect(full.headers[.contentType] == "application/pdf")
            let disposition = try #require(full.headers[.contentDisposition])
            #expect(disposition.contains("filename*=UTF-8''%E6%8A%A5%E5%91%8A%20final.pdf"))
            let slice = try await download(server, session, path: "/docs/报告 final.pdf", range: "bytes=1000-1999")
            #expect(slice.status == 206)
            #expect(slice.body == bytes[1000..<2000])
            #expect(slice.headers[.contentRange] == "bytes 1000-1999/100000")
            let tail = try await download(server, session, path: "/docs/报告 final.pdf", range: "bytes=-10")
            #expect(tail.body == bytes.suffix(10))
            let unsatisfiable = try await download(server, session, path: "/docs/报告 final.pdf", range: "bytes=200000-")
            #expect(unsatisfiable.status == 416)
            // Tampered and expired links.
            let get = try await server.post("/v1/files/get", ["path": "/docs/报告 final.pdf"], token: session)
            let address = try #require(get.result["downloadAddress"] as? String)
            let relative = String(address.dropFirst("http://127.0.0.1:\(server.port)".count))
            let tampered = relative.replacingOccurrences(of: "&n=", with: "&n=x")
            #expect(try await server.request(.get, tampered).status == 403)
            let links = DownloadLinks(publicBaseURL: "", downloadDomain: nil, key: server.services.downloadKey)
            let object = try #require(get.result["storeId"] as? String)
            let key = try await server.read { db in try await StoreObjectRepository.find(hash: object, on: db)!.objectKey }
            let uuid = try #require(get.result["uuid"] as? String)
            let old = links.address(objectKey: key, node: uuid, name: "x", mime: "text/plain", now: Date(timeIntervalSinceNow: -7 * 3600))
            #expect(try await server.request(.get, old).status == 410)
            // Directories have no download address; unknown paths are 404.
            let dir = try await server.post("/v1/files/get", ["path": "/docs"], token: session)
            #expect(dir.result["downloadAddress"] == nil)
            #expect(dir.result["mime"] as? String == "application/x-directory")
            #expect(try await server.post("/v1/files/get", ["path": "/nope"], token: session).status == 404)
        }
    }

    @Test("bad, expired and foreign tokens; oversize; wrong ctx and offset — WCS errors, nothing stored", arguments: TestBackend.allCases)
    func uploadErrors(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, session) = try await server.user("err", capacity: 1 << 30)
            let keys = server.services.credentials[0]
            let bytes = vectorBytes(1000)
            func expectWCSError(_ reply: TestServer.Reply, _ status: Int, _ note: String) {
                #expect(reply.status == status, "\(note): \(reply.status) \(reply.text)")
                #expect(reply.json["message"] is String, "\(note): message key")
                #expect(reply.json["code"] as? Int == status, "\(note): code")
            }
            expectWCSError(try await server.formUpload(token: "garbage", bytes: bytes), 401, "garbage token")
            expectWCSError(try await server.formUpload(token: nil, bytes: bytes), 401, "no token")
            let expired = UploadToken.make(policy: PutPolicy(scope: "pan", deadline: Millis.now() - 1000, saveKey: "k1"), credentials: keys)
            expectWCSError(try await server.formUpload(token: expired, bytes: bytes), 401, "expired")
            let foreign = UploadToken.make(policy: PutPolicy(scope: "other-bucket", deadline: Millis.now() + 60_000, saveKey: "k2"), credentials: keys)
            expectWCSError(try await server.formUpload(token: foreign, bytes: bytes), 401, "foreign bucket")
            let forged = UploadToken.make(policy: PutPolicy(scope: "pan", deadline: Millis.now() + 60_000), credentials: Credentials(accessKey: keys.accessKey, secretKey: "nope"))
            expectWCSError(try await server.sliceUpload(token: forged, bytes: bytes, style: .desktop), 401, "forged slice")
            let scoped = UploadToken.make(policy: PutPolicy(scope: "pan:fixed-key", deadline: Millis.now() + 60_000), credentials: keys)
            // A `bucket:key` scope puts the bytes under its key whatever form `key` is sent (the Android app sends its file name).
            let scopedReply = try await server.formUpload(token: scoped, bytes: bytes, fields: ["key": "other-key"])
            #expect(scopedReply.status == 200, "\(scopedReply.text)")
            #expect(server.services.objectStore.objectExists(key: "fixed-key"))
            #expect(!server.services.objectStore.objectExists(key: "other-key"))
            FileOps.remove(server.services.objectStore.objectPath(forKey: "fixed-key"))  // the counts below start from nothing
            // Oversize: the session declared 500 bytes.
            let small = try await token(server, session, ["name": "small.bin", "size": 500])
            expectWCSError(try await server.formUpload(token: small, bytes: bytes), 413, "form oversize")
            expectWCSError(try await server.sliceUpload(token: small, bytes: bytes, style: .desktop), 413, "slice oversize")
            // Wrong ctx and offset.
            let upload = try await token(server, session, ["name": "ctx.bin"])
            let first = try await server.slicePost("/mkblk/1000/0", token: upload, body: bytes.prefix(400))
            #expect(first.status == 200)
            #expect(first.json["offset"] as? Int == 400)
            #expect(first.json["checksum"] as? String == PasswordHasher.md5Hex(String(decoding: bytes.prefix(400), as: UTF8.self)) || (first.json["checksum"] as? String)?.count == 32)
            #expect(first.json["crc32"] as? UInt32 == CRC32.checksum(Array(bytes.prefix(400))))
            let ctx = try #require(first.json["ctx"] as? String)
            expectWCSError(try await server.slicePost("/bput/\(ctx)/300", token: upload, body: bytes[400..<1000]), 400, "wrong offset")
            expectWCSError(try await server.slicePost("/bput/ffffffffffffffffffffffffffffffff_400/400", token: upload, body: bytes[400..<1000]), 400, "unknown ctx")
            expectWCSError(try await server.slicePost("/bput/\(ctx)/400", token: small, body: bytes[400..<1000]), 400, "another token's ctx")
            expectWCSError(try await server.slicePost("/bput/\(ctx)/400", token: upload, body: bytes[400..<1000] + Data(count: 1)), 400, "chunk past block")
            expectWCSError(try await server.slicePost("/mkfile/1000", token: upload, body: Data(ctx.utf8)), 400, "incomplete block")
            // The interrupted block continues from its last ctx.
            let rest = try await server.slicePost("/bput/\(ctx)/400", token: upload, body: bytes[400..<1000])
            #expect(rest.status == 200)
            #expect(rest.json["offset"] as? Int == 1000)
            let lastCtx = try #require(rest.json["ctx"] as? String)
            expectWCSError(try await server.slicePost("/mkfile/999", token: upload, body: Data(lastCtx.utf8)), 400, "size mismatch")
            #expect(server.storedObjectFiles() == 0)
            #expect(try await server.count("store_objects") == 0)
            let done = try await server.slicePost("/mkfile/1000", token: upload, body: Data(lastCtx.utf8))
            #expect(done.status == 200)
            #expect(done.json["hash"] as? String == ContentHasher.hash(bytes))
            #expect(server.storedObjectFiles() == 1)
        }
    }

    @Test("without a callbackUrl, returnBody and returnUrl are honoured", arguments: TestBackend.allCases)
    func returnBody(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let keys = server.services.credentials[0]
            let bytes = vectorBytes(10)
            let hash = ContentHasher.hash(bytes)
            let plain = UploadToken.make(policy: PutPolicy(scope: "pan", deadline: Millis.now() + 60_000, saveKey: "plain"), credentials: keys)
            let reply = try await server.formUpload(token: plain, bytes: bytes)
            #expect(reply.status == 200)
            #expect(Base64URL.decode(reply.text).map { String(decoding: $0, as: UTF8.self) } == "hash=\(hash)")
            let templated = UploadToken.make(policy: PutPolicy(scope: "pan", deadline: Millis.now() + 60_000, saveKey: "tpl", returnBody: "key=$(key)&size=$(fsize)"), credentials: keys)
            let withBody = try await server.formUpload(token: templated, bytes: bytes)
            #expect(Base64URL.decode(withBody.text).map { String(decoding: $0, as: UTF8.self) } == "key=tpl&size=10&hash=\(hash)")
            let redirect = UploadToken.make(policy: PutPolicy(scope: "pan", deadline: Millis.now() + 60_000, saveKey: "rd", returnUrl: "https://app.example.com/done"), credentials: keys)
            let moved = try await server.formUpload(token: redirect, bytes: bytes)
            #expect(moved.status == 303)
            #expect(moved.headers[.location]?.hasPrefix("https://app.example.com/done?upload_ret=") == true)
        }
    }

    @Test("CORS preflight on the upload endpoints names UploadBatch", arguments: TestBackend.allCases)
    func uploadCORS(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.corsOrigins = ["https://app.example.com"] }) { server in
            let reply = try await server.request(.options, "/mkblk/4194304/0", headers: [
                .origin: "https://app.example.com", .accessControlRequestMethod: "POST",
                .accessControlRequestHeaders: "authorization, uploadbatch, content-type",
            ])
            #expect(reply.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(reply.headers[.accessControlAllowHeaders]?.lowercased().contains("uploadbatch") == true)
        }
    }
}
