import Foundation
import Testing
@testable import PanCore
@testable import PanServer

/// Real WebDAV clients against a real server: litmus (RFC 4918 conformance)
/// and an rclone sync round trip (issue #29's judges).
@Suite struct WebDAVClientTests {
    /// litmus's summary line of a suite: `<- summary for `basic': of 16 tests run: 16 passed, 0 failed. 100.0%`.
    struct Summary: Equatable {
        var suite: String
        var run: Int
        var passed: Int
        var failed: Int
    }

    static func summaries(_ output: String) -> [Summary] {
        output.split(separator: "\n").compactMap { line -> Summary? in
            guard let start = line.range(of: "summary for `"), let end = line[start.upperBound...].firstIndex(of: "'") else { return nil }
            let suite = String(line[start.upperBound..<end])
            let numbers = line[end...].split { !$0.isNumber }.compactMap { Int($0) }
            guard numbers.count >= 3 else { return nil }
            return Summary(suite: suite, run: numbers[0], passed: numbers[1], failed: numbers[2])
        }
    }

    static func runLitmus(port: Int, suites: [String]) async throws -> (summaries: [Summary], output: String) {
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let out = scratch + "/out"
        // In the scratch directory: litmus writes its debug.log to the working directory.
        let child = try ChildProcess(
            "/usr/bin/litmus", ["http://127.0.0.1:\(port)/dav/", "alice", "secret"],
            environment: ["TESTS": suites.joined(separator: " "), "HOME": scratch, "PATH": "/usr/bin:/bin"],
            directory: scratch, stdout: .file(out), stderr: .file(out)
        )
        let finished = await child.waitForExit(timeout: 300)
        if !finished { child.kill() }
        #expect(finished, "litmus did not finish within 300 s")
        let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return (summaries(output), output)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/litmus")), arguments: ["basic", "copymove", "props", "locks", "http"])
    func litmus(suite: String) async throws {
        try await withServer { server in
            try await server.createUser("alice")
            let (summaries, output) = try await Self.runLitmus(port: server.port, suites: [suite])
            let summary = try #require(summaries.first { $0.suite == suite }, "no summary for \(suite):\n\(output)")
            #expect(summary.failed == 0, "litmus \(suite):\n\(output)")
            #expect(summary.run > 0)
        }
    }

    @Test("litmus props and locks on PostgreSQL (dead properties and locks are rows of the shared database)",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/litmus")))
    func litmusClass2OnPostgres() async throws {
        try await withServer(backend: .postgres) { server in
            try await server.createUser("alice")
            let (summaries, output) = try await Self.runLitmus(port: server.port, suites: ["props", "locks"])
            #expect(summaries.map(\.suite) == ["props", "locks"], "\(output)")
            for summary in summaries { #expect(summary.failed == 0, "litmus \(summary.suite) on PostgreSQL:\n\(output)") }
        }
    }

    @Test("litmus basic, copymove, props and locks, and a big PUT, through nginx running deploy/nginx-pan.conf",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/litmus")))
    func litmusThroughNginx() async throws {
        try await withNginxSite { direct, _, proxy in
            try await direct.createUser("alice")
            let suites = ["basic", "copymove", "props", "locks"]
            let (summaries, output) = try await Self.runLitmus(port: proxy.port, suites: suites)
            #expect(summaries.map(\.suite) == suites, "\(output)")
            for summary in summaries { #expect(summary.failed == 0, "litmus \(summary.suite) through nginx:\n\(output)") }
            // A body past nginx's default 1 MB limit and its buffers: streamed through.
            let server = TestServer(services: direct.services, port: proxy.port, dataDirectory: direct.dataDirectory)
            let big = Data((0..<(3 << 20)).map { UInt8($0 % 253) })
            let put = try await WebDAVTests.dav(server, "PUT", "/dav/big.bin", body: big)
            #expect(put.status == 201)
            #expect(try await WebDAVTests.dav(server, "GET", "/dav/big.bin").body == big)
        }
    }

    static func rclone(_ arguments: [String], config: String, timeout: TimeInterval = 120) async throws -> (status: Int32, output: String) {
        // A file per run: the output file is opened for appending.
        let out = config + ".\(UUID().uuidString).out"
        let home = (config as NSString).deletingLastPathComponent
        let child = try ChildProcess(
            "/usr/bin/rclone", arguments + ["--config", config, "--retries", "1", "--low-level-retries", "1"],
            environment: ["PATH": "/usr/bin:/bin", "HOME": home], directory: home, stdout: .file(out), stderr: .file(out)
        )
        let finished = await child.waitForExit(timeout: timeout)
        if !finished { child.kill() }
        let run = (status: child.terminationStatus, timedOut: !finished)
        #expect(!run.timedOut)
        return (run.status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/rclone")), arguments: TestBackend.allCases)
    func rcloneRoundTrip(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice")
            let scratch = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let config = scratch + "/rclone.conf"
            FileManager.default.createFile(atPath: config, contents: Data())
            let (_, obscured) = try await Self.rclone(["obscure", "secret"], config: config)
            let remote = ":webdav,url='http://127.0.0.1:\(server.port)/dav/',vendor=other,user=alice,pass=\(obscured.trimmingCharacters(in: .whitespacesAndNewlines)):"
            // A small nested tree with Chinese names, an empty file and a larger one.
            let source = scratch + "/源"
            let files: [String: Data] = [
                "文档/报告.txt": Data("季度报告\n".utf8),
                "文档/子目录/深/笔记 一.md": Data("# 笔记\n".utf8),
                "照片/空.txt": Data(),
                "big.bin": Data((0..<300_000).map { UInt8($0 % 251) }),
                "a b&c'd.txt": Data("odd name".utf8),
            ]
            for (path, data) in files {
                let full = source + "/" + path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: full, contents: data)
            }
            let up = try await Self.rclone(["sync", source, remote + "备份"], config: config)
            #expect(up.status == 0, "rclone sync up:\n\(up.output)")
            let back = scratch + "/回"
            let down = try await Self.rclone(["sync", remote + "备份", back], config: config)
            #expect(down.status == 0, "rclone sync down:\n\(down.output)")
            for (path, data) in files {
                #expect(FileManager.default.contents(atPath: back + "/" + path) == data, "\(path)")
            }
            let check = try await Self.rclone(["check", "--download", source, remote + "备份"], config: config)
            #expect(check.status == 0, "rclone check:\n\(check.output)")
            // A second sync after a change moves only that.
            FileManager.default.createFile(atPath: source + "/文档/报告.txt", contents: Data("改过了\n".utf8))
            try FileManager.default.removeItem(atPath: source + "/照片/空.txt")
            let again = try await Self.rclone(["sync", source, remote + "备份"], config: config)
            #expect(again.status == 0, "rclone second sync:\n\(again.output)")
            let recheck = try await Self.rclone(["check", "--download", source, remote + "备份"], config: config)
            #expect(recheck.status == 0, "rclone recheck:\n\(recheck.output)")
        }
    }
}
