import Foundation
import Logging
@testable import PanCore
@testable import PanPostgres
@testable import PanSQLite
import Synchronization
import WCS

/// A throwaway PostgreSQL server for the tests: started lazily, once per test
/// process, on 127.0.0.1 and a free port, with its data in a temp directory,
/// and shared by every suite (each takes a database of its own with
/// `createDatabase(prefix:)`).
///
/// - Binaries: `PAN_TEST_PG_BIN` (a `bin` directory), else the highest
///   `/usr/lib/postgresql/*/bin` (Debian's `postgresql`, which `.ci/run`
///   installs).
/// - `PAN_TEST_DATABASE_URL=postgres://user:pass@host:port/db` uses that server
///   instead; databases are created there with the URL's role.
/// - As root, initdb and postgres run as `postgres` (or `nobody` when there
///   is no such user) through `runuser`: PostgreSQL refuses to run as root.
/// - Durability is off (`fsync`, `synchronous_commit`, `full_page_writes`).
/// - Auth is scram-sha-256 over TCP (what postgres-nio speaks); the tests'
///   role is `pan` / `pan` with CREATEDB, the superuser's password is random.
/// - Stopping: an `atexit` hook asks for a fast shutdown (SIGINT; SIGTERM's
///   "smart" shutdown would wait for this process's own pooled connections,
///   which close only when it is gone) and removes the directory. If the test
///   process dies without running it (kill -9, a crash), a watchdog started
///   with the server (`sh`, polling `kill -0` on the test process twice a
///   second) does the same. `posix_spawn` cannot set PR_SET_PDEATHSIG, and
///   `ChildProcess` puts its children in a process group of their own, so the
///   terminal's Ctrl-C would not reach the server either.
enum PostgresCluster {
    struct Running: Sendable {
        let host: String
        let port: Int
        /// A role allowed to create databases, for psql.
        let adminURL: String
        /// The URL databases are handed out with (its path replaced): role
        /// `pan` here, or `PAN_TEST_DATABASE_URL` as given (query included).
        let baseURL: String
        /// Started by this process (not `PAN_TEST_DATABASE_URL`).
        let isLocal: Bool

        /// A fresh, empty database owned by the tests' role; its URL
        /// (`postgres://pan:pan@127.0.0.1:PORT/NAME`).
        func createDatabase(prefix: String) async throws -> String {
            let name = PostgresCluster.databaseName(prefix: prefix)
            let owner = isLocal ? " OWNER pan" : ""
            _ = try await psql("CREATE DATABASE \"\(name)\"\(owner)", url: adminURL)
            return url(database: name)
        }

        /// Drops a database made by `createDatabase`, closing its connections.
        func dropDatabase(url: String) async throws {
            guard let name = URLComponents(string: url)?.path.dropFirst(), !name.isEmpty else {
                throw PostgresClusterError("no database in \(url)")
            }
            _ = try await psql("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)", url: adminURL)
        }

        /// Runs SQL with psql (unaligned, tuples only) and returns what it printed.
        /// psql is waited for off the cooperative pool (`offCooperativePool`).
        func psql(_ sql: String, url: String) async throws -> String {
            try await offCooperativePool { try PostgresCluster.psql(sql, url: url) }
        }

        func url(database: String) -> String {
            var components = URLComponents(string: baseURL)!
            components.path = "/" + database
            return components.string!
        }
    }

    /// The cluster, started on first use (initdb and a start: seconds, more on
    /// a loaded machine), off the cooperative pool; every caller meanwhile
    /// awaits the same start. A failed start is remembered: every later caller
    /// gets the same error at once instead of another 30 s wait.
    static func shared() async throws -> Running {
        try await starting.value
    }

    private static let starting = Task<Running, any Error> {
        try await offCooperativePool { try start() }
    }

    // MARK: - State

    private struct Server: Sendable {
        let pid: Int32
        let directory: String
        var dataDirectory: String { directory + "/data" }
    }

    /// What the exit hook stops.
    private static let server = Mutex<Server?>(nil)
    private static let databaseCounter = Mutex<Int>(0)

    private static func start() throws -> Running {
        if let url = ProcessInfo.processInfo.environment["PAN_TEST_DATABASE_URL"], !url.isEmpty {
            return try external(url)
        }
        return try startLocal()
    }

