import Crypto
import Foundation
import HTTPTypes
import Testing
import WCS
@testable import PanCore
@testable import PanHTTPSupport

/// Issue #24 §1: a content hash is not a key to other people's files. Own
/// content is instant on the hash; someone else's needs a proof of
/// possession; `PAN_INSTANT_UPLOAD` picks the rule.
@Suite("Instant upload: proof of possession")
struct InstantUploadProofTests {
    /// Uploads `bytes` as `token`'s user through the local form endpoint; returns the file object.
    static func upload(_ server: TestServer, _ token: String, _ bytes: Data, name: String, path: String = "/") async throws -> [String: Any] {
        let grant = try await server.post("/v1/store/token", ["name": name, "path": path, "size": bytes.count], token: token)
        let upToken = try #require(grant.result["token"] as? String, "\(grant.text)")
        let reply = try await server.formUpload(token: upToken, bytes: bytes, fileName: name)
        #expect(reply.status == 200, "\(reply.text)")
        return reply.json
    }

    /// The answer a client holding `bytes` computes for a reply's challenge.
    static func answer(_ challenge: [String: Any], bytes: Data) throws -> (nonce: String, answer: String) {
        let nonce = try #require(challenge["nonce"] as? String)
        let ranges = try #require(challenge["ranges"] as? [[String: Any]])
        var hasher = SHA256()
        hasher.update(data: Data(nonce.utf8))
        for range in ranges {
            let offset = try #require(range["offset"] as? Int), length = try #require(range["length"] as? Int)
            hasher.update(data: bytes.subdata(in: offset..<(offset + length)))
        }
        return (nonce, Hex.encode(hasher.finalize()))
    }

    /// A token request for content another user stored, answered: the challenge, then the proof.
    static func proveInstant(_ server: TestServer, _ token: String, _ request: [String: Any], bytes: Data) async throws -> TestServer.Reply {
        let grant = try await server.post("/v1/store/token", request, token: token)
        let challenge = try #require(grant.result["challenge"] as? [String: Any], "\(grant.text)")
        let (nonce, answer) = try Self.answer(challenge, bytes: bytes)
        var proven = request
        proven["proof"] = ["nonce": nonce, "answer": answer]
        return try await server.post("/v1/store/token", proven, token: token)
    }

    static func privateBytes(_ count: Int, seed: UInt8 = 7) -> Data {
        var generator = SeededBytes(seed: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1)
        return Data((0..<count).map { _ in generator.next() })
    }

    static func nodesHolding(_ server: TestServer, userId: Int64, hash: String) async throws -> Int64 {
        try await server.read { db in
            try await db.scalar("SELECT COUNT(*) FROM nodes WHERE user_id = ? AND store_hash = ?", userId, hash) ?? 0
        }
    }

    @Test("the Dropship attack: B, knowing only A's hash, gets an upload grant and a challenge, never A's file", arguments: TestBackend.allCases)
    func hashAloneIsNotAKey(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, alice) = try await server.user("alice")
            let (bob, bobToken) = try await server.user("bob")
            let secret = Self.privateBytes(100 * 1024)
            let hash = ContentHasher.hash(secret)
            let file = try await Self.upload(server, alice, secret, name: "private.bin")
            #expect((file["result"] as? [String: Any])?["storeId"] as? String == hash)

