import Foundation
import Testing

/// Pan against other people's code: Wangsu's own Python SDK, and a plain
/// pooling HTTP client (`requests`/urllib3), driven as separate processes.
/// Their Python packages are installed from PyPI on first use into
/// `.build/python-clients` (see `PythonClients`).
@Suite(.serialized)
struct RealClientTests {
    @Test("every response on a connection Pan closes says Connection: close; kept-alive connections stay open (pooled requests, HTTP/1.0, pipelining)")
    func connectionClose() async throws {
        try await withServer { server in
            let run = try await PythonClients.run("keepalive_probe.py", ["127.0.0.1", "\(server.port)", "400"], timeout: 120)
            #expect(run.status == 0 && run.stdout.contains("\"ok\": true"), "\(run.stdout)\n\(run.stderr.suffix(3000))")
        }
    }

    @Test("Wangsu's Python SDK uploads by form and by slices (1 and 4 threads): 1 B, 4 MiB, 5 MiB + 7, 9 MiB + 3")
    func wangsuSDK() async throws {
        try await withServer { server in
            try await server.createUser("sdk", capacity: 1 << 40)  // 50 rounds store ~2.7 GB
            let rounds = ProcessInfo.processInfo.environment["PAN_SDK_ROUNDS"] ?? "2"
            let run = try await PythonClients.run("wcs_sdk_upload.py", ["http://127.0.0.1:\(server.port)", "sdk", "secret", rounds], timeout: 600 * (Double(ProcessInfo.processInfo.environment["PAN_SDK_ROUNDS"] ?? "1") ?? 1))
            #expect(run.status == 0 && run.stdout.contains("\"ok\": true"), "\(run.stdout)\n\(run.stderr.suffix(3000))")
        }
    }

    @Test("Wangsu's Python SDK through the nginx site")
    func wangsuSDKThroughNginx() async throws {
        try await withNginxSite { direct, _, proxy in
            let proxyPort = proxy.port
            try await direct.createUser("edge-sdk", capacity: 1 << 40)
            let rounds = ProcessInfo.processInfo.environment["PAN_SDK_ROUNDS"] ?? "1"
            let run = try await PythonClients.run("wcs_sdk_upload.py", ["http://127.0.0.1:\(proxyPort)", "edge-sdk", "secret", rounds], timeout: 600 * (Double(ProcessInfo.processInfo.environment["PAN_SDK_ROUNDS"] ?? "1") ?? 1))
            #expect(run.status == 0 && run.stdout.contains("\"ok\": true"), "\(run.stdout)\n\(run.stderr.suffix(3000)) / nginx: \(proxy.errors)")
        }
    }
}
