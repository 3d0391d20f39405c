import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
import WCS

/// Servers whose tests seed stored objects directly (`seedObject`): such an
/// object belongs to no one's tree, so only the original server's rule
/// (`PAN_INSTANT_UPLOAD=global`) makes it instant. These suites test the
/// token's rules around instant upload; who may have it is
/// `InstantUploadProofTests`'s, on the default rule.
let anyonesContent: @Sendable (inout PanConfiguration) -> Void = { $0.instantUpload = .global }

/// Stores an object directly, as if an earlier upload had, so a token request can hit it.
func seedObject(_ server: TestServer, bytes: Data) async throws -> (hash: String, size: Int64) {
    let hash = ContentHasher.hash(bytes)
    let size = Int64(bytes.count)
    _ = try await server.write { db in
        try await StoreObjectRepository.upsert(hash: hash, size: size, mime: "application/pdf", bucket: "pan", objectKey: "pan/seeded-\(hash)", on: db)
    }
    return (hash, size)
}

@Suite("POST /v1/store/token (seed, api.md §5)")
struct TokenTests {
    @Test("rule 1: name and path → path/name, missing directories created", arguments: TestBackend.allCases)
    func ruleNameAndPath(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("u1")
            let reply = try await server.post("/v1/store/token", ["name": "a.txt", "path": "/d/e/f"], token: token)
            #expect(reply.status == 200)
            #expect(reply.result["path"] as? String == "/d/e/f/a.txt")
            #expect(reply.result["name"] as? String == "a.txt")
            #expect(reply.result["uuid"] == nil)
            #expect(reply.result["storeId"] == nil)
            #expect(reply.result["type"] as? Int == 0)
            #expect(reply.result["version"] as? Int == 1)
            #expect((reply.result["token"] as? String)?.isEmpty == false)
            #expect(reply.result["uploadUrl"] as? String == server.configuration.effectiveUploadURL)
            // The directories exist and `parent` is /d/e/f's uuid.
            let dir = try await server.read { db in try await TreeRepository.node(userId: 1, path: "/d/e/f", on: db) }
            #expect(dir?.isDirectory == true)
            #expect(reply.result["parent"] as? String == dir?.uuid)
            #expect(try await server.count("upload_sessions", "state = 'pending'") == 1)
        }
    }

    @Test("rule 2: name and path empty → /originalFilename", arguments: TestBackend.allCases)
    func ruleOriginalFilename(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("u2")
            let reply = try await server.post("/v1/store/token", ["originalFilename": "photo.jpg"], token: token)
            #expect(reply.result["path"] as? String == "/photo.jpg")
        }
    }

    @Test("rule 3: all empty → /<random>.tmp, and {} and an empty body are accepted", arguments: TestBackend.allCases)
    func ruleRandomName(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("u3")
            for reply in [try await server.post("/v1/store/token", [:], token: token),
                          try await server.post("/v1/store/token", raw: "", token: token)] {
                #expect(reply.status == 200)
                let path = try #require(reply.result["path"] as? String)
                #expect(path.hasPrefix("/qzy-upload-noname."))
                #expect(path.hasSuffix(".tmp"))
            }
        }
    }

    @Test("rule 4: name empty, path set — existing directory, existing file, new path", arguments: TestBackend.allCases)
    func rulePathOnly(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("u4")
            _ = try await server.write { db in try await TreeRepository.directory(userId: 1, path: "/docs", on: db) }
            let intoDir = try await server.post("/v1/store/token", ["path": "/docs", "originalFilename": "r.pdf"], token: token)
            #expect(intoDir.result["path"] as? String == "/docs/r.pdf")
            let newPath = try await server.post("/v1/store/token", ["path": "/x/y/z.bin"], token: token)
            #expect(newPath.result["path"] as? String == "/x/y/z.bin")
            // An existing file at `path` is the target: same content → returned as is, nothing created.
            let object = try await seedObject(server, bytes: Data("hello".utf8))
            let first = try await server.post("/v1/store/token", ["path": ":torrent/file.torrent", "hash": object.hash], token: token)
            #expect(first.result["uuid"] is String)
            let nodes = try await server.count("nodes")
            let again = try await server.post("/v1/store/token", ["path": ":torrent/file.torrent", "hash": object.hash], token: token)
            #expect(again.status == 200)
            #expect(again.result["uuid"] as? String == first.result["uuid"] as? String)
            #expect(try await server.count("nodes") == nodes)
            // Different content at that existing file without override: conflict.
            let other = try await server.post("/v1/store/token", ["path": ":torrent/file.torrent", "hash": "Fl0b5-ndoe6Ilr5bfjSoXuFkUqe0"], token: token)
            #expect(other.status == 409)
            #expect(other.code == "FILE_AREADY_EXISTS")
        }
    }

    @Test("every real client's request shape", arguments: TestBackend.allCases)
    func clientShapes(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("u5")
            let object = try await seedObject(server, bytes: Data("shape".utf8))
            // web: {hash, path, name, override}
            let web = try await server.post("/v1/store/token", ["hash": object.hash, "path": "/web", "name": "w.txt", "override": false], token: token)
            #expect(web.result["path"] as? String == "/web/w.txt")
            #expect(web.result["uuid"] is String)
            // desktop: {hash, path: ":torrent/<filename>"}
            let desktop = try await server.post("/v1/store/token", ["hash": object.hash, "path": ":torrent/d.txt"], token: token)
            #expect(desktop.result["path"] as? String == "/:torrent/d.txt")
            #expect(desktop.result["storeId"] as? String == object.hash)
            // older desktop at the root: "//name" normalised
            let old = try await server.post("/v1/store/token", ["path": "//old.txt", "originalFilename": "old.txt", "hash": "x"], token: token)
            #expect(old.result["path"] as? String == "/old.txt")
            // Android: md5 hash (never matches), parent "/", path "/"
            let android = try await server.post("/v1/store/token", ["name": "a.apk", "hash": PasswordHasher.md5Hex("x"), "parent": "/", "path": "/", "originalFilename": "a.apk"], token: token)
            #expect(android.result["path"] as? String == "/a.apk")
            #expect(android.result["token"] is String)
            // Qt: {name, parent:"", path:"", hash: sha1 hex}
            let qt = try await server.post("/v1/store/token", ["name": "q.txt", "parent": "", "path": "", "hash": String(repeating: "ab", count: 20)], token: token)
            #expect(qt.result["path"] as? String == "/q.txt")
            // aliases: fileHash, rewrite "1"
            let alias = try await server.post("/v1/store/token", ["fileHash": object.hash, "path": "/web", "name": "w.txt", "rewrite": "1"], token: token)
            #expect(alias.status == 200)
            #expect(alias.result["version"] as? Int == 1)
            #expect(alias.result["uuid"] as? String == web.result["uuid"] as? String)
        }
    }

    @Test("parent uuid addressing; another user's parent or path is not found", arguments: TestBackend.allCases)
    func parentUUID(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, alice) = try await server.user("alice")
            let (bob, bobToken) = try await server.user("bob")
            let dir = try await server.write { db in try await TreeRepository.directory(userId: bob.id, path: "/bobs", on: db) }
            let mine = try await server.post("/v1/store/token", ["name": "f.txt", "parent": dir.uuid], token: bobToken)
            #expect(mine.result["path"] as? String == "/bobs/f.txt")
            let sessions = try await server.count("upload_sessions")
            let theirs = try await server.post("/v1/store/token", ["name": "f.txt", "parent": dir.uuid], token: alice)
            #expect(theirs.status == 404)
            #expect(theirs.code == "FILE_NOT_FOUND")
            #expect(try await server.count("upload_sessions") == sessions)
            // Alice's "/bobs" is her own, new directory: users never share paths.
            let path = try await server.post("/v1/store/token", ["name": "f.txt", "path": "/bobs"], token: alice)
            #expect(path.status == 200)
            #expect(path.result["parent"] as? String != dir.uuid)
        }
    }

    @Test("bad names and paths are 400 with a code and write nothing", arguments: TestBackend.allCases)
    func badNames(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("u6")
            let before = try await server.count("nodes")
            let bad: [[String: Any]] = [
                ["name": "."], ["name": ".."], ["name": "a/b", "path": "/x"], ["name": "nul\u{0}here"],
                ["name": String(repeating: "é", count: 128)], ["name": "ok", "path": "/a/../b"], ["path": "/a/./b"],
                ["name": "ok", "conflict": "explode"], ["name": 5.5 as Double, "size": "many"], ["size": -1],
            ]
            for body in bad {
                let reply = try await server.post("/v1/store/token", body, token: token)
                #expect(reply.status == 400, "\(body) → \(reply.status) \(reply.text)")
                #expect(reply.code != nil && reply.success == false)
            }
            #expect(try await server.count("nodes") == before)
            #expect(try await server.count("upload_sessions") == 0)
            // Unicode is kept as given; 255 bytes is fine.
            let unicode = try await server.post("/v1/store/token", ["name": "5系标轴2.0.pdf", "path": "/资料"], token: token)
            #expect(unicode.result["path"] as? String == "/资料/5系标轴2.0.pdf")
            let long = try await server.post("/v1/store/token", ["name": String(repeating: "a", count: 255)], token: token)
            #expect(long.status == 200)
        }
    }

    @Test("conflicts: fail, override (same uuid, version+1), rename, directory in the way", arguments: TestBackend.allCases)
    func conflicts(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("u7")
            let a = try await seedObject(server, bytes: Data("version A".utf8))
            let b = try await seedObject(server, bytes: Data("version B, longer".utf8))
            let first = try await server.post("/v1/store/token", ["name": "r.txt", "path": "/c", "hash": a.hash], token: token)
            #expect(first.result["version"] as? Int == 0)
            let fail = try await server.post("/v1/store/token", ["name": "r.txt", "path": "/c", "hash": b.hash], token: token)
            #expect(fail.status == 409)
            #expect(fail.code == "FILE_AREADY_EXISTS")
            let failToken = try await server.post("/v1/store/token", ["name": "r.txt", "path": "/c"], token: token)
            #expect(failToken.status == 409)
            let over = try await server.post("/v1/store/token", ["name": "r.txt", "path": "/c", "hash": b.hash, "override": true], token: token)
            #expect(over.status == 200)
            #expect(over.result["uuid"] as? String == first.result["uuid"] as? String)
            #expect(over.result["version"] as? Int == 1)
            #expect(over.result["storeId"] as? String == b.hash)
            #expect(over.result["size"] as? Int64 == b.size || over.result["size"] as? Int == Int(b.size))
            // References moved from A to B, space follows the new size.
            let refs = try await server.read { db in
                await (try StoreObjectRepository.findCounted(hash: a.hash, on: db)!.refCount, try StoreObjectRepository.findCounted(hash: b.hash, on: db)!.refCount,
                 try UserRepository.find(id: user.id, on: db)!.spaceUsed)
            }
            #expect(refs.0 == 0)
            #expect(refs.1 == 1)
            #expect(refs.2 == b.size)
            let renamed1 = try await server.post("/v1/store/token", ["name": "r.txt", "path": "/c", "hash": a.hash, "conflict": "rename"], token: token)
            #expect(renamed1.result["path"] as? String == "/c/r (1).txt")
            let renamed2 = try await server.post("/v1/store/token", ["name": "r.txt", "path": "/c", "hash": a.hash, "conflict": "rename"], token: token)
            #expect(renamed2.result["path"] as? String == "/c/r (2).txt")
            // A directory is never replaced by a file, even with override.
            _ = try await server.write { db in try await TreeRepository.directory(userId: user.id, path: "/c/sub", on: db) }
            let dir = try await server.post("/v1/store/token", ["name": "sub", "path": "/c", "hash": a.hash, "override": true], token: token)
            #expect(dir.status == 409)
            let dirRename = try await server.post("/v1/store/token", ["name": "sub", "path": "/c", "hash": a.hash, "conflict": "rename"], token: token)
            #expect(dirRename.result["path"] as? String == "/c/sub (1)")
            // A file where a directory is needed.
            let notDir = try await server.post("/v1/store/token", ["name": "x", "path": "/c/r.txt"], token: token)
            #expect(notDir.status == 409)
            #expect(notDir.code == "NOT_A_DIRECTORY")
        }
    }

    @Test("instant upload: the file object is complete and counted once in refs and quota", arguments: TestBackend.allCases)
    func instantUpload(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("u8")
            let object = try await seedObject(server, bytes: Data(repeating: 7, count: 5000))
            let reply = try await server.post("/v1/store/token", ["name": "5系标轴2.0.pdf", "path": "/d/e/f/g", "hash": object.hash], token: token)
            #expect(reply.status == 200)
            let file = reply.result
            #expect((file["uuid"] as? String)?.count == 32)
            #expect(file["storeId"] as? String == object.hash)
            #expect(file["path"] as? String == "/d/e/f/g/5系标轴2.0.pdf")
            #expect(file["pathId"] as? String == PanPath.pathId("/d/e/f/g/5系标轴2.0.pdf"))
            #expect(file["ext"] as? String == ".pdf")
            #expect(file["mime"] as? String == "application/pdf")
            #expect(file["userId"] as? Int == Int(user.id))
            #expect(file["locking"] as? Bool == false)
            for key in ["lft", "rgt", "atime", "ctime", "mtime", "version", "parent", "type", "size"] {
                #expect(file.keys.contains(key), "missing \(key)")
            }
            let lft = try #require(file["lft"] as? Int)
            let rgt = try #require(file["rgt"] as? Int)
            #expect(lft < rgt)
            let state = try await server.read { db in
                await (try StoreObjectRepository.findCounted(hash: object.hash, on: db)!.refCount, try UserRepository.find(id: user.id, on: db)!.spaceUsed)
            }
            #expect(state.0 == 1)
            #expect(state.1 == 5000)
            #expect(try await server.count("upload_sessions") == 0)
            // A size that does not match the stored object is not an instant upload.
            let mismatch = try await server.post("/v1/store/token", ["name": "other.pdf", "hash": object.hash, "size": 1], token: token)
            #expect(mismatch.result["token"] is String)
            #expect(mismatch.result["uuid"] == nil)
        }
    }

    @Test("quota: exactly full is allowed, one byte over is 403 and writes nothing", arguments: TestBackend.allCases)
    func quota(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("u9", capacity: 10_000)
            let six = try await seedObject(server, bytes: Data(repeating: 1, count: 6000))
            let four = try await seedObject(server, bytes: Data(repeating: 2, count: 4000))
            let five = try await seedObject(server, bytes: Data(repeating: 3, count: 4001))
            #expect(try await server.post("/v1/store/token", ["name": "a", "hash": six.hash], token: token).status == 200)
            let nodes = try await server.count("nodes")
            let over = try await server.post("/v1/store/token", ["name": "c", "hash": five.hash], token: token)
            #expect(over.status == 403)
            #expect(over.code == "QUOTA_EXCEEDED")
            #expect(try await server.count("nodes") == nodes)
            #expect(try await server.post("/v1/store/token", ["name": "b", "hash": four.hash], token: token).status == 200)
            let used = try await server.read { db in try await UserRepository.find(id: user.id, on: db)!.spaceUsed }
            #expect(used == 10_000)
            // Full: a token for a declared size is refused, and so is one with no size.
            #expect(try await server.post("/v1/store/token", ["name": "d", "size": 1], token: token).status == 403)
            #expect(try await server.post("/v1/store/token", ["name": "e"], token: token).status == 403)
        }
    }

    @Test("the token: byte-exact WCS format, policy fields, HMAC recomputed as vectors.md does", arguments: TestBackend.allCases)
    func tokenFields(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("u10", capacity: 1_000_000)
            let reply = try await server.post("/v1/store/token", ["name": "big.iso", "path": "/iso", "size": 500_000], token: token)
            let uploadToken = try #require(reply.result["token"] as? String)
            let parts = uploadToken.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            #expect(parts.count == 3)
            let keys = server.services.credentials[0]
            #expect(parts[0] == keys.accessKey)
            // Middle part: base64url of the 40 lowercase hex chars of HMAC-SHA1(SK, encodedPolicy).
            let hex = String(decoding: try #require(Base64URL.decode(parts[1])), as: UTF8.self)
            #expect(hex.count == 40)
            #expect(hex == hex.lowercased())
            #expect(parts[1] == keys.sign(parts[2]))
            let json = try #require(Base64URL.decode(parts[2]))
            let policy = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            let scope = try #require(policy["scope"] as? String)
            #expect(scope.hasPrefix("pan:"), "the scope fixes the object key")
            #expect(policy["saveKey"] == nil)
            let deadlineText = try #require(policy["deadline"] as? String)
            let deadline = try #require(Int64(deadlineText))
            #expect(deadline > Millis.now())
            #expect(policy["overwrite"] as? Int == 0)
            #expect(policy["fsizeLimit"] as? Int == 500_000)
            let saveKey = String(scope.dropFirst(4))
            #expect(!saveKey.isEmpty && !saveKey.contains("iso"))
            #expect(policy["callbackUrl"] as? String == "http://127.0.0.1:\(server.port)/v1/callback/ws/post")
            let body = try #require(policy["callbackBody"] as? String)
            #expect(body.contains("url=@qzyurlstart$(url)@qzyurlend"))
            #expect(body.contains("fileName=@qzyfilestart$(fname)@qzyfileend"))
            #expect(body.contains("userId=\(user.id)"))
            #expect(body.contains("hash=$(hash)"))
            #expect(body.contains("session="))
            // The session is recorded with what the token says.
            let found = try await server.read { db in try await db.queryRow("SELECT * FROM upload_sessions WHERE object_key = ?", saveKey).map(UploadSession.init(row:)) }
            let session = try #require(found)
            #expect(session.state == .pending)
            #expect(session.dirPath == "/iso")
            #expect(session.name == "big.iso")
            #expect(session.declaredSize == 500_000)
            #expect(session.deadline == deadline)
            // Without a declared size, fsizeLimit is the remaining quota, less what pending uploads declared.
            let open = try await server.post("/v1/store/token", ["name": "any.bin"], token: token)
            let openToken = try #require(open.result["token"] as? String)
            let openPolicy = try UploadToken.verify(openToken, credentials: server.services.credentials).get()
            #expect(openPolicy.fsizeLimit == 1_000_000 - 500_000)
        }
    }
}
