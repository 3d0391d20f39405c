import AsyncHTTPClient
import Foundation
import HTTPTypes
import Synchronization
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport

/// Issue #14, item 2: a flood of logins must neither stall other users'
/// requests nor let a guesser try passwords without limit.
@Suite("Login floods (issue #14 item 2)")
struct LoginFloodTests {
    /// A client of its own with room for the whole flood at once (the shared
    /// test client keeps 8 connections per host, which would queue the flood on
    /// the client side and hide what the server does).
    static func withFloodClient<T: Sendable>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5)))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// `user/info` latencies (ms), sampled back to back on a client of its own while `flood` runs.
    static func infoLatencies(
        _ server: TestServer, token: String, during flood: @escaping @Sendable () async throws -> Void
    ) async throws -> [Double] {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5)))
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 4)
        let probe = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let samples = Samples()
        do {
            // Warm the probe's connection so the first sample is not a TCP handshake.
            _ = try await server.post("/v1/user/info", token: token, client: probe)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await flood()
                    samples.finish()
                }
                group.addTask {
                    while !samples.isFinished {
                        let start = ContinuousClock.now
                        let reply = try await server.post("/v1/user/info", token: token, client: probe)
                        let elapsed = ContinuousClock.now - start
                        #expect(reply.status == 200)
                        samples.add(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                        try await Task.sleep(for: .milliseconds(5))
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            try? await probe.shutdown()
            throw error
        }
        try await probe.shutdown()
        return samples.values
    }

    final class Samples: Sendable {
        private let state = Mutex<(values: [Double], finished: Bool)>(([], false))
        func add(_ value: Double) { state.withLock { $0.values.append(value) } }
        func finish() { state.withLock { $0.finished = true } }
        var isFinished: Bool { state.withLock { $0.finished } }
        var values: [Double] { state.withLock { $0.values } }
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    @Test("200 concurrent wrong-password logins at release-build PBKDF2 cost: another user's user/info stays fast (hashing is off the readers)")
    func floodDoesNotStallReaders() async throws {
        try await withServer(configure: {
            // What one hash costs in a release build at the real 210,000 rounds
            // (31–45 ms, issue #14) is about what 25,000 cost in this debug build,
            // where BoringSSL is compiled without optimisation.
            $0.passwordRounds = 25_000
            // Throttle off: every one of the 200 logins really hashes.
            $0.loginFailuresPerAccount = 0
            $0.loginFailuresPerIP = 0
            $0.loginChecksPerIP = 0
            // 200 connections from one address: past the per-address connection cap (an eighth of 1024).
            $0.maxConnectionsPerIP = 0
        }) { server in
            try await server.createUser("victim")
            let (_, token) = try await server.user("bystander")
            // The same probe with no flood: what this machine gives right now.
            let quiet = try await Self.infoLatencies(server, token: token) { try await Task.sleep(for: .milliseconds(500)) }
            try await Self.withFloodClient { client in
            let statuses = Mutex<[Int: Int]>([:])
            let started = ContinuousClock.now
            let latencies = try await Self.infoLatencies(server, token: token) {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<200 {
                        group.addTask {
                            try await server.post("/v1/user/login", ["value": "victim", "password": "wrong-\(i)"], client: client).status
                        }
                    }
                    for try await status in group { statuses.withLock { $0[status, default: 0] += 1 } }
                }
            }
            let floodTime = ContinuousClock.now - started
            let p50 = Self.percentile(latencies, 0.5), p99 = Self.percentile(latencies, 0.99)
            print("login flood: 200 logins in \(floodTime); user/info n=\(latencies.count) p50=\(p50) ms p99=\(p99) ms max=\(latencies.max() ?? 0) ms; statuses \(statuses.withLock { $0 })")
            // Every login is answered: wrong password, or — past the hash pool's queue (64 per core) — 503 at once.
            let seen = statuses.withLock { $0 }
            #expect(Set(seen.keys).isSubset(of: [401, 503]), "\(seen)")
            #expect(seen[401, default: 0] >= min(200, 64 * ProcessInfo.processInfo.activeProcessorCount), "\(seen)")
            #expect(latencies.count >= 3)
            // Issue target: p99 < 20 ms (release build, quiet machine); ~30–45 ms here in a debug
            // build, run alone. Asserted at a generous 200 ms. Hashing on the readers, as before
            // the fix, made each user/info wait behind ~50 hashes: seconds.
            // In the full suite ~170 tests share this process and its two cooperative threads;
            // when even the quiet probe is slow there (seen: 600 ms for one request), a latency
            // figure says nothing about this server, and only the answers are checked.
            let quietP99 = Self.percentile(quiet, 0.99)
            print("login flood: quiet user/info n=\(quiet.count) p99=\(quietP99) ms")
            if quiet.count >= 10, quietP99 < 50 {
                #expect(p99 < 200, "user/info p99 \(p99) ms during the flood (quiet p99 \(quietP99) ms)")
            } else {
                print("login flood: this process is too busy for a latency verdict (quiet p99 \(quietP99) ms); run `swift test --filter LoginFloodTests` alone")
            }
            }
        }
    }

    @Test("wrong passwords past the per-account limit from one address get 429 TOO_MANY_ATTEMPTS with Retry-After there, even with the right password")
    func perAccountLimit() async throws {
        try await withServer(configure: { $0.loginFailuresPerAccount = 5; $0.loginFailuresPerIP = 1000 }) { server in
            try await server.createUser("alice", phone: "13800000001")
            let (_, token) = try await server.user("bob")
            let replies = try await Self.withFloodClient { client in
                try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
                    for i in 0..<50 {
                        group.addTask { try await server.post("/v1/user/login", ["value": "alice", "password": "guess-\(i)"], client: client) }
                    }
                    return try await group.reduce(into: [TestServer.Reply]()) { $0.append($1) }
                }
            }
            // Charged before hashing: no more than the limit ever reach the password check.
            #expect(replies.filter { $0.status == 401 }.count == 5)
            let refused = replies.filter { $0.status == 429 }
            #expect(refused.count == 45)
            for reply in refused {
                #expect(reply.code == "TOO_MANY_ATTEMPTS")
                let retry = try #require(reply.headers[.retryAfter].flatMap(Int.init))
                #expect(retry >= 1 && retry <= 900)
            }
            // The right password is refused too from the guessing address, by name and by phone
            // (another address is not: LoginAbuseTests).
            let right = try await server.post("/v1/user/login", ["value": "alice", "password": "secret"])
            #expect(right.status == 429)
            #expect(try await server.post("/v1/user/login", ["value": "13800000001", "password": "secret"]).status == 429)
            // Other accounts are untouched, and bob's session works throughout.
            #expect(try await server.post("/v1/user/info", token: token).status == 200)
            _ = try await server.login("bob")
        }
    }

    @Test("one IP spraying many accounts is stopped by the per-IP limit")
    func perIPLimit() async throws {
        try await withServer(configure: { $0.loginFailuresPerAccount = 100; $0.loginFailuresPerIP = 8 }) { server in
            try await server.createUser("carol")
            for i in 0..<8 {
                let reply = try await server.post("/v1/user/login", ["value": "nobody\(i)", "password": "x"])
                #expect(reply.status == 401)
            }
            let blocked = try await server.post("/v1/user/login", ["value": "carol", "password": "secret"])
            #expect(blocked.status == 429)
            #expect(blocked.code == "TOO_MANY_ATTEMPTS")
            #expect(blocked.headers[.retryAfter] != nil)
        }
    }

    @Test("the window: counts expire, Retry-After counts down, a success refunds the address's attempt")
    func throttleWindow() {
        let now = Mutex<TimeInterval>(1_000)
        let throttle = LoginThrottle(
            limits: .init(perAccount: 2, perIP: 3, window: 60, checksPerMinute: 0), clock: { now.withLock { $0 } }
        )
        func admit(_ account: Int64) -> LoginThrottle.Admission {
            throttle.admit(address: "10.0.0.1", account: LoginThrottle.accountKey(account), knownDevice: false)
        }
        #expect(admit(7).attempt != nil)
        #expect(admit(7).attempt != nil)
        #expect(admit(7).retryAfter == 60)
        now.withLock { $0 += 45 }
        #expect(admit(7).retryAfter == 15)
        // Another account from the same address: one attempt left there.
        #expect(admit(8).attempt != nil)
        #expect(admit(9).retryAfter == 15)
        now.withLock { $0 += 16 }
        let right = try? #require(admit(7).attempt)
        if let right { throttle.settle(right, .succeeded) }
        #expect(admit(7).attempt != nil)
        #expect(admit(7).attempt != nil)
        #expect(admit(7).attempt == nil)
    }

    @Test("a successful login clears the account's failures")
    func successResets() async throws {
        try await withServer(configure: { $0.loginFailuresPerAccount = 3 }) { server in
            try await server.createUser("dora")
            for _ in 0..<2 { #expect(try await server.post("/v1/user/login", ["value": "dora", "password": "no"]).status == 401) }
            _ = try await server.login("dora")
            for _ in 0..<3 { #expect(try await server.post("/v1/user/login", ["value": "dora", "password": "no"]).status == 401) }
            #expect(try await server.post("/v1/user/login", ["value": "dora", "password": "no"]).status == 429)
        }
    }
}
