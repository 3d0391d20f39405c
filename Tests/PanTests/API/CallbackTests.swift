import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
import WCS

@Suite("Upload callbacks (wcs.md §2–3, api.md §6)")
struct CallbackTests {
    /// Asks for a token and returns it.
    func uploadToken(_ server: TestServer, _ token: String, _ body: [String: Any]) async throws -> String {
        let reply = try await server.post("/v1/store/token", body, token: token)
        guard let uploadToken = reply.result["token"] as? String else { throw TestFailure("no token: \(reply.text)") }
        return uploadToken
    }

    @Test("a signed callback creates the node and the object; the next token for that hash is instant", arguments: TestBackend.allCases)
    func createsFile(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("cb1")
            let upload = try await uploadToken(server, token, ["name": "R&D=report&v2.pdf", "path": "/docs"])
            let bytes = Data(repeating: 42, count: 12345)
            let hash = ContentHasher.hash(bytes)
            let reply = try await server.callback(forToken: upload, size: 12345, hash: hash, fileName: "R&D=report&v2.pdf", mimeType: "application/pdf")
            #expect(reply.status == 200)
            #expect(reply.success == true)
            #expect(reply.result["path"] as? String == "/docs/R&D=report&v2.pdf")
            #expect(reply.result["storeId"] as? String == hash)
            #expect(reply.result["size"] as? Int == 12345)
            #expect(reply.result["mime"] as? String == "application/pdf")
            let state = try await server.read { db in
                await (try StoreObjectRepository.findCounted(hash: hash, on: db), try UserRepository.find(id: user.id, on: db)!.spaceUsed)
            }
            #expect(state.0?.refCount == 1)
            #expect(state.0?.size == 12345)
            #expect(state.1 == 12345)
            #expect(try await server.count("upload_sessions", "state = 'done'") == 1)
            let instant = try await server.post("/v1/store/token", ["name": "copy.pdf", "path": "/elsewhere", "hash": hash], token: token)
            #expect(instant.result["uuid"] is String)
            #expect(instant.result["storeId"] as? String == hash)
            let refs = try await server.read { db in try await StoreObjectRepository.findCounted(hash: hash, on: db)!.refCount }
            #expect(refs == 2)
        }
    }

    @Test("the legacy path and the bare (unwrapped) body are served too", arguments: TestBackend.allCases)
    func legacyPathAndUnwrapped(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("cb2")
            let upload = try await uploadToken(server, token, ["name": "a.bin"])
            let reply = try await server.callback(forToken: upload, size: 3, hash: ContentHasher.hash(Data("abc".utf8)), path: "/v1/store/callback/wcs")
            #expect(reply.status == 200)
            #expect(reply.success == true)
            let upload2 = try await uploadToken(server, token, ["name": "b.bin"])
            let policy = try UploadToken.verify(upload2, credentials: server.services.credentials).get()
            let substituted = MagicVariables.substitute(policy.callbackBody!, values: [
                "fsize": "1", "hash": ContentHasher.hash(Data("x".utf8)), "key": policy.scopeKey!, "fname": "b.bin",
            ])
            let bare = try await server.signedCallback(body: Data(substituted.utf8))
            #expect(bare.status == 200)
            #expect(bare.result["path"] as? String == "/b.bin")
        }
    }

    @Test("replayed ×10: one node, one reference, the same reply", arguments: TestBackend.allCases)
    func idempotent(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("cb3")
            let upload = try await uploadToken(server, token, ["name": "once.txt"])
            let hash = ContentHasher.hash(Data("once".utf8))
            let first = try await server.callback(forToken: upload, size: 4, hash: hash)
            for _ in 0..<10 {
                let again = try await server.callback(forToken: upload, size: 4, hash: hash)
                #expect(again.status == 200)
                #expect(again.result["uuid"] as? String == first.result["uuid"] as? String)
                #expect(again.result["version"] as? Int == first.result["version"] as? Int)
            }
            #expect(try await server.count("nodes", "type = 0") == 1)
            let state = try await server.read { db in
                await (try StoreObjectRepository.findCounted(hash: hash, on: db)!.refCount, try UserRepository.find(id: user.id, on: db)!.spaceUsed)
            }
            #expect(state.0 == 1)
            #expect(state.1 == 4)
        }
    }

    @Test("50 concurrent callbacks for one name, per policy", arguments: ConflictPolicy.allCases)
    func concurrentSameName(policy: ConflictPolicy) async throws {
        try await withServer { server in
            let (user, token) = try await server.user("cb4")
            var tokens: [String] = []
            for _ in 0..<50 {
                tokens.append(try await uploadToken(server, token, ["name": "same.txt", "path": "/race", "conflict": policy.rawValue]))
            }
            let replies = try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
                for (i, upload) in tokens.enumerated() {
                    group.addTask {
                        let bytes = Data("content \(i)".utf8)
                        return try await server.callback(forToken: upload, size: Int64(bytes.count), hash: ContentHasher.hash(bytes))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 }, "every authentic callback is answered 200")
            let accepted = replies.filter { $0.success == true }
            let refused = replies.filter { $0.success == false }
            switch policy {
            case .fail, .skip:  // one upload names one file: skipping it is refusing it
                #expect(accepted.count == 1)
                #expect(refused.count == 49)
                #expect(refused.allSatisfy { $0.code == "FILE_AREADY_EXISTS" })
            case .rename:
                #expect(accepted.count == 50)
                #expect(Set(accepted.compactMap { $0.result["name"] as? String }).count == 50)
            case .overwrite:
                #expect(accepted.count == 50)
                #expect(Set(accepted.compactMap { $0.result["uuid"] as? String }).count == 1)
                #expect(Set(accepted.compactMap { $0.result["version"] as? Int }) == Set(0..<50))
            }
            let files = try await server.read { db in
                try await db.query("SELECT name, size FROM nodes WHERE user_id = ? AND type = 0 AND state = 0", user.id)
            }
            let names = try files.map { try $0.string("name") }
            #expect(Set(names).count == names.count, "no duplicate live names")
            let sizes = try files.reduce(Int64(0)) { $0 + (try $1.int64("size")) }
            let used = try await server.read { db in try await UserRepository.find(id: user.id, on: db)!.spaceUsed }
            #expect(used == sizes, "spaceUsed equals the sum of live file sizes")
        }
    }

    @Test("forged signature, wrong user, unknown session: rejected, nothing written", arguments: TestBackend.allCases)
    func unauthenticated(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("cb5")
            _ = try await server.user("other")
            let upload = try await uploadToken(server, token, ["name": "x.txt"])
            let hash = ContentHasher.hash(Data("x".utf8))
            let forged = try await server.callback(forToken: upload, size: 1, hash: hash, signWith: Credentials(accessKey: server.services.credentials[0].accessKey, secretKey: "wrong"))
            #expect(forged.status == 401)
            #expect(forged.code == "CALLBACK_SIGNATURE_INVALID")
            var unsigned = try await server.request(.post, "/v1/callback/ws/post", headers: [.contentType: "application/x-www-form-urlencoded"], body: Data("callbackBody=x".utf8))
            #expect(unsigned.status == 401)
            // Wrong user: rewrite userId in the substituted body.
            let policy = try UploadToken.verify(upload, credentials: server.services.credentials).get()
            var substituted = MagicVariables.substitute(policy.callbackBody!, values: ["fsize": "1", "hash": hash, "key": policy.scopeKey!, "fname": "x"])
            substituted = substituted.replacingOccurrences(of: "userId=1", with: "userId=2")
            unsigned = try await server.signedCallback(body: MagicVariables.wireBody(for: substituted))
            #expect(unsigned.status == 403)
            // Unknown session.
            let unknown = substituted.replacingOccurrences(of: "userId=2", with: "userId=1")
                .replacing(#/session=[0-9a-f]+/#, with: "session=ffffffffffffffffffffffffffffffff")
            let notFound = try await server.signedCallback(body: MagicVariables.wireBody(for: unknown))
            #expect(notFound.status == 404)
            #expect(notFound.code == "UPLOAD_SESSION_NOT_FOUND")
            #expect(try await server.count("store_objects") == 0)
            #expect(try await server.count("upload_sessions", "state = 'pending'") == 1)
        }
    }

    @Test("permanent refusals answer 200 with success:false and mark the session failed", arguments: TestBackend.allCases)
    func permanentRefusals(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("cb6", capacity: 100)
            // Oversize: larger than the declared size.
            let small = try await uploadToken(server, token, ["name": "s.bin", "size": 10])
            let oversize = try await server.callback(forToken: small, size: 11, hash: ContentHasher.hash(Data(count: 11)))
            #expect(oversize.status == 200)
            #expect(oversize.success == false)
            #expect(oversize.code == "FILE_TOO_LARGE")
            // Replays of a refusal get the same refusal.
            let again = try await server.callback(forToken: small, size: 11, hash: ContentHasher.hash(Data(count: 11)))
            #expect(again.code == "FILE_TOO_LARGE")
            // Quota: two sessions each fit alone, the second does not fit after the first.
            let a = try await uploadToken(server, token, ["name": "a.bin"])
            let b = try await uploadToken(server, token, ["name": "b.bin"])
            #expect(try await server.callback(forToken: a, size: 60, hash: ContentHasher.hash(Data(count: 60))).success == true)
            let over = try await server.callback(forToken: b, size: 60, hash: ContentHasher.hash(Data(repeating: 1, count: 60)))
            #expect(over.code == "QUOTA_EXCEEDED")
            #expect(over.status == 200)
            // Expired session.
            let late = try await uploadToken(server, token, ["name": "late.bin"])
            try await server.write { db in try await db.run("UPDATE upload_sessions SET deadline = 1 WHERE name = 'late.bin'") }
            let expired = try await server.callback(forToken: late, size: 1, hash: ContentHasher.hash(Data(count: 1)))
            #expect(expired.code == "UPLOAD_SESSION_EXPIRED")
            #expect(try await server.count("upload_sessions", "state = 'failed'") == 2)
            #expect(try await server.count("upload_sessions", "state = 'expired'") == 1)
            #expect(try await server.count("nodes", "type = 0") == 1)
            let used = try await server.read { db in try await UserRepository.find(id: user.id, on: db)!.spaceUsed }
            #expect(used == 60)
            // A file that appeared at the target since the token (policy fail).
            let t1 = try await uploadToken(server, token, ["name": "dup.txt"])
            let t2 = try await uploadToken(server, token, ["name": "dup.txt"])
            #expect(try await server.callback(forToken: t1, size: 1, hash: ContentHasher.hash(Data("1".utf8))).success == true)
            let dup = try await server.callback(forToken: t2, size: 1, hash: ContentHasher.hash(Data("2".utf8)))
            #expect(dup.code == "FILE_AREADY_EXISTS")
        }
    }

    @Test("a directory deleted since the token is re-created by the callback", arguments: TestBackend.allCases)
    func recreatesDirectory(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("cb7")
            let upload = try await uploadToken(server, token, ["name": "f.txt", "path": "/gone/deeper"])
            try await server.write { db in
                try await db.run("DELETE FROM nodes WHERE user_id = ? AND parent_id IS NOT NULL", user.id)
            }
            let reply = try await server.callback(forToken: upload, size: 1, hash: ContentHasher.hash(Data("f".utf8)))
            #expect(reply.success == true)
            #expect(reply.result["path"] as? String == "/gone/deeper/f.txt")
        }
    }

    @Test("the sweep expires sessions past deadline plus grace", arguments: TestBackend.allCases)
    func sweep(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("cb8")
            _ = try await uploadToken(server, token, ["name": "old.bin"])
            _ = try await uploadToken(server, token, ["name": "new.bin"])
            try await server.write { db in try await db.run("UPDATE upload_sessions SET deadline = 1000 WHERE name = 'old.bin'") }
            let expired = try await server.services.store.sweepSessions(before: Millis.now() - server.services.uploadSettings.callbackGrace)
            #expect(expired == 1)
            #expect(try await server.count("upload_sessions", "state = 'expired' AND name = 'old.bin'") == 1)
            #expect(try await server.count("upload_sessions", "state = 'pending'") == 1)
        }
    }

    @Test("fuzzed bodies, signed and unsigned, get 4xx only", arguments: TestBackend.allCases)
    func fuzz(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("cb9")
            let upload = try await uploadToken(server, token, ["name": "fz.bin"])
            let policy = try UploadToken.verify(upload, credentials: server.services.credentials).get()
            let valid = MagicVariables.substitute(policy.callbackBody!, values: ["fsize": "1", "hash": ContentHasher.hash(Data("z".utf8)), "key": policy.scopeKey!, "fname": "fz.bin"])
            var generator = SystemRandomNumberGenerator()
            var bodies: [Data] = [
                Data(), Data("callbackBody=".utf8), Data("callbackBody=%ZZ%".utf8),
                Data("fileName=@qzyfilestartnever-ends".utf8), Data("url=@qzyurlstart&userId=1".utf8),
                Data(("size=" + String(repeating: "9", count: 5000) + "&userId=1&session=x").utf8),
                Data(String(repeating: "a=b&", count: 10_000).utf8),
                Data((valid.replacingOccurrences(of: "size=1", with: "size=-5")).utf8),
                Data((valid.replacingOccurrences(of: "hash=", with: "hash=short")).utf8),
                Data(valid.utf8.prefix(valid.utf8.count / 2)),
                Data([0xFF, 0xFE, 0x00, 0x01]),
            ]
            for _ in 0..<40 {
                bodies.append(Data((0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }))
                var mutated = Array(valid.utf8)
                for _ in 0..<3 { mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 32...126, using: &generator) }
                bodies.append(Data(mutated))
            }
            for body in bodies {
                let signed = try await server.signedCallback(body: body)
                #expect(signed.status < 500, "signed body \(String(decoding: body.prefix(80), as: UTF8.self)) → \(signed.status)")
                #expect(signed.json["success"] is Bool)
                let unsigned = try await server.request(.post, "/v1/callback/ws/post", body: body)
                #expect(unsigned.status == 401)
            }
            let huge = try await server.signedCallback(body: Data(count: 100_000))
            #expect(huge.status == 413)
        }
    }

    @Test("IP allowlist mode, and signature checks switched off only explicitly", arguments: TestBackend.allCases)
    func checkModes(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.callbackCheck = .ip; $0.callbackAllowlist = ["10.0.0.0/8"] }) { server in
            let (_, token) = try await server.user("ip1")
            let upload = try await uploadToken(server, token, ["name": "i.bin"])
            let refused = try await server.callback(forToken: upload, size: 1, hash: ContentHasher.hash(Data("i".utf8)))
            #expect(refused.status == 403)
            #expect(refused.code == "CALLBACK_SOURCE_FORBIDDEN")
        }
        try await withServer(backend: backend, configure: { $0.callbackCheck = .ip; $0.callbackAllowlist = ["127.0.0.1"] }) { server in
            let (_, token) = try await server.user("ip2")
            let upload = try await uploadToken(server, token, ["name": "i.bin"])
            // Signed with a wrong key, but the mode checks only the source address.
            let reply = try await server.callback(forToken: upload, size: 1, hash: ContentHasher.hash(Data("i".utf8)), signWith: Credentials(accessKey: "x", secretKey: "y"))
            #expect(reply.success == true)
        }
        try await withServer(backend: backend, configure: { $0.callbackCheck = .off }) { server in
            let (_, token) = try await server.user("off")
            let upload = try await uploadToken(server, token, ["name": "o.bin"])
            let policy = try UploadToken.verify(upload, credentials: server.services.credentials).get()
            let body = MagicVariables.wireBody(for: MagicVariables.substitute(policy.callbackBody!, values: ["fsize": "1", "hash": ContentHasher.hash(Data("o".utf8)), "key": policy.scopeKey!, "fname": "o.bin"]))
            let reply = try await server.request(.post, "/v1/callback/ws/post", body: body)
            #expect(reply.success == true)
        }
    }
}
