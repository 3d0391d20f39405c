import Foundation
import Testing
@testable import PanCore
@testable import PanHTTPSupport
import SQLCommon

/// Issue #28, "Search by name": `POST /v1/files/search` finds the caller's
/// nodes whose name contains a string, ignoring case, from an index (FTS5
/// trigrams / pg_trgm) kept by every write — on both engines.
@Suite("Search by name (issue #28)")
struct SearchTests {
    /// What `seed` makes (directories end in `/`).
    static let tree = [
        "/docs/", "/docs/Annual Report 2024.pdf", "/docs/report-final.txt", "/docs/old/", "/docs/old/REPORTS/",
        "/Äpfel/", "/Äpfel/ärger.txt", "/报告/", "/报告/季度报告.doc",
        "/misc/", "/misc/100%_done.txt", "/misc/under_score.txt", "/misc/star*.txt", "/misc/plain.txt", "/misc/quote\"d.txt",
    ]

    static func seed(_ server: TestServer, _ token: String) async throws {
        for entry in tree {
            if entry.hasSuffix("/") {
                let made = try await server.post("/v1/files/createDirectory", ["path": String(entry.dropLast())], token: token)
                #expect(made.status == 200, "\(made.text)")
            } else {
                _ = try await FilesTests().file(server, token, entry, entry)
            }
        }
    }

