import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import Synchronization
import Testing
@testable import PanCore
import NIOHTTP1
@testable import PanSQLite
import SQLiteKit
import WCS

/// Issue #25 §6: the database goes away under a real `pan serve` and comes
/// back. Every request must get an answer within a bound (503 with
/// `Retry-After` while the database is out, `PAN_DATABASE_WAIT` after it
/// came in), `/readyz` must answer at once and say 503 during the outage,
/// the server must recover by itself, and SIGTERM with the database down
/// must end the server cleanly within its shutdown bound.
///
/// PostgreSQL here is a cluster of the test's own (`PostgresCluster.Dedicated`),
/// stopped as `pg_ctl stop -m fast` does and started again on the same port.
/// The machine may be a loaded 2-core box: bounds are loose, orderings strict.
@Suite("Database outage: PostgreSQL stopped and restarted under load (DatabaseOutageTests)", .serialized)
struct DatabaseOutageTests {
    static let keys = Credentials(accessKey: "outage-ak", secretKey: "outage-sk")
    /// `PAN_DATABASE_WAIT` of the server under load.
    static let databaseWait = 2
    /// Longest any answer may take: the wait plus a generous margin for a loaded machine.
    static let answerBound: Duration = .seconds(15)
    /// Longest `/readyz` may take: it never waits on the database.
    /// /readyz never waits on the database: its answer is the HTTP round trip alone,
    /// which the full suite's load on two cores stretched to 3.4 s once.
    static let readyzBound: Duration = .seconds(10)
    /// Times in failure messages count from here.
    static let epoch = ContinuousClock.now

