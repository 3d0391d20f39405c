import Foundation
import Testing
@testable import PanCore

/// The web app's file list, navigation, phone layout, keyboard and account view
/// in a real headless Chromium (`Tests/PanTests/Clients/webapp_list.py`), at
/// desktop 1366×850 and phone 390×844, in English and Chinese; what the browser
/// did is checked on the server.
@Suite(.serialized)
struct WebAppListTests {
    static var artifacts: String {
        PythonClients.packageRoot.appendingPathComponent(".build/test-artifacts/webapp-list").path
    }

    static func browserAvailable() -> Bool {
        guard FileManager.default.isExecutableFile(atPath: WebAppTests.chromedriver) else {
            Issue.record("chromium-driver is missing at \(WebAppTests.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return false
        }
        return true
    }

    /// Removes earlier screenshots starting with `prefixes`, so a missing one is noticed.
    static func clearArtifacts(_ prefixes: [String]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: artifacts)) ?? []
        for name in names where prefixes.contains(where: name.hasPrefix) {
            try? FileManager.default.removeItem(atPath: artifacts + "/" + name)
        }
    }

    static func outcome(_ run: CLITests.Run) throws -> [String: Any] {
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(run.stdout)\n\(run.stderr.suffix(4000))")
    }

    @Test("long names never widen the page (1366 and 390 px, English and Chinese); bin and account reachable on a phone; keyboard keeps focus; select all 125 across 3 pages then move; conflicts on move (skipped named) and on copy (a folder is never replaced); restore of a selection in one request; Deleted from recycledAt; empty bin releases the space; sign out ends one session",
          arguments: TestBackend.allCases)
    func listFlow(backend: TestBackend) async throws {
        guard Self.browserAvailable() else { return }
        let workdir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workdir) }
        Self.clearArtifacts(["desktop-", "phone-", "sessions-"])
        try await withServer(backend: backend) { server in
            try await server.createUser("lister")
            let run = try await PythonClients.run(
                "webapp_list.py", ["list", "http://127.0.0.1:\(server.port)", "lister", "secret", workdir, Self.artifacts],
                timeout: 1200, browser: true
            )
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr.suffix(6000))")
            let outcome = try Self.outcome(run)
            #expect(outcome["ok"] as? Bool == true)
            #expect(outcome["moved"] as? Int == 125)
            // Sign-out of one browser left the other and a desktop client signed in; a folder came down as one zip.
            #expect(outcome["sessions"] as? String == "checked", "\(outcome)")
            #expect(outcome["zip"] as? String == "checked", "\(outcome)")

            // What the browser did is what the server has.
            let session = try await server.login("lister")
            let target = try await server.post("/v1/files/page", ["path": "/Target", "pageSize": 999], token: session)
            #expect(target.result["totalCount"] as? Int == 125, "\(target.text)")
            let big = try await server.post("/v1/files/page", ["path": "/Big"], token: session)
            #expect(big.result["totalCount"] as? Int == 0, "\(big.text)")
            func names(_ path: String) async throws -> Set<String> {
                let page = try await server.post("/v1/files/page", ["path": path, "pageSize": 999], token: session)
                return Set(((page.result["list"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
            }
            // Conflicts on move: same-a replaced, same-b kept both, same-c and same-d skipped (left behind).
            #expect(try await names("/Dest") == ["same-a.txt", "same-b.txt", "same-b (1).txt", "same-c.txt", "same-d.txt", "unique.txt"])
            #expect(try await names("/Conf") == ["same-c.txt", "same-d.txt"])
            // Conflicts on copy, Replace for all: the files replaced, the folder kept both; the sources stay.
            #expect(try await names("/CopyDst") == ["copy-x.txt", "copy-y.txt", "Sub", "Sub (1)"])
            #expect(try await names("/CopySrc") == ["copy-x.txt", "copy-y.txt", "Sub"])
            // Restored into a name taken meanwhile, answered "keep both".
            let longNames = try await names("/Long")
            #expect(longNames.isSuperset(of: ["restore-me.txt", "restore-me (1).txt", "restore-too.txt"]) && !longNames.contains("short (1).txt"), "\(longNames)")
            // Emptied through /v1/files/emptyBin (the script checked the space released): nothing left.
            let bin = try await server.post("/v1/files/page", ["recycle": 1], token: session)
            #expect(bin.result["totalCount"] as? Int == 0, "emptied: \(bin.text)")
            let emptied = try #require(outcome["bin"] as? [String: Any], "\(outcome)")
            #expect(emptied["emptied"] as? Int == 2 && (emptied["released"] as? Int ?? 0) > 0, "\(emptied)")
        }
        for width in ["desktop", "phone"] {
            for language in ["en", "zh"] {
                for shot in ["01-long-names", "02-long-folder", "03-conflict-dialog", "05-account"] {
                    let name = "\(width)-\(language)-\(shot).png"
                    #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/" + name), "screenshot \(name)")
                }
            }
        }
    }

    @Test("a folder load that fails keeps the breadcrumbs and toolbar and offers Retry; Retry after the server is back loads it; a later failure heals on its own")
    func failedLoadRetries() async throws {
        guard Self.browserAvailable() else { return }
        let pan = try CLITests.pan()
        let workdir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workdir) }
        // The script stops and starts `pan serve` itself, on one port across restarts.
        Self.clearArtifacts(["outage-"])
        let port = try freePort()
        let run = try await PythonClients.run(
            "webapp_list.py", ["outage", pan, workdir, Self.artifacts, String(port)], timeout: 600, browser: true
        )
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr.suffix(6000))")
        #expect(try Self.outcome(run)["ok"] as? Bool == true)
        for name in ["outage-desktop-en-01-load-failed.png", "outage-phone-zh-01-load-failed.png", "outage-desktop-en-02-retried.png"] {
            #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/" + name), "screenshot \(name)")
        }
    }
}
