import AsyncHTTPClient
import Foundation
import Synchronization
import Testing
@testable import PanCore
@testable import PanSQLite
import WCS

/// The concurrency suite (issue #8): many clients — several users, many
/// sessions of one user — change the SAME few directories at once over real
/// HTTP: directories, instant uploads, token + signed callback, form uploads
/// through the local WCS endpoint (which calls Pan back), rename, move, copy,
/// recycle, remove, restore, listing. Every reply must be a well-formed
/// envelope, never a 5xx, never a busy or locked database, and a 4xx only for
/// a real conflict; afterwards fsck (names, intervals, reference counts,
/// spaceUsed) and `PRAGMA integrity_check` must be clean.
///
/// Bounds: `PAN_CONCURRENCY_SECONDS` (short 4 s, long 60 s), at least
/// `minOperations` and at most `maxOperations` per client; `PAN_BINARY` runs it against a subprocess.
@Suite("Concurrent clients on shared directories (ConcurrencyTests)")
struct ConcurrencyTests {
    static let seconds = ReliabilitySettings.int("PAN_CONCURRENCY_SECONDS", short: 4, long: 60)
    static let clients = ReliabilitySettings.isLong ? 32 : 24
    static let maxOperations = ReliabilitySettings.isLong ? 20_000 : 400
    static let users = ["c0", "c1", "c2", "c3"]
    static let directories = ["/shared/a", "/shared/b", "/shared/c", "/shared/a/d1", "/shared/b/d2"]
    static let names = ["f1.txt", "f2.txt", "f3.txt", "d1", "d2"]
    static let contents = (0..<6).map { Data("shared content \($0)".utf8) }

    /// Codes a conflict between concurrent clients may legitimately produce.
    static let conflictCodes: Set<String> = ["FILE_NOT_FOUND", "FILE_AREADY_EXISTS", "DIRECTORY_NOT_REPLACED", "NOT_A_DIRECTORY", "MOVE_INTO_ITSELF", "COPY_INTO_ITSELF"]

    /// What every client saw, by operation: status and code counts, and anything wrong.
    final class Tally: Sendable {
        let counts = Mutex<[String: Int]>([:])
        let problems = Mutex<[String]>([])
        let successes = Mutex<Int>(0)

        func record(_ operation: String, _ reply: TestServer.Reply, callback: Bool = false) {
            let code = reply.code ?? "-"
            counts.withLock { $0["\(operation) \(reply.status) \(code)", default: 0] += 1 }
            var problem: String?
            if reply.status >= 500 {
                problem = "5xx"
            } else if mentionsBusyDatabase(reply) {
                problem = "busy database surfaced"
            } else if let shape = envelopeProblem(reply) {
                problem = shape
            } else if reply.success == true {
                successes.withLock { $0 += 1 }
            } else if !Self.expected(reply, callback: callback) {
                problem = "unexpected refusal"
            }
            if let problem { problems.withLock { $0.append("\(operation): \(problem): \(reply.status) \(reply.text.prefix(300))") } }
        }

        /// Refusals a race explains: a node gone or taken meanwhile (callbacks answer those 200, `success:false`).
        static func expected(_ reply: TestServer.Reply, callback: Bool) -> Bool {
            guard let code = reply.code, ConcurrencyTests.conflictCodes.contains(code) else { return false }
            if callback { return reply.status == 200 }
            switch code {
            case "FILE_NOT_FOUND": return reply.status == 404
            case "MOVE_INTO_ITSELF", "COPY_INTO_ITSELF": return reply.status == 400
            default: return reply.status == 409
            }
        }

        func transport(_ operation: String, _ error: any Error) {
            problems.withLock { $0.append("\(operation): transport error \(error)") }
        }
    }