    private static func external(_ url: String) throws -> Running {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw PostgresClusterError("PAN_TEST_DATABASE_URL must look like postgres://user:pass@host:port/db")
        }
        _ = try psql("SELECT 1", url: url)
        return Running(host: host, port: components.port ?? 5432, adminURL: url, baseURL: url, isLocal: false)
    }

    // MARK: - Starting a local cluster

    private static func startLocal() throws -> Running {
        let layout = try initialize()
        var started = false
        defer { if !started { try? FileManager.default.removeItem(atPath: layout.directory) } }

        // A port may be taken between asking the kernel and the server's bind: try a few.
        var lastError = ""
        for _ in 0..<3 {
            let port = try freePort()
            let process = try launchPostgres(layout, port: port)
            // A process of its own, not a fork of the server's, so that it
            // outlives a server that dies first and cleans up all the same.
            _ = try launch(["/bin/sh", "-c", watchdogScript, "pan-pg-watchdog",
                            String(getpid()), String(process.processIdentifier), layout.directory],
                           log: nil, in: layout.directory)
            let running = layout.running(port: port)
            guard waitUntilAccepting(process, running: running, timeout: 30) else {
                lastError = tail(layout.serverLog)
                if process.isRunning {
                    stop(pid: process.processIdentifier, dataDirectory: layout.dataDirectory, grace: 5)
                    throw PostgresClusterError("PostgreSQL did not accept connections on 127.0.0.1:\(port) within 30 s; server log:\n" + lastError)
                }
                if lastError.contains("could not bind") || lastError.contains("Address already in use") { continue }
                throw PostgresClusterError("PostgreSQL exited at start; server log:\n" + lastError)
            }
            server.withLock { $0 = Server(pid: process.processIdentifier, directory: layout.directory) }
            atexit { PostgresCluster.stopAtExit() }
            started = true
            do {
                _ = try psql("CREATE ROLE pan LOGIN CREATEDB PASSWORD 'pan'", url: running.adminURL)
            } catch {
                throw PostgresClusterError("creating the tests' role failed: \(error)")
            }
            return running
        }
        throw PostgresClusterError("PostgreSQL could not bind a free port; server log:\n" + lastError)
    }

    /// A fresh cluster's directory, initdb'd, not running.
    fileprivate struct Layout: Sendable {
        let bin: String
        /// `runuser -u postgres --` as root, else nothing.
        let prefix: [String]
        let directory: String
        let adminPassword: String
        var dataDirectory: String { directory + "/data" }
        var serverLog: String { directory + "/server.log" }

        func running(port: Int) -> Running {
            Running(
                host: "127.0.0.1", port: port, adminURL: "postgres://postgres:\(adminPassword)@127.0.0.1:\(port)/postgres",
                baseURL: "postgres://pan:pan@127.0.0.1:\(port)/postgres", isLocal: true
            )
        }
    }

    fileprivate static func initialize() throws -> Layout {
        let bin = try binDirectory()
        // PostgreSQL refuses to run as root: run it as `postgres` (or `nobody`).
        var prefix: [String] = []
        var owner: (uid: uid_t, gid: gid_t)?
        if getuid() == 0 {
            let name = getpwnam("postgres") != nil ? "postgres" : "nobody"
            guard let entry = getpwnam(name) else { throw PostgresClusterError("running as root and there is no user postgres or nobody") }
            guard let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"]
                .first(where: FileManager.default.isExecutableFile(atPath:)) else {
                throw PostgresClusterError("running as root and runuser (util-linux) is missing")
            }
            prefix = [runuser, "-u", name, "--"]
            owner = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        }

        // /tmp, not $TMPDIR: the server's user must be able to reach it (and the socket path stays short).
        let base = getuid() == 0 ? "/tmp" : FileManager.default.temporaryDirectory.path
        var template = Array((base + "/pan-pg-XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { throw PostgresClusterError("mkdtemp in \(base) failed: errno \(errno)") }
        let directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var done = false
        defer { if !done { try? FileManager.default.removeItem(atPath: directory) } }

        let adminPassword = randomHex(16)
        let passwordFile = directory + "/pwfile"
        guard FileManager.default.createFile(atPath: passwordFile, contents: Data((adminPassword + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw PostgresClusterError("cannot write \(passwordFile)")
        }
        if let owner {
            for path in [directory, passwordFile] where chown(path, owner.uid, owner.gid) != 0 {
                throw PostgresClusterError("chown \(path) failed: errno \(errno)")
            }
        }

        let initdbLog = directory + "/initdb.log"
        let initdb = try launch(prefix + [
            bin + "/initdb", "-D", directory + "/data", "-U", "postgres", "--pwfile", passwordFile,
            "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync",
        ], log: initdbLog, in: directory)
        guard initdb.waitUntilExit(timeout: 120), initdb.terminationStatus == 0 else {
            initdb.kill()
            throw PostgresClusterError("initdb failed:\n" + tail(initdbLog))
        }
        try? FileManager.default.removeItem(atPath: passwordFile)
        done = true
        return Layout(bin: bin, prefix: prefix, directory: directory, adminPassword: adminPassword)
    }

    /// The postmaster (under runuser as root), its output appended to the server log.
    /// 1,000 connections: the suites that run on PostgreSQL at once (each test
    /// server keeps a pool, pg_dump and psql add theirs) passed 300 once sharing,
    /// accounts, search and previews ran there too ("too many clients already").
    fileprivate static func launchPostgres(_ layout: Layout, port: Int) throws -> ChildProcess {
        try launch(layout.prefix + [
            layout.bin + "/postgres", "-D", layout.dataDirectory, "-p", String(port), "-k", layout.directory,
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=1000",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ], log: layout.serverLog, in: layout.directory, append: true)
    }

    /// Polls with psql until the server accepts connections (true), exits, or `timeout` passes.
    fileprivate static func waitUntilAccepting(_ process: ChildProcess, running: Running, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, process.isRunning {
            if (try? psql("SELECT 1", url: running.adminURL, timeout: 5)) != nil { return true }
            usleep(100_000)
        }
        return false
    }

    /// `sh -c` script, `$1` the test process, `$2` the server (postgres, or
    /// runuser around it), `$3` the cluster's directory. Polls both; if the
    /// test process disappears while the server runs, asks for a fast
    /// shutdown (SIGINT to the postmaster), then an immediate one, and removes
    /// the directory. Exits by itself when the server stops.
    private static let watchdogScript = """
    testpid=$1; server=$2; dir=$3
    while kill -0 "$testpid" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.5; done
    kill -0 "$server" 2>/dev/null || exit 0
    pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
    kill -INT "${pm:-$server}" 2>/dev/null
    # Done when the postmaster has removed its pid file (or is gone): with its
    # parent dead, a finished server may linger as a zombie.
    i=0
    while [ -e "$dir/data/postmaster.pid" ] && kill -0 "${pm:-$server}" 2>/dev/null && [ $i -lt 40 ]; do
        sleep 0.25; i=$((i + 1))
    done
    [ -e "$dir/data/postmaster.pid" ] && kill -QUIT "${pm:-$server}" 2>/dev/null && sleep 1
    rm -rf "$dir"
    """

    /// The exit hook: fast shutdown, a short wait, immediate shutdown, directory removed.
    private static func stopAtExit() {
        guard let running = server.withLock({ (current: inout Server?) -> Server? in defer { current = nil }; return current }) else { return }
        stop(pid: running.pid, dataDirectory: running.dataDirectory, grace: 5)
        try? FileManager.default.removeItem(atPath: running.directory)
    }

    private static func stop(pid: Int32, dataDirectory: String, grace: TimeInterval) {
        let postmaster = (try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8))
            .flatMap { $0.split(separator: "\n").first }.flatMap { Int32($0) } ?? pid
        func gone() -> Bool {
            kill(pid, 0) != 0 || kill(postmaster, 0) != 0 || !FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid")
        }
        kill(postmaster, SIGINT)
        let deadline = Date().addingTimeInterval(grace)
        while !gone(), Date() < deadline { usleep(20_000) }
        if !gone() {
            kill(postmaster, SIGQUIT)
            for _ in 0..<50 where !gone() { usleep(20_000) }
        }
    }

    private static func binDirectory() throws -> String {
        if let bin = ProcessInfo.processInfo.environment["PAN_TEST_PG_BIN"], !bin.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: bin + "/postgres") else {
                throw PostgresClusterError("PAN_TEST_PG_BIN=\(bin) has no postgres binary")
            }
            return bin
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/initdb") }
            .sorted { (Double($0) ?? 0) < (Double($1) ?? 0) }
        guard let version = versions.last else {
            throw PostgresClusterError(
                "no PostgreSQL server in \(root)/*/bin: `apt-get install postgresql` (.ci/run does), "
                    + "or set PAN_TEST_PG_BIN, or PAN_TEST_DATABASE_URL for a running server")
        }
        return "\(root)/\(version)/bin"
    }

    // MARK: - psql and processes

    /// psql, whichever is around: next to the server binaries, else on PATH.
    private static let psqlPath: String = {
        var candidates: [String] = []
        if let bin = ProcessInfo.processInfo.environment["PAN_TEST_PG_BIN"], !bin.isEmpty { candidates.append(bin + "/psql") }
        if let bin = try? binDirectory() { candidates.append(bin + "/psql") }
        candidates += ["/usr/bin/psql", "/usr/local/bin/psql"]
        return candidates.first(where: FileManager.default.isExecutableFile(atPath:)) ?? "psql"
    }()

    fileprivate static func psql(_ sql: String, url: String, timeout: TimeInterval = 60) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pan-psql-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "5"
        let process = try launch(
            [psqlPath, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
            log: output, in: nil, environment: environment
        )
        guard process.waitUntilExit(timeout: timeout) else {
            process.kill()
            throw PostgresClusterError("psql timed out after \(Int(timeout)) s: \(sql)")
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw PostgresClusterError("psql failed (\(process.terminationStatus)): \(sql)\n\(text)")
        }
        return text
    }

    /// Starts a command with stdout and stderr in `log` (a file, not a pipe:
    /// nothing to drain, nothing to deadlock on), or nowhere.
    private static func launch(
        _ command: [String], log: String?, in directory: String?, environment: [String: String]? = nil, append: Bool = false
    ) throws -> ChildProcess {
        if let log, !(append && FileManager.default.fileExists(atPath: log)) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let output: ChildProcess.Output = log.map { .file($0) } ?? .null
        return try ChildProcess(
            command[0], Array(command.dropFirst()), environment: environment, directory: directory, stdout: output, stderr: output
        )
    }


    private static func tail(_ path: String, lines: Int = 30) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no \(path))"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    // MARK: - Small helpers

    fileprivate static func databaseName(prefix: String) -> String {
        let n = databaseCounter.withLock { (count: inout Int) -> Int in count += 1; return count }
        let cleaned = String(prefix.lowercased().unicodeScalars.map {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_"
        }.prefix(32))
        return "\(cleaned.isEmpty ? "pan" : cleaned)_\(n)_\(randomHex(4))"
    }

    private static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

struct PostgresClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The two engines the store runs on, for tests that run against both.
extension PostgresTimeouts {
    /// A connection may take long to come when dozens of suites share one cluster on two cores.
    static let forTests = PostgresTimeouts(connect: .seconds(30), leaseWait: .seconds(120), statement: .seconds(120))
}

enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    var description: String { rawValue }

    /// A fresh store (a temp SQLite file, or a new database in the test cluster), closed after `body`.
    func withStore(settings: UploadSettings, _ body: (any PanStore) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try await body(try SQLitePanStore.open(dataDirectory: directory, settings: settings))
        case .postgres:
            let url = try await PostgresCluster.shared().createDatabase(prefix: "store")
            var logger = Logger(label: "pan-test-pg")
            logger.logLevel = .error
            // A loaded machine's shared cluster: a connection may take longer than production's 5 s bound.
            let store = try await PostgresPanStore.open(url: url, poolSize: 4, timeouts: .forTests, settings: settings, logger: logger)
            do { try await body(store) } catch { await store.close(); throw error }
            await store.close()
        }
    }

    /// Sets the configuration up for this backend: a new database and the shared secrets it requires.
    func configure(_ configuration: inout PanConfiguration) async throws {
        guard self == .postgres else { return }
        configuration.databaseURL = try await PostgresCluster.shared().createDatabase(prefix: "api")
        configuration.databasePoolSize = 3  // fewer descriptors in the test process (see withOpsServer)
        configuration.jwtSecret = "test-shared-jwt-secret"
        configuration.wcsKeys = [Credentials(accessKey: "test-ak", secretKey: "test-sk")]
    }
}

extension PostgresCluster {
    /// A cluster of its own that a test may stop and start again (the outage
    /// tests), on 127.0.0.1 and a port that stays the same across restarts.
    /// Same set-up as the shared one (role `pan`, durability off). `destroy()`
    /// stops it and removes its directory; if the test process dies first, a
    /// watchdog (`sh`, polling the test process and the directory) does.
    final class Dedicated: Sendable {
        let running: Running
        private let layout: Layout
        private let process = Mutex<ChildProcess?>(nil)

        private init(running: Running, layout: Layout) {
            self.running = running
            self.layout = layout
        }

        /// initdb, start, the tests' role.
        static func create() throws -> Dedicated {
            let layout = try initialize()
            _ = try launch(["/bin/sh", "-c", dedicatedWatchdogScript, "pan-pg-watchdog", String(getpid()), layout.directory], log: nil, in: layout.directory)
            var lastError = ""
            for _ in 0..<3 {
                let cluster = Dedicated(running: layout.running(port: try freePort()), layout: layout)
                do {
                    try cluster.start()
                } catch {
                    lastError = "\(error)"
                    if lastError.contains("could not bind") || lastError.contains("Address already in use") { continue }
                    cluster.destroy()
                    throw error
                }
                do {
                    _ = try psql("CREATE ROLE pan LOGIN CREATEDB PASSWORD 'pan'", url: cluster.running.adminURL)
                } catch {
                    cluster.destroy()
                    throw PostgresClusterError("creating the tests' role failed: \(error)")
                }
                return cluster
            }
            try? FileManager.default.removeItem(atPath: layout.directory)
            throw PostgresClusterError("PostgreSQL could not bind a free port: \(lastError)")
        }

        var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

        /// Starts the server (again) and waits until it accepts connections.
        func start(timeout: TimeInterval = 30) throws {
            let child = try process.withLock { current -> ChildProcess in
                if let current, current.isRunning { return current }
                let child = try launchPostgres(layout, port: running.port)
                current = child
                return child
            }
            guard waitUntilAccepting(child, running: running, timeout: timeout) else {
                let log = tail(layout.serverLog)
                if child.isRunning { stop() }
                throw PostgresClusterError("PostgreSQL did not start on 127.0.0.1:\(running.port); server log:\n" + log)
            }
        }

        /// `pg_ctl stop -m fast`: SIGINT to the postmaster, which ends every
        /// session (57P01) and exits; waits until it has (SIGQUIT after `grace`).
        func stop(grace: TimeInterval = 10) {
            guard let child = process.withLock({ current -> ChildProcess? in defer { current = nil }; return current }) else { return }
            PostgresCluster.stop(pid: child.processIdentifier, dataDirectory: layout.dataDirectory, grace: grace)
            if !child.waitUntilExit(timeout: grace) { child.kill() }
        }

        /// Stops the server and removes the cluster's directory.
        func destroy() {
            stop(grace: 5)
            try? FileManager.default.removeItem(atPath: layout.directory)
        }

        func createDatabase(prefix: String) async throws -> String { try await running.createDatabase(prefix: prefix) }

        /// `sh -c` script, `$1` the test process, `$2` the cluster's directory:
        /// exits once the directory is gone (`destroy`); if the test process
        /// goes first, asks the postmaster (its pid file) for a fast shutdown,
        /// then an immediate one, and removes the directory.
        private static let dedicatedWatchdogScript = """
        testpid=$1; dir=$2
        while kill -0 "$testpid" 2>/dev/null && [ -d "$dir" ]; do sleep 0.5; done
        [ -d "$dir" ] || exit 0
        pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
        if [ -n "$pm" ]; then
            kill -INT "$pm" 2>/dev/null
            i=0
            while [ -e "$dir/data/postmaster.pid" ] && kill -0 "$pm" 2>/dev/null && [ $i -lt 40 ]; do
                sleep 0.25; i=$((i + 1))
            done
            [ -e "$dir/data/postmaster.pid" ] && kill -QUIT "$pm" 2>/dev/null && sleep 1
        fi
        rm -rf "$dir"
        """
    }
}
