import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanAPI
@testable import PanHTTPSupport
@testable import PanServer
import WCS

/// Issue #27: attacks on share links (docs/api.md §8) — climbing out of a folder share,
/// other users' nodes, what public replies show, hostile ids, pages and grants, and the CLI.
/// Serialized: half the cases run on PostgreSQL, and in one full run with these cases
/// all at once the shared test cluster (300 connections) refused a CREATE DATABASE of
/// another suite ("too many clients"). One at a time, the suite takes ~40 s.
@Suite("Share links: attacks", .serialized)
struct ShareSecurityTests {
    typealias Object = [String: Any]
    typealias S = ShareClient

    /// Alice shares /Xparent9/shared (a.txt, sub/b.txt, sub/binned.txt in the bin); beside it
    /// /Xparent9/sibling/secret.txt; Bob has /bobsecret.txt and a share of his own.
    struct World {
        let server: TestServer
        let alice: User, aliceToken: String
        let bobToken: String
        let shareId: String, grant: String
        let inside: ShareClient.Node, deep: ShareClient.Node, binned: ShareClient.Node
        let sibling: ShareClient.Node, parentUUID: String, rootUUID: String
        let bobFile: ShareClient.Node, bobShareId: String, bobAddress: String
        let aAddress: String, deepAddress: String
        static let secret = Data("SIBLING-SECRET-BYTES".utf8)
        static let bobSecret = Data("BOB-SECRET-BYTES".utf8)
    }

    static func world(_ server: TestServer) async throws -> World {
        let alice = try await server.createUser("alicelogin7q", phone: "13912345678")
        let aliceToken = try await server.login("alicelogin7q")
        let (_, bobToken) = try await server.user("boblogin8r")
        let inside = try await S.put(server, aliceToken, Data("inside a".utf8), name: "a.txt", path: "/Xparent9/shared")
        let deep = try await S.put(server, aliceToken, Data("inside deep b".utf8), name: "b.txt", path: "/Xparent9/shared/sub")
        let binned = try await S.put(server, aliceToken, Data("BINNED-BYTES".utf8), name: "binned.txt", path: "/Xparent9/shared/sub")
        let sibling = try await S.put(server, aliceToken, World.secret, name: "secret.txt", path: "/Xparent9/sibling")
        let parent = try await S.node(server, aliceToken, "/Xparent9")
        let root = try await server.post("/v1/files/get", ["path": "/"], token: aliceToken)
        let bobFile = try await S.put(server, bobToken, World.bobSecret, name: "bobsecret.txt")

        let shareId = S.id(try await S.create(server, aliceToken, ["path": "/Xparent9/shared"]))
        let opened = try await S.opened(server, shareId)
        let grant = try #require(opened["grant"] as? String)
        let top = try await S.page(server, shareId, grant: grant, path: "/")
        let aAddress = try #require(S.entries(top)["a.txt"]?["downloadAddress"] as? String, "\(top.text)")
        let sub = try await S.page(server, shareId, grant: grant, path: "/sub")
        let deepAddress = try #require(S.entries(sub)["b.txt"]?["downloadAddress"] as? String, "\(sub.text)")
        let binnedAddress = try #require(S.entries(sub)["binned.txt"]?["downloadAddress"] as? String)
        #expect(try await server.post("/v1/files/remove", ["path": "/Xparent9/shared/sub/binned.txt", "recycle": 1], token: aliceToken).status == 200)
        S.expectRefused(try await S.get(server, binnedAddress), 404, "FILE_NOT_FOUND", "a binned file's link in a live folder share")

        let bobShareId = S.id(try await S.create(server, bobToken, ["path": "/bobsecret.txt"]))
        let bobAddress = try #require(try await S.opened(server, bobShareId)["downloadAddress"] as? String)
        return World(
            server: server, alice: alice, aliceToken: aliceToken, bobToken: bobToken, shareId: shareId, grant: grant,
            inside: inside, deep: deep, binned: binned, sibling: sibling, parentUUID: parent.uuid,
            rootUUID: try #require(root.result["uuid"] as? String), bobFile: bobFile, bobShareId: bobShareId, bobAddress: bobAddress,
            aAddress: aAddress, deepAddress: deepAddress
        )
    }

    // MARK: 6. Staying inside the share