    @Test("many clients, several users, one shared tree: no 5xx, no busy database, only conflict refusals, fsck clean")
    func sharedDirectories() async throws {
        var seed = TargetSeed()
        seed.users = Self.users.map { ($0, 1 << 40) }
        seed.objects = Self.contents.map { (ContentHasher.hash($0), Int64($0.count)) }
        let tally = Tally()
        let started = ContinuousClock.now
        try await withTarget(seed) { target in
            // The shared directories exist for everyone before the clients start.
            for user in Self.users {
                let token = try await target.login(user)
                for directory in Self.directories {
                    let made = try await target.post("/v1/files/createDirectory", ["path": directory], token: token)
                    try #require(made.status == 200, "\(made.text)")
                }
            }
            // Half the clients share user c0 (each with its own session); the rest spread over c1…c3.
            // Sessions first, so the clock starts when every client is ready.
            var sessions: [(user: String, token: String)] = []
            for client in 0..<Self.clients {
                let user = client % 2 == 0 ? Self.users[0] : Self.users[1 + (client / 2) % 3]
                sessions.append((user, try await target.login(user)))
            }
            let deadline = ContinuousClock.now + .seconds(Self.seconds)
            await withTaskGroup(of: Void.self) { group in
                for (client, session) in sessions.enumerated() {
                    group.addTask {
                        await Self.client(target, user: session.user, token: session.token, id: client, deadline: deadline, tally: tally)
                    }
                }
            }
            // Each user's numbers still add up as the API reports them.
            for user in Self.users {
                let token = try await target.login(user)
                let info = try await target.post("/v1/user/info", [:], token: token)
                #expect(info.status == 200)
                #expect((info.result["spaceUsed"] as? Int ?? -1) >= 0)
            }
        }
        let elapsed = ContinuousClock.now - started
        let counts = tally.counts.withLock { $0 }
        let total = counts.values.reduce(0, +)
        let successes = tally.successes.withLock { $0 }
        print("concurrency: \(Self.clients) clients × \(Self.seconds) s: \(total) requests, \(successes) succeeded, \(elapsed) in all")
        for (key, count) in counts.sorted(by: { $0.key < $1.key }) { print("  \(key): \(count)") }
        let problems = tally.problems.withLock { $0 }
        #expect(problems.isEmpty, "\(problems.count) bad replies, first: \(problems.prefix(8))")
        #expect(total >= Self.clients * Self.minOperations, "the load ran: \(total) requests")
        #expect(successes * 5 >= total, "a fair share of operations succeeded: \(successes) of \(total)")
        #expect(counts.keys.contains { $0.hasPrefix("callback 200 OK") }, "callbacks landed")
        #expect(counts.keys.contains { $0.hasPrefix("form-upload 200 OK") }, "form uploads landed")
        #expect(counts.keys.contains { $0.hasPrefix("restore 200 OK") }, "restores happened")
    }

    /// One client: its own session, a random mix of operations on the shared paths until the deadline.
    /// Operations each client makes even when the deadline passes first (a slow, loaded or sanitized server).
    static let minOperations = 16

