import Foundation
import Testing
@testable import PanCore

/// Share links in the web app (issue #27) in a real headless Chromium against a
/// real `pan serve`, driven by `Tests/PanTests/Clients/webapp_shares.py`: links
/// made in the app's Share dialog, opened in a fresh profile without a session
/// (file page with its text preview and download, folder page with breadcrumbs,
/// a subfolder, an image preview and a download; a password set while it is
/// open asks for it at the next click, cleared it re-opens silently; made
/// preview only in the Edit dialog it offers no download; the password page
/// wrong then right, the not-found page for an expired link and an unknown id), My shares
/// with the download count going up, and revoking (one, then two at once) ending
/// the public pages. At desktop 1366×850 in English and phone 390×844 in
/// Chinese. Screenshots go to `.build/test-artifacts/webapp-shares/`.
@Suite(.serialized)
struct WebAppShareTests {
    static var artifacts: String {
        PythonClients.packageRoot.appendingPathComponent(".build/test-artifacts/webapp-shares").path
    }

    /// Runs the driver's `cases` on a fresh data directory (and, for PostgreSQL, a fresh database).
    func run(_ cases: [String], backend: TestBackend) async throws -> [String: Any] {
        guard FileManager.default.isExecutableFile(atPath: WebAppTests.chromedriver) else {
            Issue.record("chromium-driver is missing at \(WebAppTests.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return [:]
        }
        let data = try temporaryDirectory(), workdir = try temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: data)
            try? FileManager.default.removeItem(atPath: workdir)
        }
        var environment: [String] = []
        if backend == .postgres {
            let url = try await PostgresCluster.shared().createDatabase(prefix: "webshare")
            environment = ["PAN_DATABASE_URL=\(url)", "PAN_DATABASE_POOL_SIZE=4", "PAN_JWT_SECRET=webshare-secret", "PAN_WCS_KEYS=webshare-ak:webshare-sk"]
        }
        let port = try freePort()
        let run = try await PythonClients.run(
            "webapp_shares.py", [try CLITests.pan(), data, String(port), workdir, Self.artifacts] + cases + environment,
            timeout: 600, browser: true
        )
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        #expect(run.status == 0 && json["ok"] as? Bool == true, "\(run.stdout.suffix(3000))\n\(run.stderr.suffix(4000))")
        return json
    }

    /// What every case must have seen (the driver asserts each step; these are its measurements).
    func check(_ result: [String: Any], tag: String, chinese: Bool) {
        #expect(result["file_bytes"] as? Int == 69, "\(tag): \(result)")
        #expect(result["deep_bytes"] as? Int == 300_000, "\(tag): \(result)")
        #expect((result["downloads_after"] as? String ?? "").contains("2 / 5"), "\(tag): \(result)")
        #expect((result["wrong_text"] as? String ?? "").contains(chinese ? "密码错误" : "Wrong password"), "\(tag): \(result)")
        #expect((result["not_found_text"] as? String ?? "").contains(chinese ? "不存在或已失效" : "does not exist or has expired"), "\(tag): \(result)")
        #expect(result["left"] as? Int == 2, "only the expired and the throttled links are left: \(result)")
        // 10 refusals for a share from one address in 10 minutes, then 429 (api.md §8).
        #expect(result["throttled_after"] as? Int == 11, "\(tag): \(result)")
        #expect((result["wait_text"] as? String ?? "").contains(chinese ? "后再试" : "Try again in"), "\(tag): \(result)")
        for shot in ["share-dialog", "my-shares", "public-file", "public-folder", "public-preview", "public-password", "public-expired"] {
            let name = "\(tag)-\(shot).png"
            #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/" + name), "screenshot \(name)")
        }
    }

    @Test("desktop, English: links made in the Share dialog, opened without a session, counted in My shares, revoked",
          arguments: TestBackend.allCases)
    func desktop(backend: TestBackend) async throws {
        let json = try await run(["desktop"], backend: backend)
        guard json["ok"] as? Bool == true else { return }
        check(json["desktop"] as? [String: Any] ?? [:], tag: "desktop", chinese: false)
    }

    @Test("phone width, Chinese: the same, through the bottom tab bar")
    func phone() async throws {
        let json = try await run(["phone"], backend: .sqlite)
        guard json["ok"] as? Bool == true else { return }
        check(json["phone"] as? [String: Any] ?? [:], tag: "phone", chinese: true)
    }
}
