import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import PanCore
@testable import PanSQLite
import SQLiteKit

/// End-to-end tests of the real `pan` executable, run as a subprocess against
/// its own data directory.
@Suite("pan command line (CLITests)")
struct CLITests {
    // MARK: Running the binary

    struct Run: CustomStringConvertible {
        let status: Int32
        /// False when the process died of a signal (a Swift trap is SIGILL/SIGTRAP); `status` is then the signal.
        let exited: Bool
        let stdout: String
        let stderr: String
        var output: String { stdout + stderr }
        var description: String {
            "\(exited ? "exit" : "killed by signal") \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)"
        }
    }

    enum Binary {
        /// `<package root>/.build/debug/pan`, the root found by walking up from this file to `Package.swift`.
        static let path: String? = {
            var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            while directory.path != "/" {
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                    return directory.appendingPathComponent(".build/debug/pan").path
                }
                directory = directory.deletingLastPathComponent()
            }
            return nil
        }()
    }

    /// The `pan` binary, or a recorded issue (the test fails) and a thrown error.
    static func pan() throws -> String {
        guard let path = Binary.path else {
            Issue.record("cannot find the package root (a directory with Package.swift) above \(#filePath)")
            throw TestFailure("no package root")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("the pan binary is missing at \(path): run `swift build` first")
            throw TestFailure("no pan binary at \(path)")
        }
        return path
    }

    static func environment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PAN_") }
        environment["PAN_LOG_LEVEL"] = "error"
        // A crash should fail fast, not spend seconds symbolicating a backtrace.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        // A loaded machine's shared PostgreSQL cluster can take longer than production's 5 s to connect.
        environment["PAN_DATABASE_WAIT"] = "120"
        environment["PAN_READY_TIMEOUT"] = "30"
        return environment
    }

    /// Runs `pan ARGS…` to completion; output goes to files so a chatty command can never block on a full pipe.
    static func run(_ arguments: [String], environment extra: [String: String] = [:], timeout: TimeInterval = 30) async throws -> Run {
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let outPath = scratch + "/stdout", errPath = scratch + "/stderr"
        let run = try await ChildProcess.run(
            try pan(), arguments, environment: environment().merging(extra) { $1 }, stdout: .file(outPath), stderr: .file(errPath), timeout: timeout
        )
        if run.timedOut { Issue.record("pan \(arguments.joined(separator: " ")) did not finish within \(timeout) s") }
        return Run(
            status: run.status,
            exited: run.exited,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }

    static func user(_ reference: String, in directory: String) async throws -> (User, passwordHash: String)? {
        let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)
        return try await database.read { db -> (User, passwordHash: String)? in
            guard let user = try await UserRepository.find(reference: reference, on: db) else { return nil }
            let hash = try await db.queryRow("SELECT password_hash FROM users WHERE id = ?", user.id)?.string("password_hash")
            return (user, hash ?? "")
        }
    }

    static func jsonArray(_ text: String) -> [[String: Any]]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]]
    }

    // MARK: user

    @Test("user add, list (table and JSON), show")
    func userAddListShow() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let add = try await Self.run(["user", "add", "alice", "--password", "pw", "--quota", "2G", "--data-dir", directory])
        #expect(add.status == 0, "\(add)")
        #expect(add.stdout.contains("alice"), "\(add)")

        let table = try await Self.run(["user", "list", "--data-dir", directory])
        #expect(table.status == 0, "\(table)")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("NAME") == true, "\(table)")
        #expect(lines.contains { $0.contains("alice") && $0.contains("active") && $0.contains("2.0 GiB") }, "\(table)")

        let json = try await Self.run(["user", "list", "--json", "--data-dir", directory])
        #expect(json.status == 0, "\(json)")
        let users = try #require(Self.jsonArray(json.stdout), "not a JSON array: \(json)")
        #expect(users.count == 1)
        #expect(users.first?["name"] as? String == "alice")
        #expect((users.first?["spaceCapacity"] as? NSNumber)?.int64Value == 2_147_483_648)
        #expect((users.first?["spaceUsed"] as? NSNumber)?.int64Value == 0)
        #expect(users.first?["status"] as? String == "active")

        let show = try await Self.run(["user", "show", "alice", "--json", "--data-dir", directory])
        #expect(show.status == 0, "\(show)")
        let shown = try #require(Self.jsonArray(show.stdout), "not a JSON array: \(show)")
        #expect(shown.first?["name"] as? String == "alice")
        #expect((shown.first?["spaceCapacity"] as? NSNumber)?.int64Value == 2_147_483_648)
        let id = try #require((shown.first?["id"] as? NSNumber)?.int64Value)

        // By id too, as a table with the node count (the root).
        let byId = try await Self.run(["user", "show", String(id), "--data-dir", directory])
        #expect(byId.status == 0, "\(byId)")
        #expect(byId.stdout.contains("alice"), "\(byId)")
        #expect(byId.stdout.contains("nodes: 1"), "\(byId)")
    }

    @Test("user add refuses duplicates and all-digit names; show refuses unknown users")
    func userRefusals() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let first = try await Self.run(["user", "add", "alice", "--password", "pw", "--data-dir", directory])
        #expect(first.status == 0, "\(first)")
        let duplicate = try await Self.run(["user", "add", "alice", "--password", "pw2", "--data-dir", directory])
        #expect(duplicate.status != 0, "\(duplicate)")
        #expect(!duplicate.stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(duplicate)")
        #expect(duplicate.stderr.contains("exists"), "\(duplicate)")

        let digits = try await Self.run(["user", "add", "12345", "--password", "pw", "--data-dir", directory])
        #expect(digits.status != 0, "\(digits)")
        #expect(!digits.stderr.isEmpty, "\(digits)")

        let nobody = try await Self.run(["user", "show", "nobody", "--data-dir", directory])
        #expect(nobody.status != 0, "\(nobody)")
        #expect(nobody.stderr.contains("nobody"), "\(nobody)")

        // Still exactly one user, with the first password.
        let list = try await Self.run(["user", "list", "--json", "--data-dir", directory])
        #expect(Self.jsonArray(list.stdout)?.count == 1, "\(list)")
        let stored = try #require(try await Self.user("alice", in: directory))
        #expect(PasswordHasher().verify(clientPassword: "pw", stored: stored.passwordHash))
    }

    @Test("user passwd, quota, disable, enable change the database")
    func userChanges() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let add = try await Self.run(["user", "add", "alice", "--password", "old", "--data-dir", directory])
        #expect(add.status == 0, "\(add)")
        let (initial, initialHash) = try #require(try await Self.user("alice", in: directory))
        #expect(initial.status == 0)
        #expect(initial.spaceCapacity == 10 << 30)
        #expect(PasswordHasher().verify(clientPassword: "old", stored: initialHash))

        let passwd = try await Self.run(["user", "passwd", "alice", "--password", "new", "--data-dir", directory])
        #expect(passwd.status == 0, "\(passwd)")
        let (afterPasswd, newHash) = try #require(try await Self.user("alice", in: directory))
        #expect(PasswordHasher().verify(clientPassword: "new", stored: newHash))
        #expect(PasswordHasher().verify(clientPassword: PasswordHasher.md5Hex("new"), stored: newHash))
        #expect(!PasswordHasher().verify(clientPassword: "old", stored: newHash))
        #expect(afterPasswd.tokenVersion == initial.tokenVersion + 1)

        let quota = try await Self.run(["user", "quota", "alice", "5G", "--data-dir", directory])
        #expect(quota.status == 0, "\(quota)")
        let (afterQuota, _) = try #require(try await Self.user("alice", in: directory))
        #expect(afterQuota.spaceCapacity == 5 << 30)
        #expect(afterQuota.tokenVersion == afterPasswd.tokenVersion)

        let badQuota = try await Self.run(["user", "quota", "alice", "lots", "--data-dir", directory])
        #expect(badQuota.status != 0, "\(badQuota)")

        let disable = try await Self.run(["user", "disable", "alice", "--data-dir", directory])
        #expect(disable.status == 0, "\(disable)")
        let (afterDisable, _) = try #require(try await Self.user("alice", in: directory))
        #expect(afterDisable.status == 1)
        #expect(afterDisable.isDisabled)
        #expect(afterDisable.tokenVersion == afterQuota.tokenVersion + 1)
        let listed = try await Self.run(["user", "list", "--json", "--data-dir", directory])
        #expect(Self.jsonArray(listed.stdout)?.first?["status"] as? String == "disabled", "\(listed)")

        let enable = try await Self.run(["user", "enable", "alice", "--data-dir", directory])
        #expect(enable.status == 0, "\(enable)")
        let (afterEnable, finalHash) = try #require(try await Self.user("alice", in: directory))
        #expect(afterEnable.status == 0)
        #expect(afterEnable.spaceCapacity == 5 << 30)
        #expect(afterEnable.tokenVersion > afterDisable.tokenVersion)
        #expect(finalHash == newHash)

        for command in ["passwd", "disable", "enable"] {
            var arguments = ["user", command, "nobody", "--data-dir", directory]
            if command == "passwd" { arguments += ["--password", "x"] }
            let missing = try await Self.run(arguments)
            #expect(missing.status != 0, "user \(command) nobody: \(missing)")
        }
    }

    @Test("quota sizes: units and fractions are read; negative, absurd and non-finite sizes are refused, not a crash")
    func quotaSizes() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let add = try await Self.run(["user", "add", "alice", "--password", "pw", "--quota", "500M", "--data-dir", directory])
        #expect(add.status == 0, "\(add)")
        #expect(try await Self.user("alice", in: directory)?.0.spaceCapacity == 500 << 20)

        for (size, bytes) in [("1.5G", Int64(1_610_612_736)), ("1024", 1024), ("2GiB", 2 << 30), ("1t", 1 << 40), ("0", 0)] {
            let set = try await Self.run(["user", "quota", "alice", size, "--data-dir", directory])
            #expect(set.status == 0, "\(size): \(set)")
            #expect(try await Self.user("alice", in: directory)?.0.spaceCapacity == bytes, "\(size)")
        }

        // Each must be an ordinary refusal (exit 1 with a message), and leave the quota alone.
        for size in ["lots", "G", "99999999T", "1e30G", "infG", "9223372036854775808"] {
            let refused = try await Self.run(["user", "quota", "alice", size, "--data-dir", directory])
            #expect(refused.exited && refused.status == 1 && refused.stderr.contains("cannot read"), "quota \(size): \(refused)")
        }
        let negative = try await Self.run(["user", "add", "carol", "--password", "pw", "--quota=-1G", "--data-dir", directory])
        #expect(negative.exited && negative.status == 1, "\(negative)")
        #expect(negative.stderr.contains("cannot read"), "\(negative)")
        let refusedAdd = try await Self.run(["user", "add", "bob", "--password", "pw", "--quota", "99999999T", "--data-dir", directory])
        #expect(refusedAdd.exited && refusedAdd.status == 1, "\(refusedAdd)")
        #expect(try await Self.user("alice", in: directory)?.0.spaceCapacity == 0)
        #expect(try await Self.user("bob", in: directory) == nil)
    }

    // MARK: migrate

    @Test("migrate applies, is idempotent, and refuses a database from a newer pan")
    func migrate() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let first = try await Self.run(["migrate", "--data-dir", directory])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("applied: 0001_init.sql"), "\(first)")

        let again = try await Self.run(["migrate", "--data-dir", directory])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("up to date"), "\(again)")
        #expect(!again.stdout.contains("applied:"), "\(again)")

        let status = try await Self.run(["migrate", "--status", "--data-dir", directory])
        #expect(status.status == 0, "\(status)")
        #expect(!status.stdout.contains("pending:"), "\(status)")

        do {
            let connection = try Connection(path: PanDatabase.path(inDataDirectory: directory))
            try connection.execute("PRAGMA user_version = 999")
            #expect(try connection.userVersion() == 999)
        }

        let newer = try await Self.run(["migrate", "--data-dir", directory])
        #expect(newer.status != 0, "\(newer)")
        #expect(newer.output.contains("999"), "\(newer)")
        #expect(newer.output.contains("newer"), "\(newer)")

        let list = try await Self.run(["user", "list", "--data-dir", directory])
        #expect(list.status != 0, "\(list)")
        #expect(list.stderr.contains("999"), "\(list)")

        // Refusing left the version alone.
        let connection = try Connection(path: PanDatabase.path(inDataDirectory: directory))
        #expect(try connection.userVersion() == 999)
    }

    // MARK: hash

    @Test("hash prints the WCS content hash like sha1sum; a missing file fails")
    func hash() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/blob.bin"
        var bytes = [UInt8](repeating: 0, count: 4_194_305)
        for i in bytes.indices { bytes[i] = UInt8((i * 31 + 7) % 251) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let hashed = try await Self.run(["hash", path])
        #expect(hashed.status == 0, "\(hashed)")
        #expect(hashed.stdout == "lgncbbZdKxcTzCACSLIvsek6wGWP  \(path)\n", "\(hashed)")

        let missing = try await Self.run(["hash", directory + "/missing.bin"])
        #expect(missing.status != 0, "\(missing)")
        #expect(missing.stderr.contains("missing.bin"), "\(missing)")

        // Block boundaries: empty, exactly one 4 MiB block, one byte into the second block.
        let empty = directory + "/empty", one = directory + "/one-block", two = directory + "/two-blocks"
        try Data().write(to: URL(fileURLWithPath: empty))
        try Data(count: 4 << 20).write(to: URL(fileURLWithPath: one))
        try Data(count: (4 << 20) + 1).write(to: URL(fileURLWithPath: two))
        let boundaries = try await Self.run(["hash", empty, one, two])
        #expect(boundaries.status == 0, "\(boundaries)")
        #expect(boundaries.stdout == """
            Fto5o-5ea0sNMlW_75VgGJCv2AcJ  \(empty)
            FivMvS848VwT631aif2dhfWV4jvD  \(one)
            lhCFgki5yzon0rjN9uJusf6qtsF6  \(two)

            """, "\(boundaries)")

        // One bad file among good ones: the good one is still hashed, the exit is non-zero.
        let mixed = try await Self.run(["hash", path, directory + "/missing.bin"])
        #expect(mixed.status != 0, "\(mixed)")
        #expect(mixed.stdout.contains("lgncbbZdKxcTzCACSLIvsek6wGWP  \(path)"), "\(mixed)")
    }

    // MARK: serve (acceptance)

    struct HTTPReply {
        let status: Int
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func http(
        _ method: String, _ url: String, json: [String: Any]? = nil, token: String? = nil, session: URLSession
    ) async throws -> HTTPReply {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 5
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await session.data(for: request)
        return HTTPReply(status: (response as? HTTPURLResponse)?.statusCode ?? -1, body: data)
    }

    /// SIGTERM, then up to `grace` seconds to exit, then SIGKILL. Only ever this process, by its id.
    static func stop(_ process: ChildProcess, grace: TimeInterval = 10) async -> Bool {
        guard process.isRunning else { return true }
        process.signal(SIGTERM)
        if await process.waitForExit(timeout: grace) { return true }
        process.kill()
        return false
    }

    @Test("serve: health, login, user info, an upload token, and a clean SIGTERM")
    func serveAcceptance() async throws {
        let executable = try Self.pan()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let add = try await Self.run(["user", "add", "bob", "--password", "pw", "--data-dir", directory])
        #expect(add.status == 0, "\(add)")

        let port = try freePort()
        let base = "http://127.0.0.1:\(port)"
        let logPath = directory + "/serve.log"
        let server = try ChildProcess(
            executable, ["serve", "--data-dir", directory, "--port", String(port)],
            environment: Self.environment(), stdout: .file(logPath), stderr: .file(logPath)
        )
        defer {
            // Whatever happened above, leave no server behind.
            if server.isRunning {
                server.signal(SIGTERM)
                let deadline = Date().addingTimeInterval(5)
                while server.isRunning, Date() < deadline { usleep(20_000) }
                server.kill()
            }
        }
        func serverLog() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 5
        let session = URLSession(configuration: configuration)
        defer { session.invalidateAndCancel() }

        // Up within ~15 s.
        var healthy = false
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, server.isRunning {
            if let reply = try? await Self.http("GET", base + "/healthz", session: session), reply.status == 200 {
                healthy = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(healthy, "pan serve did not answer /healthz within 15 s; exited: \(!server.isRunning); log:\n\(serverLog())")

        let login = try await Self.http(
            "POST", base + "/v1/user/login", json: ["value": "bob", "password": PasswordHasher.md5Hex("pw")], session: session
        )
        #expect(login.status == 200, "\(login.text)")
        let token = try #require(login.json["token"] as? String, "no token: \(login.text)")
        #expect(!token.isEmpty)

        let info = try await Self.http("POST", base + "/v1/user/info", token: token, session: session)
        #expect(info.status == 200, "\(info.text)")
        #expect((info.json["result"] as? [String: Any])?["name"] as? String == "bob", "\(info.text)")

        let anonymous = try await Self.http("POST", base + "/v1/user/info", session: session)
        #expect(anonymous.status == 401, "\(anonymous.text)")

        let upload = try await Self.http("POST", base + "/v1/store/token", json: ["name": "a.txt"], token: token, session: session)
        #expect(upload.status == 200, "\(upload.text)")
        #expect(((upload.json["result"] as? [String: Any])?["token"] as? String)?.isEmpty == false, "\(upload.text)")

        // The CLI reads the live server's database (WAL: no lock conflict).
        let sessions = try await Self.run(["session", "list", "--json", "--data-dir", directory])
        #expect(sessions.status == 0, "\(sessions)")
        let listed = try #require(Self.jsonArray(sessions.stdout), "not a JSON array: \(sessions)")
        #expect(listed.count == 1, "\(sessions)")
        #expect(listed.first?["state"] as? String == "pending", "\(sessions)")
        #expect(listed.first?["name"] as? String == "a.txt", "\(sessions)")
        let table = try await Self.run(["session", "list", "--data-dir", directory])
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains("pending") && table.stdout.contains("/a.txt"), "\(table)")
        let pendingOnly = try await Self.run(["session", "list", "--state", "pending", "--json", "--data-dir", directory])
        #expect(Self.jsonArray(pendingOnly.stdout)?.count == 1, "\(pendingOnly)")
        if let id = listed.first?["id"] as? String {
            let show = try await Self.run(["session", "show", id, "--data-dir", directory])
            #expect(show.status == 0, "\(show)")
            #expect(show.stdout.contains(id), "\(show)")
        }

        // SIGTERM: a graceful shutdown, exit status 0.
        let stoppedInTime = await Self.stop(server)
        #expect(stoppedInTime, "pan serve ignored SIGTERM for 10 s; log:\n\(serverLog())")
        #expect(server.exitedNormally, "log:\n\(serverLog())")
        #expect(server.terminationStatus == 0, "log:\n\(serverLog())")
        let after = try? await Self.http("GET", base + "/healthz", session: session)
        #expect(after == nil || after?.status != 200, "still answering after SIGTERM")

        // After shutdown the session is still there.
        let later = try await Self.run(["session", "list", "--json", "--data-dir", directory])
        #expect(Self.jsonArray(later.stdout)?.count == 1, "\(later)")
    }
}
