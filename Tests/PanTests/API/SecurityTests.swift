import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
@testable import PanServer
import SQLiteKit
import WCS

/// Issue #14, items 7–10: each attack of the black-box probe, over real HTTP.
@Suite("Security findings of issue #14 (items 7–10)")
struct SecurityTests {
    /// `levels` directories each named `prefix`: short names, so the depth cap is met before the path-length cap.
    static func deepPath(_ levels: Int, prefix: String = "d") -> String {
        String(repeating: "/" + prefix, count: levels)
    }

    static let cap = PanPath.maximumDepth

    // MARK: 7. Depth cap on the resulting depth

    @Test("store/token with parent uuid + path cannot nest past the depth cap")
    func tokenParentPlusPath() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("deep")
            let made = try await server.post("/v1/files/createDirectory", ["path": Self.deepPath(Self.cap - 4)], token: token)
            #expect(made.status == 200)
            let parent = try #require(made.result["uuid"] as? String)
            // cap − 4 + 10 levels: each half is within the cap, the sum is not.
            let over = try await server.post("/v1/store/token", ["parent": parent, "path": Self.deepPath(10, prefix: "e"), "name": "f.bin"], token: token)
            #expect(over.status == 400)
            #expect(over.code == "INVALID_PATH")
            // Nothing of the refused chain was created.
            #expect(try await server.post("/v1/files/get", ["path": Self.deepPath(Self.cap - 4) + "/e"], token: token).status == 404)
            // The file itself counts: a file directly in a directory at the cap would be one deeper.
            let atCap = try await server.post("/v1/files/createDirectory", ["path": Self.deepPath(Self.cap)], token: token)
            #expect(atCap.status == 200)
            let fileBelow = try await server.post("/v1/store/token", ["path": Self.deepPath(Self.cap), "name": "f.bin"], token: token)
            #expect(fileBelow.code == "INVALID_PATH")
            // Up to the cap works.
            let ok = try await server.post("/v1/store/token", ["parent": parent, "path": Self.deepPath(3, prefix: "e"), "name": "f.bin"], token: token)
            #expect(ok.status == 200, "\(ok.text)")
        }
    }

    @Test("createDirectory: path + name past the depth cap is refused")
    func createDirectoryDepth() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("mk")
            let over = try await server.post("/v1/files/createDirectory", ["path": Self.deepPath(Self.cap), "name": "one-more"], token: token)
            #expect(over.status == 400)
            #expect(over.code == "INVALID_PATH")
            #expect(try await server.post("/v1/files/get", ["path": Self.deepPath(1)], token: token).status == 404)
        }
    }

    @Test("move and copy of a subtree whose deepest descendant would pass the depth cap are refused")
    func moveAndCopyDepth() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("mv")
            // A 600-deep destination and a 500-deep subtree: 600 + 500 > 1000.
            #expect(try await server.post("/v1/files/createDirectory", ["path": Self.deepPath(600, prefix: "a")], token: token).status == 200)
            #expect(try await server.post("/v1/files/createDirectory", ["path": Self.deepPath(500, prefix: "b")], token: token).status == 200)
            let destination = Self.deepPath(600, prefix: "a")
            let move = try await server.post("/v1/files/move", ["path": "/b", "destPath": destination], token: token)
            #expect(move.status == 400)
            #expect(move.code == "INVALID_PATH")
            let copy = try await server.post("/v1/files/copy", ["path": "/b", "destPath": destination], token: token)
            #expect(copy.status == 400)
            #expect(copy.code == "INVALID_PATH")
            // Nothing moved, nothing half-copied.
            #expect(try await server.post("/v1/files/get", ["path": Self.deepPath(500, prefix: "b")], token: token).status == 200)
            #expect(try await server.post("/v1/files/get", ["path": destination + "/b"], token: token).status == 404)
            // A subtree that fits moves: its 50 levels below level 450 land at 601–651.
            let fits = try await server.post("/v1/files/move", ["path": Self.deepPath(450, prefix: "b"), "destPath": destination], token: token)
            #expect(fits.status == 200, "\(fits.text)")
            #expect(try await server.post("/v1/files/get", ["path": destination + Self.deepPath(51, prefix: "b")], token: token).status == 200)
            let findings = try await server.database.read { db in try await TreeChecker.check(on: db) }
            #expect(findings.isEmpty, "fsck: \(findings)")
        }
    }

    @Test("paths longer than 4,096 characters are refused: by request, by rename of an ancestor, by move and copy")
    func pathLengthCap() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("long")
            let long = String(repeating: "x", count: 250)
            // 17 levels of 250 characters: 4,267 > 4,096.
            let tooLong = try await server.post("/v1/files/createDirectory", ["path": String(repeating: "/" + long, count: 17)], token: token)
            #expect(tooLong.status == 400 && tooLong.code == "INVALID_PATH", "\(tooLong.text)")
            #expect(try await server.post("/v1/files/get", ["path": "/" + long], token: token).status == 404)
            // A 1-character top directory and 16 levels of 250 fit: 4,018 characters.
            let fits = "/t" + String(repeating: "/" + long, count: 16)
            #expect(try await server.post("/v1/files/createDirectory", ["path": fits], token: token).status == 200)
            // Renaming the top to 200 characters would push the deepest path past the cap.
            let rename = try await server.post("/v1/files/rename", ["path": "/t", "name": String(repeating: "r", count: 200)], token: token)
            #expect(rename.status == 400 && rename.code == "INVALID_PATH", "\(rename.text)")
            #expect(try await server.post("/v1/files/get", ["path": fits], token: token).status == 200)
            // Moving or copying the subtree under a 200-character directory would too.
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/" + String(repeating: "m", count: 200)], token: token).status == 200)
            for action in ["move", "copy"] {
                let reply = try await server.post("/v1/files/\(action)", ["path": "/t", "destPath": "/" + String(repeating: "m", count: 200)], token: token)
                #expect(reply.status == 400 && reply.code == "INVALID_PATH", "\(action): \(reply.text)")
            }
            // A token whose file would pass the cap is refused at once, not at the callback after the upload.
            let token204 = try await server.post("/v1/store/token", ["path": fits, "name": String(repeating: "n", count: 204)], token: token)
            #expect(token204.status == 400 && token204.code == "INVALID_PATH", "\(token204.text)")
            #expect(try await server.count("upload_sessions") == 0)
            // Restoring with `conflict: rename` adds " (n)": near the cap, that is refused too.
            let near = "/r" + String(repeating: "/" + long, count: 16) + "/" + String(repeating: "z", count: 76)  // 4,096
            #expect(try await server.post("/v1/files/createDirectory", ["path": near], token: token).status == 200)
            #expect(try await server.post("/v1/files/remove", ["path": "/r", "recycle": 1], token: token).status == 200)
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/r"], token: token).status == 200)
            let restore = try await server.post("/v1/files/recycle", ["path": "/r", "recycle": 0, "conflict": "rename"], token: token)
            #expect(restore.status == 400 && restore.code == "INVALID_PATH", "\(restore.text)")
            let findings = try await server.read { db in try await TreeChecker.check(on: db) }
            #expect(findings.isEmpty, "fsck: \(findings)")
        }
    }

    @Test("createDirectory -p keeps an inner name that ends in whitespace (U+3000, U+00A0)")
    func innerNamesKeepTheirWhitespace() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("spaces")
            let made = try await server.post("/v1/files/createDirectory", ["path": "/d\u{3000}/sub"], token: token)
            #expect(made.result["path"] as? String == "/d\u{3000}/sub", "\(made.text)")
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/e"], token: token).status == 200)
            let beside = try await server.post("/v1/files/createDirectory", ["path": "/e\u{00A0}/x"], token: token)
            #expect(beside.result["path"] as? String == "/e\u{00A0}/x", "\(beside.text)")
            #expect(try await server.post("/v1/files/get", ["path": "/d/sub"], token: token).status == 404)
        }
    }

    // MARK: 8. One name rule

    @Test("control and bidi characters are refused by token, createDirectory, rename, move/copy targets")
    func badNamesEverywhere() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("names")
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/ok"], token: token).status == 200)
            let bad = ["esc\u{1B}[2J", "cr\rlf\n", "tab\tx", "del\u{7F}", "c1\u{9B}x", "evil\u{202E}gpj.exe", "iso\u{2067}x"]
            for name in bad {
                let label = name.debugDescription
                let viaToken = try await server.post("/v1/store/token", ["name": name, "path": "/ok"], token: token)
                #expect(viaToken.status == 400 && viaToken.code == "INVALID_NAME", "token \(label): \(viaToken.text)")
                let viaOriginal = try await server.post("/v1/store/token", ["originalFilename": name], token: token)
                #expect(viaOriginal.code == "INVALID_NAME", "originalFilename \(label)")
                let viaPath = try await server.post("/v1/store/token", ["path": "/ok/\(name)/f.txt"], token: token)
                #expect(viaPath.code == "INVALID_NAME", "token path \(label)")
                let mkdir = try await server.post("/v1/files/createDirectory", ["path": "/ok", "name": name], token: token)
                #expect(mkdir.code == "INVALID_NAME", "createDirectory \(label)")
                let rename = try await server.post("/v1/files/rename", ["path": "/ok", "name": name], token: token)
                #expect(rename.code == "INVALID_NAME", "rename \(label)")
                let move = try await server.post("/v1/files/move", ["path": "/ok", "destPath": "/\(name)"], token: token)
                #expect(move.code == "INVALID_NAME", "move \(label)")
            }
            #expect(try await server.post("/v1/files/get", ["path": "/ok"], token: token).status == 200)
            #expect(try await server.count("nodes") == 2)
        }
    }

    @Test("a backslash separates in a path and is refused in a name, so no node hides from path lookups")
    func backslash() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("bs")
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/x"], token: token).status == 200)
            let rename = try await server.post("/v1/files/rename", ["path": "/x", "name": "a\\b"], token: token)
            #expect(rename.status == 400)
            #expect(rename.code == "INVALID_NAME")
            let mkdirName = try await server.post("/v1/files/createDirectory", ["path": "/", "name": "c\\d"], token: token)
            #expect(mkdirName.code == "INVALID_NAME")
            // In a path it is a separator, as it always was.
            let nested = try await server.post("/v1/files/createDirectory", ["path": "\\p\\q"], token: token)
            #expect(nested.result["path"] as? String == "/p/q")
        }
    }

    @Test("NFC and NFD spellings of café are one name")
    func unicodeNormalization() async throws {
        try await withServer(configure: anyonesContent) { server in
            let (_, token) = try await server.user("nfc")
            let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
            let first = try await server.post("/v1/files/createDirectory", ["path": "/", "name": nfd], token: token)
            #expect(first.status == 200)
            // Stored NFC.
            #expect(Array((first.result["name"] as? String ?? "").utf8) == Array(nfc.utf8))
            let second = try await server.post("/v1/files/createDirectory", ["path": "/", "name": nfc], token: token)
            #expect(second.result["uuid"] as? String == first.result["uuid"] as? String, "the same directory, not a twin")
            // A file uploaded under the NFD path is found under the NFC one, and the name is taken either way.
            let object = try await seedObject(server, bytes: Data("café".utf8))
            let made = try await server.post("/v1/store/token", ["path": "/\(nfd)/r\u{E9}sum\u{E9}.txt", "hash": object.hash], token: token)
            #expect(made.result["uuid"] != nil, "\(made.text)")
            let found = try await server.post("/v1/files/get", ["path": "/\(nfc)/re\u{301}sume\u{301}.txt"], token: token)
            #expect(found.status == 200)
            let twin = try await server.post("/v1/store/token", ["path": "/\(nfc)", "name": "re\u{301}sum\u{E9}.txt", "hash": object.hash], token: token)
            #expect(twin.code == "FILE_AREADY_EXISTS", "\(twin.text)")
            let renamed = try await server.post("/v1/files/rename", ["path": "/\(nfc)", "name": "Cafe\u{301}"], token: token)
            #expect(Array((renamed.result["name"] as? String ?? "").utf8) == Array("Caf\u{E9}".utf8))
            #expect(try await server.count("nodes", "name = '\(nfd)'") == 0)
        }
    }

    // MARK: 9. Download links

    /// A file uploaded through the local endpoint with the given part Content-Type; its download address.
    func uploaded(_ server: TestServer, _ session: String, name: String, type: String, bytes: Data) async throws -> (address: String, file: [String: Any]) {
        let grant = try await server.post("/v1/store/token", ["name": name, "path": "/dl"], token: session)
        let upload = try #require(grant.result["token"] as? String, "\(grant.text)")
        let reply = try await server.formUpload(token: upload, bytes: bytes, fileName: name, partContentType: type)
        #expect(reply.status == 200, "\(reply.text)")
        let get = try await server.post("/v1/files/get", ["path": "/dl/\(name)"], token: session)
        let address = try #require(get.result["downloadAddress"] as? String)
        return (String(address.dropFirst("http://127.0.0.1:\(server.port)".count)), get.result)
    }

    @Test("active types are served as octet-stream attachments with nosniff; passive types keep theirs")
    func activeTypes() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("dl")
            let html = try await uploaded(server, session, name: "evil.html", type: "text/html", bytes: Data("<script>alert(1)</script>".utf8))
            #expect(html.file["mime"] as? String == "text/html", "the recorded type is the uploader's")
            let page = try await server.request(.get, html.address)
            #expect(page.status == 200)
            #expect(page.headers[.contentType] == "application/octet-stream")
            #expect(page.headers[.contentDisposition]?.hasPrefix("attachment") == true)
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            let svg = try await uploaded(server, session, name: "i.svg", type: "image/svg+xml", bytes: Data("<svg onload=alert(1)/>".utf8))
            #expect(try await server.request(.get, svg.address).headers[.contentType] == "application/octet-stream")
            let png = try await uploaded(server, session, name: "p.png", type: "image/png", bytes: Data([0x89, 0x50, 0x4E, 0x47]))
            let image = try await server.request(.get, png.address)
            #expect(image.headers[.contentType] == "image/png")
            #expect(image.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
        }
    }

    @Test("a link signed for a name holding a newline does not verify when re-split at it")
    func unambiguousSignature() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("sig")
            let (address, file) = try await uploaded(server, session, name: "f.txt", type: "text/plain", bytes: Data("hi".utf8))
            #expect(try await server.request(.get, address).status == 200)
            let links = DownloadLinks(publicBaseURL: "", downloadDomain: nil, key: server.services.downloadKey)
            let uuid = try #require(file["uuid"] as? String)
            let hash = try #require(file["storeId"] as? String)
            let key = try await server.database.read { db in
                try await StoreObjectRepository.find(hash: hash, on: db)!.objectKey
            }
            // A link Pan could have signed for a legacy name holding a newline…
            let signed = links.address(objectKey: key, node: uuid, name: "a\nb", mime: "text/plain")
            #expect(try await server.request(.get, signed).status == 200)
            // …re-split at the newline: same fields joined by "\n", different meaning.
            let resplit = signed
                .replacingOccurrences(of: "&n=\(DownloadLinks.queryEscape("a\nb"))", with: "&n=a")
                .replacingOccurrences(of: "&m=\(DownloadLinks.queryEscape("text/plain"))", with: "&m=\(DownloadLinks.queryEscape("b\ntext/plain"))")
            #expect(resplit != signed)
            #expect(try await server.request(.get, resplit).status == 403)
            #expect(links.sign(encodedKey: "k", node: "u", name: "a\nb", mime: "c", expires: 1)
                    != links.sign(encodedKey: "k", node: "u", name: "a", mime: "b\nc", expires: 1))
        }
    }

    @Test("a link stops working when its file is permanently deleted (recycled files still download)")
    func deletedFileLink() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("gone")
            let (address, _) = try await uploaded(server, session, name: "g.txt", type: "text/plain", bytes: Data("bye".utf8))
            #expect(try await server.request(.get, address).status == 200)
            #expect(try await server.post("/v1/files/remove", ["path": "/dl/g.txt", "recycle": 1], token: session).status == 200)
            #expect(try await server.request(.get, address).status == 200)
            let binned = try await server.post("/v1/files/page", ["recycle": 1], token: session)
            let uuid = try #require((binned.result["list"] as? [[String: Any]])?.first?["uuid"] as? String)
            #expect(try await server.post("/v1/files/remove", ["uuid": uuid], token: session).status == 200)
            // The bytes are still on disk (they wait for `pan store gc`), the link is not honoured.
            #expect(server.storedObjectFiles() == 1)
            let dead = try await server.request(.get, address)
            #expect(dead.status == 404)
            #expect(dead.code == "FILE_NOT_FOUND")
        }
    }

    // MARK: 10. Smaller findings

    @Test("a malformed chunk size is a 400, not a 500")
    func malformedChunk() async throws {
        let logs = LogCapture()
        try await withOpsServer(logs: logs) { server, _ in
            let reply = try await RawConnection.exchange(port: server.port, "POST /v1/user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 400"), "\(reply)")
            #expect(!reply.contains("INTERNAL_ERROR"))
        }
        #expect(!logs.records.contains { $0.level >= .error }, "no error-level log for a client's bad framing: \(logs.records.map(\.rendered))")
    }

    @Test("the data directory is created 0700, the database and secrets 0600")
    func filePermissions() async throws {
        let parent = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let directory = parent + "/data"
        try await withServer(configure: { $0.dataDirectory = directory }) { server in
            _ = try await server.user("perm")
            func mode(_ path: String) throws -> Int {
                (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
            }
            #expect(try mode(directory) == 0o700)
            for file in ["pan.sqlite", "pan.sqlite-wal", "jwt-secret", "wcs-local-keys"] where FileManager.default.fileExists(atPath: directory + "/" + file) {
                #expect(try mode(directory + "/" + file) == 0o600, "\(file)")
            }
            #expect(try mode(directory + "/pan.sqlite") == 0o600)
            #expect(try mode(directory + "/storage") == 0o700)
        }
    }

    static func preflight(_ server: TestServer, _ origin: String) async throws -> TestServer.Reply {
        try await server.request(.options, "/v1/user/info", headers: [
            .origin: origin, .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization",
        ])
    }

    @Test("CORS answers only configured origins; the default is the public URL's origin; * is explicit")
    func corsOrigins() async throws {
        try await withServer { server in
            let evil = try await server.post("/v1/user/login", ["value": "x", "password": "y"], headers: [.origin: "https://evil.example"])
            #expect(evil.headers[.accessControlAllowOrigin] == nil)
            #expect(try await Self.preflight(server, "https://evil.example").headers[.accessControlAllowOrigin] == nil)
            let own = "http://127.0.0.1:\(server.port)"
            #expect(try await Self.preflight(server, own).headers[.accessControlAllowOrigin] == own)
        }
        try await withServer(configure: { $0.corsOrigins = ["https://web.example", "https://admin.example"] }) { server async throws in
            #expect(try await Self.preflight(server, "https://admin.example").headers[.accessControlAllowOrigin] == "https://admin.example")
            #expect(try await Self.preflight(server, "https://evil.example").headers[.accessControlAllowOrigin] == nil)
        }
        try await withServer(configure: { $0.corsOrigins = ["*"] }) { server async throws in
            #expect(try await Self.preflight(server, "https://anything.example").headers[.accessControlAllowOrigin] == "*")
        }
        var configuration = PanConfiguration()
        try configuration.apply(environment: ["PAN_CORS_ORIGINS": "https://Web.example/, *"])
        #expect(configuration.corsOrigins == ["https://web.example", "*"])
    }
}

