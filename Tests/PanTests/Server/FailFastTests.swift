import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import PanCore
import WCS

/// Issue #25 §6: a server whose storage is not the deployment's, or that
/// cannot reach its own public URL, says so instead of losing uploads or
/// hanging them; logs name the engine and database; backups are private.
@Suite("Failing fast: shared storage, public URL, logs, backups")
struct FailFastTests {
    static let keys = Credentials(accessKey: "ff-ak", secretKey: "ff-sk")

    // MARK: The shared-storage marker

    @Test("two servers on one PostgreSQL database: a second data directory is refused at start (message names it); the same one starts")
    func separateStorageRefused() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try await cluster.createDatabase(prefix: "marker")
        let (first, second) = (try temporaryDirectory(), try temporaryDirectory())
        defer { for directory in [first, second] { try? FileManager.default.removeItem(atPath: directory) } }
        let environment = [
            "PAN_DATABASE_URL": url, "PAN_DATABASE_POOL_SIZE": "2", "PAN_JWT_SECRET": "marker-secret",
            "PAN_WCS_KEYS": "\(Self.keys.accessKey):\(Self.keys.secretKey)",
        ]
        let port = try freePort()
        let server = try ServerProcess.start(["serve", "--port", String(port), "--data-dir", first], environment: environment)
        defer { server.kill() }
        try await server.waitUntilHealthy(port: port)
        // The first server made the deployment: its id in the database and in the storage's marker.
        let marker = try String(contentsOfFile: first + "/storage/pan-deployment", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(marker.count == 32 && marker.allSatisfy(\.isHexDigit), "\(marker)")
        #expect(try await cluster.psql("SELECT id FROM deployment", url: url).contains(marker))

        // Another machine's own data directory (here: another directory) is refused, with a message that says which.
        let other = try ServerProcess.start(["serve", "--port", String(try freePort()), "--data-dir", second], environment: environment)
        defer { other.kill() }
        let refused = try await other.waitForExit(timeout: 120)
        #expect(refused.exited && refused.status != 0, "\(refused)")
        #expect(refused.stderr.contains("is not this deployment's shared storage"), "\(refused)")
        #expect(refused.stderr.contains(second + "/storage"), "\(refused)")
        #expect(refused.stderr.contains(marker), "the message names the deployment: \(refused)")
        #expect(!FileManager.default.fileExists(atPath: second + "/storage/pan-deployment"), "no marker is made for a refused storage")

        // pan fsck with that directory says so too (every object would otherwise just look missing).
        let fsck = try await CLITests.run(["fsck", "--database-url", url, "--data-dir", second])
        #expect(fsck.status == 1 && fsck.stdout.contains("storage-marker:"), "\(fsck.output)")
        let clean = try await CLITests.run(["fsck", "--database-url", url, "--data-dir", first])
        #expect(clean.status == 0 && clean.stdout.contains("clean"), "\(clean.output)")

        // A second server on the same storage starts.
        let samePort = try freePort()
        let same = try ServerProcess.start(["serve", "--port", String(samePort), "--data-dir", first], environment: environment)
        defer { same.kill() }
        try await same.waitUntilHealthy(port: samePort)
        same.signal(SIGTERM)
        server.signal(SIGTERM)
        #expect(try await same.waitForExit(timeout: 90).status == 0)
        #expect(try await server.waitForExit(timeout: 90).status == 0)
    }

