import AsyncHTTPClient
import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
import WCS

/// nginx in the foreground with a config written to a temp prefix: the
/// deploy site's directives, listening on a loopback port, proxying to Pan.
final class NginxProcess: Sendable {
    let process: ChildProcess
    let prefix: String
    let port: Int

    private init(process: ChildProcess, prefix: String, port: Int) {
        self.process = process
        self.prefix = prefix
        self.port = port
    }

    /// `deploy/nginx-pan.conf` between its BEGIN/END markers.
    static func siteDirectives() throws -> String { try section("pan-locations") }

    /// The site's http-level directives (`limit_conn_zone`), between the `pan-http` markers.
    static func httpDirectives() throws -> String { try section("pan-http") }

    private static func section(_ name: String) throws -> String {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            guard directory.path != "/" else { throw TestFailure("no package root above \(#filePath)") }
            directory = directory.deletingLastPathComponent()
        }
        let text = try String(contentsOf: directory.appendingPathComponent("deploy/nginx-pan.conf"), encoding: .utf8)
        guard let start = text.range(of: "# BEGIN \(name)"), let end = text.range(of: "# END \(name)") else {
            throw TestFailure("deploy/nginx-pan.conf lacks its BEGIN/END \(name) markers")
        }
        return String(text[start.upperBound..<end.lowerBound])
    }

    static func start(port: Int, upstreamPort: Int) throws -> NginxProcess {
        try start(port: port, upstreamPorts: [upstreamPort])
    }

    /// nginx in front of several Pan servers (`deploy/nginx-pan.conf`'s upstream, with these ports).
    static func start(port: Int, upstreamPorts: [Int]) throws -> NginxProcess {
        let prefix = try temporaryDirectory()
        let config = """
        daemon off;
        # One process as the test's own user: no privilege drop, no pid in /run.
        master_process off;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/error.log warn;
        events { worker_connections 256; }
        http {
            access_log \(prefix)/access.log;
            client_body_temp_path \(prefix)/client_body;
            proxy_temp_path \(prefix)/proxy;
            fastcgi_temp_path \(prefix)/fastcgi;
            uwsgi_temp_path \(prefix)/uwsgi;
            scgi_temp_path \(prefix)/scgi;
        \(try httpDirectives())
            upstream pan {
        \(upstreamPorts.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n"))
                keepalive 8;
            }
            server {
                listen 127.0.0.1:\(port);
                server_name localhost;
        \(try siteDirectives())
            }
        }
        """
        try config.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            NginxTests.nginx, ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"],
            stderr: .file(prefix + "/stderr")
        )
        return NginxProcess(process: process, prefix: prefix, port: port)
    }

    /// Until Pan's /healthz answers through nginx.
    func waitUntilProxying() async throws {
        for _ in 0..<200 {
            if (try? await fetch("http://127.0.0.1:\(port)/healthz"))?.status == 200 { return }
            guard process.isRunning else { throw TestFailure("nginx exited: \(errors)") }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("nginx did not proxy on \(port): \(errors)")
    }

    var errors: String {
        ["stderr", "error.log"].compactMap { try? String(contentsOfFile: prefix + "/" + $0, encoding: .utf8) }.joined(separator: "\n")
    }

    var accessLogLines: Int {
        ((try? String(contentsOfFile: prefix + "/access.log", encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// KILL: with `master_process off` nginx ignores TERM and QUIT, and
    /// nothing it holds outlives the test.
    func stop() {
        process.kill()
        try? FileManager.default.removeItem(atPath: prefix)
    }
}

/// A real Pan behind a real nginx running `deploy/nginx-pan.conf`'s site: the
/// body gets the direct server, its configuration and nginx's port. Records
/// an issue (and skips the body) when nginx is not installed.
func withNginxSite(
    logs: LogCapture? = nil,
    configure: @escaping @Sendable (inout PanConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (TestServer, PanConfiguration, NginxProcess) async throws -> Void
) async throws {
    guard FileManager.default.isExecutableFile(atPath: NginxTests.nginx) else {
        Issue.record("nginx is missing at \(NginxTests.nginx): `.ci/run` installs it")
        return
    }
    let proxyPort = try freePort()
    try await withOpsServer(configure: {
        $0.publicBaseURL = "http://127.0.0.1:\(proxyPort)"
        $0.trustedProxies = ["127.0.0.1"]
        configure(&$0)
    }, logs: logs) { direct, configuration in
        let proxy = try NginxProcess.start(port: proxyPort, upstreamPort: configuration.port)
        defer { proxy.stop() }
        try await proxy.waitUntilProxying()
        try await body(direct, configuration, proxy)
    }
}