    /// The paths found for `body` (one page of up to 999), sorted; the reply for other checks.
    static func found(_ server: TestServer, _ token: String, _ body: [String: Any]) async throws -> (paths: [String], reply: TestServer.Reply) {
        var body = body
        if body["pageSize"] == nil { body["pageSize"] = 999 }
        let reply = try await server.post("/v1/files/search", body, token: token)
        #expect(reply.status == 200, "\(body): \(reply.text)")
        let paths = (reply.result["list"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        return (paths.sorted(), reply)
    }

    static func paths(_ server: TestServer, _ token: String, _ name: String, _ extra: [String: Any] = [:]) async throws -> [String] {
        try await found(server, token, extra.merging(["name": name]) { a, _ in a }).paths
    }

    @Test("substrings ignoring case — ASCII, Ä/ä, CJK; 1–2 characters; %, _, *, \\ and \" are characters; path and type", arguments: TestBackend.allCases)
    func substrings(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("seeker")
            try await Self.seed(server, token)
            let reports = ["/docs/Annual Report 2024.pdf", "/docs/old/REPORTS", "/docs/report-final.txt"]
            #expect(try await Self.paths(server, token, "report") == reports)
            #expect(try await Self.paths(server, token, "RePoRt") == reports)
            #expect(try await Self.paths(server, token, "  report\u{3000}") == reports, "trimmed")
            #expect(try await Self.paths(server, token, "port 20") == ["/docs/Annual Report 2024.pdf"])
            #expect(try await Self.paths(server, token, "äpf") == ["/Äpfel"])
            #expect(try await Self.paths(server, token, "ÄRGER") == ["/Äpfel/ärger.txt"])
            #expect(try await Self.paths(server, token, "a\u{308}rger") == ["/Äpfel/ärger.txt"], "a decomposed query is normalized (NFC)")
            #expect(try await Self.paths(server, token, "季度报告") == ["/报告/季度报告.doc"])
            // One and two characters: the bounded scan, same answers.
            #expect(try await Self.paths(server, token, "报告") == ["/报告", "/报告/季度报告.doc"])
            #expect(try await Self.paths(server, token, "ä") == ["/Äpfel", "/Äpfel/ärger.txt"])
            #expect(try await Self.paths(server, token, "Ä") == ["/Äpfel", "/Äpfel/ärger.txt"])
            #expect(try await Self.paths(server, token, "RE") == (reports + ["/misc/under_score.txt"]).sorted())
            #expect(try await Self.paths(server, token, "z") == [])
            // Wildcards of LIKE, GLOB and FTS are plain characters.
            #expect(try await Self.paths(server, token, "%") == ["/misc/100%_done.txt"])
            #expect(try await Self.paths(server, token, "_") == ["/misc/100%_done.txt", "/misc/under_score.txt"])
            #expect(try await Self.paths(server, token, "*") == ["/misc/star*.txt"])
            #expect(try await Self.paths(server, token, "%_d") == ["/misc/100%_done.txt"])
            #expect(try await Self.paths(server, token, "r_s") == ["/misc/under_score.txt"])
            #expect(try await Self.paths(server, token, "r*.") == ["/misc/star*.txt"])
            #expect(try await Self.paths(server, token, "0%") == ["/misc/100%_done.txt"])
            #expect(try await Self.paths(server, token, "%%%") == [])
            #expect(try await Self.paths(server, token, "___") == [])
            #expect(try await Self.paths(server, token, "***") == [])
            #expect(try await Self.paths(server, token, "\\") == [])
            #expect(try await Self.paths(server, token, "\\\\%") == [])
            #expect(try await Self.paths(server, token, "e\"d") == ["/misc/quote\"d.txt"])
            #expect(try await Self.paths(server, token, "\"") == ["/misc/quote\"d.txt"])
            #expect(try await Self.paths(server, token, "report OR plain") == [], "no FTS syntax")
            #expect(try await Self.paths(server, token, "rep*") == [])
            // Under a folder (its subtree, not itself), by path or uuid; by type.
            #expect(try await Self.paths(server, token, "report", ["path": "/docs/old"]) == ["/docs/old/REPORTS"])
            #expect(try await Self.paths(server, token, "docs", ["path": "/docs"]) == [])
            let old = try await server.post("/v1/files/get", ["path": "/docs/old"], token: token).result["uuid"] as? String
            #expect(try await Self.paths(server, token, "report", ["uuid": try #require(old)]) == ["/docs/old/REPORTS"])
            #expect(try await Self.paths(server, token, "report", ["type": 1]) == ["/docs/old/REPORTS"])
            #expect(try await Self.paths(server, token, "report", ["type": 0]) == reports.filter { $0 != "/docs/old/REPORTS" })
            #expect(try await Self.paths(server, token, "re", ["type": "1", "path": "/docs"]) == ["/docs/old/REPORTS"])
            let file = try await server.post("/v1/files/search", ["name": "report", "path": "/docs/report-final.txt"], token: token)
            #expect(file.status == 409 && file.code == "NOT_A_DIRECTORY", "\(file.text)")
            let missing = try await server.post("/v1/files/search", ["name": "report", "path": "/nowhere"], token: token)
            #expect(missing.status == 404 && missing.code == "FILE_NOT_FOUND", "\(missing.text)")
        }
    }

    @Test("bad queries: none, empty, blank, past 255 characters, 10 KB (refused at once); no token", arguments: TestBackend.allCases)
    func refusals(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("refused")
            try await Self.seed(server, token)
            let huge = String(repeating: "%_*\\x", count: 2_048)
            for body: [String: Any] in [[:], ["name": ""], ["name": " \u{3000} "], ["name": String(repeating: "a", count: 256)],
                                        ["name": huge], ["name": String(repeating: "报", count: 4_000)]] {
                let started = ContinuousClock.now
                let reply = try await server.post("/v1/files/search", body, token: token)
                #expect(reply.status == 400 && reply.code == "INVALID_FIELD", "\(reply.text)")
                // Refused before any search runs; the bound only catches a hang (a loaded CI run took 2.3 s).
                #expect(ContinuousClock.now - started < .seconds(10))
            }
            #expect(try await Self.paths(server, token, String(repeating: "a", count: 255)) == [])
            let pageSize = try await server.post("/v1/files/search", ["name": "report", "pageSize": 1000], token: token)
            #expect(pageSize.status == 400 && pageSize.code == "INVALID_FIELD")
            let anonymous = try await server.post("/v1/files/search", ["name": "report"])
            #expect(anonymous.status == 401, "\(anonymous.text)")
        }
    }