    @Test("the marker check on SQLite: created at the first start, matched after, refused for another storage or another deployment's marker")
    func markerOnSQLite() async throws {
        let elsewhere = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        try await withServer { server in
            let id = try #require(server.services.deploymentID)
            let store = server.services.objectStore
            #expect(try StorageMarker.read(store) == id)
            #expect(try await server.services.store.deploymentID(claiming: nil) == id)
            // Claiming again keeps the first id.
            #expect(try await server.services.store.deploymentID(claiming: RandomID.hex32()) == id)
            #expect(try await StorageMarker.verify(store: server.services.store, objectStore: store) == .matched(id))

            // A storage without the marker (another machine's own directory): refused, and nothing written there.
            let empty = try LocalObjectStore(dataDirectory: elsewhere)
            await #expect(throws: StorageMarker.Mismatch.self) {
                try await StorageMarker.verify(store: server.services.store, objectStore: empty, settle: .milliseconds(300))
            }
            #expect(try StorageMarker.read(empty) == nil)

            // Another deployment's marker: refused at once, naming both ids.
            let foreign = RandomID.hex32()
            try Data((foreign + "\n").utf8).write(to: URL(fileURLWithPath: StorageMarker.path(in: empty)))
            do {
                _ = try await StorageMarker.verify(store: server.services.store, objectStore: empty)
                Issue.record("another deployment's storage was accepted")
            } catch let error as StorageMarker.Mismatch {
                #expect(error.description.contains("belongs to another Pan deployment"), "\(error)")
                #expect(error.description.contains(foreign) && error.description.contains(id), "\(error)")
            }

            // pan fsck on the server's data directory with a foreign marker reports it; restored, clean.
            let path = StorageMarker.path(in: store)
            try Data((foreign + "\n").utf8).write(to: URL(fileURLWithPath: path))
            let fsck = try await CLITests.run(["fsck", "--data-dir", server.dataDirectory])
            #expect(fsck.status == 1 && fsck.stdout.contains("storage-marker: the storage at"), "\(fsck.output)")
            try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: path))
            let clean = try await CLITests.run(["fsck", "--data-dir", server.dataDirectory])
            #expect(clean.status == 0, "\(clean.output)")
        }
    }

    @Test("with real WCS (PAN_UPLOAD_URL) the storage is not Pan's: no marker is checked or written")
    func noMarkerWithExternalWCS() async throws {
        try await withServer(configure: { $0.uploadURL = "https://up.example.com" }) { server in
            #expect(server.services.deploymentID == nil)
            let marker = try StorageMarker.read(server.services.objectStore)
            #expect(marker == nil)
            #expect(server.services.publicURLCheck.current == .notApplicable)
        }
    }

    // MARK: The public URL

    @Test("a public URL this server cannot reach: /readyz is 503 naming it, and an upload's callback fails fast with 579")
    func unreachablePublicURL() async throws {
        // A port nothing listens on (taken from the kernel, then released).
        let closed = "http://127.0.0.1:\(try freePort())"
        try await withServer(configure: { $0.publicBaseURL = closed }) { server in
            let ready = try await server.request(.get, "/readyz")
            #expect(ready.status == 503, "\(ready.text)")
            #expect(ready.json["ready"] as? Bool == false)
            let reason = try #require(ready.json["publicURL"] as? String, "\(ready.text)")
            #expect(reason.contains(closed + "/healthz"), "\(reason)")
            // The database is fine (on a loaded machine its periodic check may merely be late).
            let database = ready.json["database"] as? String ?? ""
            #expect(database == "ok" || database.hasPrefix("check overdue"), "the database is fine: \(ready.text)")

            let (_, session) = try await server.user("unreachable")
            let token = try await uploadToken(server, session, ["name": "a.bin"])
            let started = ContinuousClock.now
            let reply = try await server.formUpload(token: token, bytes: vectorBytes(1000))
            let took = ContinuousClock.now - started
            #expect(reply.status == 579, "\(reply.text)")
            let message = reply.json["message"] as? String ?? ""
            #expect(message.hasPrefix("callback failed: ") && message.contains(closed), "\(message)")
            // Refused connections are not retried by the client's pool until a deadline: three attempts
            // and their pauses (~1 s). It took 91 s; the bound is loose for a loaded machine.
            #expect(took < .seconds(45), "\(took)")
        }
    }

    @Test("a public URL that accepts connections and never answers: the callback gives up after PAN_CALLBACK_TIMEOUT, 579")
    func silentPublicURL() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        try await withServer(configure: {
            $0.publicBaseURL = "http://127.0.0.1:\(silent.port)"
            $0.callbackTimeout = 2
        }) { server in
            let (_, session) = try await server.user("silent")
            let token = try await uploadToken(server, session, ["name": "a.bin"])
            let started = ContinuousClock.now
            let reply = try await server.formUpload(token: token, bytes: vectorBytes(1000))
            let took = ContinuousClock.now - started
            #expect(reply.status == 579, "\(reply.text)")
            #expect((reply.json["message"] as? String)?.contains("127.0.0.1:\(silent.port)") == true, "\(reply.text)")
            // 3 attempts × 30 s before; now 2 s in all (loosely bounded: a loaded machine).
            #expect(took < .seconds(45), "\(took)")
            let ready = try await server.request(.get, "/readyz")
            #expect(ready.status == 503 && (ready.json["publicURL"] as? String)?.contains("unreachable") == true, "\(ready.text)")
        }
        var configuration = PanConfiguration()
        try configuration.apply(environment: ["PAN_CALLBACK_TIMEOUT": "12.5"])
        #expect(configuration.callbackTimeout == 12.5)
        #expect(throws: ConfigurationError.self) { try configuration.apply(environment: ["PAN_CALLBACK_TIMEOUT": "0"]) }
    }

    @Test("a reachable public URL: /readyz reports it ok")
    func reachablePublicURL() async throws {
        try await withServer { server in
            var ready = try await server.request(.get, "/readyz")
            for _ in 0..<200 where ready.status != 200 {
                try await Task.sleep(for: .milliseconds(50))
                ready = try await server.request(.get, "/readyz")
            }
            #expect(ready.status == 200, "\(ready.text)")
            #expect(ready.json["publicURL"] as? String == "ok", "\(ready.text)")
            #expect(server.services.publicURLCheck.current == .reachable)
        }
    }

    // MARK: Logs

    @Test("the startup line names the engine and the database (never the password); PostgreSQL's shutdown claims no checkpoint", arguments: TestBackend.allCases)
    func startupAndShutdownLines(backend: TestBackend) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = try freePort()
        var environment = ["PAN_LOG_LEVEL": "info", "PAN_DATA_DIR": directory]
        var url: String?
        if backend == .postgres {
            let databaseURL = try await PostgresCluster.shared().createDatabase(prefix: "logs")
            url = databaseURL
            environment.merge([
                "PAN_DATABASE_URL": databaseURL, "PAN_DATABASE_POOL_SIZE": "2", "PAN_JWT_SECRET": "logs-secret",
                "PAN_WCS_KEYS": "\(Self.keys.accessKey):\(Self.keys.secretKey)",
            ]) { $1 }
        }
        let server = try ServerProcess.start(["serve", "--port", String(port)], environment: environment)
        defer { server.kill() }
        try await server.waitUntilHealthy(port: port)
        server.signal(SIGTERM)
        let exit = try await server.waitForExit(timeout: 90)
        #expect(exit.exited && exit.status == 0, "\(exit)")
        let log = exit.stderr
        let serving = try #require(log.split(separator: "\n").first { $0.contains("pan serving") }, "\(log)")
        if let url {
            let components = try #require(URLComponents(string: url))
            let database = "\(components.host ?? ""):\(components.port ?? 5432)\(components.path)"
            #expect(serving.contains("engine=postgresql"), "\(serving)")
            #expect(serving.contains("database=\(database)"), "\(serving)")
            #expect(!log.contains(url) && !log.contains(":\(components.password ?? "-")@"), "the password is never logged: \(log)")
            #expect(!log.contains("checkpoint"), "\(log)")
            #expect(log.contains("database connections closed at shutdown"), "\(log)")
        } else {
            #expect(serving.contains("engine=sqlite"), "\(serving)")
            #expect(serving.contains("database=\(directory)/pan.sqlite"), "\(serving)")
            #expect(log.contains("database checkpointed at shutdown"), "\(log)")
        }
    }

    // MARK: Backups

    @Test("pan backup writes its file 0600, on SQLite and on PostgreSQL (pg_dump)", arguments: TestBackend.allCases)
    func backupIsPrivate(backend: TestBackend) async throws {
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await withServer(backend: backend) { server in
            try await server.createUser("backup-mode")
            let destination = scratch + "/pan-\(backend).backup"
            var arguments = ["backup", destination, "--data-dir", server.dataDirectory]
            if let url = server.configuration.databaseURL { arguments += ["--database-url", url] }
            let run = try await CLITests.run(arguments, timeout: 120)
            #expect(run.status == 0, "\(run)")
            let attributes = try FileManager.default.attributesOfItem(atPath: destination)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(attributes)")
            #expect(((attributes[.size] as? NSNumber)?.intValue ?? 0) > 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch) == [(destination as NSString).lastPathComponent], "no partial files left")
        }
    }
}

/// A TCP listener that never accepts: the kernel completes connections (up to
/// its backlog) and takes the request bytes, and no answer ever comes.
final class SilentListener: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let (fd, port) = try boundLoopbackSocket()
        guard listen(fd, 64) == 0 else { Glibc.close(fd); throw TestFailure("listen failed") }
        self.fd = fd
        self.port = port
    }

    func close() { Glibc.close(fd) }
}