            let reply = try await server.post("/v1/store/token", ["path": "/loot", "name": "y.bin", "hash": hash], token: bobToken)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.result["uuid"] == nil && reply.result["storeId"] == nil, "an instant upload for someone else's hash: \(reply.text)")
            #expect(reply.result["token"] is String && reply.result["uploadUrl"] is String)
            let challenge = try #require(reply.result["challenge"] as? [String: Any], "\(reply.text)")
            #expect(challenge["algorithm"] as? String == "sha256")
            // 100 KB is under three 64 KiB ranges: the whole file is asked for.
            #expect(challenge["ranges"] as? [[String: Int]] == [["offset": 0, "length": 100 * 1024]])
            #expect(try await Self.nodesHolding(server, userId: bob.id, hash: hash) == 0)
            // Nor by listing: nothing at /loot/y.bin.
            let get = try await server.post("/v1/files/get", ["path": "/loot/y.bin"], token: bobToken)
            #expect(get.status == 404)
        }
    }

    @Test("own content stays instant on the hash alone, live or in the bin, on both engines", arguments: TestBackend.allCases)
    func ownContentInstant(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("owner")
            let bytes = Self.privateBytes(5000)
            let hash = ContentHasher.hash(bytes)
            _ = try await Self.upload(server, token, bytes, name: "a.bin")
            let again = try await server.post("/v1/store/token", ["name": "b.bin", "path": "/x", "hash": hash], token: token)
            #expect(again.result["uuid"] is String && again.result["storeId"] as? String == hash, "\(again.text)")
            // Both copies binned: still the user's own content.
            let removed = try await server.post("/v1/files/remove", ["path": ["/a.bin", "/x/b.bin"], "recycle": 1], token: token)
            #expect(removed.status == 200, "\(removed.text)")
            let fromBin = try await server.post("/v1/store/token", ["name": "c.bin", "hash": hash], token: token)
            #expect(fromBin.result["uuid"] is String && fromBin.result["challenge"] == nil, "\(fromBin.text)")
        }
    }

    @Test("a client holding the bytes answers the challenge and gets the file; the session it rode on is done", arguments: TestBackend.allCases)
    func proofMakesTheFile(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, alice) = try await server.user("alice")
            let (bob, bobToken) = try await server.user("bob", capacity: 1 << 20)
            let bytes = Self.privateBytes(300 * 1024, seed: 3)
            let hash = ContentHasher.hash(bytes)
            _ = try await Self.upload(server, alice, bytes, name: "shared.bin")

            let request: [String: Any] = ["path": "/mine", "name": "copy.bin", "hash": hash, "size": bytes.count]
            let first = try await server.post("/v1/store/token", request, token: bobToken)
            let challenge = try #require(first.result["challenge"] as? [String: Any], "\(first.text)")
            let (nonce, answer) = try Self.answer(challenge, bytes: bytes)
            var proven = request
            proven["proof"] = ["nonce": nonce, "answer": answer]
            let second = try await server.post("/v1/store/token", proven, token: bobToken)
            #expect(second.status == 200, "\(second.text)")
            #expect(second.result["uuid"] is String && second.result["storeId"] as? String == hash, "\(second.text)")
            #expect(second.result["path"] as? String == "/mine/copy.bin")
            #expect(try await Self.nodesHolding(server, userId: bob.id, hash: hash) == 1)
            // The grant's session is finished: it no longer holds Bob's quota or a pending slot.
            #expect(try await server.count("upload_sessions", "user_id = \(bob.id) AND state = 'pending'") == 0)
            #expect(try await server.count("upload_sessions", "user_id = \(bob.id) AND state = 'done'") == 1)
            // Bob downloads the bytes he proved he had.
            let get = try await server.post("/v1/files/get", ["path": "/mine/copy.bin"], token: bobToken)
            let address = try #require(get.result["downloadAddress"] as? String)
            let path = String(address.dropFirst(server.configuration.effectivePublicBaseURL.count))
            #expect(try await server.request(.get, path).body == bytes)
            // The nonce worked once: the same proof again is refused, and makes nothing.
            let replay = try await server.post("/v1/store/token", proven.merging(["name": "again.bin"]) { $1 }, token: bobToken)
            #expect(replay.status == 403 && replay.code == "PROOF_INVALID", "\(replay.text)")
            let metrics = try await server.request(.get, "/metrics").text
            #expect(metrics.contains(#"pan_instant_uploads_total{kind="proof"} 1"#), "\(metrics)")
            #expect(metrics.contains("pan_possession_challenges_total 1"))
            #expect(metrics.contains("pan_possession_proofs_failed_total 1"))
        }
    }

    @Test("refused proofs: wrong answer, replayed nonce, another hash, user or target, expired; none makes a node")
    func refusedProofs() async throws {
        try await withServer { server in
            let (_, alice) = try await server.user("alice")
            let (bob, bobToken) = try await server.user("bob")
            let (carol, carolToken) = try await server.user("carol")
            let bytes = Self.privateBytes(64 * 1024, seed: 9)
            let other = Self.privateBytes(64 * 1024, seed: 10)
            let hash = ContentHasher.hash(bytes), otherHash = ContentHasher.hash(other)
            _ = try await Self.upload(server, alice, bytes, name: "a.bin")
            _ = try await Self.upload(server, alice, other, name: "b.bin")
            let request: [String: Any] = ["path": "/t", "name": "x.bin", "hash": hash]

            func challenge(_ token: String, _ body: [String: Any] = request) async throws -> (String, String) {
                let reply = try await server.post("/v1/store/token", body, token: token)
                return try Self.answer(try #require(reply.result["challenge"] as? [String: Any], "\(reply.text)"), bytes: bytes)
            }
            func prove(_ token: String, _ nonce: String, _ answer: String, _ body: [String: Any] = request) async throws -> TestServer.Reply {
                var body = body
                body["proof"] = ["nonce": nonce, "answer": answer]
                return try await server.post("/v1/store/token", body, token: token)
            }

            // A wrong answer: 403 PROOF_FAILED; the nonce is spent, so the right answer after it is refused.
            let (nonce1, right1) = try await challenge(bobToken)
            let wrong = try await prove(bobToken, nonce1, String(repeating: "0", count: 64))
            #expect(wrong.status == 403 && wrong.code == "PROOF_FAILED", "\(wrong.text)")
            let late = try await prove(bobToken, nonce1, right1)
            #expect(late.status == 403 && late.code == "PROOF_INVALID", "\(late.text)")
            // A nonce for this hash, presented for another hash.
            let (nonce2, right2) = try await challenge(bobToken)
            let otherHashProof = try await prove(bobToken, nonce2, right2, ["path": "/t", "name": "x.bin", "hash": otherHash])
            #expect(otherHashProof.status == 403 && otherHashProof.code == "PROOF_INVALID")
            // Bob's nonce, presented by Carol (she holds the bytes too).
            let stolen = try await prove(carolToken, nonce2, right2)
            #expect(stolen.status == 403 && stolen.code == "PROOF_INVALID")
            // Bob's nonce for /t/x.bin, used for another target.
            let elsewhere = try await prove(bobToken, nonce2, right2, ["path": "/elsewhere", "name": "x.bin", "hash": hash])
            #expect(elsewhere.status == 403 && elsewhere.code == "PROOF_INVALID", "\(elsewhere.text)")
            // Expired: the same nonce, after its deadline.
            let (nonce3, right3) = try await challenge(bobToken)
            let sessionId = String(nonce3.prefix(32))
            _ = try await server.write { db in
                try await db.run("UPDATE upload_sessions SET proof_expires = ? WHERE id = ?", Millis.now() - 1, sessionId)
            }
            let expired = try await prove(bobToken, nonce3, right3)
            #expect(expired.status == 403 && expired.code == "PROOF_INVALID", "\(expired.text)")
            // Malformed proofs are a clear 400 or 403, never a 500.
            for bad: Any in ["text", ["nonce": 1], ["nonce": "x", "answer": "y"], ["answer": "y"]] {
                var body = request
                body["proof"] = bad
                let reply = try await server.post("/v1/store/token", body, token: bobToken)
                #expect([400, 403].contains(reply.status) && reply.code != nil, "\(bad): \(reply.text)")
            }
            for user in [bob, carol] { #expect(try await Self.nodesHolding(server, userId: user.id, hash: hash) == 0) }
            #expect(try await Self.nodesHolding(server, userId: bob.id, hash: otherHash) == 0)
        }
    }

    @Test("wrong answers count like failed sign-ins: past the limit, 429 before any byte is read")
    func failedProofsAreThrottled() async throws {
        try await withServer(configure: { $0.loginFailuresPerAccount = 3 }) { server in
            let (_, alice) = try await server.user("alice")
            let (_, bobToken) = try await server.user("bob")
            let bytes = Self.privateBytes(1000)
            let hash = ContentHasher.hash(bytes)
            _ = try await Self.upload(server, alice, bytes, name: "a.bin")
            var codes: [String] = []
            for i in 0..<5 {
                let grant = try await server.post("/v1/store/token", ["name": "g\(i).bin", "hash": hash], token: bobToken)
                let nonce = try #require((grant.result["challenge"] as? [String: Any])?["nonce"] as? String, "\(grant.text)")
                let proof = try await server.post(
                    "/v1/store/token", ["name": "g\(i).bin", "hash": hash, "proof": ["nonce": nonce, "answer": "00"]], token: bobToken
                )
                codes.append(proof.code ?? "\(proof.status)")
                if proof.status == 429 { #expect(proof.headers[.retryAfter] != nil) }
            }
            #expect(codes == ["PROOF_FAILED", "PROOF_FAILED", "PROOF_FAILED", "TOO_MANY_ATTEMPTS", "TOO_MANY_ATTEMPTS"], "\(codes)")
        }
    }

    @Test("challenge ranges: 0 bytes, 1 byte, the whole of a small file, three 64 KiB ranges inside a large one", arguments: [0, 1, 65_537, 196_608, 196_609, 1_000_003])
    func rangesBySize(size: Int) async throws {
        try await withServer { server in
            let (_, alice) = try await server.user("alice")
            let (bob, bobToken) = try await server.user("bob")
            let bytes = Self.privateBytes(size, seed: UInt8(size % 251))
            let hash = ContentHasher.hash(bytes)
            _ = try await Self.upload(server, alice, bytes, name: "a.bin")
            let request: [String: Any] = ["name": "b.bin", "hash": hash, "size": size]
            let grant = try await server.post("/v1/store/token", request, token: bobToken)
            let challenge = try #require(grant.result["challenge"] as? [String: Any], "\(grant.text)")
            let ranges = try #require(challenge["ranges"] as? [[String: Int]])
            if size <= 196_608 {
                #expect(ranges == [["offset": 0, "length": size]])
            } else {
                #expect(ranges.count == 3)
                for range in ranges { #expect(range["length"] == 65_536 && range["offset"]! >= 0 && range["offset"]! + 65_536 <= size) }
            }
            let (nonce, answer) = try Self.answer(challenge, bytes: bytes)
            var proven = request
            proven["proof"] = ["nonce": nonce, "answer": answer]
            let reply = try await server.post("/v1/store/token", proven, token: bobToken)
            #expect(reply.result["storeId"] as? String == hash, "\(reply.text)")
            #expect(try await Self.nodesHolding(server, userId: bob.id, hash: hash) == 1)
        }
    }

    @Test("the local reader reads ranges at offset 0 and at the very end; a range past the end is refused")
    func localReaderEdges() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("alice")
            let bytes = Self.privateBytes(200_000, seed: 5)
            let file = try await Self.upload(server, token, bytes, name: "a.bin")
            let hash = try #require((file["result"] as? [String: Any])?["storeId"] as? String)
            let object = try #require(try await server.read { db in try await StoreObjectRepository.find(hash: hash, on: db) })
            let reader = LocalObjectRangeReader(store: server.services.objectStore)
            let ranges = [ByteRange(offset: 0, length: 65_536), ByteRange(offset: 200_000 - 65_536, length: 65_536), ByteRange(offset: 199_999, length: 1)]
            let read = try await reader.read(object, ranges: ranges)
            #expect(read == ranges.map { bytes.subdata(in: Int($0.offset)..<Int($0.offset + $0.length)) })
            await #expect(throws: (any Error).self) { try await reader.read(object, ranges: [ByteRange(offset: 199_999, length: 2)]) }
        }
    }

    @Test("random ranges always lie inside the object")
    func rangesInside() {
        var random = SystemRandomNumberGenerator()
        for size in [196_609, 200_000, 1 << 20, 5_000_000_000] as [Int64] {
            for _ in 0..<500 {
                let ranges = PossessionChallenge.ranges(forSize: size, using: &random)
                #expect(ranges.count == 3 && ranges.allSatisfy { $0.offset >= 0 && $0.offset + $0.length <= size && $0.length == 65_536 })
            }
        }
    }

    @Test("PAN_INSTANT_UPLOAD=owner: no challenge for someone else's hash; =global: the original server's instant upload")
    func policies() async throws {
        for policy in [InstantUploadPolicy.owner, .global] {
            try await withServer(configure: { $0.instantUpload = policy }) { server in
                let (_, alice) = try await server.user("alice")
                let (_, bobToken) = try await server.user("bob")
                let bytes = Self.privateBytes(2000)
                let hash = ContentHasher.hash(bytes)
                _ = try await Self.upload(server, alice, bytes, name: "a.bin")
                let reply = try await server.post("/v1/store/token", ["name": "b.bin", "hash": hash], token: bobToken)
                switch policy {
                case .owner: #expect(reply.result["token"] is String && reply.result["challenge"] == nil, "\(reply.text)")
                default:
                    #expect(reply.result["storeId"] as? String == hash, "\(reply.text)")
                    let metrics = try await server.request(.get, "/metrics").text
                    #expect(metrics.contains(#"pan_instant_uploads_total{kind="global"} 1"#))
                }
            }
        }
        var configuration = PanConfiguration()
        try configuration.apply(environment: ["PAN_INSTANT_UPLOAD": "owner"])
        #expect(configuration.instantUpload == .owner)
        #expect(throws: ConfigurationError.self) { try configuration.apply(environment: ["PAN_INSTANT_UPLOAD": "anyone"]) }
        // External WCS without a download domain: proofs cannot be checked, so only own content is instant.
        configuration = PanConfiguration()
        configuration.uploadURL = "https://up.example.net"
        #expect(configuration.effectiveInstantUpload == .owner)
    }

    @Test("WCS mode against the local endpoint as stand-in: the proof is checked by signed Range GETs of the stored object")
    func wcsModeAgainstTheStandIn() async throws {
        // Two servers over one PostgreSQL: the stand-in holds the bytes (its own
        // upload endpoint) and must see the objects Pan records, or it would drop them.
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
            try await withServer(configure: { common(&$0); $0.uploadURL = wcs; $0.downloadDomain = wcs + "/objects" }) { pan in
                #expect(pan.services.uploadSettings.instantUpload == .proof)
                let (_, alice) = try await pan.user("alice")
                let (bob, bobToken) = try await pan.user("bob")
                let bytes = Self.privateBytes(400_000, seed: 17)
                let hash = ContentHasher.hash(bytes)
                let grant = try await pan.post("/v1/store/token", ["name": "a.bin", "size": bytes.count], token: alice)
                #expect(grant.result["uploadUrl"] as? String == wcs)
                let uploaded = try await standIn.formUpload(token: try #require(grant.result["token"] as? String), bytes: bytes, fileName: "a.bin")
                #expect((uploaded.json["result"] as? [String: Any])?["storeId"] as? String == hash, "\(uploaded.text)")

                // A wrong answer is refused: the bytes were really read from the stand-in.
                let request: [String: Any] = ["name": "b.bin", "hash": hash, "size": bytes.count]
                let first = try await pan.post("/v1/store/token", request, token: bobToken)
                let nonce = try #require((first.result["challenge"] as? [String: Any])?["nonce"] as? String, "\(first.text)")
                let wrong = try await pan.post(
                    "/v1/store/token", request.merging(["proof": ["nonce": nonce, "answer": String(repeating: "a", count: 64)]]) { $1 }, token: bobToken
                )
                #expect(wrong.status == 403 && wrong.code == "PROOF_FAILED", "\(wrong.text)")
                let proven = try await Self.proveInstant(pan, bobToken, request, bytes: bytes)
                #expect(proven.status == 200 && proven.result["storeId"] as? String == hash, "\(proven.text)")
                #expect(try await Self.nodesHolding(pan, userId: bob.id, hash: hash) == 1)

                // The stand-in's object URL needs the keys' signature.
                let key = try #require(try await pan.read { db in try await StoreObjectRepository.find(hash: hash, on: db) }?.objectKey)
                #expect(try await standIn.request(.get, "/objects/\(key)").status == 401)
                let expired = DownloadToken.sign(url: wcs + "/objects/" + key, deadline: 1, credentials: frozen.wcsKeys[0])
                #expect(try await standIn.request(.get, String(expired.dropFirst(wcs.count))).status == 410)
                let good = DownloadToken.sign(url: wcs + "/objects/" + key, deadline: Int64(Date().timeIntervalSince1970) + 60, credentials: frozen.wcsKeys[0])
                let ranged = try await standIn.request(.get, String(good.dropFirst(wcs.count)), headers: [.range: "bytes=399990-"])
                #expect(ranged.status == 206 && ranged.body == bytes.suffix(10))
            }
        }
    }

    @Test("a legacy client ignores the challenge and uploads: the callback keeps the first object and drops its bytes")
    func legacyClientUploads() async throws {
        try await withServer { server in
            let (_, alice) = try await server.user("alice")
            let (bob, bobToken) = try await server.user("bob")
            let bytes = Self.privateBytes(70_000, seed: 11)
            let hash = ContentHasher.hash(bytes)
            _ = try await Self.upload(server, alice, bytes, name: "a.bin")
            let before = server.storedObjectFiles()
            let grant = try await server.post("/v1/store/token", ["name": "b.bin", "hash": hash], token: bobToken)
            let reply = try await server.formUpload(token: try #require(grant.result["token"] as? String), bytes: bytes, fileName: "b.bin")
            #expect((reply.json["result"] as? [String: Any])?["storeId"] as? String == hash, "\(reply.text)")
            #expect(try await Self.nodesHolding(server, userId: bob.id, hash: hash) == 1)
            #expect(server.storedObjectFiles() == before)
            #expect(try await server.count("store_objects") == 1)
        }
    }
}

/// Deterministic test bytes (splitmix64): the same file every run, unlike any other test's.
struct SeededBytes {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt8 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
}

/// The web app answers possession challenges (it holds the `File`), in headless Chromium.
@Suite(.serialized)
struct InstantUploadProofBrowserTests {
    @Test("in headless Chromium: another user's content uploads instantly by proof, not by hash; the JS SHA-256 matches Web Crypto")
    func browserProof() async throws {
        guard FileManager.default.isExecutableFile(atPath: WebAppTests.chromedriver) else {
            Issue.record("chromium-driver is missing at \(WebAppTests.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return
        }
        let workdir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workdir) }
        // Over three 64 KiB ranges, so the app reads real ranges of the file.
        let bytes = InstantUploadProofTests.privateBytes(700_001, seed: 21)
        let path = workdir + "/report.pdf"
        try bytes.write(to: URL(fileURLWithPath: path))
        try await withServer { server in
            let (_, alice) = try await server.user("alice")
            _ = try await InstantUploadProofTests.upload(server, alice, bytes, name: "original.pdf")
            let bob = try await server.createUser("bob")
            let run = try await PythonClients.run(
                "webapp_browser.py", ["proof", "http://127.0.0.1:\(server.port)", "bob", "secret", path], timeout: 300, browser: true
            )
            #expect(run.status == 0 && run.stdout.contains("\"ok\": true"), "\(run.stdout)\n\(run.stderr.suffix(4000))")
            // Bob's file holds the one stored object, and no second copy of the bytes was sent or kept.
            let hash = ContentHasher.hash(bytes)
            #expect(try await InstantUploadProofTests.nodesHolding(server, userId: bob.id, hash: hash) == 1)
            #expect(server.storedObjectFiles() == 1)
            #expect(try await server.count("upload_sessions", "user_id = \(bob.id) AND state = 'done'") == 1)
        }
    }
}