    @Test("renames, moves, removals, the bin and restores show at once", arguments: TestBackend.allCases)
    func writesShowAtOnce(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("changer")
            try await Self.seed(server, token)
            func ok(_ uri: String, _ body: [String: Any]) async throws {
                let reply = try await server.post(uri, body, token: token)
                #expect(reply.status == 200 && reply.success == true, "\(uri) \(body): \(reply.text)")
            }
            try await ok("/v1/files/rename", ["path": "/docs/report-final.txt", "name": "Summary.txt"])
            #expect(try await Self.paths(server, token, "report-f") == [])
            #expect(try await Self.paths(server, token, "summ") == ["/docs/Summary.txt"])
            #expect(try await Self.paths(server, token, "su") == ["/docs/Summary.txt"])
            try await ok("/v1/files/move", ["path": "/docs/old", "destPath": "/misc"])
            #expect(try await Self.paths(server, token, "reports") == ["/misc/old/REPORTS"])
            #expect(try await Self.paths(server, token, "reports", ["path": "/docs"]) == [])
            #expect(try await Self.paths(server, token, "reports", ["path": "/misc"]) == ["/misc/old/REPORTS"])
            try await ok("/v1/files/copy", ["path": "/misc/old", "destPath": "/docs"])
            #expect(try await Self.paths(server, token, "reports") == ["/docs/old/REPORTS", "/misc/old/REPORTS"])
            // Binned: gone from the tree (the folder and what is in it), found in the bin (its items).
            try await ok("/v1/files/remove", ["path": "/misc", "recycle": true])
            #expect(try await Self.paths(server, token, "reports") == ["/docs/old/REPORTS"])
            #expect(try await Self.paths(server, token, "done") == [])
            #expect(try await Self.paths(server, token, "misc", ["recycle": true]) == ["/misc"])
            #expect(try await Self.paths(server, token, "mi", ["recycle": true]) == ["/misc"])
            #expect(try await Self.paths(server, token, "misc") == [])
            let bin = try await Self.found(server, token, ["name": "MISC", "recycle": 1])
            let item = try #require((bin.reply.result["list"] as? [[String: Any]])?.first)
            #expect(item["recycledAt"] != nil)
            try await ok("/v1/files/recycle", ["uuid": try #require(item["uuid"] as? String)])
            #expect(try await Self.paths(server, token, "reports") == ["/docs/old/REPORTS", "/misc/old/REPORTS"])
            #expect(try await Self.paths(server, token, "misc", ["recycle": true]) == [])
            // Deleted for good.
            try await ok("/v1/files/remove", ["path": "/misc/old"])
            #expect(try await Self.paths(server, token, "reports") == ["/docs/old/REPORTS"])
            try await ok("/v1/files/remove", ["path": "/docs", "recycle": true])
            try await ok("/v1/files/emptyBin", [:])
            #expect(try await Self.paths(server, token, "report") == [])
            #expect(try await Self.paths(server, token, "report", ["recycle": true]) == [])
            #expect(try await Self.paths(server, token, "done") == ["/misc/100%_done.txt"])
            try await FilesTests().fsckClean(server)
            if backend == .sqlite {
                // The index and the table agree, row for row.
                try await server.write { db in _ = try await db.run("INSERT INTO node_names (node_names, rank) VALUES ('integrity-check', 1)") }
            }
        }
    }

    @Test("another user's nodes are never found, not even by their folder's path or uuid", arguments: TestBackend.allCases)
    func ownTreeOnly(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, alice) = try await server.user("alice")
            let (_, bob) = try await server.user("bob")
            try await Self.seed(server, alice)
            _ = try await server.post("/v1/files/createDirectory", ["path": "/bob-secret-report"], token: bob)
            _ = try await server.post("/v1/files/createDirectory", ["path": "/docs"], token: bob)
            let secret = try #require(try await server.post("/v1/files/get", ["path": "/bob-secret-report"], token: bob).result["uuid"] as? String)
            let alicesDocs = try #require(try await server.post("/v1/files/get", ["path": "/docs"], token: alice).result["uuid"] as? String)
            #expect(try await Self.paths(server, alice, "secret") == [])
            #expect(try await Self.paths(server, alice, "bo") == [])
            #expect(try await Self.paths(server, bob, "report") == ["/bob-secret-report"])
            #expect(try await Self.paths(server, bob, "re") == ["/bob-secret-report"])
            #expect(try await Self.paths(server, bob, "report", ["path": "/docs"]) == [], "bob's own /docs")
            for (token, uuid) in [(alice, secret), (bob, alicesDocs)] {
                let reply = try await server.post("/v1/files/search", ["name": "report", "uuid": uuid], token: token)
                #expect(reply.status == 404 && reply.code == "FILE_NOT_FOUND", "\(reply.text)")
            }
            _ = try await server.post("/v1/files/remove", ["path": "/bob-secret-report", "recycle": true], token: bob)
            #expect(try await Self.paths(server, alice, "secret", ["recycle": true]) == [])
            #expect(try await Self.paths(server, bob, "secret", ["recycle": true]) == ["/bob-secret-report"])
        }
    }

    @Test("paging: totalCount, totalPage, pages that neither overlap nor skip, in the listing's orders", arguments: TestBackend.allCases)
    func paging(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("pager")
            let names = (1...23).map { "Item \($0)" } + ["other"]
            for name in names {
                let made = try await server.post("/v1/files/createDirectory", ["path": "/p/\(name)"], token: token)
                #expect(made.status == 200, "\(made.text)")
            }
            let natural = (1...23).map { "Item \($0)" }
            for query in ["item", "it"] {
                var seen: [String] = []
                for page in 1...4 {
                    let reply = try await server.post(
                        "/v1/files/search", ["name": query, "page": page, "pageSize": 10, "orderBy": 2], token: token
                    )
                    #expect(reply.status == 200, "\(reply.text)")
                    #expect(reply.result["totalCount"] as? Int == 23)
                    #expect(reply.result["totalPage"] as? Int == 3)
                    #expect(reply.result["page"] as? Int == page)
                    #expect(reply.result["pageSize"] as? Int == 10)
                    #expect(reply.result["info"] == nil)
                    let list = (reply.result["list"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                    #expect(list.count == [10, 10, 3, 0][page - 1])
                    seen += list
                }
                #expect(seen == natural, "\(query)")
                let descending = try await server.post("/v1/files/search", ["name": query, "orderBy": 3, "pageSize": 5], token: token)
                #expect((descending.result["list"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } == Array(natural.reversed().prefix(5)))
            }
            // Lenient as `page`: page ≤ 0 is the first, pageSize ≤ 0 the default 20.
            let lenient = try await server.post("/v1/files/search", ["name": "item", "page": "-3", "pageSize": 0, "orderBy": "2"], token: token)
            #expect(lenient.result["page"] as? Int == 1 && lenient.result["pageSize"] as? Int == 20)
            #expect((lenient.result["list"] as? [Any])?.count == 20)
        }
    }

    @Test("web app: type a query, see the results with their folders, open a folder and a file, show one in its folder, delete one; in Chinese also at phone width (headless Chromium)",
          arguments: ["en", "zh"])
    func webApp(language: String) async throws {
        guard WebAppListTests.browserAvailable() else { return }
        let workdir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: workdir) }
        WebAppListTests.clearArtifacts(["search-\(language)-"] + (language == "zh" ? ["search-phone-zh-"] : []))
        try await withServer { server in
            try await server.createUser("finder")
            let run = try await PythonClients.run(
                "webapp_search.py", ["http://127.0.0.1:\(server.port)", "finder", "secret", workdir, WebAppListTests.artifacts, language],
                timeout: 600, browser: true
            )
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr.suffix(6000))")
            let outcome = try WebAppListTests.outcome(run)
            #expect(outcome["ok"] as? Bool == true)
            // In Chinese the same session goes on at phone width: the search box, the results, the viewer and "Show in folder" there.
            if language == "zh" { #expect(outcome["phone"] as? String == "checked", "\(outcome)") }
        }
        for shot in ["01-results", "02-revealed", "03-empty"] {
            #expect(FileManager.default.fileExists(atPath: WebAppListTests.artifacts + "/search-\(language)-\(shot).png"), "screenshot \(shot)")
        }
        if language == "zh" {
            for shot in ["search-phone-zh-01-results.png", "search-phone-zh-02-revealed.png"] {
                #expect(FileManager.default.fileExists(atPath: WebAppListTests.artifacts + "/" + shot), "screenshot \(shot)")
            }
        }
    }
}