    /// One request of the load, or one `/readyz`.
    struct Outcome: Sendable {
        let what: String
        let started: ContinuousClock.Instant
        let ended: ContinuousClock.Instant
        /// nil: no answer (timeout, connection refused or reset).
        let status: Int?
        let retryAfter: String?
        let detail: String
        var elapsed: Duration { ended - started }
        var description: String {
            let at = (started - DatabaseOutageTests.epoch).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 2)))
            return "\(what) at \(at) \(status.map(String.init) ?? "no answer") after \(elapsed) \(detail.prefix(200))"
        }
    }

    final class Log: Sendable {
        private let list = Mutex<[Outcome]>([])
        var all: [Outcome] { list.withLock { $0 } }
        var last: Outcome? { list.withLock { $0.last } }
        func add(_ outcome: Outcome) { list.withLock { $0.append(outcome) } }
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .relaxed) }
        func set() { value.store(true, ordering: .relaxed) }
    }

    /// One request with a client-side bound well past `answerBound`: a missing answer is recorded, not waited out.
    static func send(_ target: Target, _ what: String, _ method: HTTPMethod, _ uri: String, json: [String: Any]? = nil, token: String? = nil) async -> Outcome {
        var headers: [(String, String)] = []
        var body: Data?
        if let json {
            headers.append(("Content-Type", "application/json"))
            body = try? JSONSerialization.data(withJSONObject: json)
        }
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        let started = ContinuousClock.now
        do {
            let reply = try await target.request(method, uri, headers: headers, body: body, timeout: 30)
            return Outcome(
                what: what, started: started, ended: .now, status: reply.status, retryAfter: reply.headers[.retryAfter],
                detail: reply.text
            )
        } catch {
            return Outcome(what: what, started: started, ended: .now, status: nil, retryAfter: nil, detail: "\(error)")
        }
    }

    /// The exit after SIGTERM, or nil (still running at `timeout`: then it is killed, its log in the failure).
    static func exit(of server: ServerProcess, within timeout: TimeInterval) async -> ServerProcess.Exit? {
        if await server.process.waitForExit(timeout: timeout) {
            return ServerProcess.Exit(exited: server.process.exitedNormally, status: server.process.terminationStatus, stderr: server.stderr)
        }
        Issue.record("pan serve still running \(timeout) s after SIGTERM: \(server.stderr.suffix(3000))")
        server.process.kill()
        return nil
    }

    static func environment(url: String, dataDirectory: String, wait: Int, shutdownTimeout: Int) -> [String: String] {
        [
            "PAN_DATABASE_URL": url, "PAN_DATABASE_POOL_SIZE": "4", "PAN_JWT_SECRET": "outage-secret",
            "PAN_WCS_KEYS": "\(keys.accessKey):\(keys.secretKey)", "PAN_DATA_DIR": dataDirectory,
            "PAN_DATABASE_WAIT": String(wait), "PAN_READY_TIMEOUT": "1", "PAN_SHUTDOWN_TIMEOUT": String(shutdownTimeout),
            // The default interval: while requests fail, readiness must not wait for it.
            "PAN_READY_INTERVAL": "5", "PAN_LOG_LEVEL": "notice", "PAN_MAX_PENDING_UPLOADS": "1000000",
            // One client signs in over and over from loopback: no per-address rate.
            "PAN_LOGIN_RATE_IP": "0",
        ]
    }

    @Test("PostgreSQL stopped 10 s under load and started again: every request answered in bounded time (503 + Retry-After while out), /readyz 503 during and 200 after, recovery by itself, fsck clean, SIGTERM with the database down exits 0")
    func outageUnderLoad() async throws {
        _ = Self.epoch
        let cluster = try await offCooperativePool { try PostgresCluster.Dedicated.create() }
        defer { cluster.destroy() }
        let url = try await cluster.createDatabase(prefix: "outage")
        let dataDirectory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }

        let add = try await CLITests.run(["user", "add", "alice", "--password", "secret", "--quota", "1T", "--database-url", url, "--data-dir", dataDirectory])
        #expect(add.status == 0, "\(add)")

        // The server under load, and one that waits a whole minute for a
        // connection and has 2 s to shut down: its stuck request must be cancelled.
        let port = try freePort(), patientPort = try freePort()
        let server = try ServerProcess.start(
            ["serve", "--port", String(port)],
            environment: Self.environment(url: url, dataDirectory: dataDirectory, wait: Self.databaseWait, shutdownTimeout: 10)
        )
        defer { server.kill() }
        let patient = try ServerProcess.start(
            ["serve", "--port", String(patientPort)],
            environment: Self.environment(url: url, dataDirectory: dataDirectory, wait: 60, shutdownTimeout: 2)
        )
        defer { patient.kill() }
        try await server.waitUntilHealthy(port: port)
        try await patient.waitUntilHealthy(port: patientPort)

        let target = Target(port: port, dataDirectory: dataDirectory, credentials: [Self.keys], callbackPath: "/v1/callback/ws/post", external: false)
        let patientTarget = Target(port: patientPort, dataDirectory: dataDirectory, credentials: [Self.keys], callbackPath: "/v1/callback/ws/post", external: false)
        let session = try await target.login("alice")
        // Ready before anything happens.
        var first = await Self.send(target, "readyz", .GET, "/readyz")
        for _ in 0..<100 where first.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
            first = await Self.send(target, "readyz", .GET, "/readyz")
        }
        #expect(first.status == 200, "\(first.description)")

        let requests = Log(), readiness = Log()
        let stopLoad = Flag()
        let password = PasswordHasher.md5Hex("secret")
        var stopBegan = ContinuousClock.now, restartBegan = ContinuousClock.now, restarted = ContinuousClock.now
        var readyAgain: ContinuousClock.Instant?

        try await withThrowingTaskGroup(of: Void.self) { group in
            // Three clients asking for upload tokens, one signing in, each in a loop.
            for client in 0..<4 {
                group.addTask {
                    var n = 0
                    while !stopLoad.isSet {
                        n += 1
                        let outcome = client == 0
                            ? await Self.send(target, "login", .POST, "/v1/user/login", json: ["value": "alice", "password": password])
                            : await Self.send(target, "token", .POST, "/v1/store/token", json: ["name": "c\(client)-\(n).bin", "path": "/outage/\(client)"], token: session)
                        requests.add(outcome)
                        // Past its bound, no answer: stop, the assertions say so.
                        if outcome.status == nil { return }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            // /readyz four times a second throughout.
            group.addTask {
                while !stopLoad.isSet {
                    readiness.add(await Self.send(target, "readyz", .GET, "/readyz"))
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
            defer { stopLoad.set() }

            // The load under way: 3 s, and (on a loaded machine) until answers have come back.
            try await Task.sleep(for: .seconds(3))
            let loaded = ContinuousClock.now + .seconds(30)
            while requests.all.filter({ $0.status == 200 }).count < 4, ContinuousClock.now < loaded {
                try await Task.sleep(for: .milliseconds(100))
            }
            stopBegan = .now
            try await offCooperativePool { cluster.stop() }
            try await Task.sleep(for: .seconds(10))
            restartBegan = .now
            try await offCooperativePool { try cluster.start() }
            restarted = .now
            // Ready again by itself (the pool reconnects on its own backoff, ~3 s after a 10 s outage).
            let deadline = ContinuousClock.now + .seconds(30)
            while readyAgain == nil, ContinuousClock.now < deadline {
                readyAgain = readiness.all.first { $0.started > restarted && $0.status == 200 }?.started
                try await Task.sleep(for: .milliseconds(100))
            }
            try await Task.sleep(for: .seconds(5))
            stopLoad.set()
            try await group.waitForAll()
        }

        // Every request answered, within the bound, with success or 503 + Retry-After.
        let all = requests.all
        #expect(all.count >= 20, "\(all.count) requests")
        let timeline = "stop at \(stopBegan - Self.epoch), restart at \(restartBegan - Self.epoch), started at \(restarted - Self.epoch)"
        let unanswered = all.filter { $0.status == nil }.map(\.description)
        #expect(unanswered.isEmpty, "no answer: \(unanswered.prefix(10)); \(timeline)")
        let slow = all.filter { $0.elapsed >= Self.answerBound }.map(\.description)
        #expect(slow.isEmpty, "too slow: \(slow.prefix(10)); \(timeline)")
        let unexpected = all.filter { $0.status != nil && $0.status != 200 && $0.status != 503 }.map(\.description)
        #expect(unexpected.isEmpty, "neither 200 nor 503: \(unexpected.prefix(10))")
        let bare = all.filter { $0.status == 503 && $0.retryAfter == nil }.map(\.description)
        #expect(bare.isEmpty, "503 without Retry-After: \(bare.prefix(10))")
        // Before: all served. While out: all 503 (after the sessions the stop cut off). After: all served again.
        let before = all.filter { $0.ended < stopBegan }
        #expect(!before.isEmpty && before.allSatisfy { $0.status == 200 }, "\(before.filter { $0.status != 200 }.map(\.description))")
        let during = all.filter { $0.started > stopBegan + .milliseconds(500) && $0.ended < restartBegan }
        #expect(!during.isEmpty && during.allSatisfy { $0.status == 503 }, "\(during.filter { $0.status != 503 }.map(\.description))")
        // A request that waited for a connection may be answered well within
        // the wait when the database returns mid-wait: never later than it.
        let overlong = during.filter { $0.elapsed >= .seconds(Double(Self.databaseWait)) + .seconds(5) }.map(\.description)
        #expect(overlong.isEmpty, "waited past PAN_DATABASE_WAIT: \(overlong.prefix(10))")
        let recovered = try #require(readyAgain, "/readyz never 200 again after the restart: \(readiness.all.suffix(8).map(\.description))")
        #expect(recovered - restarted < .seconds(20), "ready \(recovered - restarted) after the restart")
        let after = all.filter { $0.started > recovered + .seconds(1) }
        #expect(!after.isEmpty && after.allSatisfy { $0.status == 200 }, "\(after.filter { $0.status != 200 }.map(\.description))")
        #expect(after.contains { $0.what == "token" } && after.contains { $0.what == "login" })

        // /readyz: always at once; 200 before, 503 soon after the stop and until the restart, 200 after.
        let probes = readiness.all
        let badProbes = probes.filter { $0.status == nil || $0.elapsed >= Self.readyzBound }.map(\.description)
        #expect(badProbes.isEmpty, "/readyz unanswered or slow: \(badProbes.prefix(10))")
        #expect(probes.filter { $0.ended < stopBegan }.allSatisfy { $0.status == 200 })
        let firstNotReady = try #require(
            probes.first { $0.started > stopBegan && $0.status == 503 }, "/readyz never 503 during the outage: \(probes.map(\.description))"
        )
        // Requests notice within the wait; a wide margin for a loaded CI machine (10.8 s once, against a 2 s wait).
        #expect(firstNotReady.started - stopBegan < .seconds(Double(Self.databaseWait)) + .seconds(12), "not ready only \(firstNotReady.started - stopBegan) after the stop")
        let outage = probes.filter { $0.started > firstNotReady.started && $0.ended < restartBegan }
        #expect(!outage.isEmpty && outage.allSatisfy { $0.status == 503 }, "\(outage.filter { $0.status != 503 }.map(\.description))")
        #expect(outage.allSatisfy { $0.detail.contains("unreachable") || $0.detail.contains("not writable") }, "\(outage.first?.detail ?? "")")

        for process in [server, patient] {
            #expect(!process.stderr.contains("Fatal error"), "\(process.stderr.suffix(2000))")
        }
        let fsck = try await CLITests.run(["fsck", "--database-url", url, "--data-dir", dataDirectory])
        #expect(fsck.status == 0 && fsck.stdout.contains("clean"), "\(fsck)")

        // SIGTERM with the database down and a request of each server waiting for it.
        try await offCooperativePool { cluster.stop() }
        let answers = Log(), patientAnswers = Log()
        let exits = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                answers.add(await Self.send(target, "token", .POST, "/v1/store/token", json: ["name": "last.bin", "path": "/outage"], token: session))
            }
            group.addTask {
                patientAnswers.add(await Self.send(patientTarget, "token", .POST, "/v1/store/token", json: ["name": "last.bin", "path": "/patient"], token: session))
            }
            try await Task.sleep(for: .milliseconds(500))
            let signalled = ContinuousClock.now
            server.signal(SIGTERM)
            patient.signal(SIGTERM)
            let exits = await (
                Self.exit(of: server, within: 20), Self.exit(of: patient, within: 20), ContinuousClock.now - signalled
            )
            try await group.waitForAll()
            return exits
        }
        let answer = answers.last, patientAnswer = patientAnswers.last
        #expect(exits.0?.exited == true && exits.0?.status == 0, "pan serve after SIGTERM: \(exits.0.map(\.description) ?? "running")")
        #expect(
            exits.1?.exited == true && exits.1?.status == 0,
            "pan serve (PAN_DATABASE_WAIT=60, PAN_SHUTDOWN_TIMEOUT=2) after SIGTERM: \(exits.1.map(\.description) ?? "running")"
        )
        for exit in [exits.0, exits.1].compactMap(\.self) {
            #expect(!exit.stderr.contains("Cancellation took longer") && !exit.stderr.contains("Fatal error"), "\(exit)")
        }
        // The waiting request ended with its wait, inside the shutdown: a 503 with Retry-After.
        #expect(answer?.status == 503 && answer?.retryAfter != nil, "\(answer?.description ?? "none")")
        // The patient one was cut off at the shutdown bound: an answer or a closed connection, soon.
        #expect((patientAnswer?.elapsed ?? .seconds(60)) < Self.answerBound, "\(patientAnswer?.description ?? "none")")
        #expect(exits.2 < .seconds(15), "shutdown took \(exits.2)")
    }

    @Test("SQLite: SIGTERM with a request stuck behind another process's write lock exits 0 within the shutdown bound")
    func sqliteShutdownWhileStuck() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let add = try await CLITests.run(["user", "add", "bob", "--password", "secret", "--data-dir", directory])
        #expect(add.status == 0, "\(add)")
        let port = try freePort()
        let server = try ServerProcess.start(["serve", "--data-dir", directory, "--port", String(port)], environment: ["PAN_SHUTDOWN_TIMEOUT": "2"])
        defer { server.kill() }
        try await server.waitUntilHealthy(port: port)
        let target = Target(port: port, dataDirectory: directory, credentials: [], callbackPath: "/v1/callback/ws/post", external: false)
        let session = try await target.login("bob")

        // Another process holds the write lock: the server's writes wait on it.
        let other = try Connection(path: PanDatabase.path(inDataDirectory: directory))
        try other.execute("BEGIN IMMEDIATE")
        defer { try? other.execute("ROLLBACK") }
        let outcome = Log()
        let exit = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let reply = await Self.send(target, "token", .POST, "/v1/store/token", json: ["name": "stuck.bin", "path": "/stuck"], token: session)
                outcome.add(reply)
            }
            try await Task.sleep(for: .milliseconds(500))
            server.signal(SIGTERM)
            let exit = await Self.exit(of: server, within: 20)
            try await group.waitForAll()
            return exit
        }
        #expect(exit?.exited == true && exit?.status == 0, "pan serve after SIGTERM: \(exit.map(\.description) ?? "running")")
        #expect(exit.map { !$0.stderr.contains("Cancellation took longer") && !$0.stderr.contains("Fatal error") } ?? false)
        let reply = outcome.last
        #expect((reply?.elapsed ?? .seconds(60)) < Self.answerBound, "\(reply?.description ?? "none")")
    }
}
