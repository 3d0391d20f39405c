import Foundation
import Testing
@testable import PanCore
import WCS

/// Issue #24 §2.8: a name was checked alone, then joined to its parent path and
/// split again by Swift `Character`, where `/` + U+0301 is one character:
/// `{path:"/a", name:"\u{301}x"}` made a node named `a/́x` in the root,
/// unreachable by path, and fsck said clean. Zero-width characters let
/// `rep\u{200B}ort` stand beside `report`.
@Suite("Name rule and path splitting")
struct NameRuleTests {
    @Test("paths split on the scalar /, never on a Character that merely starts with it")
    func splitting() throws {
        #expect(PanPath.segments(of: "/a/\u{301}x") == ["a", "\u{301}x"])
        #expect(PanPath.segments(of: "a\\\u{301}b/c") == ["a", "\u{301}b", "c"])
        #expect(PanPath.parent(of: "/a/\u{301}x") == "/a")
        #expect(PanPath.lastSegment(of: "/a/\u{301}x") == "\u{301}x")
        #expect(PanPath.normalize("/a//\u{301}x/") == "/a/\u{301}x")
        #expect(PanPath.depth(of: "/a/\u{301}x") == 2)
        #expect(PanPath.rebase("/a/\u{301}x/y", from: "/a/\u{301}x", to: "/b") == "/b/y")
        #expect(PanPath.rebase("/a/\u{301}x", from: "/a", to: "/b") == "/b/\u{301}x")
        #expect(PanPath.rebase("/ab/x", from: "/a", to: "/b") == nil)
        #expect(throws: PanError.self) { try PanPath.validated("/a/\u{301}x") }
    }

    @Test("names refuse format characters (Cf) and edges that fuse with the separator; ordinary Unicode passes")
    func nameRule() throws {
        for bad in [
            "\u{301}x", "x\u{600}", "rep\u{200B}ort", "a\u{200D}b", "\u{FEFF}a", "a\u{2060}b", "a\u{00AD}b", "a\u{200E}b",
            "a\u{202E}b", "a/b", "a\\b", "a\u{7}b",
        ] {
            #expect(throws: PanError.self, "\(bad.unicodeScalars.map { String($0.value, radix: 16) })") { try PanPath.name(bad) }
        }
        #expect(try PanPath.name("café") == "café")
        #expect(try PanPath.name("cafe\u{301}") == "café")
        #expect(try PanPath.name("日本語 (1).txt") == "日本語 (1).txt")
        #expect(try PanPath.name("x\u{301}") == "x\u{301}".precomposedStringWithCanonicalMapping)
        #expect(try PanPath.name("👍🏽 done") == "👍🏽 done")
    }

    /// Every node of the user is addressable by its path, and no name holds a `/`.
    func expectAddressable(_ server: TestServer, _ token: String, _ user: User) async throws {
        #expect(try await server.count("nodes", "user_id = \(user.id) AND name LIKE '%/%'") == 0)
        let nodes = try await server.read { db in
            try await db.query("SELECT uuid, path FROM nodes WHERE user_id = ? AND parent_id IS NOT NULL", user.id)
                .map { (try $0.string("uuid"), try $0.string("path")) }
        }
        for (uuid, path) in nodes {
            let found = try await server.post("/v1/files/get", ["path": path], token: token)
            #expect(found.result["uuid"] as? String == uuid, "\(path): \(found.text)")
        }
    }

