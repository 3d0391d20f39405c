import WCS
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Logging
import PanCore
import PanPostgres
import PanSQLite
import SQLiteKit

/// `pan-bench http`: throughput and latency of the endpoints that matter,
/// against `pan serve` in a second process, each row next to the server's
/// trivial route (the framework's ceiling) and callbacks next to raw SQLite
/// commits (the storage ceiling), all measured in the same run.
struct HTTPBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "http", abstract: "Endpoint throughput vs the framework and SQLite ceilings.")

    @Option(help: "Seconds per scenario.") var seconds = 5.0
    @Option(help: "Concurrent connections.") var connections = 32
    @Option(help: "The pan binary to serve with (default: next to this one).") var pan: String?
    @Option(help: "Size of the file for `pan hash` vs sha1sum, in MiB (0 skips).") var hashSize = 1024
    @Option(name: .customLong("database-url"), help: "Serve from this PostgreSQL database (postgres://…) instead of SQLite; it must be empty.")
    var databaseURL: String?
    @Option(help: "Pan servers to start (more than 1: behind an nginx with all of them as its upstream; needs --database-url).")
    var servers = 1
    @Option(help: "The nginx binary for --servers > 1.") var nginx = "/usr/sbin/nginx"
    @Option(help: "Users the load is spread over (worker i acts as user i mod N). One user's writes are serialized by design.")
    var users = 1
    @Option(help: "Rows to run, comma-separated (hello,trivial,info,token,instant,callback,page,pagetime,chain,sqlite); default all. For profiling one row.")
    var only: String?
    @Option(help: "Rounds: every row once per round, interleaved; the table gives medians.") var rounds = 1
    @Option(help: "Load generator: wrk (Debian's), builtin (AsyncHTTPClient in this process), or auto (wrk when installed).") var load = "auto"
    @Option(help: "wrk threads.") var threads = 2
    @Option(help: "Depth of the directory chain the chain row makes.") var chainDepth = 1000
    @Option(name: .customLong("postgres-pid"), help: "The PostgreSQL cluster's postmaster pid: database CPU is then that cluster's alone (the postmaster, its live children and those it reaped), not every `postgres` process's on the machine.")
    var postgresPid: Int32?
    @Option(help: "Append one tab-separated line per row and round to this file: label, round, row, req/s, p50 ms, p99 ms, errors, requests, server CPU µs/req, database CPU µs/req (- when not measured).")
    var record: String?
    @Option(help: "The first column of --record's lines.") var label = "pan"

    func wanted(_ key: String) -> Bool { only.map { $0.split(separator: ",").contains(Substring(key)) } ?? true }

    /// The servers' pids, for their CPU time (set once they run).
    nonisolated(unsafe) static var pids: [Int32] = []
    /// CPU seconds of these processes (Pan's servers: PostgreSQL's and nginx's own are not counted).
    static func cpuSeconds(of pids: [Int32]) -> Double? {
        let each = pids.compactMap(Self.cpuSeconds)
        return each.count == pids.count && !each.isEmpty ? each.reduce(0, +) : nil
    }

    /// utime + stime of a process from /proc, in seconds.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let fields = statFields(pid), let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The fields of `/proc/PID/stat` after the command: [0] state, [1] ppid, [11] utime,
    /// [12] stime, [13] cutime, [14] cstime (fields 3, 4, 14–17 of the whole line).
    static func statFields(_ pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 14 ? fields : nil
    }

    /// CPU seconds of one PostgreSQL cluster: its postmaster's own, the children it has reaped
    /// (cutime + cstime: backends of closed connections), and its live children's (backends,
    /// checkpointer, WAL writer, autovacuum). `bench/backends.sh` measures pgbench the same way.
    static func clusterCPU(postmaster: Int32) -> Double? {
        guard let own = statFields(postmaster) else { return nil }
        var ticks = own[11...14].compactMap { Double($0) }.reduce(0, +)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries where entry.allSatisfy(\.isNumber) {
            guard let pid = Int32(entry), pid != postmaster, let fields = statFields(pid), fields[1] == "\(postmaster)" else { continue }
            ticks += (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        }
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The database's CPU seconds: the cluster's with --postgres-pid, else every `postgres` process's.
    func databaseCPU() -> Double? {
        guard databaseURL != nil else { return nil }
        if let postgresPid { return Self.clusterCPU(postmaster: postgresPid) }
        return Self.postgresCPU()
    }

    /// utime + stime of every live process named `postgres` (any cluster's backends and workers), in seconds.
    static func postgresCPU() -> Double {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.reduce(0) { total, pid in
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == "postgres",
                  let seconds = cpuSeconds(Int32(pid)!) else { return total }
            return total + seconds
        }
    }

    static let keys = Credentials(accessKey: "bench-ak", secretKey: "bench-sk")

    struct Row {
        let name: String
        let requests: Int
        let errors: Int
        let elapsed: Double
        let p50Millis: Double
        let p99Millis: Double
        /// CPU seconds the server process used during the row (user + system), when known.
        var serverCPU: Double? = nil
        /// Prepared requests sent twice because they ran out (callbacks: the row then measures replays too).
        var replayed = 0
        var rate: Double { Double(requests) / elapsed }
        /// Server CPU per request: unlike req/s, barely moved by other load on the machine.
        var serverMicrosPerRequest: Double? { serverCPU.map { $0 / Double(max(requests, 1)) * 1e6 } }
        /// CPU seconds of every PostgreSQL process during the row (with --database-url).
        var databaseCPU: Double? = nil
        var databaseMicrosPerRequest: Double? { databaseCPU.map { $0 / Double(max(requests, 1)) * 1e6 } }

        init(name: String, requests: Int, errors: Int, elapsed: Double, samples: Samples) {
            (self.name, self.requests, self.errors, self.elapsed) = (name, requests, errors, elapsed)
            (p50Millis, p99Millis) = (samples.medianMillis, samples.p99Millis)
        }

        init(name: String, wrk result: Wrk.Result) {
            (self.name, requests, errors, elapsed) = (name, result.requests, result.failed + result.socketErrors, result.seconds)
            (p50Millis, p99Millis, replayed) = (result.p50Millis, result.p99Millis, result.replayed)
        }
    }

    /// The rows, in table order: key, title.
    static let rowTitles: [(String, String)] = [
        ("hello", "GET /healthz, Hummingbird hello-world (own process)"),
        ("trivial", "GET /healthz, Pan (trivial route)"),
        ("info", "user/info (authentication, one read)"),
        ("token", "token (upload session)"),
        ("instant", "token (instant upload)"),
        ("callback", "callback (node + object)"),
        ("page", "files/page 20 of a 10k directory, by name"),
        ("pagetime", "files/page 20 of a 10k directory, by time"),
    ]

    func run() async throws {
        let binary = pan ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pan").path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pan-bench-http-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard servers == 1 || databaseURL != nil else { throw ValidationError("--servers > 1 needs --database-url (one shared database)") }
        let wrk: Wrk?
        switch load {
        case "builtin": wrk = nil
        case "wrk", "auto":
            guard let executable = Wrk.find() else {
                if load == "wrk" { throw ValidationError("wrk is not installed (apt-get install wrk)") }
                FileHandle.standardError.write(Data("wrk is not installed: the built-in load generator is used (it takes CPU from the server)\n".utf8))
                wrk = nil
                break
            }
            wrk = Wrk(executable: executable, threads: threads, connections: connections, seconds: seconds, directory: directory)
        default: throw ValidationError("--load is wrk, builtin or auto")
        }
        let ports = (0..<max(1, servers)).map { _ in Int.random(in: 30000..<40000) }
        let front = servers > 1 ? Int.random(in: 40000..<45000) : ports[0]
        let base = "http://127.0.0.1:\(front)"

        // Data the scenarios need, written before the server starts.
        let seeded = try await prepare(dataDirectory: directory, serverBinary: binary)

        var environment = ProcessInfo.processInfo.environment
        environment["PAN_LOG_LEVEL"] = "error"
        environment["PAN_WCS_KEYS"] = "\(Self.keys.accessKey):\(Self.keys.secretKey)"
        environment["PAN_PUBLIC_URL"] = base
        if let databaseURL {
            environment["PAN_DATABASE_URL"] = databaseURL
            environment["PAN_JWT_SECRET"] = "pan-bench-shared-secret"
        }
        // The token rows leave every session pending: lift the per-user cap, not what is measured.
        environment["PAN_MAX_PENDING_UPLOADS"] = environment["PAN_MAX_PENDING_UPLOADS"] ?? "100000000"
        var processes: [Process] = []
        defer {
            // nginx without its master process ignores SIGTERM: it is killed outright (it holds no data).
            for process in processes { kill(process.processIdentifier, process.executableURL?.lastPathComponent == "nginx" ? SIGKILL : SIGTERM) }
            for process in processes { process.waitUntilExit() }
        }
        for port in ports {
            let server = Process()
            server.executableURL = URL(fileURLWithPath: binary)
            // Several servers share the data directory (the local endpoint's bytes) as they would a shared volume.
            server.arguments = ["serve", "--data-dir", directory, "--port", String(port)]
            server.environment = environment
            try server.run()
            processes.append(server)
        }
        Self.pids = processes.map(\.processIdentifier)
        if servers > 1 { processes.append(try startNginx(port: front, upstreams: ports, directory: directory)) }
        // The framework's own hello-world in a process of its own: the ceiling.
        var hello: (pid: Int32, base: String)?
        if wanted("hello") {
            let port = Int.random(in: 45000..<50000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            process.arguments = ["hello", "--port", String(port)]
            try process.run()
            processes.append(process)
            hello = (process.processIdentifier, "http://127.0.0.1:\(port)")
        }

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        try await waitUntilUp(client, base)
        if let hello { try await waitUntilUp(client, hello.base) }

        var auths: [String] = []
        for index in 0..<max(1, users) {
            let name = index == 0 ? "bench" : "bench\(index)"
            let login = try await call(client, "\(base)/v1/user/login", json: #"{"value":"\#(name)","password":"bench"}"#)
            guard let token = (try JSONSerialization.jsonObject(with: login.body) as? [String: Any])?["token"] as? String else {
                throw ValidationError("login failed: \(String(decoding: login.body, as: UTF8.self))")
            }
            auths.append("Bearer \(token)")
        }
        let auth = auths[0]
        let frozen = auths
        let authFor: @Sendable (Int) -> String = { worker in frozen[worker % frozen.count] }
        let scripted = ["PAN_BENCH_AUTH": auths.joined(separator: ",")]

        var rounds: [[String: Row]] = []
        for round in 1...max(1, self.rounds) {
            var rows: [String: Row] = [:]
            let tag = "r\(round)"
            if let hello {
                rows["hello"] = try await measure("hello", pids: [hello.pid], client,
                    wrk: wrk.map { wrk in { try wrk.run(.healthz, url: hello.base, environment: [:]) } }) { _, _ in
                    try await call(client, "\(hello.base)/healthz", method: .GET)
                }
            }
            if wanted("trivial") {
                rows["trivial"] = try await measure("trivial", client, wrk: wrk.map { wrk in { try wrk.run(.healthz, url: base, environment: [:]) } }) { _, _ in
                    try await call(client, "\(base)/healthz", method: .GET)
                }
            }
            if wanted("info") {
                var script = scripted
                (script["PAN_BENCH_PATH"], script["PAN_BENCH_BODY"]) = ("/v1/user/info", "{}")
                rows["info"] = try await measure("info", client, wrk: wrk.map { wrk in { try wrk.run(.post, url: base, environment: script) } }) { worker, _ in
                    try await call(client, "\(base)/v1/user/info", json: "{}", auth: authFor(worker))
                }
            }
            // The token row's grants feed the callback row (wrk keeps them, off the server's clock).
            let captured = "\(directory)/tokens-\(tag)"
            if wanted("token") {
                var script = scripted
                script["PAN_BENCH_TAG"] = tag
                if wanted("callback") { script["PAN_BENCH_CAPTURE"] = captured }
                rows["token"] = try await measure("token", client, wrk: wrk.map { wrk in { try wrk.run(.token, url: base, environment: script) } }) { worker, i in
                    try await call(client, "\(base)/v1/store/token", json: #"{"name":"\#(tag)-\#(worker)-\#(i)","path":"/bench-tokens"}"#, auth: authFor(worker))
                }
            }
            if wanted("instant") {
                var script = scripted
                (script["PAN_BENCH_TAG"], script["PAN_BENCH_FOLDER"], script["PAN_BENCH_HASH"]) = (tag, "/bench-instant", seeded.hash)
                rows["instant"] = try await measure("instant", client, wrk: wrk.map { wrk in { try wrk.run(.token, url: base, environment: script) } }) { worker, i in
                    try await call(client, "\(base)/v1/store/token", json: #"{"name":"\#(tag)-i-\#(worker)-\#(i)","path":"/bench-instant","hash":"\#(seeded.hash)"}"#, auth: authFor(worker))
                }
            }
            if wanted("callback") {
                // Callbacks need sessions, and WCS computes hashes and signatures on its own machines:
                // both are prepared before the clock starts, so the load generator only sends.
                var tokens = Self.readTokens(prefix: captured, threads: threads)
                // Enough for twice the token row's rate (a callback costs at least what a token does), else
                // replays are reported. Not a floor of 3,000/s: on PostgreSQL (a few hundred tokens/s) that
                // took half a minute of extra token requests per run, for callbacks that run at ~100/s.
                let tokenRate = rows["token"]?.rate ?? 3_000
                let wanted = max(1_000, Int(seconds * 2 * tokenRate))
                if tokens.count < wanted, let wrk {
                    let more = Wrk(executable: wrk.executable, threads: wrk.threads, connections: wrk.connections,
                                   seconds: (Double(wanted - tokens.count) / max(tokenRate, 500)).rounded(.up) + 1, directory: wrk.directory)
                    var script = scripted
                    (script["PAN_BENCH_TAG"], script["PAN_BENCH_CAPTURE"]) = (tag + "x", captured + "x")
                    _ = try more.run(.token, url: base, environment: script)
                    tokens += Self.readTokens(prefix: captured + "x", threads: threads)
                }
                if tokens.count < wanted {
                    tokens += try await issueTokens(client, base, tag: tag, auth: authFor, count: wanted - tokens.count)
                }
                let prepared = tokens.enumerated().compactMap { index, token in Self.signedCallback(base, token: token, index: index) }
                let file = "\(directory)/callbacks-\(tag)"
                try prepared.map { "\($0.path)\t\($0.authorization)\t\($0.body)\n" }.joined().write(toFile: file, atomically: true, encoding: .utf8)
                let next = Counter()
                rows["callback"] = try await measure("callback", client, wrk: wrk.map { wrk in {
                    try wrk.run(.callback, url: base, environment: ["PAN_BENCH_CALLBACKS": file])
                } }) { _, _ in
                    guard let index = next.next(below: prepared.count) else { throw Exhausted() }
                    return try await send(client, prepared[index].request(base))
                }
            }
            for (key, order) in [("page", 2), ("pagetime", -1)] where wanted(key) {
                var script = scripted
                // Only the first user has `/big` (`seed`): every page request is that user's. With
                // all the users here, wrk's other threads paged a directory their user doesn't have
                // and counted as errors (half the requests with --users 8).
                (script["PAN_BENCH_AUTH"], script["PAN_BENCH_ORDER"]) = (auth, String(order))
                rows[key] = try await measure(key, client, wrk: wrk.map { wrk in { try wrk.run(.page, url: base, environment: script) } }) { _, i in
                    try await call(client, "\(base)/v1/files/page", json: #"{"path":"/big","pageSize":20,"page":\#(1 + i % 500),"orderBy":\#(order)}"#, auth: auth)
                }
            }
            if self.rounds > 1 { print("round \(round):\n" + report([rows]) + "\n") }
            if let record { try Self.record(rows, label: label, round: round, to: record) }
            rounds.append(rows)
        }
        let chain = wanted("chain") ? try await deepChain(client, base, auth: auth, hash: seeded.hash) : nil
        // The issue's storage ceiling is a commit per insert; the group-committed row shows what Pan's writer does with them.
        let sqlite = wanted("sqlite") && databaseURL == nil ? try await rawInserts(directory: directory, maxBatch: 1) : nil
        let grouped = wanted("sqlite") && databaseURL == nil ? try await rawInserts(directory: directory, maxBatch: 64) : nil

        let backend = databaseURL == nil ? "SQLite" : "PostgreSQL, \(servers) server(s)\(servers > 1 ? " behind nginx" : "")"
        let generator = wrk.map { "wrk -t\($0.threads) -c\(connections)" } ?? "built-in client, \(connections) connections"
        print("load: \(generator), \(format(seconds, 0)) s per row, \(rounds.count) round(s) (medians), server: \(binary) in a second process, store: \(backend)")
        if !rounds.allSatisfy(\.isEmpty) { print(report(rounds)) }
        var lines: [[String]] = []
        for row in [sqlite, grouped].compactMap({ $0 }) {
            let callbacks = rounds.compactMap { $0["callback"]?.rate }.median
            let ratio = callbacks.map { "callbacks = \(format($0 / row.rate * 100, 0))% of this" } ?? ""
            lines.append([row.name, format(row.rate, 0), format(row.p50Millis, 2), format(row.p99Millis, 2), ratio])
        }
        if !lines.isEmpty { print("\n" + table(["storage ceiling", "inserts/s", "p50 ms", "p99 ms", ""], lines)) }
        if let chain { print("\n" + chain) }
        if hashSize > 0, only == nil { try hashComparison(binary: binary, directory: directory) }
        try await client.shutdown()
    }

    /// One table: per row the medians over rounds, and the ratios to the ceiling
    /// row (the hello-world when measured, else Pan's trivial route) taken round
    /// by round, so each compares figures measured minutes apart, not rounds apart.
    func report(_ rounds: [[String: Row]]) -> String {
        let ceiling = rounds.allSatisfy { $0["hello"] != nil } ? "hello" : "trivial"
        var lines: [[String]] = []
        for (key, title) in Self.rowTitles {
            let rows = rounds.compactMap { $0[key] }
            guard !rows.isEmpty else { continue }
            let cpu = rows.compactMap(\.serverMicrosPerRequest).median
            let database = rows.compactMap(\.databaseMicrosPerRequest).median
            let cpuRatio = rounds.compactMap { round -> Double? in
                guard let mine = round[key]?.serverMicrosPerRequest, let base = round[ceiling]?.serverMicrosPerRequest, base > 0 else { return nil }
                return mine / base
            }.median
            let rateRatio = rounds.compactMap { round -> Double? in
                guard let mine = round[key], let base = round[ceiling] else { return nil }
                return mine.rate / base.rate
            }.median
            let replayed = rows.map(\.replayed).reduce(0, +)
            lines.append([
                title, format(rows.map(\.rate).median ?? 0, 0), format(rows.map(\.p50Millis).median ?? 0, 2), format(rows.map(\.p99Millis).median ?? 0, 2),
                String(rows.map(\.errors).reduce(0, +)) + (replayed > 0 ? " (\(replayed) replayed)" : ""),
                cpu.map { format($0, 0) } ?? "-", database.map { format($0, 0) } ?? "-",
                cpuRatio.map { format($0, 2) + "×" } ?? "-", rateRatio.map { format($0 * 100, 0) + "%" } ?? "-",
            ])
        }
        return table(["row", "req/s", "p50 ms", "p99 ms", "errors", "server CPU µs/req", "db CPU µs/req", "CPU ÷ \(ceiling)", "req/s ÷ \(ceiling)"], lines)
    }

    /// --record's lines, one per row, in table order.
    static func record(_ rows: [String: Row], label: String, round: Int, to path: String) throws {
        let lines = rowTitles.compactMap { key, _ -> String? in
            guard let row = rows[key] else { return nil }
            return [label, String(round), key, format(row.rate, 1), format(row.p50Millis, 3), format(row.p99Millis, 3), String(row.errors),
                    String(row.requests), row.serverMicrosPerRequest.map { format($0, 1) } ?? "-",
                    row.databaseMicrosPerRequest.map { format($0, 1) } ?? "-"].joined(separator: "\t") + "\n"
        }.joined()
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(lines.utf8))
    }

    // MARK: Scenarios

    func waitUntilUp(_ client: HTTPClient, _ base: String) async throws {
        for _ in 0..<300 {
            if let reply = try? await call(client, "\(base)/healthz", method: .GET), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("pan serve did not come up at \(base)")
    }

    struct Exhausted: Error {}

    /// One row: by wrk when given, else by the built-in client; with the
    /// server CPU (of `pids`, default Pan's servers) and the database's.
    func measure(
        _ key: String, pids: [Int32]? = nil, _ client: HTTPClient, wrk: (() throws -> Wrk.Result)?,
        builtin: @escaping @Sendable (Int, Int) async throws -> Response
    ) async throws -> Row {
        let name = Self.rowTitles.first { $0.0 == key }?.1 ?? key
        let pids = pids ?? Self.pids
        let cpuBefore = Self.cpuSeconds(of: pids)
        let databaseBefore = databaseCPU()
        // For profiling a single row from outside: the row now running.
        if let file = ProcessInfo.processInfo.environment["PAN_BENCH_PHASE_FILE"] { try? name.write(toFile: file, atomically: true, encoding: .utf8) }
        var row: Row
        if let wrk { row = Row(name: name, wrk: try wrk()) } else { row = try await load(name, client, builtin) }
        if let before = cpuBefore, let after = Self.cpuSeconds(of: pids) { row.serverCPU = after - before }
        if let before = databaseBefore, let after = databaseCPU() { row.databaseCPU = after - before }
        FileHandle.standardError.write(Data("\(name): \(format(row.rate, 0)) req/s\n".utf8))
        return row
    }

    /// Runs `request` from `connections` workers for `seconds`; counts non-2xx and `success:false` as errors.
    func load(_ name: String, _ client: HTTPClient, _ request: @escaping @Sendable (Int, Int) async throws -> Response) async throws -> Row {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let start = Date()
        let results = try await withThrowingTaskGroup(of: (Samples, Int).self) { group in
            for worker in 0..<connections {
                group.addTask {
                    var samples = Samples()
                    var errors = 0
                    var i = 0
                    while DispatchTime.now().uptimeNanoseconds < deadline {
                        let begin = DispatchTime.now().uptimeNanoseconds
                        do {
                            let response = try await request(worker, i)
                            if !(200..<300).contains(response.status) || response.failed { errors += 1 }
                        } catch is Exhausted {
                            break
                        } catch {
                            errors += 1
                        }
                        samples.add(DispatchTime.now().uptimeNanoseconds - begin)
                        i += 1
                    }
                    return (samples, errors)
                }
            }
            var all = Samples()
            var errors = 0
            for try await (samples, failed) in group {
                all.append(contentsOf: samples)
                errors += failed
            }
            return (all, errors)
        }
        return Row(name: name, requests: results.0.count, errors: results.1, elapsed: Date().timeIntervalSince(start), samples: results.0)
    }

    struct Response: Sendable {
        let status: Int
        let body: Data
        /// An envelope that says `success:false`.
        var failed: Bool { body.range(of: Data(#""success":false"#.utf8)) != nil }
    }

    func call(_ client: HTTPClient, _ url: String, method: HTTPMethod = .POST, json: String? = nil, auth: String? = nil, headers: [(String, String)] = []) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        if let auth { request.headers.add(name: "Authorization", value: auth) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        return Response(status: Int(response.status.code), body: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
    }

    /// A callback as WCS sends it: its path, signature and form body.
    struct SignedCallback {
        let path: String
        let authorization: String
        let body: String

        func request(_ base: String) -> HTTPClientRequest {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "Authorization", value: authorization)
            request.body = .bytes(ByteBuffer(string: body))
            return request
        }
    }

    /// A signed callback as WCS would send it for `token`'s upload session.
    static func signedCallback(_ base: String, token: String, index: Int) -> SignedCallback? {
        guard case .success(let policy) = UploadToken.verify(token, credentials: [Self.keys]) else { return nil }
        let content = "callback content \(index)"
        let substituted = MagicVariables.substitute(policy.callbackBody ?? "", values: [
            "fsize": String(content.utf8.count), "hash": ContentHasher.hash(Data(content.utf8)), "key": policy.scopeKey ?? policy.saveKey ?? "",
            "mimeType": "text/plain", "fname": "cb\(index).txt", "bucket": policy.bucket,
        ])
        let body = MagicVariables.wireBody(for: substituted)
        let url = policy.callbackUrl ?? "\(base)/v1/callback/ws/post"
        guard url.hasPrefix(base) else { return nil }
        return SignedCallback(
            path: String(url.dropFirst(base.count)), authorization: CallbackSignature.authorization(url: url, body: body, credentials: Self.keys),
            body: String(decoding: body, as: UTF8.self)
        )
    }

    /// The tokens the token row's wrk threads kept, one file per thread.
    static func readTokens(prefix: String, threads: Int) -> [String] {
        (1...max(1, threads)).flatMap { thread in
            ((try? String(contentsOfFile: "\(prefix).\(thread)", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    func send(_ client: HTTPClient, _ request: HTTPClientRequest) async throws -> Response {
        let response = try await client.execute(request, timeout: .seconds(30))
        return Response(status: Int(response.status.code), body: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
    }

    func issueTokens(_ client: HTTPClient, _ base: String, tag: String, auth: @escaping @Sendable (Int) -> String, count: Int) async throws -> [String] {
        let perWorker = count / connections
        return try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<connections {
                group.addTask {
                    var tokens: [String] = []
                    for i in 0..<perWorker {
                        let reply = try await call(client, "\(base)/v1/store/token", json: #"{"name":"cb-\#(tag)-\#(worker)-\#(i).txt","path":"/bench-callbacks"}"#, auth: auth(worker))
                        if let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
                           let token = (object["result"] as? [String: Any])?["token"] as? String {
                            tokens.append(token)
                        }
                    }
                    return tokens
                }
            }
            return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }
    }

    /// Issue #18's deep tree, one request at a time (so a figure is the server's
    /// latency alone): a `chainDepth`-deep chain made by one createDirectory
    /// naming the whole path, then another made one level per request (each
    /// naming its parent's whole path), then create-file (an instant upload)
    /// at depth 1 (in `/`) and at depth `chainDepth` (in the chain's last-but-one level).
    func deepChain(_ client: HTTPClient, _ base: String, auth: String, hash: String) async throws -> String {
        func serverCPU() -> Double? { Self.cpuSeconds(of: Self.pids) }
        func createDirectory(_ parent: String, _ name: String) async throws -> String? {
            let reply = try await call(client, "\(base)/v1/files/createDirectory", json: #"{"path":"\#(parent)","name":"\#(name)"}"#, auth: auth)
            return reply.status == 200 && !reply.failed ? nil : String(decoding: reply.body.prefix(160), as: UTF8.self)
        }
        var lines: [[String]] = []
        // One request.
        let levels = (1..<chainDepth).map { _ in "d" }
        var cpu = serverCPU()
        var start = DispatchTime.now().uptimeNanoseconds
        let refusedWhole = try await createDirectory("/whole/" + levels.dropLast().joined(separator: "/"), "d")
        var seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        lines.append(["\(chainDepth)-deep chain, one createDirectory naming the whole path" + (refusedWhole.map { " (refused: \($0))" } ?? ""),
                      "\(format(seconds * 1000, 1)) ms, server CPU \(zipDifference(cpu, serverCPU()).map { format($0 * 1000, 1) } ?? "-") ms"])
        // One request per level.
        cpu = serverCPU()
        start = DispatchTime.now().uptimeNanoseconds
        var parent = "/"
        var depth = 0
        var refused: String?
        while depth < chainDepth {
            let name = depth == 0 ? "chain" : "d"
            if let refusal = try await createDirectory(parent, name) {
                refused = "refused at depth \(depth + 1): \(refusal)"
                break
            }
            parent = PanPath.join(parent, name)
            depth += 1
        }
        seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        lines.append(["\(depth)-deep chain, one createDirectory per level" + (refused.map { " (\($0))" } ?? ""),
                      "\(format(seconds, 2)) s, server CPU \(zipDifference(cpu, serverCPU()).map { format($0, 2) } ?? "-") s"])
        func createFiles(in folder: String, count: Int = 300) async throws -> (Samples, Double?, Int) {
            let before = serverCPU()
            var samples = Samples()
            var errors = 0
            for i in 0..<count {
                let begin = DispatchTime.now().uptimeNanoseconds
                let reply = try await call(client, "\(base)/v1/store/token", json: #"{"name":"f\#(i)","path":"\#(folder)","hash":"\#(hash)"}"#, auth: auth)
                samples.add(DispatchTime.now().uptimeNanoseconds - begin)
                if reply.status != 200 || reply.failed { errors += 1 }
            }
            return (samples, zipDifference(before, serverCPU()).map { $0 / Double(count) * 1e6 }, errors)
        }
        // Depth 1: in the root. Depth N: in the chain's level N − 1.
        let (shallow, shallowCPU, shallowErrors) = try await createFiles(in: "/")
        let (deep, deepCPU, deepErrors) = try await createFiles(in: PanPath.parent(of: parent))
        let ratio = shallowCPU.flatMap { s in deepCPU.map { format($0 / s, 2) + "×" } } ?? "-"
        lines.append(["create-file at depth 1 (\(shallow.count), \(shallowErrors) errors)",
                      "p50 \(format(shallow.medianMillis, 2)) ms, server CPU \(shallowCPU.map { format($0, 0) } ?? "-") µs/req"])
        lines.append(["create-file at depth \(depth) (\(deep.count), \(deepErrors) errors)",
                      "p50 \(format(deep.medianMillis, 2)) ms, server CPU \(deepCPU.map { format($0, 0) } ?? "-") µs/req, \(ratio) depth 1's"])
        return table(["deep chain (one request at a time)", "figure"], lines)
    }

    func zipDifference(_ before: Double?, _ after: Double?) -> Double? {
        guard let before, let after else { return nil }
        return after - before
    }

    /// The user, a stored object for instant uploads, and a 10k-entry directory.
    func prepare(dataDirectory: String, serverBinary: String) async throws -> StoreObject {
        if let databaseURL {
            var logger = Logger(label: "pan-bench")
            logger.logLevel = .error
            let engine = try PostgresEngine(url: databaseURL, poolSize: 2, logger: logger)
            engine.startRunning()
            _ = try await engine.migrate()
            let object = try await seed(engine)
            // Statistics, as autovacuum would have them on a database in use: without
            // them the planner sorts a 10k directory for every page.
            _ = try await engine.write(lockingUser: nil) { db in try await db.run("ANALYZE") }
            await engine.close()
            return object
        }
        // The server binary makes its own schema (`pan migrate`), so an older binary
        // is measured on its own schema and indexes: the seed writes only what every
        // schema version has.
        let migrate = Process()
        migrate.executableURL = URL(fileURLWithPath: serverBinary)
        migrate.arguments = ["migrate", "--data-dir", dataDirectory]
        migrate.standardOutput = FileHandle.nullDevice
        try migrate.run()
        migrate.waitUntilExit()
        guard migrate.terminationStatus == 0 else { throw ValidationError("\(serverBinary) migrate failed") }
        let database = try DatabasePool(path: PanDatabase.path(inDataDirectory: dataDirectory), readerCount: 1)
        let object = try await seed(SQLiteEngine(database: database))
        try await database.checkpoint()
        return object
    }

    /// The user, the stored object and a 10k directory, written through the engine the servers will use.
    func seed(_ engine: some SQLEngine) async throws -> StoreObject {
        let hash = try PasswordHasher(rounds: 1000).hash(plainPassword: "bench")
        let user = try await engine.write(lockingUser: nil) { db in
            try await UserRepository.create(.init(name: "bench", passwordHash: hash, spaceCapacity: 1 << 50), on: db)
        }
        for index in 1..<max(1, users) {
            _ = try await engine.write(lockingUser: nil) { db in
                try await UserRepository.create(.init(name: "bench\(index)", passwordHash: hash, spaceCapacity: 1 << 50), on: db)
            }
        }
        let object = try await engine.write(lockingUser: nil) { db in
            try await StoreObjectRepository.insertIfMissing(hash: ContentHasher.hash(Data("bench".utf8)), size: 5, mime: "text/plain", bucket: "pan", objectKey: "bench", on: db)
            return try await StoreObjectRepository.find(hash: ContentHasher.hash(Data("bench".utf8)), on: db)!
        }
        try await engine.write(lockingUser: user.id) { db in
            let big = try await TreeRepository.directory(userId: user.id, path: "/big", on: db)
            for i in 0..<10_000 {
                _ = try await TreeRepository.insert(userId: user.id, parent: big, name: String(format: "file-%05d.txt", i), kind: .file, size: 5, mime: "text/plain", storeHash: object.hash, on: db)
            }
            try await db.run("UPDATE users SET space_used = 50000 WHERE id = ?", user.id)
        }
        return object
    }

    /// nginx with every server as its upstream (keepalive, as `deploy/nginx-pan.conf`).
    func startNginx(port: Int, upstreams: [Int], directory: String) throws -> Process {
        let prefix = directory + "/nginx"
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        let config = """
        daemon off;
        master_process off;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/error.log warn;
        events { worker_connections 1024; }
        http {
            access_log off;
            client_body_temp_path \(prefix)/body;
            proxy_temp_path \(prefix)/proxy;
            upstream pan {
        \(upstreams.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n"))
                keepalive 64;
            }
            server {
                listen 127.0.0.1:\(port);
                location / {
                    proxy_pass http://pan;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $host;
                }
            }
        }
        """
        try config.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"]
        try process.run()
        return process
    }

    /// The storage ceiling: one-row INSERT commits through our wrapper, same concurrency.
    func rawInserts(directory: String, maxBatch: Int) async throws -> Row {
        let database = try DatabasePool(path: directory + "/raw-\(maxBatch).sqlite", readerCount: 1, maxBatch: maxBatch)
        try await database.writeWithoutTransaction { db in
            try db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let start = Date()
        let samples = try await withThrowingTaskGroup(of: Samples.self) { group in
            for worker in 0..<connections {
                group.addTask { try await Self.insertWorker(database, deadline: deadline, worker: worker) }
            }
            var all = Samples()
            for try await samples in group { all.append(contentsOf: samples) }
            return all
        }
        let name = maxBatch == 1 ? "raw SQLite insert, a commit each (ceiling)" : "raw SQLite insert, group commit"
        return Row(name: name, requests: samples.count, errors: 0, elapsed: Date().timeIntervalSince(start), samples: samples)
    }

    static func insertWorker(_ database: DatabasePool, deadline: UInt64, worker: Int) async throws -> Samples {
        var samples = Samples()
        var i = 0
        while DispatchTime.now().uptimeNanoseconds < deadline {
            let value = "w\(worker)-\(i)"
            let begin = DispatchTime.now().uptimeNanoseconds
            _ = try await database.write { db in try db.run("INSERT INTO t (v) VALUES (?)", value) }
            samples.add(DispatchTime.now().uptimeNanoseconds - begin)
            i += 1
        }
        return samples
    }

    func hashComparison(binary: String, directory: String) throws {
        let file = directory + "/hash.bin"
        FileManager.default.createFile(atPath: file, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        var generator = SystemRandomNumberGenerator()
        let chunk = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for _ in 0..<hashSize { handle.write(chunk) }
        try handle.close()
        func time(_ executable: String, _ arguments: [String]) throws -> Double {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            let start = Date()
            try process.run()
            process.waitUntilExit()
            return Date().timeIntervalSince(start)
        }
        var pan: [Double] = [], sha: [Double] = []
        for _ in 0..<3 {
            pan.append(try time(binary, ["hash", file]))
            sha.append(try time("/usr/bin/sha1sum", [file]))
        }
        let panMedian = pan.sorted()[1], shaMedian = sha.sorted()[1]
        print("\n`pan hash` vs `sha1sum` on \(hashSize) MiB (median of 3): pan \(format(panMedian, 2)) s, sha1sum \(format(shaMedian, 2)) s, ratio \(format(panMedian / shaMedian, 2))")
    }
}

/// Hands out indexes once each across workers.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next(below limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}