    static func client(_ target: Target, user: String, token: String, id: Int, deadline: ContinuousClock.Instant, tally: Tally) async {
        var rng = TreeTests.SplitMix64(seed: UInt64(0xC0FFEE + id))
        func pick<T>(_ list: [T]) -> T { list[Int.random(in: 0..<list.count, using: &rng)] }
        func anyPath() -> String { pick(directories) + "/" + pick(names) }
        var operation = 0
        while operation < minOperations || (ContinuousClock.now < deadline && operation < maxOperations) {
            operation += 1
            let kind = Int.random(in: 0..<16, using: &rng)
            var label = ""
            do {
                switch kind {
                case 0:
                    label = "mkdir"
                    let reply = try await target.post("/v1/files/createDirectory", ["path": pick(directories), "name": pick(["d1", "d2"])], token: token)
                    tally.record(label, reply)
                case 1, 2:
                    label = "instant"
                    let content = pick(contents)
                    let reply = try await target.post("/v1/store/token", [
                        "path": pick(directories), "name": pick(["f1.txt", "f2.txt", "f3.txt"]), "hash": ContentHasher.hash(content),
                        "conflict": pick(["fail", "rename", "overwrite"]),
                    ], token: token)
                    tally.record(label, reply)
                case 3:
                    label = "token"
                    let bytes = Data("callback \(user) \(id) \(operation)".utf8)
                    let grant = try await target.post("/v1/store/token", [
                        "path": pick(directories), "name": pick(["f1.txt", "f2.txt", "f3.txt"]), "conflict": pick(["fail", "rename", "overwrite"]),
                    ], token: token)
                    tally.record(label, grant)
                    guard let upload = grant.result["token"] as? String else { break }
                    label = "callback"
                    let body = try target.callbackBody(forToken: upload, size: Int64(bytes.count), hash: ContentHasher.hash(bytes))
                    tally.record(label, try await target.signedCallback(body: body), callback: true)
                case 4:
                    label = "token"
                    let bytes = Data("form upload \(user) \(id) \(operation)".utf8)
                    let grant = try await target.post("/v1/store/token", [
                        "path": pick(directories), "name": pick(["f1.txt", "f2.txt", "f3.txt"]), "conflict": pick(["rename", "overwrite"]),
                    ], token: token)
                    tally.record(label, grant)
                    guard let upload = grant.result["token"] as? String else { break }
                    label = "form-upload"
                    // The local endpoint relays Pan's own callback answer: an envelope, 200.
                    tally.record(label, try await target.formUpload(token: upload, bytes: bytes, fileName: "form.bin"), callback: true)
                case 5:
                    label = "rename"
                    let reply = try await target.post("/v1/files/rename", ["path": anyPath(), "name": pick(names), "conflict": pick(["fail", "rename"])], token: token)
                    tally.record(label, reply)
                case 6, 7:
                    label = "move"
                    let reply = try await target.post("/v1/files/move", [
                        "path": [anyPath()], "destPath": pick(directories), "conflict": pick(["fail", "rename", "overwrite"]),
                    ], token: token)
                    tally.record(label, reply)
                case 8:
                    label = "copy"
                    // Files may multiply by rename; directories only replace or fail, so the tree stays bounded.
                    let name = pick(names)
                    let policy = name.hasSuffix(".txt") ? pick(["fail", "rename", "overwrite"]) : pick(["fail", "overwrite"])
                    let reply = try await target.post("/v1/files/copy", [
                        "path": [pick(directories) + "/" + name], "destPath": pick(directories), "conflict": policy,
                    ], token: token)
                    tally.record(label, reply)
                case 9, 10:
                    label = "recycle"
                    tally.record(label, try await target.post("/v1/files/remove", ["path": anyPath(), "recycle": 1], token: token))
                case 11:
                    label = "remove"
                    tally.record(label, try await target.post("/v1/files/remove", ["path": [anyPath()]], token: token))
                case 12, 13:
                    label = "bin"
                    let bin = try await target.post("/v1/files/page", ["recycle": 1, "pageSize": 20], token: token)
                    tally.record(label, bin)
                    let items = (bin.result["list"] as? [[String: Any]]) ?? []
                    guard !items.isEmpty, let uuid = pick(items)["uuid"] as? String else { break }
                    if Int.random(in: 0..<4, using: &rng) == 0 {
                        label = "purge"
                        tally.record(label, try await target.post("/v1/files/remove", ["uuid": uuid], token: token))
                    } else {
                        label = "restore"
                        tally.record(label, try await target.post("/v1/files/recycle", [
                            "uuid": uuid, "recycle": 0, "conflict": pick(["fail", "rename", "overwrite"]),
                        ], token: token))
                    }
                case 14:
                    label = "page"
                    tally.record(label, try await target.post("/v1/files/page", ["path": pick(directories), "pageSize": 50], token: token))
                default:
                    label = "get"
                    tally.record(label, try await target.post("/v1/files/get", ["path": anyPath()], token: token))
                }
            } catch {
                tally.transport(label, error)
                return
            }
        }
    }
}