    @Test("the combining-mark attack through createDirectory and store/token: 400 INVALID_NAME, nothing in the root", arguments: TestBackend.allCases)
    func combiningMarkAttack(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("names1")
            let attacks: [(String, [String: Any])] = [
                ("/v1/files/createDirectory", ["path": "/a", "name": "\u{301}x"]),
                ("/v1/files/createDirectory", ["path": "/a/\u{301}x"]),
                ("/v1/store/token", ["path": "/a", "name": "\u{301}x"]),
                ("/v1/store/token", ["path": "/a/\u{301}x"]),
                ("/v1/store/token", ["path": "/a/\u{301}x/f.txt"]),
            ]
            for (route, body) in attacks {
                let reply = try await server.post(route, body, token: token)
                #expect(reply.status == 400, "\(route) \(body): \(reply.text)")
                #expect(reply.code == "INVALID_NAME", "\(route) \(body): \(reply.text)")
            }
            // Nothing was made in the root but what a request named (`/a` at most).
            let names = try await server.read { db in
                try await db.query("SELECT name FROM nodes WHERE user_id = ? AND parent_id IS NOT NULL", user.id).map { try $0.string("name") }
            }
            #expect(names.allSatisfy { $0 == "a" }, "\(names)")
            // Through rename and move destinations too.
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/a", "name": "ok"], token: token).status == 200)
            let rename = try await server.post("/v1/files/rename", ["path": "/a/ok", "name": "\u{301}x"], token: token)
            #expect(rename.code == "INVALID_NAME", "\(rename.text)")
            let move = try await server.post("/v1/files/move", ["path": "/a/ok", "destPath": "/a/\u{301}x"], token: token)
            #expect(move.code == "INVALID_NAME", "\(move.text)")
            try await expectAddressable(server, token, user)
        }
    }

    @Test("zero-width and other format characters are 400 INVALID_NAME in every way a name arrives")
    func formatCharacters() async throws {
        try await withServer { server in
            let (user, token) = try await server.user("names2")
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/", "name": "report"], token: token).status == 200)
            // (A leading U+FEFF never arrives: Foundation's JSON parser drops it as a byte order mark.)
            for name in ["rep\u{200B}ort", "rep\u{200D}ort", "rep\u{FEFF}ort", "rep\u{2060}ort", "report\u{200B}"] {
                let mkdir = try await server.post("/v1/files/createDirectory", ["path": "/", "name": name], token: token)
                #expect(mkdir.status == 400, "\(name.unicodeScalars.map { String($0.value, radix: 16) }): \(mkdir.text)")
                #expect(mkdir.code == "INVALID_NAME")
                let upload = try await server.post("/v1/store/token", ["path": "/", "name": name + ".txt"], token: token)
                #expect(upload.code == "INVALID_NAME", "\(upload.text)")
                let rename = try await server.post("/v1/files/rename", ["path": "/report", "name": name], token: token)
                #expect(rename.code == "INVALID_NAME", "\(rename.text)")
            }
            // What ordinary names look like still works.
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/", "name": "Relatório é 日本 👍🏽"], token: token).status == 200)
            try await expectAddressable(server, token, user)
        }
    }

    @Test("fsck reports every stored name the rule refuses (a hand-inserted / via a combining mark, a zero-width space, NFD)")
    func fsckNames() async throws {
        try await withServer { server in
            let (user, token) = try await server.user("names3")
            for name in ["one", "two", "three"] {
                #expect(try await server.post("/v1/files/createDirectory", ["path": "/", "name": name], token: token).status == 200)
            }
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
            // What the old splitting stored, and what the old rule let in; paths and sort keys kept consistent so only the name check fires.
            for (old, bad) in [("one", "a/\u{301}x"), ("two", "rep\u{200B}ort"), ("three", "cafe\u{301}")] {
                try await server.write { db in
                    try await db.run(
                        "UPDATE nodes SET name = ?, name_key = ?, path = ?, path_id = ? WHERE user_id = ? AND name = ?",
                        bad, NameSortKey(bad), "/" + bad, PanPath.pathId("/" + bad), user.id, old
                    )
                }
            }
            let findings = try await server.services.store.fsck(repair: false).findings
            #expect(findings.map(\.check) == ["name", "name", "name"], "\(findings)")
            #expect(findings.contains { $0.detail.contains("NFC") })
            #expect(findings.contains { $0.detail.contains("format") })
            #expect(findings.contains { $0.detail.contains("/") })
        }
    }
}
