import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Synchronization
import Testing
@testable import PanCore
@testable import PanSQLite
import WCS

/// The fuzzing suite (issue #8): random and mutated requests for every route —
/// the JSON API (user, store/token, files/*), the three callback paths, the
/// local WCS endpoint (form upload, mkblk/bput/mkfile), downloads, and routes
/// that do not exist. Valid bodies are mutated (wrong types, missing and extra
/// fields, huge numbers, unicode, NUL, deep nesting, truncation, random bytes,
/// empty), multipart forms are broken (boundaries, truncated, duplicated and
/// missing parts, garbage). Never a 5xx, never a hang (every request has a
/// deadline; `/healthz` answers afterwards), every API reply a well-formed
/// envelope with a machine code, every WCS error `{code, message}`; afterwards
/// fsck and integrity_check clean and no temporary upload file left behind.
///
/// Seeded: the seed is printed; `PAN_FUZZ_SEED` replays it, `PAN_FUZZ_COUNT`
/// bounds the requests (short 1,600, long 20,000).
@Suite("Fuzzing every endpoint (FuzzTests)")
struct FuzzTests {
    static let seed: UInt64 = ReliabilitySettings.environment["PAN_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
    static let count = ReliabilitySettings.int("PAN_FUZZ_COUNT", short: 1_600, long: 20_000)
    static let workers = 4
    static let content = Data("fuzz seed content".utf8)

    /// How a reply is judged.
    enum Kind: String, Sendable { case api, callback, wcs, download }

    struct Case {
        var label: String
        var kind: Kind
        var method: HTTPMethod = .POST
        var uri: String
        var headers: [(String, String)] = []
        var body: Data?
    }

    /// What the fuzzer knows about the server: sessions, nodes, live upload tokens, block ctxs, a download link.
    struct Context: Sendable {
        var token: String
        var logoutToken: String
        var fileUUID: String
        var directoryUUID: String
        var uploadTokens: [String]
        var partialCtxs: [String]
        var completeCtxs: [String]
        var downloadPath: String
    }

    final class Findings: Sendable {
        let problems = Mutex<[String]>([])
        let statuses = Mutex<[String: Int]>([:])
        func add(_ problem: String) { problems.withLock { $0.append(problem) } }
    }

    @Test("random and mutated requests to every endpoint: no 5xx, no hang, well-formed replies, nothing half-written")
    func fuzzEverything() async throws {
        print("fuzz: seed \(Self.seed) (replay with PAN_FUZZ_SEED=\(Self.seed)), \(Self.count) requests")
        var seed = TargetSeed()
        seed.users = [("fz", 1 << 40), ("fzout", 1 << 40)]
        seed.objects = [(ContentHasher.hash(Self.content), Int64(Self.content.count))]
        let findings = Findings()
        let started = ContinuousClock.now
        try await withTarget(seed) { target in
            let context = try await Self.prepare(target)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<Self.workers {
                    group.addTask {
                        var rng = TreeTests.SplitMix64(seed: Self.seed &+ UInt64(worker) &* 0x9E37_79B9)
                        for index in 0..<(Self.count / Self.workers) {
                            let fuzzCase = Self.generate(&rng, context: context, target: target)
                            let reply: TestServer.Reply
                            do {
                                reply = try await target.request(fuzzCase.method, fuzzCase.uri, headers: fuzzCase.headers, body: fuzzCase.body)
                            } catch where "\(error)".contains("invalidURL") {
                                continue  // a mutated URI the client itself cannot send: nothing reached the server
                            } catch {
                                findings.add("#\(worker).\(index) \(fuzzCase.label) \(fuzzCase.uri.prefix(120)): no reply (\(error))")
                                // A dead or hung server: the rest would only repeat it.
                                if (try? await target.request(.GET, "/healthz", timeout: 5))?.status != 200 { return }
                                continue
                            }
                            findings.statuses.withLock { $0["\(fuzzCase.kind.rawValue) \(reply.status)", default: 0] += 1 }
                            if let problem = Self.judge(reply, fuzzCase) {
                                let sent = String(decoding: (fuzzCase.body ?? Data()).prefix(160), as: UTF8.self)
                                findings.add("#\(worker).\(index) \(fuzzCase.label) \(fuzzCase.method) \(fuzzCase.uri.prefix(160)) body \(sent.debugDescription): \(problem)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let health = try await target.request(.GET, "/healthz", timeout: 10)
            #expect(health.status == 200, "the server still answers after the fuzzing")
            // After the load, the API still works for the fuzzed user.
            let page = try await target.post("/v1/files/page", ["path": "/"], token: context.token)
            #expect(page.status == 200, "\(page.text)")
            // Nothing half-written: every failed upload removed its temporary file.
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: target.dataDirectory + "/storage/tmp")) ?? []
            #expect(leftovers.isEmpty, "temporary upload files left behind: \(leftovers.prefix(5))")
        }
        let statuses = findings.statuses.withLock { $0 }
        print("fuzz: seed \(Self.seed): \(statuses.values.reduce(0, +)) replies in \(ContinuousClock.now - started): " +
              statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))
        let problems = findings.problems.withLock { $0 }
        #expect(problems.isEmpty, "seed \(Self.seed): \(problems.count) bad replies, first: \(problems.prefix(10).joined(separator: "\n"))")
        #expect(statuses.values.reduce(0, +) >= Self.count * 9 / 10, "the fuzzer got its replies")
    }

    /// Each request the fuzzer once found to crash the server, replayed for good.
    @Test("regressions: requests that once crashed the server now get a 4xx")
    func regressions() async throws {
        var seed = TargetSeed()
        seed.users = [("rg", 1 << 40)]
        try await withTarget(seed) { target in
            let token = try await target.login("rg")
            // 1. A byte >= 0x80 in a multipart header name: MultipartKit indexed a 128-entry table with it.
            let grant = try await target.post("/v1/store/token", ["name": "r.bin"], token: token)
            let upload = try #require(grant.result["token"] as? String)
            var form = Data("--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n\(upload)\r\n--b\r\nX-".utf8)
            form.append(contentsOf: [0xC3, 0xA9])
            form.append(Data(": 1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.bin\"\r\n\r\nbytes\r\n--b--\r\n".utf8))
            let multipart = try await target.request(.POST, "/file/upload", headers: [("Content-Type", "multipart/form-data; boundary=b")], body: form)
            #expect(multipart.status == 400)
            #expect(wcsErrorProblem(multipart) == nil, "\(multipart.text)")
            // 2. A huge block order with a valid token: `order * 4 MiB` overflowed.
            let huge = try await target.request(.POST, "/mkblk/16/9223372036854775807", headers: [("Authorization", "UpToken \(upload)")], body: Data(count: 16))
            #expect(huge.status == 413)
            #expect(wcsErrorProblem(huge) == nil, "\(huge.text)")
            // 3. A page number sent as a huge string: `(page - 1) * pageSize` overflowed.
            let page = try await target.post("/v1/files/page", ["path": "/", "page": "9223372036854775807", "pageSize": 20], token: token)
            #expect(page.status == 400)
            #expect(page.code == "INVALID_FIELD")
            #expect(envelopeProblem(page) == nil)
            #expect(try await target.request(.GET, "/healthz").status == 200)
        }
    }

    /// Judges one reply by its kind; nil when it is fine.
    static func judge(_ reply: TestServer.Reply, _ fuzzCase: Case) -> String? {
        // WCS's own codes, not failures: 614 the token's key is taken (a token used twice); 579 the
        // callback was refused — expected only when the form names another key than the session's.
        if fuzzCase.kind == .wcs, reply.status == 614 || (reply.status == 579 && fuzzCase.label.contains(" key")) {
            return wcsErrorProblem(reply)
        }
        if reply.status >= 500 { return "HTTP \(reply.status): \(reply.text.prefix(300))" }
        if mentionsBusyDatabase(reply) { return "busy database surfaced: \(reply.text.prefix(300))" }
        switch fuzzCase.kind {
        case .api, .callback:
            return envelopeProblem(reply)
        case .download:
            if reply.status == 200 || reply.status == 206 || reply.status == 416 { return nil }
            // HEAD: the status without a body, as HTTP wants.
            if fuzzCase.method == .HEAD { return reply.body.isEmpty ? nil : "HEAD with a body" }
            return envelopeProblem(reply)
        case .wcs:
            if reply.status == 303 { return nil }

            if (200..<300).contains(reply.status) {
                // A form upload relays Pan's callback answer (an envelope); slices answer their own JSON.
                guard (try? JSONSerialization.jsonObject(with: reply.body)) is [String: Any] else { return "2xx without a JSON object: \(reply.text.prefix(200))" }
                if fuzzCase.uri == "/file/upload" { return envelopeProblem(reply) }
                return nil
            }
            // An unmatched route (a path parameter missing) is the router's 404 envelope.
            if reply.status == 404, reply.code == "NOT_FOUND" { return envelopeProblem(reply) }
            return wcsErrorProblem(reply)
        }
    }

    // MARK: Setting the stage

    static func prepare(_ target: Target) async throws -> Context {
        let token = try await target.login("fz")
        let logoutToken = try await target.login("fzout")
        let directory = try await target.post("/v1/files/createDirectory", ["path": "/fz/dir"], token: token)
        let file = try await target.post("/v1/store/token", ["path": "/fz", "name": "file.txt", "hash": ContentHasher.hash(content)], token: token)
        var uploadTokens: [String] = []
        for i in 0..<12 {
            let grant = try await target.post("/v1/store/token", ["path": "/fz/up", "name": "u\(i).bin", "conflict": "rename", "size": 4096], token: token)
            uploadTokens.append(try #require(grant.result["token"] as? String, "\(grant.text)"))
        }
        // A real object for download links.
        let grant = try await target.post("/v1/store/token", ["path": "/fz", "name": "real.bin"], token: token)
        let uploaded = try await target.formUpload(token: try #require(grant.result["token"] as? String), bytes: Data("downloadable bytes".utf8), fileName: "real.bin")
        try #require(uploaded.status == 200, "\(uploaded.text)")
        let real = try await target.post("/v1/files/get", ["path": "/fz/real.bin"], token: token)
        let address = try #require(real.result["downloadAddress"] as? String)
        let downloadPath = String(address.dropFirst(target.base.count))
        // Blocks: some half-received (for bput), some complete (for mkfile).
        var partial: [String] = [], complete: [String] = []
        for i in 0..<8 {
            let upload = uploadTokens[i % uploadTokens.count]
            let size = i < 4 ? 64 : 16
            let reply = try await target.request(.POST, "/mkblk/\(size)/0", headers: [("Authorization", "UpToken \(upload)")], body: Data(repeating: UInt8(i), count: 16))
            let ctx = try #require(reply.json["ctx"] as? String, "\(reply.text)")
            if i < 4 { partial.append(ctx) } else { complete.append(ctx) }
        }
        return Context(
            token: token, logoutToken: logoutToken, fileUUID: try #require(file.result["uuid"] as? String, "\(file.text)"),
            directoryUUID: try #require(directory.result["uuid"] as? String), uploadTokens: uploadTokens,
            partialCtxs: partial, completeCtxs: complete, downloadPath: downloadPath
        )
    }

    // MARK: Generating cases

    static func generate(_ rng: inout TreeTests.SplitMix64, context: Context, target: Target) -> Case {
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<52: return apiCase(&rng, context)
        case 52..<64: return callbackCase(&rng, context, target)
        case 64..<78: return formCase(&rng, context)
        case 78..<92: return sliceCase(&rng, context)
        case 92..<97: return downloadCase(&rng, context)
        default: return strayCase(&rng, context)
        }
    }

    /// The JSON API: a valid body per endpoint, then mutated.
    static func templates(_ c: Context) -> [(String, [String: Any])] {
        [
            ("/v1/user/login", ["value": "fz", "password": PasswordHasher.md5Hex("secret"), "countryCode": "86"]),
            ("/v1/user/info", [:]),
            ("/v1/user/logout", [:]),
            ("/v1/store/token", ["name": "n.txt", "path": "/fz/in", "hash": ContentHasher.hash(content), "size": 17, "conflict": "rename",
                                 "originalFilename": "n.txt", "override": 0]),
            ("/v1/store/token", ["name": "t.bin", "path": "/fz/in", "size": 100, "conflict": "fail", "parent": c.directoryUUID]),
            ("/v1/files/get", ["path": "/fz/file.txt"]),
            ("/v1/files/get", ["uuid": c.fileUUID]),
            ("/v1/files/page", ["path": "/fz", "page": 1, "pageSize": 20, "orderBy": 2, "type": -1, "recycle": 0]),
            ("/v1/files/page", ["recycle": 1, "page": 2, "pageSize": 5]),
            ("/v1/files/list", ["path": "/fz", "start": 0, "size": 10, "order": 1, "parent": ""]),
            ("/v1/files/list2", ["parent": c.directoryUUID, "start": 1, "size": 3, "orderBy": 13]),
            ("/v1/files/createDirectory", ["path": "/fz", "name": "sub"]),
            ("/v1/files/rename", ["path": "/fz/sub", "name": "sub2", "conflict": "rename"]),
            ("/v1/files/move", ["path": ["/fz/sub2"], "destPath": "/fz/dir", "conflict": "rename", "overwrite": 0]),
            ("/v1/files/copy", ["uuid": [c.fileUUID], "destUuid": c.directoryUUID, "conflict": "rename"]),
            ("/v1/files/copy", ["path": "/fz/dir", "parent": "/fz/in", "override": "yes"]),
            ("/v1/files/remove", ["path": ["/fz/dir/file (1).txt"], "recycle": 1]),
            ("/v1/files/recycle", ["path": "/fz/dir/file (1).txt", "recycle": 0, "conflict": "rename"]),
            ("/v1/files/recycle", ["uuid": [c.fileUUID], "recycle": "flase"]),
        ]
    }

    static func apiCase(_ rng: inout TreeTests.SplitMix64, _ c: Context) -> Case {
        let all = templates(c)
        let (endpoint, template) = all[Int.random(in: 0..<all.count, using: &rng)]
        var fields = template
        var label = "api"
        // Field-level mutations, one to three of them.
        for _ in 0..<Int.random(in: 0...3, using: &rng) {
            let keys = Array(fields.keys) + ["path", "uuid", "name", "page", "pageSize", "start", "size", "recycle", "conflict", "token", "hash", "destPath", "extra", "proof"]
            let key = keys[Int.random(in: 0..<keys.count, using: &rng)]
            if Int.random(in: 0..<5, using: &rng) == 0 {
                fields[key] = nil
                label += " -\(key)"
            } else {
                fields[key] = nastyValue(&rng)
                label += " \(key)=?"
            }
        }
        var body = (try? JSONSerialization.data(withJSONObject: fields)) ?? Data("{}".utf8)
        // Byte-level mutations on a third of the cases.
        if Int.random(in: 0..<3, using: &rng) == 0 {
            let (mutated, how) = mutateBytes(body, &rng)
            body = mutated
            label += " " + how
        }
        var headers: [(String, String)] = []
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            if Bool.random(using: &rng) { body = Data(formEncoded(fields, &rng).utf8); label += " form" }
        case 1: headers.append(("Content-Type", "text/plain; charset=gbk"))
        case 2: break
        default: headers.append(("Content-Type", "application/json"))
        }
        var uri = endpoint
        let session = endpoint == "/v1/user/logout" ? c.logoutToken : c.token
        switch Int.random(in: 0..<12, using: &rng) {
        case 0: label += " noauth"
        case 1: headers.append(("Authorization", "Bearer " + mutateText(session, &rng))); label += " badauth"
        case 2: headers.append(("Token", session))
        case 3: headers.append(("Qingzhen-Token", "x." + session))
        case 4: uri += "?token=" + (mutateText(session, &rng).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        case 5: headers.append(("Authorization", ["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "bearer \(session)", String(repeating: "A", count: 9000)][Int.random(in: 0..<5, using: &rng)]))
        default: headers.append(("Authorization", "Bearer \(session)"))
        }
        return Case(label: label, kind: .api, uri: uri, headers: headers, body: body)
    }

    /// Values that are wrong for some field: types, sizes, encodings, paths.
    /// Deep paths stay at 150 levels: createDirectory of an N-level path costs
    /// superlinear time on the single writer (about 3.5 s at 500 levels, 17 s at
    /// 1,000, minutes at 3,000 in a debug build) — a known, unfixed finding that
    /// would otherwise stall every concurrent case past its deadline.
    static func nastyValue(_ rng: inout TreeTests.SplitMix64) -> Any {
        let choices: [() -> Any] = [
            { NSNull() }, { true }, { false }, { 0 }, { -1 }, { 1.5 }, { Int64.max }, { Int64.min }, { 1e300 }, { -1e300 }, { 9_007_199_254_740_993 },
            { "" }, { " " }, { "\u{0}" }, { "a\u{0}b" }, { "/" }, { "//" }, { "/../.." }, { ".." }, { "." }, { "/fz/./dir" }, { "/fz/dir/" },
            { String(repeating: "x", count: 70_000) }, { String(repeating: "/a", count: 150) }, { String(repeating: "é", count: 300) },
            { "😀📁" }, { "\u{202E}txt.exe" }, { "e\u{301}" }, { "\u{FFFF}\u{FFFE}" }, { "name\u{7}bell" }, { "a\nb\r\nc" }, { "%00%ff%zz" },
            { "9223372036854775807" }, { "-9223372036854775808" }, { "99999999999999999999" }, { "1e400" }, { "NaN" }, { "-0" }, { "0x10" }, { "  42  " },
            { "flase" }, { "yes" }, { "overwrite" }, { "RENAME" }, { "0123456789abcdef0123456789abcdef" }, { String(repeating: "f", count: 32) },
            { [] as [Any] }, { [1, 2] }, { ["a", NSNull()] as [Any] }, { ["/fz/dir", "/fz/file.txt", "/fz/dir"] }, { [:] as [String: Any] },
            { ["path": "/fz"] }, { nested(depth: 60) }, { Array(repeating: "/fz/x", count: 2_000) },
        ]
        return choices[Int.random(in: 0..<choices.count, using: &rng)]()
    }

    static func nested(depth: Int) -> Any {
        var value: Any = "deep"
        for i in 0..<depth { value = i % 2 == 0 ? [value] as [Any] : ["k": value] as [String: Any] }
        return value
    }

    /// Byte-level damage: truncation, flips, insertions, replacement, and classic parser traps.
    static func mutateBytes(_ data: Data, _ rng: inout TreeTests.SplitMix64) -> (Data, String) {
        var bytes = [UInt8](data)
        switch Int.random(in: 0..<14, using: &rng) {
        case 0: return (Data(bytes.prefix(Int.random(in: 0...max(0, bytes.count - 1), using: &rng))), "truncated")
        case 1:
            for _ in 0..<Int.random(in: 1...6, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            return (Data(bytes), "flipped")
        case 2:
            let insert = (0..<Int.random(in: 1...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bytes.insert(contentsOf: insert, at: Int.random(in: 0...bytes.count, using: &rng))
            return (Data(bytes), "inserted")
        case 3: return (Data((0..<Int.random(in: 1...2_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }), "random")
        case 4: return (Data(), "empty")
        case 5: return (Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8), "deep-array")
        case 6: return (Data(String(repeating: "{\"a\":", count: 50_000).utf8), "deep-object-truncated")
        case 7: return (Data(["null", "[]", "\"\"", "0", "true", "\"str\"", "[{}]", "{}}", "{\"path\":", "-", "1e999999"][Int.random(in: 0..<11, using: &rng)].utf8), "literal")
        case 8: return (Data(#"{"path":"/fz","path":1,"name":"dup","name":["x"]}"#.utf8), "duplicate-keys")
        case 9: return (Data([0xEF, 0xBB, 0xBF]) + data, "bom")
        case 10: return (Data(#"{"name":"\ud800","path":"/fz/\udfff","value":"\u0000"}"#.utf8), "lone-surrogates")
        case 11: return (Data([0x7B, 0x22, 0x6E, 0x61, 0x6D, 0x65, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0xC3, 0x22, 0x7D]), "invalid-utf8")
        case 12: return (Data(#"{"page":1e400,"pageSize":-1e-400,"start":123456789012345678901234567890}"#.utf8), "huge-literals")
        default: return (Data(String(repeating: " ", count: 10_000).utf8) + data + Data(String(repeating: "\n", count: 10_000).utf8), "whitespace")
        }
    }

    static func mutateText(_ text: String, _ rng: inout TreeTests.SplitMix64) -> String {
        var scalars = Array(text.unicodeScalars)
        guard !scalars.isEmpty else { return "x" }
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return String(String.UnicodeScalarView(scalars.prefix(Int.random(in: 0..<scalars.count, using: &rng))))
        case 1:
            scalars[Int.random(in: 0..<scalars.count, using: &rng)] = Unicode.Scalar(UInt8.random(in: 33...126, using: &rng))
            return String(String.UnicodeScalarView(scalars))
        case 2: return text + text
        default: return text.replacingOccurrences(of: ".", with: "..")
        }
    }

    static func formEncoded(_ fields: [String: Any], _ rng: inout TreeTests.SplitMix64) -> String {
        var parts = fields.map { key, value in "\(key)=\(("\(value)".addingPercentEncoding(withAllowedCharacters: .alphanumerics)) ?? "")" }
        parts.append(["%ZZ=%", "=novalue", "&&&", "a=b=c", "name", "+=+"][Int.random(in: 0..<6, using: &rng)])
        return parts.joined(separator: "&")
    }

    /// Callbacks: valid bodies of live sessions, mutated, mostly signed (so they reach the parser and the service).
    static func callbackCase(_ rng: inout TreeTests.SplitMix64, _ c: Context, _ target: Target) -> Case {
        let paths = ["/v1/callback/ws/post", "/v1/store/callback/wcs", target.callbackPath]
        let path = paths[Int.random(in: 0..<paths.count, using: &rng)]
        let upload = c.uploadTokens[Int.random(in: 0..<c.uploadTokens.count, using: &rng)]
        let sizes = ["1", "0", "-5", "4096", "4097", "9223372036854775807", "99999999999999999999", "abc", "", "1e3"]
        let size = sizes[Int.random(in: 0..<sizes.count, using: &rng)]
        let hashes = [ContentHasher.hash(Data("cb \(Int.random(in: 0..<1_000_000, using: &rng))".utf8)), ContentHasher.hash(content), "", "short", String(repeating: "Z", count: 5_000), "../../x"]
        var text: String
        var label = "callback"
        if let body = try? target.callbackBody(forToken: upload, size: 1, hash: hashes[Int.random(in: 0..<hashes.count, using: &rng)], fileName: ["f.bin", "", "a&b=c.txt", "😀\u{0}.bin", String(repeating: "n", count: 3_000)][Int.random(in: 0..<5, using: &rng)]) {
            text = String(decoding: body, as: UTF8.self)
        } else {
            text = "callbackBody="
        }
        text = text.replacingOccurrences(of: "size%3D1", with: "size%3D" + size).replacingOccurrences(of: "size=1", with: "size=" + size)
        var body = Data(text.utf8)
        switch Int.random(in: 0..<8, using: &rng) {
        case 0, 1:
            let (mutated, how) = mutateBytes(body, &rng)
            body = mutated
            label += " " + how
        case 2:
            let swaps = [("userId", "userId=999&x"), ("session", "session=zzz&y"), ("%26", "%2"), ("callbackBody=", ""), ("=", "==")]
            let (from, to) = swaps[Int.random(in: 0..<swaps.count, using: &rng)]
            if let range = text.range(of: from) { body = Data(text.replacingCharacters(in: range, with: to).utf8) }
            label += " swap \(from)"
        default: label += " size=\(size.prefix(20))"
        }
        var headers = [("Content-Type", "application/x-www-form-urlencoded")]
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: label += " unsigned"
        case 1: headers.append(("Authorization", mutateText(CallbackSignature.authorization(url: target.base + path, body: body, credentials: target.credentials[0]), &rng))); label += " badsig"
        case 2: headers.append(("Authorization", CallbackSignature.authorization(url: target.base + "/elsewhere", body: body, credentials: target.credentials[0]))); label += " wrongurl"
        default: headers.append(("Authorization", CallbackSignature.authorization(url: target.base + path, body: body, credentials: target.credentials[0])))
        }
        return Case(label: label, kind: .callback, uri: path, headers: headers, body: body)
    }

    /// Form uploads: a valid multipart, then broken in one of many ways.
    static func formCase(_ rng: inout TreeTests.SplitMix64, _ c: Context) -> Case {
        let upload = c.uploadTokens[Int.random(in: 0..<c.uploadTokens.count, using: &rng)]
        var boundary = "fz\(Int.random(in: 0..<1_000_000, using: &rng))"
        let file = Data((0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let fileNames = ["f.bin", "", "../../etc/passwd", "%ZZ%", "a\u{0}b", "😀.txt", String(repeating: "n", count: 2_000), "x\"y.bin"]
        var parts: [(name: String, fileName: String?, value: Data)] = [("token", nil, Data(upload.utf8)), ("file", fileNames[Int.random(in: 0..<fileNames.count, using: &rng)], file)]
        var label = "form"
        var contentType: String? = nil
        var damage = ""
        switch Int.random(in: 0..<18, using: &rng) {
        case 0: parts.removeFirst(); label += " no-token"
        case 1: parts.removeLast(); label += " no-file"
        case 2: parts.append(parts[0]); label += " two-tokens"
        case 3: parts.append(("file", "second.bin", Data("again".utf8))); label += " two-files"
        case 4: parts.swapAt(0, 1); label += " file-first"
        case 5: parts[0].value = Data(mutateText(upload, &rng).utf8); label += " bad-token"
        case 6: parts.append(("key", nil, Data(["", "../../x", String(repeating: "k", count: 5_000), "a/b/../../c", "\u{0}"][Int.random(in: 0..<5, using: &rng)].utf8))); label += " key"
        case 7: parts.append(("x:var", nil, Data(String(repeating: "v", count: Int.random(in: 0...70_000, using: &rng)).utf8))); label += " big-field"
        case 8: parts.append(("mimeType", nil, Data("text/\u{0}html\r\nX-Evil: 1".utf8))); label += " mime"
        case 9: contentType = "multipart/form-data"; label += " no-boundary"
        case 10: contentType = "multipart/form-data; boundary="; label += " empty-boundary"
        case 11: contentType = "multipart/form-data; boundary=other"; label += " wrong-boundary"
        case 12: boundary = String(repeating: "b", count: Int.random(in: 71...400, using: &rng)); label += " long-boundary"
        case 13: damage = "truncated"
        case 14: damage = "flipped"
        case 15: damage = "garbage"
        case 16: damage = "no-blank-line"
        default: contentType = ["text/plain", "multipart/mixed; boundary=\(boundary)", "multipart/form-data; boundary=\"\(boundary)\"", "application/json"][Int.random(in: 0..<4, using: &rng)]; label += " content-type"
        }
        var body = Target.multipart(boundary: boundary, parts: parts)
        switch damage {
        case "truncated": body = body.prefix(Int.random(in: 0..<max(1, body.count), using: &rng))
        case "flipped":
            var bytes = [UInt8](body)
            for _ in 0..<4 where !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            body = Data(bytes)
        case "garbage": body = Data((0..<Int.random(in: 0...3_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case "no-blank-line": body = Data(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n\r\n", with: "\r\n").utf8)
        default: break
        }
        if !damage.isEmpty { label += " " + damage }
        var headers: [(String, String)] = []
        headers.append(("Content-Type", contentType ?? "multipart/form-data; boundary=\(boundary)"))
        return Case(label: label, kind: .wcs, uri: "/file/upload", headers: headers, body: body)
    }

    /// mkblk / bput / mkfile with odd parameters, tokens, ctxs and bodies.
    static func sliceCase(_ rng: inout TreeTests.SplitMix64, _ c: Context) -> Case {
        func pick<T>(_ list: [T]) -> T { list[Int.random(in: 0..<list.count, using: &rng)] }
        let upload = pick(c.uploadTokens)
        let mutated = mutateText(upload, &rng)
        let auth = pick([
            "UpToken \(upload)", "UpToken \(upload)", upload, "", "UpToken ", "UpToken \(mutated)", "Bearer \(c.token)",
            "UpToken \(c.uploadTokens[0])",
        ])
        let numbers = ["0", "1", "16", "64", "4194304", "4194305", "-1", "9223372036854775807", "-9223372036854775808", "99999999999999999999", "abc", "1e3", "%20", "0x10"]
        var headers: [(String, String)] = auth.isEmpty ? [] : [("Authorization", auth)]
        headers.append(("Content-Type", "application/octet-stream"))
        let body = Data((0..<pick([0, 1, 16, 48, 64, 100, 5_000])).map { _ in UInt8.random(in: 0...255, using: &rng) })
        switch Int.random(in: 0..<3, using: &rng) {
        case 0:
            return Case(label: "mkblk", kind: .wcs, uri: "/mkblk/\(pick(numbers))/\(pick(numbers))", headers: headers, body: body)
        case 1:
            let ctx = pick(c.partialCtxs + c.completeCtxs + ["", "abc", "x_y", "a_-1", "deadbeef_99999999999999999999", "_", "__", "../../etc_0", "0123456789abcdef0123456789abcdef_16"])
            let ctxText = ctx.isEmpty ? "%20" : (Bool.random(using: &rng) ? ctx : mutateText(ctx, &rng))
            let offset = Bool.random(using: &rng) ? String(ctxText.split(separator: "_").last ?? "0") : pick(numbers)
            let escaped = ctxText.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? "x"
            return Case(label: "bput", kind: .wcs, uri: "/bput/\(escaped)/\(offset)", headers: headers, body: body)
        default:
            var extra = ""
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let name = pick(["key", "mimeType", "fname", "x:a", "x:", "unknown", "%ZZ"])
                let value = pick([Base64URL.encode("v.bin"), Base64URL.encode(String(repeating: "k", count: 3_000)), "!!notbase64", "", Base64URL.encode("../../x"), "AAAA===="])
                extra += "/\(name)/\(value)"
            }
            if Int.random(in: 0..<6, using: &rng) == 0 { extra += "/dangling" }
            let ctxs = (0..<Int.random(in: 0...4, using: &rng)).map { _ in pick(c.completeCtxs + c.partialCtxs + ["zz_16", "", " "]) }
            var list = ctxs.joined(separator: pick([",", ", ", ",,", "\n"]))
            if Int.random(in: 0..<10, using: &rng) == 0 { list = String(repeating: "a_1,", count: 50_000) }
            let size = Bool.random(using: &rng) ? String(16 * ctxs.count) : pick(numbers)
            return Case(label: "mkfile", kind: .wcs, uri: "/mkfile/\(size)\(extra)", headers: headers, body: Data(list.utf8))
        }
    }

    /// Downloads: the real link, mutated; odd ranges; HEAD.
    static func downloadCase(_ rng: inout TreeTests.SplitMix64, _ c: Context) -> Case {
        func pick<T>(_ list: [T]) -> T { list[Int.random(in: 0..<list.count, using: &rng)] }
        var uri = c.downloadPath
        var label = "download"
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: uri = "/" + mutateText(uri, &rng).replacingOccurrences(of: " ", with: "%20").drop { $0 == "/" }; label += " mutated"
        case 1: uri = uri.replacingOccurrences(of: "e=", with: pick(["e=-1&", "e=99999999999999999999&", "e=abc&", "x="])); label += " expiry"
        case 2: uri = String(uri.prefix { $0 != "?" }); label += " no-query"
        case 3: uri = "/dl/" + pick(["%00", "..%2F..%2Fetc", String(repeating: "A", count: 3_000), "!!", "x"]) + "?e=1&n=a&m=b&s=c"; label += " key"
        default: break
        }
        var headers: [(String, String)] = []
        if Bool.random(using: &rng) {
            headers.append(("Range", pick(["bytes=0-", "bytes=-5", "bytes=5-1", "bytes=0-0", "bytes=99999999999999999999-", "bytes=-9223372036854775808",
                                           "bytes=-0", "bytes=0-9223372036854775807", "bytes=1-2,3-4", "items=0-1", "bytes=", "bytes=--1"])))
            label += " range"
        }
        return Case(label: label, kind: .download, method: Bool.random(using: &rng) ? .GET : .HEAD, uri: uri, headers: headers)
    }

    /// Routes that do not exist, wrong methods, odd URIs.
    static func strayCase(_ rng: inout TreeTests.SplitMix64, _ c: Context) -> Case {
        func pick<T>(_ list: [T]) -> T { list[Int.random(in: 0..<list.count, using: &rng)] }
        let uri = pick(["/v1/files/nope", "/v1/files/get/extra", "/v1//files/get", "/v1/files/../user/info", "/%00", "/v1/user/" + String(repeating: "a", count: 8_000),
                        "/v1/files/get?path=/fz&uuid=%FF", "/mkblk/1", "/bput/x", "/mkfile", "/file/upload/x", "/dl/", "/v1/store/token?token=\(c.token)"])
        let method = pick([HTTPMethod.GET, .POST, .PUT, .DELETE, .PATCH])
        return Case(label: "stray", kind: .api, method: method, uri: uri, headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(c.token)")], body: method == .GET ? nil : Data("{}".utf8))
    }
}
