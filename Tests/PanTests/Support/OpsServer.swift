import Foundation
import AsyncHTTPClient
import HTTPTypes
import Logging
import ServiceLifecycle
import Synchronization
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanServer
@testable import PanHTTPSupport
import SQLiteKit
import WCS

/// GET an absolute URL.
func fetch(_ url: String) async throws -> TestServer.Reply {
    var request = HTTPClientRequest(url: url)
    request.method = .GET
    let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
    let bytes = try await response.body.collect(upTo: 16 << 20)
    return TestServer.Reply(status: Int(response.status.code), headers: [:], body: Data(buffer: bytes))
}

/// A Prometheus text exposition, parsed into samples.
struct Scrape {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }
    let samples: [Sample]

    static func of(_ server: TestServer) async throws -> Scrape {
        let reply = try await server.request(.get, "/metrics")
        guard reply.status == 200 else { throw TestFailure("/metrics: \(reply.status)") }
        #expect(reply.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
        return Scrape(reply.text)
    }

    init(_ text: String) {
        samples = text.split(separator: "\n").compactMap { line -> Sample? in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
            return Sample(name: String(series[..<brace]), labels: Self.labels(series[series.index(after: brace)...].dropLast()), value: value)
        }
    }

    /// `k="v",k2="v\"2"` → dictionary.
    private static func labels(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var rest = text[...]
        while let equals = rest.firstIndex(of: "=") {
            let key = String(rest[..<equals]).trimmingCharacters(in: CharacterSet(charactersIn: ", "))
            var index = rest.index(equals, offsetBy: 2)  // past ="
            var value = ""
            while index < rest.endIndex, rest[index] != "\"" {
                if rest[index] == "\\", rest.index(after: index) < rest.endIndex { index = rest.index(after: index) }
                value.append(rest[index])
                index = rest.index(after: index)
            }
            result[key] = value
            rest = index < rest.endIndex ? rest[rest.index(after: index)...] : ""
        }
        return result
    }

    /// The sample with exactly these labels; 0 when absent (a counter not yet created).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.first { $0.name == name && $0.labels == labels }?.value ?? 0
    }

    func series(_ name: String) -> [[String: String]] { samples.filter { $0.name == name }.map(\.labels) }
}

/// Log records kept in memory, to look at what a server logged.
final class LogCapture: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
        var rendered: String { "\(level) \(message) \(metadata.sorted { $0.key < $1.key })" }
    }
    private let storage = Mutex<[Record]>([])
    var records: [Record] { storage.withLock { $0 } }
    func append(_ record: Record) { storage.withLock { $0.append(record) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(Record(level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" }))
        }
    }
}

/// A live server in its own service group (not `.live`, which would pick another
/// port than the one the public URL — and so every callbackUrl — names), with an
/// optional log capture and the readiness probe on a chosen port (the admin
/// listener's, when the public one no longer serves /healthz). `withServer` is this
/// with the defaults.
func withOpsServer(
    backend: TestBackend = .sqlite,
    configure: (inout PanConfiguration) -> Void = { _ in },
    logs: LogCapture? = nil,
    probePort: Int? = nil,
    _ body: @escaping @Sendable (TestServer, PanConfiguration) async throws -> Void
) async throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = PanConfiguration()
    configuration.dataDirectory = directory
    configuration.port = try freePort()
    configuration.passwordRounds = 1_000
    // Two readers, not four: dozens of test servers run at once in this one process, and
    // every SQLite connection holds three descriptors (database, WAL, shared memory).
    // Past ~1,300 open descriptors Foundation's `Process.run()` has crashed (SIGSEGV in a
    // memmove) while the CLI tests launched `pan`.
    configuration.readerCount = 2
    try await backend.configure(&configuration)
    // The suites start dozens of servers at once on a loaded 2-core machine, each
    // connecting to one shared cluster: a connection can take longer than the
    // production bound (5 s) to come. The outage tests set their own.
    configuration.databaseWait = 120
    // Likewise /readyz's database check: its 1 s bound is for a server, not for one of
    // dozens of test servers on two cores (tests about readiness set their own).
    configuration.readinessTimeout = 30
    configure(&configuration)
    var logger = if let logs { Logger(label: "pan-ops-test") { _ in LogCapture.Handler(capture: logs) } } else { Logger(label: "pan-ops-test") }
    logger.logLevel = logs == nil ? .error : .trace
    let (app, services) = try await buildApplication(configuration, logger: logger)
    let server = TestServer(services: services, port: configuration.port, dataDirectory: directory)
    let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    let probe = "http://127.0.0.1:\(probePort ?? configuration.port)/healthz"
    let frozen = configuration
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        defer { tasks.cancelAll() }
        var ready = false
        for _ in 0..<200 {
            if (try? await fetch(probe))?.status == 200 { ready = true; break }
            try await Task.sleep(for: .milliseconds(25))
        }
        guard ready else { throw TestFailure("server did not start: \(probe)") }
        // The public-URL check (part of /readyz) starts once the listener is up: let its first
        // answer come, so a test reading /readyz at once sees it (not "not checked yet").
        for _ in 0..<400 where services.publicURLCheck.current == .notChecked { try await Task.sleep(for: .milliseconds(25)) }
        do {
            try await body(server, frozen)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.next()
    }
}

/// `pan ARGS…` running in the background (a server), output to files.
final class ServerProcess: Sendable {
    let process: ChildProcess
    let scratch: String

    private init(process: ChildProcess, scratch: String) {
        self.process = process
        self.scratch = scratch
    }

    static func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> ServerProcess {
        let scratch = try temporaryDirectory()
        let process = try ChildProcess(
            try CLITests.pan(), arguments, environment: CLITests.environment().merging(extra) { $1 },
            stdout: .file(scratch + "/stdout"), stderr: .file(scratch + "/stderr")
        )
        return ServerProcess(process: process, scratch: scratch)
    }

    func waitUntilHealthy(port: Int) async throws {
        for _ in 0..<400 {
            if (try? await fetch("http://127.0.0.1:\(port)/healthz"))?.status == 200 { return }
            if !process.isRunning { throw TestFailure("pan exited before serving: \(output)") }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("pan did not serve on \(port): \(output)")
    }

    func signal(_ signal: Int32) { process.signal(signal) }

    var output: String {
        ((try? String(contentsOfFile: scratch + "/stdout", encoding: .utf8)) ?? "")
            + ((try? String(contentsOfFile: scratch + "/stderr", encoding: .utf8)) ?? "")
    }

    var stderr: String { (try? String(contentsOfFile: scratch + "/stderr", encoding: .utf8)) ?? "" }

    struct Exit: CustomStringConvertible {
        let exited: Bool
        let status: Int32
        let stderr: String
        var description: String { "\(exited ? "exit" : "signal") \(status): \(stderr.suffix(2000))" }
    }

    func waitForExit(timeout: TimeInterval) async throws -> Exit {
        if await !process.waitForExit(timeout: timeout) {
            kill()
            throw TestFailure("pan did not exit within \(timeout) s: \(output.suffix(2000))")
        }
        return Exit(exited: process.exitedNormally, status: process.terminationStatus, stderr: stderr)
    }

    /// Hard stop (cleanup); a no-op once it has exited.
    func kill() {
        process.kill()
        try? FileManager.default.removeItem(atPath: scratch)
    }
}
