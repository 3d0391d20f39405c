import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
import WCS

/// The real clients' exact request shapes (docs/api.md, docs/wcs.md), and the
/// store-poisoning attacks their leniency must not reopen.
@Suite("Real clients' request shapes and the callback-injection attacks")
struct ClientShapeTests {
    func uploadToken(_ server: TestServer, _ session: String, _ body: [String: Any]) async throws -> String {
        let reply = try await server.post("/v1/store/token", body, token: session)
        guard let token = reply.result["token"] as? String else { throw TestFailure("no upload token: \(reply.text)") }
        return token
    }

    func objectKey(_ token: String, _ server: TestServer) throws -> String {
        try #require(try UploadToken.verify(token, credentials: server.services.credentials).get().scopeKey)
    }

    func downloaded(_ server: TestServer, _ session: String, _ path: String) async throws -> Data {
        let get = try await server.post("/v1/files/get", ["path": path], token: session)
        let address = try #require(get.result["downloadAddress"] as? String, "\(get.text)")
        let prefix = "http://127.0.0.1:\(server.port)"
        return try await server.request(.get, String(address.dropFirst(prefix.count))).body
    }

    /// The Android form, in its order: token, desc, key (= the file name), a
    /// text part named `file` (= the file name again), then the bytes.
    func androidForm(_ server: TestServer, token: String, name: String, bytes: Data) async throws -> TestServer.Reply {
        let boundary = "----android-\(UUID().uuidString)"
        var body = Data()
        func text(_ field: String, _ value: String) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"\r\n\r\n\(value)\r\n".utf8))
        }
        text("token", token)
        text("desc", "")
        text("key", name)
        text("file", name)
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
        body.append(bytes)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return try await server.request(.post, "/file/upload", headers: [.contentType: "multipart/form-data; boundary=\(boundary)"], body: body)
    }

    @Test("Android: the form's key (the file name) is ignored: bytes land under the session's key and the callback is accepted", arguments: TestBackend.allCases)
    func androidFormUpload(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, session) = try await server.user("droid")
            let bytes = Data("android bytes".utf8)
            // The Android token request: {name, hash: <md5 hex>, parent: "/", path: "/", originalFilename}.
            let token = try await uploadToken(server, session, [
                "name": "IMG_0001.jpg", "hash": "0cc175b9c0f1b6a831c399e269772661", "parent": "/", "path": "/", "originalFilename": "IMG_0001.jpg",
            ])
            let reply = try await androidForm(server, token: token, name: "IMG_0001.jpg", bytes: bytes)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.result["path"] as? String == "/IMG_0001.jpg")
            #expect(reply.result["storeId"] as? String == ContentHasher.hash(bytes))
            #expect(server.services.objectStore.objectExists(key: try objectKey(token, server)))
            #expect(!server.services.objectStore.objectExists(key: "IMG_0001.jpg"))
            #expect(try await downloaded(server, session, "/IMG_0001.jpg") == bytes)
        }
    }

    @Test("store poisoning: a form key naming another session's key cannot swap the bytes behind a hash", arguments: TestBackend.allCases)
    func formKeyCannotPoison(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, bob) = try await server.user("bob")
            let (_, alice) = try await server.user("alice")
            let x = Data("the attacker's bytes X".utf8), y = Data("popular content Y".utf8)
            let tokenA = try await uploadToken(server, bob, ["name": "a.bin", "path": "/"])
            let tokenB = try await uploadToken(server, bob, ["name": "b.bin", "path": "/"])
            let keyB = try objectKey(tokenB, server)
            // X with token A, aimed at B's key; then Y with token B and `key=K_b&q`, then `key=&`.
            _ = try await server.formUpload(token: tokenA, bytes: x, fileName: "a.bin", fields: ["key": keyB])
            let second = try await server.formUpload(token: tokenB, bytes: y, fileName: "b.bin", fields: ["key": keyB + "&q", "mimeType": "text/plain&key=\(keyB)&session=x&userId=1"])
            #expect(second.status == 200, "\(second.text)")
            let tokenC = try await uploadToken(server, bob, ["name": "c.bin", "path": "/"])
            _ = try await server.formUpload(token: tokenC, bytes: y, fileName: "c.bin", fields: ["key": "&"])
            // Every stored object holds the bytes its hash names.
            let objects = try await server.read { db in try await StoreObjectRepository.list(on: db) }
            for object in objects {
                let path = server.services.objectStore.objectPath(forKey: object.objectKey)
                let stored = try #require(FileManager.default.contents(atPath: path), "object \(object.objectKey) is missing")
                #expect(ContentHasher.hash(stored) == object.hash, "object \(object.objectKey) does not hold \(object.hash)")
            }
            // Alice's instant upload of Y (by proof: Y is Bob's content) downloads Y.
            let instant = try await InstantUploadProofTests.proveInstant(server, alice, ["name": "y.bin", "path": "/", "hash": ContentHasher.hash(y)], bytes: y)
            #expect(instant.result["uuid"] is String, "\(instant.text)")
            #expect(try await downloaded(server, alice, "/y.bin") == y)
        }
    }

    @Test("an authentic callback with a repeated field is refused for good (200, INVALID_CALLBACK), one without the session's key is not accepted", arguments: TestBackend.allCases)
    func injectedCallbackRefused(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, bob) = try await server.user("inject")
            let (victim, _) = try await server.user("victim")
            let token = try await uploadToken(server, bob, ["name": "i.bin", "path": "/"])
            let policy = try UploadToken.verify(token, credentials: server.services.credentials).get()
            let key = try #require(policy.scopeKey)
            let hash = ContentHasher.hash(Data("i".utf8))
            // What WCS would send if a substituted value carried `&userId=…&key=…`: it does not escape values.
            for injected in ["\(key)&userId=\(victim.id)", "&key=", "\(key)&key=other", "\(key)&session=zzz"] {
                let substituted = MagicVariables.substitute(policy.callbackBody!, values: ["fsize": "1", "hash": hash, "key": injected, "fname": "i.bin"])
                let reply = try await server.signedCallback(body: MagicVariables.wireBody(for: substituted))
                #expect(reply.status == 200 && reply.success == false && reply.code == "INVALID_CALLBACK", "\(injected): \(reply.status) \(reply.text)")
            }
            let noKey = MagicVariables.substitute(policy.callbackBody!.replacingOccurrences(of: "key=$(key)&", with: ""), values: ["fsize": "1", "hash": hash, "fname": "i.bin"])
            #expect(try await server.signedCallback(body: MagicVariables.wireBody(for: noKey)).status == 403)
            #expect(try await server.count("nodes", "type = 0") == 0)
            #expect(try await server.count("store_objects") == 0)
            _ = user
        }
    }

    @Test("bytes whose callback is refused, or whose hash is already stored, are deleted at once", arguments: TestBackend.allCases)
    func unrecordedBytesRemoved(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, session) = try await server.user("orphans")
            let bytes = Data("same bytes".utf8)
            // Two pending sessions for one name: the second callback finds the name taken.
            let first = try await uploadToken(server, session, ["name": "n.bin", "path": "/"])
            let second = try await uploadToken(server, session, ["name": "n.bin", "path": "/"])
            #expect(try await server.formUpload(token: first, bytes: bytes, fileName: "n.bin").status == 200)
            let refused = try await server.formUpload(token: second, bytes: Data("other bytes".utf8), fileName: "n.bin")
            #expect(refused.success == false, "\(refused.text)")
            #expect(server.storedObjectFiles() == 1)
            // The same bytes again, without the instant check: a new file, the first object, no second copy.
            let third = try await uploadToken(server, session, ["name": "copy.bin", "path": "/"])
            let copy = try await server.formUpload(token: third, bytes: bytes, fileName: "copy.bin")
            #expect(copy.status == 200 && copy.success == true, "\(copy.text)")
            #expect(server.storedObjectFiles() == 1)
            #expect(!server.services.objectStore.objectExists(key: try objectKey(third, server)))
            #expect(try await downloaded(server, session, "/copy.bin") == bytes)
        }
    }

    @Test("desktop: list2 with start -1 (the Move dialog), list with size 0, page with order 0 and every original order code", arguments: TestBackend.allCases)
    func desktopListing(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, session) = try await server.user("desk")
            let now = Millis.now()
            // Files of sizes 3, 1, 2 and two directories, created oldest first.
            for (name, size) in [("b.txt", 3), ("a.txt", 1), ("c.txt", 2)] {
                let bytes = Data(repeating: 0x61, count: size)
                let token = try await uploadToken(server, session, ["name": name, "path": "/"])
                #expect(try await server.formUpload(token: token, bytes: bytes, fileName: name).status == 200)
                try await Task.sleep(for: .milliseconds(3))
            }
            for name in ["d1", "d2"] {
                _ = try await server.post("/v1/files/createDirectory", ["path": "/", "name": name], token: session)
                try await Task.sleep(for: .milliseconds(3))
            }
            _ = now
            func names(_ reply: TestServer.Reply, _ key: String = "list") -> [String] {
                ((reply.result[key] as? [[String: Any]]) ?? (reply.json["result"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            }
            // The Move dialog's folder tree: start -1, directories only.
            let tree = try await server.post("/v1/files/list2", ["path": "/", "start": -1, "size": 100, "type": 1], token: session)
            #expect(tree.status == 200, "\(tree.text)")
            #expect(Set(names(tree)) == ["d1", "d2"])
            let unlimited = try await server.post("/v1/files/list", ["path": "/", "start": 0, "size": 0], token: session)
            #expect(names(unlimited).count == 5, "\(unlimited.text)")
            let expected: [Int: [String]] = [
                0: ["d2", "d1", "c.txt", "a.txt", "b.txt"],  // default: directories first, newest first
                -1: ["d2", "d1", "c.txt", "a.txt", "b.txt"],
                99: ["d2", "d1", "c.txt", "a.txt", "b.txt"],
                -2: ["b.txt", "a.txt", "c.txt", "d1", "d2"],
                1: ["d1", "d2", "b.txt", "a.txt", "c.txt"],
                2: ["a.txt", "b.txt", "c.txt", "d1", "d2"],
                3: ["d2", "d1", "c.txt", "b.txt", "a.txt"],
                4: ["d2", "d1", "c.txt", "b.txt", "a.txt"],
                5: ["c.txt", "b.txt", "a.txt", "d2", "d1"],
                6: ["d1", "d2", "a.txt", "b.txt", "c.txt"],
                7: ["a.txt", "b.txt", "c.txt", "d1", "d2"],
                9: ["b.txt", "c.txt", "a.txt"],
                11: ["a.txt", "c.txt", "b.txt"],
                12: ["a.txt", "c.txt", "b.txt"],
                13: ["b.txt", "c.txt", "a.txt"],
                14: ["d2", "d1", "c.txt", "a.txt", "b.txt"],
                15: ["c.txt", "a.txt", "b.txt", "d2", "d1"],
                16: ["d1", "d2", "b.txt", "a.txt", "c.txt"],
                17: ["b.txt", "a.txt", "c.txt", "d1", "d2"],
            ]
            for (code, order) in expected {
                let body: [String: Any] = [9, 11, 12, 13].contains(code) ? ["path": "/", "order": code, "type": 0] : ["path": "/", "order": code]
                let page = try await server.post("/v1/files/page", body, token: session)
                #expect(page.status == 200, "order \(code): \(page.text)")
                #expect(names(page) == order, "order \(code)")
            }
            // Odd values the clients send: page 0, pageSize -1, type 5, recycle "flase", order as text.
            let odd = try await server.post("/v1/files/page", ["path": "/", "page": 0, "pageSize": -1, "type": 5, "recycle": "flase", "orderBy": "abc"], token: session)
            #expect(odd.status == 200, "\(odd.text)")
            #expect(names(odd).count == 5)
        }
    }

    @Test("desktop torrents: `:torrent/<name>` is reachable by path and kept out of the root listing", arguments: TestBackend.allCases)
    func torrentFolder(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, session) = try await server.user("torrent")
            let bytes = Data("d8:announce...e".utf8)
            let token = try await uploadToken(server, session, ["hash": ContentHasher.hash(bytes), "path": ":torrent/linux.iso.torrent"])
            let uploaded = try await server.formUpload(token: token, bytes: bytes, fileName: "linux.iso.torrent")
            #expect(uploaded.result["path"] as? String == "/:torrent/linux.iso.torrent", "\(uploaded.text)")
            let root = try await server.post("/v1/files/page", ["path": "/"], token: session)
            #expect(root.result["totalCount"] as? Int == 0, "\(root.text)")
            let list = try await server.post("/v1/files/list2", ["path": "/", "start": -1], token: session)
            #expect((list.result["list"] as? [Any])?.isEmpty == true)
            let get = try await server.post("/v1/files/get", ["path": "/:torrent/linux.iso.torrent"], token: session)
            #expect(get.status == 200 && get.result["storeId"] as? String == ContentHasher.hash(bytes))
            // The same torrent again is an instant upload into the same hidden folder.
            let again = try await server.post("/v1/store/token", ["hash": ContentHasher.hash(bytes), "path": ":torrent/again.torrent"], token: session)
            #expect(again.result["storeId"] as? String == ContentHasher.hash(bytes), "\(again.text)")
        }
    }
}