    @Test("a folder share cannot reach .., a sibling, the parent or another user's node by any path", arguments: TestBackend.allCases)
    func paths(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let w = try await Self.world(server)
            let rootNames: Set<String> = ["a.txt", "sub"]
            // Paths that name the shared folder itself (empty segments dropped, `\` a separator).
            for path in ["//", "/", "\\", "///", " / "] {
                let reply = try await S.page(server, w.shareId, grant: w.grant, path: path)
                #expect(reply.status == 200 && Set(S.entries(reply).keys) == rootNames, "path \(path): \(reply.status) \(reply.text.prefix(300))")
            }
            // Paths that must be refused, whatever the reason (400 by the name rule, 404 not in the share).
            let hostile = [
                "..", "/..", "/../", "/../x", "/../sibling", "/../sibling/secret.txt", "../../", "/sub/../..", "/sub/../../sibling",
                "%2e%2e", "/%2e%2e/sibling", "%2e%2e%2fsibling", "..%2fsibling", "\\..\\sibling", "\\..\\..", "sub\\..\\..\\sibling",
                "/./../sibling", "/sibling", "/Xparent9", "/Xparent9/sibling", "/Xparent9/shared", "/Xparent9/sibling/secret.txt",
                "/bobsecret.txt", "//../sibling", "/..\u{0}/sibling", "/\u{2024}\u{2024}/sibling", "/．．/sibling", "/sub/binned.txt",
                "/sub/binned.txt/..", String(repeating: "../", count: 2_000),
            ]
            for path in hostile {
                let reply = try await S.page(server, w.shareId, grant: w.grant, path: path)
                #expect([400, 404].contains(reply.status), "path \(path.prefix(40)): \(reply.status) \(reply.text.prefix(300))")
                // (A message may echo the path asked for: only what was not asked for is a leak.)
                for leak in ["secret.txt", "sibling", "bobsecret", "Xparent9", "shared", "binned"] where !path.contains(leak) {
                    #expect(!reply.text.contains(leak), "path \(path.prefix(40)) shows \(leak): \(reply.text.prefix(300))")
                }
            }
            // Non-string paths: refused, never a listing of something else.
            for path: Any in [123, ["/.."], ["a": 1], true] {
                let reply = try await S.page(server, w.shareId, grant: w.grant, path: path)
                #expect([400, 404].contains(reply.status) || (reply.status == 200 && Set(S.entries(reply).keys) == rootNames), "path \(path): \(reply.status) \(reply.text.prefix(200))")
                #expect(!reply.text.contains("secret"))
            }
            // A grant is for its share only: Alice's grant on Bob's share, and the reverse.
            let bobGrant = try #require(try await S.opened(server, w.bobShareId)["grant"] as? String)
            S.expectRefused(try await S.page(server, w.shareId, grant: bobGrant, path: "/"), 403, "SHARE_GRANT_INVALID", "Bob's grant on Alice's share")
            let bobWithAlice = try await S.page(server, w.bobShareId, grant: w.grant, path: "/")
            #expect([400, 403, 409].contains(bobWithAlice.status) && !bobWithAlice.text.contains("bobsecret"), "\(bobWithAlice.text)")
            // A file share has nothing to browse.
            let onFile = try await S.page(server, w.bobShareId, grant: bobGrant, path: "/")
            #expect(onFile.status >= 400 && onFile.status < 500 && !onFile.text.contains("bobsecret"), "\(onFile.status) \(onFile.text)")
        }
    }

    @Test("a download link cannot be pointed at another node: a sibling, the parent, the root, another user's file, a binned file, another share's id", arguments: TestBackend.allCases)
    func links(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let w = try await Self.world(server)
            #expect(try await S.get(server, w.aAddress).body == Data("inside a".utf8))
            #expect(try await S.get(server, w.deepAddress).body == Data("inside deep b".utf8))

            for (what, uuid) in [
                ("sibling", w.sibling.uuid), ("parent", w.parentUUID), ("root", w.rootUUID), ("Bob's file", w.bobFile.uuid),
                ("binned in the share", w.binned.uuid),
                ("not hex", "../../../../etc/passwd"), ("too long", String(repeating: "a", count: 1_000)), ("empty", ""),
            ] {
                let reply = try await server.request(.get, S.swapUUID(w.aAddress, to: uuid))
                #expect([400, 403, 404].contains(reply.status), "\(what): \(reply.status) \(reply.text.prefix(200))")
                #expect(reply.body != World.secret && reply.body != World.bobSecret && reply.body != Data("BINNED-BYTES".utf8), "\(what) served")
            }
            // Another file in the share: refused (the uuid is signed), or at most that file's own bytes.
            let other = try await server.request(.get, S.swapUUID(w.aAddress, to: w.deep.uuid))
            #expect([403, 404].contains(other.status) || (other.status == 200 && other.body == Data("inside deep b".utf8)), "\(other.status)")
            // Share ids swapped: Alice's link under Bob's share, Bob's link under Alice's.
            for (what, url) in [
                ("Alice's link under Bob's share", S.swapShare(w.aAddress, to: w.bobShareId)),
                ("Bob's link under Alice's share", S.swapShare(w.bobAddress, to: w.shareId)),
            ] {
                let reply = try await server.request(.get, url)
                #expect([403, 404].contains(reply.status), "\(what): \(reply.status) \(reply.text.prefix(200))")
                #expect(reply.body != World.bobSecret && reply.body != Data("inside a".utf8))
            }
            // Tampered parameters.
            let query = S.query(w.aAddress)
            #expect(query["s"] != nil && query["e"] != nil, "\(w.aAddress)")
            for (name, value) in [("s", "AAAA"), ("s", ""), ("e", String(Millis.now() / 1000 + 86_400 * 365)), ("t", "x")] {
                let reply = try await server.request(.get, S.withQuery(w.aAddress, name, value))
                #expect(reply.status == 403, "\(name)=\(value): \(reply.status) \(reply.text.prefix(200))")
            }
            let bare = String(S.relative(w.aAddress).prefix { $0 != "?" })
            S.expectRefused(try await server.request(.get, bare), 403, "LINK_INVALID", "no parameters")

            // A file moved out of the shared folder: its link ends (it must be inside the share on every request).
            #expect(try await server.post("/v1/files/move", ["path": "/Xparent9/shared/a.txt", "destPath": "/Xparent9/sibling"], token: w.aliceToken).status == 200)
            S.expectRefused(try await S.get(server, w.aAddress), 404, "FILE_NOT_FOUND", "a file moved out of the share")
            #expect(try await S.get(server, w.deepAddress).status == 200)
            // And back in: served again.
            #expect(try await server.post("/v1/files/move", ["path": "/Xparent9/sibling/a.txt", "destPath": "/Xparent9/shared/sub"], token: w.aliceToken).status == 200)
            #expect(try await S.get(server, w.aAddress).status == 200)
        }
    }

    @Test("addresses signed with the server's own key (as if the key leaked, or a signing bug) still cannot leave the share; expired grants and addresses are refused", arguments: TestBackend.allCases)
    func signedButOutside(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let w = try await Self.world(server)
            let links = ShareLinks(publicBaseURL: server.configuration.effectivePublicBaseURL, key: server.services.downloadKey)
            let share = try #require(try await server.services.store.share(id: w.shareId))
            let later = Millis.now() + 600_000
            func signed(_ userId: Int64, _ uuid: String, mode: ShareLinks.Mode = .download, until: Int64 = later) async throws -> String {
                let node = try await server.services.store.node(userId: userId, at: NodeAddress(uuid: uuid, path: nil)).node
                return links.fileURL(share: share, node: node, mode: mode, expiresAt: until)
            }
            // A control: a correctly signed address of a file in the share works.
            #expect(try await S.get(server, try await signed(w.alice.id, w.deep.uuid)).body == Data("inside deep b".utf8))
            // Outside the share, though signed: 404 FILE_NOT_FOUND, never the bytes.
            for (what, uuid) in [("sibling", w.sibling.uuid), ("parent", w.parentUUID), ("root", w.rootUUID)] {
                let reply = try await S.get(server, try await signed(w.alice.id, uuid))
                S.expectRefused(reply, 404, "FILE_NOT_FOUND", "signed address of the \(what)")
                #expect(reply.body != World.secret)
            }
            let bob = try #require(try await server.services.store.share(id: w.bobShareId))
            let bobNode = try await server.services.store.node(userId: bob.userId, at: NodeAddress(uuid: w.bobFile.uuid, path: nil)).node
            let crossed = try await S.get(server, links.fileURL(share: share, node: bobNode, mode: .download, expiresAt: later))
            S.expectRefused(crossed, 404, "FILE_NOT_FOUND", "signed address of Bob's file under Alice's share")
            #expect(crossed.body != World.bobSecret)

            // Expired: an address past `e` → 410 LINK_EXPIRED; a grant past its time → 403 SHARE_GRANT_INVALID.
            let past = Millis.now() - 1_000
            S.expectRefused(try await S.get(server, try await signed(w.alice.id, w.deep.uuid, until: past)), 410, "LINK_EXPIRED", "address past e")
            let oldGrant = links.grant(for: share, now: Millis.now() - 3_700_000).token
            S.expectRefused(try await S.page(server, w.shareId, grant: oldGrant, path: "/"), 403, "SHARE_GRANT_INVALID", "grant past its hour")
            // A grant minted for another share's id does not open this one.
            let bobGrant = links.grant(for: bob).token
            S.expectRefused(try await S.page(server, w.shareId, grant: bobGrant, path: "/"), 403, "SHARE_GRANT_INVALID", "Bob's share's grant")
        }
    }

    @Test("binning a folder inside a shared folder ends the links of the files below it (and their listing); restoring brings them back", arguments: TestBackend.allCases)
    func binnedInside(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let w = try await Self.world(server)
            #expect(try await S.get(server, w.deepAddress).status == 200)
            #expect(try await server.post("/v1/files/remove", ["path": "/Xparent9/shared/sub", "recycle": 1], token: w.aliceToken).status == 200)
            S.expectRefused(try await S.get(server, w.deepAddress), 404, "FILE_NOT_FOUND", "a file below a binned folder in the share")
            S.expectRefused(try await S.page(server, w.shareId, grant: w.grant, path: "/sub"), 404, "FILE_NOT_FOUND", "listing a binned folder in the share")
            let top = try await S.page(server, w.shareId, grant: w.grant, path: "/")
            #expect(Set(S.entries(top).keys) == ["a.txt"], "\(top.text)")
            // The share itself still answers (its own node is live).
            _ = try await S.opened(server, w.shareId)

            let bin = try await server.post("/v1/files/page", ["recycle": 1], token: w.aliceToken)
            let item = try #require((bin.result["list"] as? [Object])?.first { $0["name"] as? String == "sub" }?["uuid"] as? String, "\(bin.text)")
            #expect(try await server.post("/v1/files/recycle", ["uuid": item, "recycle": 0], token: w.aliceToken).status == 200)
            #expect(try await S.get(server, w.deepAddress).body == Data("inside deep b".utf8))
            // The file binned on its own before stays out.
            let sub = try await S.page(server, w.shareId, grant: w.grant, path: "/sub")
            #expect(Set(S.entries(sub).keys) == ["b.txt"], "\(sub.text)")
        }
    }

    @Test("display name: trimmed, 1–64 characters, no control or format characters, \"\" clears; shown as the owner, as JSON text")
    func displayName() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("tara")
            _ = try await S.put(server, token, Data("t".utf8), name: "t.txt")
            let id = S.id(try await S.create(server, token, ["path": "/t.txt"]))
            for bad: Any in [String(repeating: "n", count: 65), "a\u{0}b", "a\nb", "\u{202E}evil", "zero\u{200B}width", true, ["x"]] {
                let reply = try await server.post("/v1/user/displayName", ["displayName": bad], token: token)
                S.expectRefused(reply, 400, "INVALID_FIELD", "displayName \(String(describing: bad).prefix(20))")
            }
            #expect(try await server.post("/v1/user/displayName", [:], token: token).status == 400)
            #expect(try await server.post("/v1/user/displayName", ["displayName": "x"]).status == 401)
            let set = try await server.post("/v1/user/displayName", ["displayName": "  <b>Tara</b> \"T\"  "], token: token)
            #expect(set.status == 200 && set.result["displayName"] as? String == "<b>Tara</b> \"T\"", "\(set.text)")
            #expect(((try await S.opened(server, id))["share"] as? Object)?["owner"] as? String == "<b>Tara</b> \"T\"")
            let info = try await server.post("/v1/user/info", token: token)
            #expect(info.result["displayName"] as? String == "<b>Tara</b> \"T\"", "\(info.text)")
            #expect(try await server.post("/v1/user/displayName", ["displayName": String(repeating: "名", count: 64)], token: token).status == 200)
            let cleared = try await server.post("/v1/user/displayName", ["displayName": ""], token: token)
            #expect(cleared.status == 200 && cleared.result["displayName"] is NSNull, "\(cleared.text)")
            #expect(((try await S.opened(server, id))["share"] as? Object)?["owner"] is NSNull)
        }
    }

    // MARK: 7. What a public reply never shows

    @Test("no public reply shows the content hash, the storage key, the owner's login, phone or id, or nodes and paths outside the share", arguments: TestBackend.allCases)
    func noLeaks(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let w = try await Self.world(server)
            let fileShare = S.id(try await S.create(server, w.aliceToken, ["path": "/Xparent9/shared/a.txt"]))
            let locked = S.id(try await S.create(server, w.aliceToken, ["path": "/Xparent9/shared", "password": "pw"]))
            var forbidden = [
                "alicelogin7q", "13912345678", w.parentUUID, w.rootUUID, w.sibling.uuid, w.bobFile.uuid, "Xparent9", "sibling", "storeId", "pathId",
            ]
            for node in [w.inside, w.deep, w.sibling] {
                forbidden.append(try #require(node.storeId, "files/get has storeId"))
                if let key = node.objectKey { forbidden.append(key); forbidden.append(Base64URL.encode(key)) }
            }
            #expect(w.inside.objectKey != nil, "the owner's /dl/ address gave the storage key")
            forbidden.append("pbkdf2")  // the locked share's password hash
            let forbiddenKeys: Set<String> = ["userId", "user_id", "uid", "storeId", "hash", "objectKey", "key", "pathId", "parent", "lft", "rgt", "phone", "login", "userName"]

            var replies: [(String, TestServer.Reply)] = []
            replies.append(("open folder", try await S.open(server, w.shareId)))
            replies.append(("open file", try await S.open(server, fileShare)))
            replies.append(("open locked", try await S.open(server, locked)))
            replies.append(("open locked wrong", try await S.open(server, locked, password: "no")))
            replies.append(("open unknown", try await S.open(server, "AAAAAAAAAAAAAAAAAAAAAA")))
            replies.append(("page /", try await S.page(server, w.shareId, grant: w.grant, path: "/")))
            replies.append(("page /sub", try await S.page(server, w.shareId, grant: w.grant, path: "/sub")))
            replies.append(("page bad grant", try await S.page(server, w.shareId, grant: "x", path: "/")))
            replies.append(("page missing", try await S.page(server, w.shareId, grant: w.grant, path: "/nope")))
            replies.append(("public page", try await server.request(.get, "/s/" + w.shareId)))
            let fileAddress = try #require(try await S.opened(server, fileShare)["downloadAddress"] as? String)
            let download = try await S.get(server, fileAddress)
            #expect(download.status == 200)
            replies.append(("download range", try await S.get(server, fileAddress, range: "bytes=0-3")))
            replies.append(("download head", try await server.request(.head, S.relative(fileAddress))))
            replies.append(("download refused", try await server.request(.get, S.swapUUID(fileAddress, to: w.inside.uuid + "0"))))

            for (what, reply) in replies + [("download", download)] {
                let headers = reply.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
                let text = what == "download" ? "" : reply.text  // the bytes themselves are the file's
                for value in forbidden {
                    #expect(!text.contains(value), "\(what) shows \(value): \(text.prefix(400))")
                    #expect(!headers.contains(value), "\(what) headers show \(value): \(headers)")
                }
                if let object = try? JSONSerialization.jsonObject(with: reply.body) {
                    let keys = Self.keys(object)
                    #expect(keys.isDisjoint(with: forbiddenKeys), "\(what) has keys \(keys.intersection(forbiddenKeys))")
                }
            }
            // The links carry no owner id (as zip links' `u` does) and nothing from the store.
            for address in [fileAddress, w.aAddress, w.deepAddress] {
                for (name, value) in S.query(address) {
                    #expect(value != String(w.alice.id) || name == "e", "\(name)=\(value) is the owner's id: \(address)")
                    #expect(name != "u", "a user id parameter: \(address)")
                }
            }
            // The open reply's `owner` is null without a display name, then the display name.
            #expect(((try await S.opened(server, w.shareId))["share"] as? Object)?["owner"] is NSNull)
        }
    }

    static func keys(_ value: Any) -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set(object.keys)) { $0.formUnion(keys($1.value)) }
        }
        if let array = value as? [Any] { return array.reduce(into: Set()) { $0.formUnion(keys($1)) } }
        return []
    }

    // MARK: 8. Hostile input

    @Test("hostile ids of every length and alphabet → 404 SHARE_NOT_FOUND on open, never 500; /s/<id> pages and links never 500", arguments: TestBackend.allCases)
    func hostileIds(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("nina")
            _ = try await S.put(server, token, Data("n".utf8), name: "n.txt")
            let real = S.id(try await S.create(server, token, ["path": "/n.txt"]))
            var flipped = Array(real)
            flipped[10] = flipped[10] == "A" ? "B" : "A"
            let ids: [String] = [
                "", "a", String(repeating: "a", count: 21), String(repeating: "A", count: 22), String(repeating: "b", count: 23),
                String(repeating: "c", count: 64), String(repeating: "d", count: 65), String(repeating: "e", count: 10_000),
                String(real.dropLast()), real + "A", real.lowercased() == real ? real.uppercased() : real.lowercased(), String(flipped),
                real.replacingOccurrences(of: "-", with: "+") == real ? "+" + real.dropFirst() : real.replacingOccurrences(of: "-", with: "+"),
                "日本語の共有リンクです日本語の共有リンクで", "😀😀😀😀😀😀😀😀😀😀😀", "a/b", "/", "..", "../..", "%00", "a\u{0}b", "\u{0}",
                "%2e%2e", "' OR 1=1 --", "\" OR \"\"=\"", "*", "%", "_", "a b", "\u{202E}abc", "\\", "?x=1", "#", real + "\u{0}",
                real + "/f/x", real + "\t\u{0}",
            ]
            for id in ids {
                let reply = try await S.open(server, id)
                S.expectRefused(reply, 404, "SHARE_NOT_FOUND", "open id \(id.prefix(30)) (\(id.count) chars)")
            }
            // Not a string at all.
            for id: Any in [123, NSNull(), [real], ["id": real], true, 1e30] {
                let reply = try await server.post("/v1/share/open", ["id": id])
                #expect([400, 404].contains(reply.status), "id \(id): \(reply.status) \(reply.text.prefix(200))")
                #expect(reply.result["grant"] == nil)
            }
            let noId = try await server.post("/v1/share/open", [:])
            #expect([400, 404].contains(noId.status) && noId.result["grant"] == nil, "no id: \(noId.status)")
            #expect(try await server.post("/v1/share/open", raw: "{\"id\":").status == 400)
            // The real id still opens (none of the above broke anything).
            _ = try await S.opened(server, real)

            // The web page and link routes with hostile ids: never a 500.
            for id in ["a", String(repeating: "e", count: 10_000), "%00", "%2e%2e", "..%2f..%2f", "%E6%97%A5", "%FF%FE", real + "%00"] {
                let page = try await server.request(.get, "/s/" + id)
                #expect(page.status < 500, "GET /s/\(id.prefix(30)): \(page.status)")
                let link = try await server.request(.get, "/s/\(id)/f/\(String(repeating: "0", count: 32))?m=d&t=x&e=9999999999&s=AAAA")
                // (A path Hummingbird cannot decode falls through to the web app's page: HTML, not a file.)
                #expect(link.status < 500 && (link.status >= 400 || link.headers[.contentType]?.hasPrefix("text/html") == true), "link /s/\(id.prefix(30)): \(link.status)")
            }
        }
    }

    @Test("huge and negative page values, and bad grants (missing, empty, random, another share's, truncated, altered) → 403 SHARE_GRANT_INVALID", arguments: TestBackend.allCases)
    func hostilePagesAndGrants(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("omar")
            _ = try await S.put(server, token, Data("o".utf8), name: "o.txt", path: "/dir")
            _ = try await S.put(server, token, Data("p".utf8), name: "p.txt", path: "/other")
            let id = S.id(try await S.create(server, token, ["path": "/dir"]))
            let otherId = S.id(try await S.create(server, token, ["path": "/other"]))
            let grant = try #require(try await S.opened(server, id)["grant"] as? String)
            let otherGrant = try #require(try await S.opened(server, otherId)["grant"] as? String)
            #expect(grant != otherGrant)

            for (what, page): (String, Any) in [
                ("1e30", 1e30), ("\"999999999999999999999\"", "999999999999999999999"), ("Int64.max", Int64.max), ("-1", -1),
                ("\"abc\"", "abc"), ("1.5", 1.5), ("0", 0),
            ] {
                let reply = try await S.page(server, id, grant: grant, path: "/", ["page": page])
                #expect(reply.status == 200 || (reply.status == 400 && reply.code == "INVALID_FIELD"), "page \(what): \(reply.status) \(reply.text.prefix(200))")
                if reply.status == 200, what != "-1", what != "0", what != "1.5" {
                    #expect((reply.result["list"] as? [Any])?.isEmpty == true, "page \(what) is past the end: \(reply.text.prefix(200))")
                }
            }
            for size: Any in [-1, -1_000_000, 0, 1e30, 101, 1_000_000, "10"] {
                let reply = try await S.page(server, id, grant: grant, path: "/", ["pageSize": size])
                #expect(reply.status == 200 || (reply.status == 400 && reply.code == "INVALID_FIELD"), "pageSize \(size): \(reply.status) \(reply.text.prefix(200))")
                if reply.status == 200 {
                    let used = S.int(reply.result["pageSize"]) ?? -1
                    #expect(used >= 1 && used <= 100, "pageSize \(size) → \(used)")
                }
            }
            for order: Any in [-1, 999, "x", 1e30] {
                let reply = try await S.page(server, id, grant: grant, path: "/", ["orderBy": order])
                #expect(reply.status == 200 || reply.status == 400, "orderBy \(order): \(reply.status)")
            }

            var altered = Array(grant)
            let middle = altered.count / 2
            altered[middle] = altered[middle] == "A" ? "B" : "A"
            let bad: [(String, Any?)] = [
                ("missing", nil), ("empty", ""), ("random", Base64URL.encode(Data((0..<48).map { _ in UInt8.random(in: 0...255) }))),
                ("another share's", otherGrant), ("truncated", String(grant.dropLast(5))), ("one char altered", String(altered)),
                ("doubled", grant + grant), ("10,000 chars", String(repeating: "g", count: 10_000)), ("a number", 123), ("null", NSNull()),
            ]
            for (what, value) in bad {
                let reply = try await S.page(server, id, grant: value, path: "/")
                if value is Int || value is NSNull {
                    #expect([400, 403].contains(reply.status) && reply.result["list"] == nil, "grant \(what): \(reply.status) \(reply.text.prefix(200))")
                } else {
                    S.expectRefused(reply, 403, "SHARE_GRANT_INVALID", "grant \(what)")
                }
            }
            #expect(try await S.page(server, id, grant: grant, path: "/").status == 200)
        }
    }

    @Test("owner's API refusals: root, other users' nodes and share ids, bad field types and ranges → 400/404, nothing created or changed", arguments: TestBackend.allCases)
    func ownerRefusals(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("pia")
            let (_, bobToken) = try await server.user("quinn")
            let mine = try await S.put(server, token, Data("m".utf8), name: "m.txt")
            let bobs = try await S.put(server, bobToken, Data("b".utf8), name: "b.txt")
            let bobShare = S.id(try await S.create(server, bobToken, ["path": "/b.txt", "maxDownloads": 3]))

            // Without a session: 401.
            for route in ["create", "list", "update", "remove"] {
                let reply = try await server.post("/v1/share/\(route)", ["path": "/m.txt", "id": bobShare])
                #expect(reply.status == 401, "\(route) without a session: \(reply.status)")
            }
            // The root, by path or uuid or nothing: 400 INVALID_FIELD.
            let root = try await server.post("/v1/files/get", ["path": "/"], token: token)
            for body: Object in [["path": "/"], [:], ["path": ""], ["uuid": try #require(root.result["uuid"] as? String)]] {
                S.expectRefused(try await server.post("/v1/share/create", body, token: token), 400, "INVALID_FIELD", "create on the root \(body)")
            }
            // Someone else's node, or a missing one: 404 FILE_NOT_FOUND.
            S.expectRefused(try await server.post("/v1/share/create", ["uuid": bobs.uuid], token: token), 404, "FILE_NOT_FOUND", "Bob's uuid")
            S.expectRefused(try await server.post("/v1/share/create", ["path": "/b.txt"], token: token), 404, "FILE_NOT_FOUND", "a path only Bob has")
            // Bad field values: 400 INVALID_FIELD.
            let invalid: [(String, Any)] = [
                ("password", true), ("password", ["x"]), ("password", ["a": "b"]), ("password", String(repeating: "p", count: 129)),
                ("maxDownloads", -1), ("maxDownloads", 1_000_001), ("maxDownloads", "abc"), ("maxDownloads", 1e30),
                ("expiresIn", "abc"), ("expiresIn", -5), ("expiresIn", 11 * 365 * 86_400), ("expiresIn", 1e30),
                ("expiresAt", "tomorrow"), ("expiresAt", 1), ("expiresAt", -1),
            ]
            for (field, value) in invalid {
                let reply = try await server.post("/v1/share/create", ["path": "/m.txt", field: value], token: token)
                S.expectRefused(reply, 400, "INVALID_FIELD", "create \(field)=\(String(describing: value).prefix(30))")
            }
            #expect(try await S.list(server, token).isEmpty, "nothing created by the refusals")
            // The edges that are allowed.
            let edge = try await S.create(server, token, ["uuid": mine.uuid, "password": String(repeating: "p", count: 128), "maxDownloads": 1_000_000, "expiresIn": 10 * 365 * 86_400 - 60])
            #expect(edge["hasPassword"] as? Bool == true && S.int(edge["maxDownloads"]) == 1_000_000)
            for none: Any in [NSNull(), ""] {
                let free = try await S.create(server, token, ["path": "/m.txt", "password": none, "maxDownloads": 0])
                #expect(free["hasPassword"] as? Bool == false && free["maxDownloads"] is NSNull, "\(free)")
            }
            // Update refuses the same values and leaves the share as it was.
            for (field, value) in invalid {
                let reply = try await server.post("/v1/share/update", ["id": S.id(edge), field: value], token: token)
                S.expectRefused(reply, 400, "INVALID_FIELD", "update \(field)=\(String(describing: value).prefix(30))")
            }
            #expect(S.int(try await S.listed(server, token, S.id(edge))?["maxDownloads"]) == 1_000_000)

            // Bob's share id in Alice's update/remove: 404, and Bob's share unchanged and working.
            S.expectRefused(try await server.post("/v1/share/update", ["id": bobShare, "maxDownloads": 1], token: token), 404, "SHARE_NOT_FOUND", "update Bob's")
            S.expectRefused(try await server.post("/v1/share/update", ["id": bobShare, "password": "mine now"], token: token), 404, "SHARE_NOT_FOUND", "update Bob's password")
            S.expectRefused(try await server.post("/v1/share/remove", ["id": bobShare], token: token), 404, "SHARE_NOT_FOUND", "remove Bob's")
            S.expectRefused(try await server.post("/v1/share/remove", ["ids": [bobShare]], token: token), 404, "SHARE_NOT_FOUND", "remove [Bob's]")
            // A mix: only Alice's own is removed.
            let mixed = try await server.post("/v1/share/remove", ["ids": [bobShare, S.id(edge)]], token: token)
            #expect(mixed.status == 200 && S.int(mixed.result["removed"]) == 1, "\(mixed.text)")
            let bobListed = try #require(try await S.listed(server, bobToken, bobShare))
            #expect(S.int(bobListed["maxDownloads"]) == 3 && bobListed["hasPassword"] as? Bool == false, "\(bobListed)")
            _ = try await S.opened(server, bobShare)
            // Alice's list never shows Bob's shares, nor with his node named.
            #expect(!(try await S.list(server, token)).contains { S.id($0) == bobShare })
            let filtered = try await server.post("/v1/share/list", ["uuid": bobs.uuid], token: token)
            #expect(filtered.status == 404 || (filtered.result["list"] as? [Any])?.isEmpty == true, "\(filtered.text)")
            // Hostile ids in update/remove: 404, never 500.
            for id: Any in ["", String(repeating: "x", count: 10_000), "../..", 123, [String](), Array(repeating: "x", count: 1_001)] {
                let update = try await server.post("/v1/share/update", ["id": id, "maxDownloads": 1], token: token)
                #expect([400, 404].contains(update.status), "update id \(String(describing: id).prefix(30)): \(update.status)")
                let remove = try await server.post("/v1/share/remove", ["ids": id], token: token)
                #expect([400, 404].contains(remove.status), "remove ids \(String(describing: id).prefix(30)): \(remove.status)")
            }
            // list paging: lenient.
            for (page, size): (Any, Any) in [(-1, -1), (1e30, 0), ("999999999999999999999", 1_000)] {
                let reply = try await server.post("/v1/share/list", ["page": page, "pageSize": size], token: token)
                #expect(reply.status == 200 || (reply.status == 400 && reply.code == "INVALID_FIELD"), "list page \(page) size \(size): \(reply.status)")
            }
        }
    }

    @Test("at most 1,000 shares per user: the 1,001st → 409 TOO_MANY_SHARES; removing one makes room; other users unaffected", arguments: TestBackend.allCases)
    func tooManyShares(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("wes")
            let (_, otherToken) = try await server.user("xia")
            _ = try await S.put(server, token, Data("w".utf8), name: "w.txt")
            _ = try await S.put(server, otherToken, Data("x".utf8), name: "x.txt")
            let first = try await S.create(server, token, ["path": "/w.txt"])
            let firstId = S.id(first)
            let nodeId: Int64 = try #require(try await server.read { db in
                try await db.scalar("SELECT node_id FROM shares WHERE id = ?", firstId)
            })
            // 998 more straight into the table (1,000 API calls would take a debug build a while), then the 1,000th by the API.
            try await server.write { db in
                for index in 0..<998 {
                    _ = try await db.run(
                        "INSERT INTO shares (user_id, id, node_id, created_at) VALUES (?, ?, ?, ?)",
                        user.id, String(format: "bulk%018d", index), nodeId, Int64(1_000 + index)
                    )
                }
            }
            // 999 now: ten creates at once, exactly one gets the last place.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await server.post("/v1/share/create", ["path": "/w.txt"], token: token).status } }
                var all: [Int] = []
                for try await status in group { all.append(status) }
                return all
            }
            #expect(statuses.sorted() == [200] + Array(repeating: 409, count: 9), "\(statuses.sorted())")
            let refused = try await server.post("/v1/share/create", ["path": "/w.txt"], token: token)
            S.expectRefused(refused, 409, "TOO_MANY_SHARES", "the 1,001st share")
            #expect(try await server.count("shares", "user_id = \(user.id)") == 1_000)
            _ = try await S.create(server, otherToken, ["path": "/x.txt"])
            #expect(try await server.post("/v1/share/remove", ["id": S.id(first)], token: token).status == 200)
            _ = try await S.create(server, token, ["path": "/w.txt"])
            let page = try await server.post("/v1/share/list", ["page": 11, "pageSize": 100], token: token)
            #expect(S.int(page.result["total"]) == 1_000 && (page.result["list"] as? [Any])?.isEmpty == true, "\(page.text.prefix(200))")
        }
    }

    @Test("log lines: share opened and share download name the share; no log line holds a share password, right or wrong")
    func logs() async throws {
        let logs = LogCapture()
        try await withOpsServer(logs: logs) { server, _ in
            let (_, token) = try await server.user("yuri")
            _ = try await S.put(server, token, Data("y".utf8), name: "y.txt")
            let id = S.id(try await S.create(server, token, ["path": "/y.txt", "password": "Pa55-right-word"]))
            S.expectRefused(try await S.open(server, id, password: "Pa55-wrong-word"), 403, "SHARE_PASSWORD", "wrong")
            let address = try #require(try await S.opened(server, id, password: "Pa55-right-word")["downloadAddress"] as? String)
            #expect(try await S.get(server, address).status == 200)
            _ = try await server.post("/v1/share/update", ["id": id, "password": "Pa55-third-word"], token: token)
            let rendered = logs.records.map(\.rendered)
            #expect(rendered.contains { $0.contains("share opened") && $0.contains(id) }, "\(rendered.suffix(20))")
            #expect(rendered.contains { $0.contains("share download") && $0.contains(id) }, "\(rendered.suffix(20))")
            for word in ["Pa55-right-word", "Pa55-wrong-word", "Pa55-third-word"] {
                #expect(!rendered.contains { $0.contains(word) }, "a log line holds \(word)")
            }
            let scrape = try await Scrape.of(server)
            #expect(scrape.samples.filter { $0.name == "pan_share_downloads_total" }.reduce(0) { $0 + $1.value } == 1)
        }
    }

    // MARK: 9. The CLI

    @Test("pan share list [--user] shows shares; pan share remove ID ends one at once for the running server")
    func commandLine() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("rosa")
            let (_, otherToken) = try await server.user("sam")
            _ = try await S.put(server, token, Data("r".utf8), name: "r.txt", path: "/rosa-folder")
            _ = try await S.put(server, otherToken, Data("s".utf8), name: "s.txt")
            let id = S.id(try await S.create(server, token, ["path": "/rosa-folder/r.txt"]))
            _ = try await S.create(server, token, ["path": "/rosa-folder", "password": "sesame"])
            let otherId = S.id(try await S.create(server, otherToken, ["path": "/s.txt"]))
            let address = try #require(try await S.opened(server, id)["downloadAddress"] as? String)

            let all = try await CLITests.run(["share", "list", "--data-dir", server.dataDirectory])
            #expect(all.status == 0, "\(all)")
            #expect(all.stdout.contains(id) && all.stdout.contains(otherId), "\(all)")
            #expect(!all.stdout.contains("pbkdf2") && !all.stdout.contains("sesame"), "\(all)")
            let rosa = try await CLITests.run(["share", "list", "--user", "rosa", "--data-dir", server.dataDirectory])
            #expect(rosa.status == 0 && rosa.stdout.contains(id) && !rosa.stdout.contains(otherId), "\(rosa)")

            let remove = try await CLITests.run(["share", "remove", id, "--data-dir", server.dataDirectory])
            #expect(remove.status == 0, "\(remove)")
            S.expectRefused(try await S.get(server, address), 404, "SHARE_NOT_FOUND", "link after pan share remove")
            S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", "open after pan share remove")
            #expect(try await S.listed(server, token, id) == nil)
            _ = try await S.opened(server, otherId)

            let again = try await CLITests.run(["share", "remove", id, "--data-dir", server.dataDirectory])
            #expect(again.status != 0, "removing a removed share: \(again)")
        }
    }
}