extension CLITests {
    @Test("pan file mkdir applies the name rule; ls, tree and stat escape control and bidi characters of legacy names")
    func cliNames() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let add = try await Self.run(["user", "add", "eve", "--password", "pw", "--data-dir", directory])
        #expect(add.status == 0, "\(add)")
        let mkdir = try await Self.run(["file", "mkdir", "eve", "/a\u{1B}[2Jb", "--data-dir", directory])
        #expect(mkdir.status != 0, "\(mkdir)")
        #expect(mkdir.stderr.contains("control"), "\(mkdir)")
        // A name from before the rule, written straight into the database
        // (`TreeRepository.insert` applies the rule too, so it is renamed by SQL).
        do {
            let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)
            try await database.write { db in
                let user = try await #require(try UserRepository.find(reference: "eve", on: db))
                let root = try await TreeRepository.root(of: user.id, on: db)
                let node = try await TreeRepository.insert(
                    userId: user.id, parent: root, name: "legacy", kind: .directory,
                    size: 0, mime: MimeType.directory, storeHash: nil, on: db
                )
                let name = "evil\u{1B}]0;owned\u{07}\u{202E}txt.exe"
                try await db.run(
                    "UPDATE nodes SET name = ?, path = ?, path_id = ? WHERE id = ?", name, "/" + name, PanPath.pathId("/" + name), node.id
                )
            }
        }
        for command in [["file", "ls", "eve", "/"], ["file", "tree", "eve", "/"], ["file", "ls", "eve", "/", "--json"]] {
            let run = try await Self.run(command + ["--data-dir", directory])
            #expect(run.status == 0, "\(run)")
            #expect(!run.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E }, "\(command): \(run.stdout.debugDescription)")
            #expect(run.stdout.contains("evil"), "\(command)")
        }
    }
}
