import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanHTTPSupport
import WCS

/// Issue #27: share links (docs/api.md §8) — the owner's API, the public API and the
/// download links, against a real server. Attacks on it are in ShareSecurityTests.
/// Serialized: half the cases run on PostgreSQL, and in one full run with these cases
/// all at once the shared test cluster (300 connections) refused a CREATE DATABASE of
/// another suite ("too many clients"). One at a time, the suite takes ~40 s.
@Suite("Share links", .serialized)
struct ShareTests {
    typealias Object = [String: Any]
    typealias S = ShareClient

    // MARK: 1. A file and a nested folder

    @Test("a file: create, list, open, download (bytes), Range 206, HEAD not counted, views and downloads counted", arguments: TestBackend.allCases)
    func fileShare(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("ada")
            let bytes = S.bytes(100_000)
            let file = try await S.put(server, token, bytes, name: "报告 2024.bin", path: "/docs")

            let share = try await S.create(server, token, ["path": "/docs/报告 2024.bin"])
            let id = S.id(share)
            #expect(id.count == 22 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }, "id \(id)")
            #expect(share["url"] as? String == server.configuration.effectivePublicBaseURL + "/s/" + id)
            #expect(share["uuid"] as? String == file.uuid)
            #expect(share["path"] as? String == "/docs/报告 2024.bin")
            #expect(share["name"] as? String == "报告 2024.bin")
            #expect(S.int(share["type"]) == 0)
            #expect(share["hasPassword"] as? Bool == false)
            #expect(share["expiresAt"] is NSNull && share["maxDownloads"] is NSNull && share["lastAccessAt"] is NSNull, "\(share)")
            #expect(share["allowDownload"] as? Bool == true)
            #expect(S.int(share["views"]) == 0 && S.int(share["downloads"]) == 0)
            #expect(share["state"] as? String == "active")
            // Two shares of one node have different ids; by uuid too.
            let second = try await S.create(server, token, ["uuid": file.uuid])
            #expect(S.id(second) != id && S.id(second).count == 22)

            // The public page of the web app.
            let html = try await server.request(.get, "/s/" + id)
            #expect(html.status == 200 && html.headers[.contentType]?.hasPrefix("text/html") == true, "\(html.status)")

            let opened = try await S.opened(server, id)
            let info = try #require(opened["share"] as? Object, "\(opened)")
            #expect(info["id"] as? String == id)
            #expect(info["name"] as? String == "报告 2024.bin")
            #expect(S.int(info["type"]) == 0)
            #expect(S.int(info["size"]) == bytes.count)
            #expect(info["owner"] is NSNull, "no display name set: \(info)")
            #expect(info["hasPassword"] as? Bool == false && info["allowDownload"] as? Bool == true)
            #expect(info["downloadsLeft"] is NSNull && info["expiresAt"] is NSNull)
            let grantExpiresAt = try #require((opened["grantExpiresAt"] as? NSNumber)?.int64Value)
            #expect(grantExpiresAt > Millis.now() + 3_000_000 && grantExpiresAt <= Millis.now() + 3_700_000, "a grant lasts 1 h")
            let address = try #require(opened["downloadAddress"] as? String, "\(opened)")
            #expect(address.hasPrefix(server.configuration.effectivePublicBaseURL + "/s/\(id)/f/\(file.uuid)?"), "\(address)")

            let full = try await S.get(server, address)
            #expect(full.status == 200, "\(full.text.prefix(300))")
            #expect(full.body == bytes)
            #expect(full.headers[.contentDisposition]?.hasPrefix("attachment") == true, "\(full.headers)")
            #expect(full.headers[.acceptRanges] == "bytes")
            #expect(full.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")

            let part = try await S.get(server, address, range: "bytes=10-99")
            #expect(part.status == 206)
            #expect(part.body == bytes.subdata(in: 10..<100))
            #expect(part.headers[.contentRange] == "bytes 10-99/\(bytes.count)")
            let tail = try await S.get(server, address, range: "bytes=-5")
            #expect(tail.status == 206 && tail.body == bytes.suffix(5))
            // (416s: `refusedRangeNotCounted`.)

            for _ in 0..<3 {
                let head = try await server.request(.head, S.relative(address))
                #expect(head.status == 200 && head.headers[.contentLength] == String(bytes.count))
            }

            // One view (the open), one download: Range requests not starting at 0 and HEAD do not count.
            let listed = try #require(try await S.listed(server, token, id))
            #expect(S.int(listed["views"]) == 1, "\(listed)")
            #expect(S.int(listed["downloads"]) == 1, "\(listed)")
            #expect(listed["lastAccessAt"] is NSNumber, "\(listed)")
            let other = try #require(try await S.listed(server, token, S.id(second)))
            #expect(S.int(other["views"]) == 0 && S.int(other["downloads"]) == 0)

            // A node's shares; newest first.
            let ofNode = try await S.list(server, token, ["uuid": file.uuid])
            #expect(ofNode.map(S.id) == [S.id(second), id])
            let all = try await server.post("/v1/share/list", [:], token: token)
            #expect(S.int(all.result["total"]) == 2 && S.int(all.result["page"]) == 1 && S.int(all.result["pageSize"]) == 20, "\(all.text)")

            // A display name shows as the owner; never the login.
            #expect(try await server.post("/v1/user/displayName", ["displayName": "Ada L."], token: token).status == 200)
            let named = try await S.opened(server, id)
            #expect((named["share"] as? Object)?["owner"] as? String == "Ada L.")
            #expect(!(try await S.open(server, id)).text.contains("ada\""))
        }
    }

    @Test("a nested folder: open, browse every level by relative paths, download bytes and ranges from deep inside", arguments: TestBackend.allCases)
    func folderShare(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("ben")
            let a = Data("alpha\n".utf8), b = S.bytes(70_000, seed: 2), c = Data("γ".utf8)
            _ = try await S.put(server, token, a, name: "a.txt", path: "/相册/2024")
            let deep = try await S.put(server, token, b, name: "b.bin", path: "/相册/2024/sub/deep")
            _ = try await S.put(server, token, c, name: "c.txt", path: "/相册/2024/sub")
            try await S.mkdir(server, token, "/相册/2024/empty")
            _ = try await S.put(server, token, Data("outside".utf8), name: "outside.txt", path: "/相册")

            let share = try await S.create(server, token, ["path": "/相册/2024"])
            #expect(S.int(share["type"]) == 1 && share["name"] as? String == "2024" && share["path"] as? String == "/相册/2024")
            let id = S.id(share)
            let opened = try await S.opened(server, id)
            let info = try #require(opened["share"] as? Object)
            #expect(S.int(info["type"]) == 1 && S.int(info["size"]) == 0 && info["mime"] as? String == "application/x-directory")
            #expect(opened["downloadAddress"] == nil || opened["downloadAddress"] is NSNull, "a folder has no downloadAddress")
            let grant = try #require(opened["grant"] as? String)

            let top = try await S.page(server, id, grant: grant, path: "/")
            #expect(top.status == 200, "\(top.text)")
            #expect((top.result["directory"] as? Object)?["name"] as? String == "2024")
            #expect((top.result["directory"] as? Object)?["path"] as? String == "/")
            var entries = S.entries(top)
            #expect(Set(entries.keys) == ["a.txt", "sub", "empty"], "\(top.text)")
            #expect(entries["a.txt"]?["path"] as? String == "/a.txt" && entries["sub"]?["path"] as? String == "/sub")
            #expect(S.int(entries["a.txt"]?["size"]) == a.count && S.int(entries["sub"]?["type"]) == 1)
            #expect(S.int(top.result["total"]) == 3 && S.int(top.result["pageSize"]) == 50, "\(top.text)")
            // Absent and empty paths are the shared folder too.
            for path: Any? in [nil, ""] {
                let again = try await S.page(server, id, grant: grant, path: path)
                #expect(Set(S.entries(again).keys) == ["a.txt", "sub", "empty"], "path \(path ?? "absent"): \(again.text)")
            }
            let first = try await S.get(server, try #require(entries["a.txt"]?["downloadAddress"] as? String))
            #expect(first.status == 200 && first.body == a)

            let sub = try await S.page(server, id, grant: grant, path: "/sub")
            entries = S.entries(sub)
            #expect(Set(entries.keys) == ["deep", "c.txt"], "\(sub.text)")
            #expect(entries["c.txt"]?["path"] as? String == "/sub/c.txt")
            #expect((sub.result["directory"] as? Object)?["path"] as? String == "/sub")
            let deepPage = try await S.page(server, id, grant: grant, path: "sub/deep")
            entries = S.entries(deepPage)
            #expect(Set(entries.keys) == ["b.bin"], "\(deepPage.text)")
            #expect(entries["b.bin"]?["path"] as? String == "/sub/deep/b.bin")
            let address = try #require(entries["b.bin"]?["downloadAddress"] as? String)
            #expect(S.relative(address).hasPrefix("/s/\(id)/f/\(deep.uuid)?"), "\(address)")
            let whole = try await S.get(server, address)
            #expect(whole.status == 200 && whole.body == b)
            let part = try await S.get(server, address, range: "bytes=65536-")
            #expect(part.status == 206 && part.body == b.suffix(from: 65536))
            #expect(S.int((try await S.page(server, id, grant: grant, path: "/empty")).result["total"]) == 0)

            // Paging and the type filter.
            let one = try await S.page(server, id, grant: grant, path: "/", ["pageSize": 1, "page": 2, "orderBy": 2])
            #expect((one.result["list"] as? [Object])?.count == 1 && S.int(one.result["total"]) == 3, "\(one.text)")
            let dirs = try await S.page(server, id, grant: grant, path: "/", ["type": 1])
            #expect(Set(S.entries(dirs).keys) == ["sub", "empty"], "\(dirs.text)")

            // Inside the share but not a folder, or not there.
            let onFile = try await S.page(server, id, grant: grant, path: "/a.txt")
            S.expectRefused(onFile, 409, "NOT_A_DIRECTORY", "page on a file")
            S.expectRefused(try await S.page(server, id, grant: grant, path: "/nope"), 404, "FILE_NOT_FOUND", "missing folder")
        }
    }

    // MARK: 2. Passwords

    @Test("password: missing and empty → 403 SHARE_PASSWORD (required), wrong → 403, right → the share; a change ends old grants and links", arguments: TestBackend.allCases)
    func password(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("cleo")
            let bytes = S.bytes(5_000)
            _ = try await S.put(server, token, bytes, name: "f.bin", path: "/box")
            let share = try await S.create(server, token, ["path": "/box", "password": "open sesame"])
            #expect(share["hasPassword"] as? Bool == true)
            let ownList = try await server.post("/v1/share/list", [:], token: token).text
            #expect(!ownList.contains("open sesame") && !ownList.contains("pbkdf2") && !ownList.contains("passwordHash"), "\(ownList)")
            let id = S.id(share)

            let missing = try await S.open(server, id)
            S.expectRefused(missing, 403, "SHARE_PASSWORD", "no password")
            #expect(missing.json["message"] as? String == "password required", "\(missing.text)")
            #expect(missing.result.isEmpty && !missing.text.contains("grant"), "nothing about the share before the password: \(missing.text)")
            S.expectRefused(try await S.open(server, id, password: ""), 403, "SHARE_PASSWORD", "empty password")
            let wrong = try await S.open(server, id, password: "open sesame!")
            S.expectRefused(wrong, 403, "SHARE_PASSWORD", "wrong password")
            #expect(wrong.json["message"] as? String != "password required", "a wrong password is told from a missing one")
            S.expectRefused(try await S.open(server, id, password: "OPEN SESAME"), 403, "SHARE_PASSWORD", "case matters")

            let opened = try await S.opened(server, id, password: "open sesame")
            #expect((opened["share"] as? Object)?["hasPassword"] as? Bool == true)
            let oldGrant = try #require(opened["grant"] as? String)
            let page = try await S.page(server, id, grant: oldGrant, path: "/")
            let oldAddress = try #require(S.entries(page)["f.bin"]?["downloadAddress"] as? String, "\(page.text)")
            #expect(try await S.get(server, oldAddress).body == bytes)

            // A new password: old grants and download links end; the old password is wrong.
            let updated = try await server.post("/v1/share/update", ["id": id, "password": "new one"], token: token)
            #expect(updated.status == 200 && updated.result["hasPassword"] as? Bool == true, "\(updated.text)")
            S.expectRefused(try await S.page(server, id, grant: oldGrant, path: "/"), 403, "SHARE_GRANT_INVALID", "grant from before the change")
            let stale = try await S.get(server, oldAddress)
            #expect([403, 404].contains(stale.status) && stale.body != bytes, "old link after a password change: \(stale.status) \(stale.text.prefix(200))")
            S.expectRefused(try await S.open(server, id, password: "open sesame"), 403, "SHARE_PASSWORD", "old password")
            let fresh = try await S.opened(server, id, password: "new one")
            let freshGrant = try #require(fresh["grant"] as? String)
            let freshPage = try await S.page(server, id, grant: freshGrant, path: "/")
            #expect(freshPage.status == 200)
            let freshAddress = try #require(S.entries(freshPage)["f.bin"]?["downloadAddress"] as? String)
            #expect(try await S.get(server, freshAddress).body == bytes)

            // Cleared: no password needed, and the grants of the password era end too.
            let cleared = try await server.post("/v1/share/update", ["id": id, "password": ""], token: token)
            #expect(cleared.status == 200 && cleared.result["hasPassword"] as? Bool == false, "\(cleared.text)")
            S.expectRefused(try await S.page(server, id, grant: freshGrant, path: "/"), 403, "SHARE_GRANT_INVALID", "grant from before clearing")
            #expect(try await S.get(server, freshAddress).status != 200, "link from before clearing")
            let open = try await S.opened(server, id)
            #expect((open["share"] as? Object)?["hasPassword"] as? Bool == false)
            // Other fields left alone by an update leave the password alone.
            let set = try await server.post("/v1/share/update", ["id": id, "password": "third"], token: token)
            #expect(set.status == 200)
            let other = try await server.post("/v1/share/update", ["id": id, "maxDownloads": 50], token: token)
            #expect(other.result["hasPassword"] as? Bool == true && S.int(other.result["maxDownloads"]) == 50, "\(other.text)")
            _ = try await S.opened(server, id, password: "third")
        }
    }

    @Test("password attempts: missing ones are not counted; past 10 wrong ones from one address → 429 TOO_MANY_ATTEMPTS with Retry-After, even for the right password; other shares unaffected")
    func passwordThrottle() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("dora")
            _ = try await S.put(server, token, Data("x".utf8), name: "x.txt")
            let id = S.id(try await S.create(server, token, ["path": "/x.txt", "password": "right"]))
            let sibling = S.id(try await S.create(server, token, ["path": "/x.txt", "password": "right"]))

            for _ in 0..<15 { S.expectRefused(try await S.open(server, id), 403, "SHARE_PASSWORD", "missing (not counted)") }
            for attempt in 1...10 {
                S.expectRefused(try await S.open(server, id, password: "wrong \(attempt)"), 403, "SHARE_PASSWORD", "wrong attempt \(attempt)")
            }
            let throttled = try await S.open(server, id, password: "wrong 11")
            S.expectRefused(throttled, 429, "TOO_MANY_ATTEMPTS", "11th wrong attempt")
            let retry = try #require(throttled.headers[.retryAfter].flatMap { Int($0) }, "Retry-After: \(throttled.headers)")
            #expect(retry > 0 && retry <= 600)
            // A throttle that still let the right password through would tell a guesser when it guessed right.
            S.expectRefused(try await S.open(server, id, password: "right"), 429, "TOO_MANY_ATTEMPTS", "right password while throttled")
            // Per share: the other share of the same file opens.
            _ = try await S.opened(server, sibling, password: "right")
            // Unknown ids are not a password oracle: still 404.
            S.expectRefused(try await S.open(server, "AAAAAAAAAAAAAAAAAAAAAA", password: "x"), 404, "SHARE_NOT_FOUND", "unknown id")

            let scrape = try await Scrape.of(server)
            func total(_ name: String) -> Double { scrape.samples.filter { $0.name == name }.reduce(0) { $0 + $1.value } }
            #expect(total("pan_share_password_refusals_total") >= 10, "refusals counted in the metrics")
            #expect(total("pan_share_throttled_total") >= 2)
            #expect(total("pan_share_opens_total") >= 1)
        }
    }

    @Test("password guesses at once: exactly 10 are checked, the rest 429; rotating X-Forwarded-For does not help without a trusted proxy")
    func passwordThrottleConcurrentAndForwarded() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("dana")
            _ = try await S.put(server, token, Data("x".utf8), name: "x.txt")
            let id = S.id(try await S.create(server, token, ["path": "/x.txt", "password": "right"]))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        try await server.post("/v1/share/open", ["id": id, "password": "guess \(index)"], headers: [HTTPField.Name("X-Forwarded-For")!: "10.9.\(index).1"]).status
                    }
                }
                var all: [Int] = []
                for try await status in group { all.append(status) }
                return all
            }
            #expect(statuses.filter { $0 == 403 }.count == 10 && statuses.filter { $0 == 429 }.count == 20, "\(statuses.sorted())")
            S.expectRefused(try await server.post("/v1/share/open", ["id": id, "password": "right"], headers: [HTTPField.Name("X-Forwarded-For")!: "10.10.10.10"]), 429, "TOO_MANY_ATTEMPTS", "another forwarded address")
        }
    }

    @Test("behind a trusted proxy: 10 wrong per address, and 50 per share from all addresses")
    func passwordThrottlePerShare() async throws {
        try await withServer(configure: { $0.trustedProxies = ["127.0.0.1"] }) { server in
            let (_, token) = try await server.user("dino")
            _ = try await S.put(server, token, Data("x".utf8), name: "x.txt")
            let id = S.id(try await S.create(server, token, ["path": "/x.txt", "password": "right"]))
            func open(_ password: String, from address: String) async throws -> TestServer.Reply {
                try await server.post("/v1/share/open", ["id": id, "password": password], headers: [HTTPField.Name("X-Forwarded-For")!: address])
            }
            for attempt in 1...10 { S.expectRefused(try await open("no \(attempt)", from: "10.0.0.1"), 403, "SHARE_PASSWORD", "10.0.0.1 attempt \(attempt)") }
            S.expectRefused(try await open("no", from: "10.0.0.1"), 429, "TOO_MANY_ATTEMPTS", "10.0.0.1 past 10")
            // Another address still may try (and the right password opens).
            _ = try #require(try await open("right", from: "10.0.0.2").result["grant"] as? String)
            for address in 2...5 {
                for attempt in 1...10 {
                    S.expectRefused(try await open("no \(attempt)", from: "10.0.0.\(address)"), 403, "SHARE_PASSWORD", "10.0.0.\(address) attempt \(attempt)")
                }
            }
            // 50 wrong for the share from all addresses: a sixth address is refused at once.
            S.expectRefused(try await open("right", from: "10.0.0.6"), 429, "TOO_MANY_ATTEMPTS", "past 50 for the share")
        }
    }

    // MARK: 3. Expiry

    @Test("expiry: expiresIn 1 s then wait → 404 SHARE_NOT_FOUND for open, page and links already handed out; state expired; expiresAt in the past → 400; removing the expiry revives it", arguments: TestBackend.allCases)
    func expiry(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("eve")
            let bytes = S.bytes(3_000)
            _ = try await S.put(server, token, bytes, name: "f.bin", path: "/box")
            let share = try await S.create(server, token, ["path": "/box", "expiresIn": 1])
            let id = S.id(share)
            let expiresAt = try #require((share["expiresAt"] as? NSNumber)?.int64Value, "\(share)")
            #expect(expiresAt > Millis.now() - 5_000 && expiresAt <= Millis.now() + 1_500)
            let opened = try await S.open(server, id)
            // On a loaded machine the second may be gone already; then there is nothing more to hand out.
            var grant: String?, address: String?
            if opened.status == 200 {
                grant = opened.result["grant"] as? String
                let page = try await S.page(server, id, grant: grant, path: "/")
                address = S.entries(page)["f.bin"]?["downloadAddress"] as? String
            }
            while Millis.now() < expiresAt + 1_000 { try await Task.sleep(for: .milliseconds(200)) }

            S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", "open after expiry")
            if let grant { S.expectRefused(try await S.page(server, id, grant: grant, path: "/"), 404, "SHARE_NOT_FOUND", "page after expiry") }
            if let address { S.expectRefused(try await S.get(server, address), 404, "SHARE_NOT_FOUND", "download after expiry") }
            #expect(try await S.listed(server, token, id)?["state"] as? String == "expired")

            // Removing the expiry turns it back on (nothing else stopped it).
            let revived = try await server.post("/v1/share/update", ["id": id, "expiresIn": 0], token: token)
            #expect(revived.status == 200 && revived.result["expiresAt"] is NSNull && revived.result["state"] as? String == "active", "\(revived.text)")
            _ = try await S.opened(server, id)

            // expiresAt: in the past or more than 10 years ahead → 400; the future is kept; it wins over expiresIn.
            for bad: Any in [Millis.now() - 60_000, Millis.now() + 11 * 365 * 86_400_000] {
                S.expectRefused(try await server.post("/v1/share/create", ["path": "/box", "expiresAt": bad], token: token), 400, "INVALID_FIELD", "expiresAt \(bad)")
            }
            let at = Millis.now() + 3_600_000
            let later = try await S.create(server, token, ["path": "/box", "expiresAt": at, "expiresIn": 5])
            #expect((later["expiresAt"] as? NSNumber)?.int64Value == at, "expiresAt wins: \(later)")
            let never = try await S.create(server, token, ["path": "/box", "expiresIn": 0])
            #expect(never["expiresAt"] is NSNull)
            let opened2 = try await S.opened(server, S.id(later))
            #expect(((opened2["share"] as? Object)?["expiresAt"] as? NSNumber)?.int64Value == at)
        }
    }

    // MARK: 4. maxDownloads

    /// 20 concurrent downloads on `servers` (round-robin) of a file shared with maxDownloads 7:
    /// exactly 7 succeed with the bytes, 13 get 404 SHARE_NOT_FOUND, and the count is 7.
    static func exactLimit(_ servers: [TestServer], owner: TestServer, token: String) async throws {
        let bytes = S.bytes(64 << 10, seed: 9)
        _ = try await S.put(owner, token, bytes, name: "limited.bin")
        let share = try await S.create(owner, token, ["path": "/limited.bin", "maxDownloads": 7])
        #expect(S.int(share["maxDownloads"]) == 7)
        let id = S.id(share)
        let opened = try await S.opened(owner, id)
        #expect(S.int((opened["share"] as? Object)?["downloadsLeft"]) == 7)
        let address = try #require(opened["downloadAddress"] as? String)

        let replies = try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
            for index in 0..<20 {
                let server = servers[index % servers.count]
                group.addTask { try await S.get(server, address) }
            }
            var all: [TestServer.Reply] = []
            for try await reply in group { all.append(reply) }
            return all
        }
        let ok = replies.filter { $0.status == 200 }
        let refused = replies.filter { $0.status == 404 && $0.code == "SHARE_NOT_FOUND" }
        #expect(ok.count == 7, "statuses: \(replies.map(\.status).sorted())")
        #expect(refused.count == 13, "statuses: \(replies.map { "\($0.status) \($0.code ?? "")" })")
        #expect(ok.allSatisfy { $0.body == bytes })

        for server in servers {
            let listed = try #require(try await S.listed(server, token, id))
            #expect(S.int(listed["downloads"]) == 7, "\(listed)")
            #expect(listed["state"] as? String == "exhausted", "\(listed)")
            S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", "open when exhausted")
            S.expectRefused(try await S.get(server, address), 404, "SHARE_NOT_FOUND", "download when exhausted")
        }
        // Raising the limit turns it back on, with the count kept.
        let raised = try await owner.post("/v1/share/update", ["id": id, "maxDownloads": 8], token: token)
        #expect(raised.status == 200 && raised.result["state"] as? String == "active", "\(raised.text)")
        #expect(S.int((try await S.opened(owner, id)["share"] as? Object)?["downloadsLeft"]) == 1)
    }

    @Test("maxDownloads is exact: 20 concurrent downloads against a limit of 7 → 7 served, 13 × 404, downloads = 7", arguments: TestBackend.allCases)
    func maxDownloadsExact(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("finn")
            try await Self.exactLimit([server], owner: server, token: token)
        }
    }

    @Test("maxDownloads is exact across two servers on one PostgreSQL, the 20 downloads split between them")
    func maxDownloadsTwoServers() async throws {
        try await withServer(backend: .postgres) { first in
            try await withServer(configure: { configuration in
                configuration.databaseURL = first.configuration.databaseURL
                configuration.databasePoolSize = 3
                configuration.jwtSecret = first.configuration.jwtSecret
                configuration.wcsKeys = first.configuration.wcsKeys
                configuration.dataDirectory = first.dataDirectory
            }) { second in
                let (_, token) = try await first.user("gus")
                try await Self.exactLimit([first, second], owner: first, token: token)
            }
        }
    }

    @Test("two servers on one PostgreSQL: a bin or a password change on A, a revoke on B, are seen at once on the other")
    func twoServersSeeChangesAtOnce() async throws {
        try await withServer(backend: .postgres) { first in
            try await withServer(configure: { configuration in
                configuration.databaseURL = first.configuration.databaseURL
                configuration.databasePoolSize = 3
                configuration.jwtSecret = first.configuration.jwtSecret
                configuration.wcsKeys = first.configuration.wcsKeys
                configuration.dataDirectory = first.dataDirectory
            }) { second in
                let (_, token) = try await first.user("zoe")
                let a = Data("two servers a".utf8), b = Data("two servers b".utf8)
                _ = try await S.put(first, token, a, name: "a.txt", path: "/dir")
                _ = try await S.put(first, token, b, name: "b.txt", path: "/dir")
                let id = S.id(try await S.create(first, token, ["path": "/dir", "password": "one"]))
                // Opened on B, browsed and downloaded on both.
                let grant = try #require(try await S.opened(second, id, password: "one")["grant"] as? String)
                let listed = try await S.page(first, id, grant: grant, path: "/")
                #expect(Set(S.entries(listed).keys) == ["a.txt", "b.txt"], "\(listed.text)")
                let aAddress = try #require(S.entries(listed)["a.txt"]?["downloadAddress"] as? String)
                let bAddress = try #require(S.entries(listed)["b.txt"]?["downloadAddress"] as? String)
                #expect(try await S.get(second, aAddress).body == a)
                #expect(try await S.page(second, id, grant: grant, path: "/").status == 200)

                // A file binned on A: gone from B's listing and B's link.
                #expect(try await first.post("/v1/files/remove", ["path": "/dir/b.txt", "recycle": 1], token: token).status == 200)
                #expect(Set(S.entries(try await S.page(second, id, grant: grant, path: "/")).keys) == ["a.txt"])
                S.expectRefused(try await S.get(second, bAddress), 404, "FILE_NOT_FOUND", "binned on A, fetched on B")

                // The password changed on A: B refuses the old grant and link at once.
                #expect(try await first.post("/v1/share/update", ["id": id, "password": "two"], token: token).status == 200)
                S.expectRefused(try await S.page(second, id, grant: grant, path: "/"), 403, "SHARE_GRANT_INVALID", "old grant on B")
                #expect(try await S.get(second, aAddress).status != 200)
                let fresh = try #require(try await S.opened(second, id, password: "two")["grant"] as? String)
                let freshA = try #require(S.entries(try await S.page(second, id, grant: fresh, path: "/"))["a.txt"]?["downloadAddress"] as? String)
                #expect(try await S.get(first, freshA).body == a)

                // Revoked on B: A's link and page refuse at once.
                #expect(try await second.post("/v1/share/remove", ["id": id], token: token).status == 200)
                S.expectRefused(try await S.get(first, freshA), 404, "SHARE_NOT_FOUND", "revoked on B, fetched on A")
                S.expectRefused(try await S.page(first, id, grant: fresh, path: "/"), 404, "SHARE_NOT_FOUND", "revoked on B, page on A")
            }
        }
    }

    @Test("a Range continuation (bytes=N-) on a counted link does not count; one from 0 does; HEAD and preview never count", arguments: TestBackend.allCases)
    func rangeContinuation(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("hana")
            let bytes = S.bytes(50_000, seed: 3)
            _ = try await S.put(server, token, bytes, name: "movie.bin")
            let id = S.id(try await S.create(server, token, ["path": "/movie.bin", "maxDownloads": 2]))
            let address = try #require(try await S.opened(server, id)["downloadAddress"] as? String)

            for _ in 0..<3 { #expect(try await server.request(.head, S.relative(address)).status == 200) }
            #expect(S.int(try await S.listed(server, token, id)?["downloads"]) == 0, "HEAD does not count")

            let start = try await S.get(server, address, range: "bytes=0-9999")
            #expect(start.status == 206 && start.body == bytes.prefix(10_000))
            #expect(S.int(try await S.listed(server, token, id)?["downloads"]) == 1, "a Range from 0 is a new download")
            let rest = try await S.get(server, address, range: "bytes=10000-")
            #expect(rest.status == 206 && rest.body == bytes.suffix(from: 10_000))
            let middle = try await S.get(server, address, range: "bytes=20000-29999")
            #expect(middle.status == 206 && middle.body == bytes.subdata(in: 20_000..<30_000))
            #expect(S.int(try await S.listed(server, token, id)?["downloads"]) == 1, "continuations do not count")

            let second = try await S.get(server, address)
            #expect(second.status == 200 && second.body == bytes)
            #expect(S.int(try await S.listed(server, token, id)?["downloads"]) == 2)
            S.expectRefused(try await S.get(server, address), 404, "SHARE_NOT_FOUND", "third download of 2")
        }
    }

    @Test("an exhausted share answers HEAD like GET: 404 SHARE_NOT_FOUND; a counted download's own continuation still finishes", arguments: TestBackend.allCases)
    func exhaustedHead(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("bea")
            let bytes = S.bytes(20_000, seed: 8)
            _ = try await S.put(server, token, bytes, name: "h.bin")
            let id = S.id(try await S.create(server, token, ["path": "/h.bin", "maxDownloads": 1]))
            let counted = try #require(try await S.opened(server, id)["downloadAddress"] as? String)
            let other = try #require(try await S.opened(server, id)["downloadAddress"] as? String)
            let start = try await S.get(server, counted, range: "bytes=0-9999")
            #expect(start.status == 206)
            // Exhausted now. The download it counted may finish…
            let rest = try await S.get(server, counted, range: "bytes=10000-")
            #expect(rest.status == 206 && rest.body == bytes.suffix(from: 10_000))
            // …but nothing else is served, and HEAD says so too (every inactive state looks alike).
            S.expectRefused(try await S.get(server, other), 404, "SHARE_NOT_FOUND", "GET, another address, exhausted")
            S.expectRefused(try await S.get(server, other, range: "bytes=5-"), 404, "SHARE_NOT_FOUND", "Range on a never-counted address, exhausted")
            for address in [other, counted] {
                let head = try await server.request(.head, S.relative(address))
                #expect(head.status == 404, "HEAD on an exhausted share: \(head.status)")
            }
        }
    }

    @Test("an unsatisfiable or multi-part Range (416) serves nothing and is not a download", arguments: TestBackend.allCases)
    func refusedRangeNotCounted(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("hugo")
            let bytes = S.bytes(10_000, seed: 5)
            _ = try await S.put(server, token, bytes, name: "r.bin")
            let id = S.id(try await S.create(server, token, ["path": "/r.bin", "maxDownloads": 1]))
            let address = try #require(try await S.opened(server, id)["downloadAddress"] as? String)
            for range in ["bytes=50000-", "bytes=0-1,5-6", "bytes=20000-30000"] {
                let reply = try await S.get(server, address, range: range)
                #expect(reply.status == 416, "\(range): \(reply.status)")
            }
            #expect(S.int(try await S.listed(server, token, id)?["downloads"]) == 0, "a 416 is not a download")
            let whole = try await S.get(server, address)
            #expect(whole.status == 200 && whole.body == bytes, "the one allowed download, after three 416s: \(whole.status) \(whole.text.prefix(100))")
        }
    }

    @Test("a Range starting later on an address that never counted counts; a ticket past twice the size plus 1 MiB counts again", arguments: TestBackend.allCases)
    func continuationNeedsACountedTicket(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("ines")
            let bytes = S.bytes(200_000, seed: 6)
            _ = try await S.put(server, token, bytes, name: "c.bin")
            let id = S.id(try await S.create(server, token, ["path": "/c.bin", "maxDownloads": 100]))
            // A fresh address (a new open, a new ticket): `bytes=1-` is not a continuation of anything.
            let fresh = try #require(try await S.opened(server, id)["downloadAddress"] as? String)
            let skip = try await S.get(server, fresh, range: "bytes=1-")
            #expect(skip.status == 206 && skip.body == bytes.suffix(from: 1))
            #expect(S.int(try await S.listed(server, token, id)?["downloads"]) == 1, "a Range from 1 on a new ticket counts")
            // The same ticket now continues for free: allowance 2 × 200,000 + 1 MiB = 1,448,576 bytes served
            // in all, the first 199,999 by the counted request; each of these serves 199,999 more.
            var counts: [Int] = []
            for _ in 0..<8 {
                let more = try await S.get(server, fresh, range: "bytes=1-")
                #expect(more.status == 206)
                counts.append(S.int(try await S.listed(server, token, id)?["downloads"]) ?? -1)
            }
            // Served after the k-th continuation: 199,999 × (k + 1); free while ≤ 1,448,576, so k ≤ 6: the 7th counts (and restarts the ticket).
            #expect(counts == [1, 1, 1, 1, 1, 1, 2, 2], "downloads after each continuation: \(counts)")
        }
    }

    @Test("with an external WCS: after the checks and the count, a 302 to the bucket; a revoked or exhausted share answers 404 itself")
    func externalStorage() async throws {
        try await withServer(configure: { $0.uploadURL = "https://up.example.net"; $0.downloadDomain = "https://dl.example.net" }) { server in
            let (_, token) = try await server.user("vera")
            let bytes = Data("in the bucket".utf8)
            let grant = try await server.post("/v1/store/token", ["name": "w.bin", "size": bytes.count], token: token)
            let upload = try #require(grant.result["token"] as? String, "\(grant.text)")
            let made = try await server.callback(forToken: upload, size: Int64(bytes.count), hash: ContentHasher.hash(bytes), fileName: "w.bin")
            #expect(made.status == 200 && made.success != false, "\(made.text)")

            let limited = S.id(try await S.create(server, token, ["path": "/w.bin", "maxDownloads": 1]))
            let address = try #require(try await S.opened(server, limited)["downloadAddress"] as? String)
            let redirect = try await S.get(server, address)
            #expect(redirect.status == 302, "\(redirect.status) \(redirect.text.prefix(200))")
            #expect(redirect.headers[.location]?.hasPrefix("https://dl.example.net/") == true, "\(redirect.headers)")
            // A short-lived signed URL (DownloadToken), not the object's lasting address.
            let location = try #require(redirect.headers[.location].flatMap(URLComponents.init(string:)))
            let deadline = try #require(location.queryItems?.first { $0.name == "e" }?.value.flatMap { Int64($0) })
            #expect(deadline <= Int64(Date().timeIntervalSince1970) + 310)
            #expect(location.queryItems?.first { $0.name == "token" }?.value?.isEmpty == false)
            #expect(S.int(try await S.listed(server, token, limited)?["downloads"]) == 1)
            S.expectRefused(try await S.get(server, address), 404, "SHARE_NOT_FOUND", "second download of 1 (external)")
            // HEAD: checked, not counted.
            let free = S.id(try await S.create(server, token, ["path": "/w.bin"]))
            let freeAddress = try #require(try await S.opened(server, free)["downloadAddress"] as? String)
            #expect(try await server.request(.head, S.relative(freeAddress)).status == 302)
            #expect(S.int(try await S.listed(server, token, free)?["downloads"]) == 0)
            #expect(try await server.post("/v1/share/remove", ["id": free], token: token).status == 200)
            S.expectRefused(try await S.get(server, freeAddress), 404, "SHARE_NOT_FOUND", "revoked (external)")
        }
    }

    // MARK: 5. The share's life: revoke, rename, move, bin, restore, delete, disable

    @Test("revoke ends handed-out links at once; rename and move keep link and page; binning (the folder above) ends it; restore brings it back; delete for good removes it", arguments: TestBackend.allCases)
    func lifecycle(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("ivan")
            let bytes = S.bytes(8_000, seed: 4)
            let file = try await S.put(server, token, bytes, name: "report.bin", path: "/outer/docs")
            let folderShare = try await S.create(server, token, ["path": "/outer/docs"])
            let fileShare = try await S.create(server, token, ["path": "/outer/docs/report.bin"])
            let folderId = S.id(folderShare), fileId = S.id(fileShare)
            let grant = try #require(try await S.opened(server, folderId)["grant"] as? String)
            let folderAddress = try #require(S.entries(try await S.page(server, folderId, grant: grant, path: "/"))["report.bin"]?["downloadAddress"] as? String)
            let fileAddress = try #require(try await S.opened(server, fileId)["downloadAddress"] as? String)

            // Rename the folder, then the file, then move the folder: links, grant and page all still work.
            #expect(try await server.post("/v1/files/rename", ["path": "/outer/docs", "name": "papers"], token: token).status == 200)
            #expect(try await server.post("/v1/files/rename", ["path": "/outer/papers/report.bin", "name": "final.bin"], token: token).status == 200)
            try await S.mkdir(server, token, "/archive")
            #expect(try await server.post("/v1/files/move", ["path": "/outer/papers", "destPath": "/archive"], token: token).status == 200)
            let moved = try await S.page(server, folderId, grant: grant, path: "/")
            #expect(Set(S.entries(moved).keys) == ["final.bin"], "\(moved.text)")
            #expect((moved.result["directory"] as? Object)?["name"] as? String == "papers")
            #expect(try await S.get(server, folderAddress).body == bytes)
            #expect(try await S.get(server, fileAddress).body == bytes)
            let renamed = try await S.opened(server, fileId)
            #expect((renamed["share"] as? Object)?["name"] as? String == "final.bin")
            let listed = try #require(try await S.listed(server, token, folderId))
            #expect(listed["path"] as? String == "/archive/papers" && listed["name"] as? String == "papers", "\(listed)")
            #expect(try await S.listed(server, token, fileId)?["path"] as? String == "/archive/papers/final.bin")

            // Bin the folder above both: everything ends.
            #expect(try await server.post("/v1/files/remove", ["path": "/archive", "recycle": 1], token: token).status == 200)
            for id in [folderId, fileId] { S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", "open when binned") }
            S.expectRefused(try await S.page(server, folderId, grant: grant, path: "/"), 404, "SHARE_NOT_FOUND", "page when binned")
            S.expectRefused(try await S.get(server, folderAddress), 404, "SHARE_NOT_FOUND", "folder link when binned")
            S.expectRefused(try await S.get(server, fileAddress), 404, "SHARE_NOT_FOUND", "file link when binned")
            #expect(try await S.listed(server, token, folderId)?["state"] as? String == "binned")
            // A binned node cannot be shared.
            let binnedCreate = try await server.post("/v1/share/create", ["uuid": file.uuid], token: token)
            S.expectRefused(binnedCreate, 404, "FILE_NOT_FOUND", "create on a binned node")

            // Restore: back on, old links included (they were never revoked).
            let bin = try await server.post("/v1/files/page", ["recycle": 1], token: token)
            let item = try #require((bin.result["list"] as? [Object])?.first { $0["name"] as? String == "archive" }?["uuid"] as? String, "\(bin.text)")
            #expect(try await server.post("/v1/files/recycle", ["uuid": item, "recycle": 0], token: token).status == 200)
            #expect(try await S.listed(server, token, folderId)?["state"] as? String == "active")
            #expect(try await S.get(server, folderAddress).body == bytes)
            #expect(try await S.get(server, fileAddress).body == bytes)
            #expect(try await S.page(server, folderId, grant: grant, path: "/").status == 200)

            // Revoke: the handed-out link ends at once; the other share is untouched.
            let removed = try await server.post("/v1/share/remove", ["id": fileId], token: token)
            #expect(removed.status == 200 && S.int(removed.result["removed"]) == 1, "\(removed.text)")
            S.expectRefused(try await S.get(server, fileAddress), 404, "SHARE_NOT_FOUND", "link after revoke")
            S.expectRefused(try await S.open(server, fileId), 404, "SHARE_NOT_FOUND", "open after revoke")
            #expect(try await S.listed(server, token, fileId) == nil)
            S.expectRefused(try await server.post("/v1/share/remove", ["id": fileId], token: token), 404, "SHARE_NOT_FOUND", "remove twice")
            S.expectRefused(try await server.post("/v1/share/update", ["id": fileId, "maxDownloads": 3], token: token), 404, "SHARE_NOT_FOUND", "update removed")
            #expect(try await S.get(server, folderAddress).body == bytes)

            // Deleting the file for good ends its link in the folder share; deleting the folder removes the share.
            #expect(try await server.post("/v1/files/remove", ["path": "/archive/papers/final.bin"], token: token).status == 200)
            S.expectRefused(try await S.get(server, folderAddress), 404, "FILE_NOT_FOUND", "a deleted file in a live folder share")
            #expect(try await server.post("/v1/files/remove", ["path": "/archive"], token: token).status == 200)
            #expect(try await S.listed(server, token, folderId) == nil, "deleting the node deletes its shares")
            S.expectRefused(try await S.open(server, folderId), 404, "SHARE_NOT_FOUND", "open after delete")
            S.expectRefused(try await S.page(server, folderId, grant: grant, path: "/"), 404, "SHARE_NOT_FOUND", "page after delete")
            let total = try await server.post("/v1/share/list", [:], token: token)
            #expect(S.int(total.result["total"]) == 0, "\(total.text)")
        }
    }

    @Test("removing several ids at once; a binned node deleted from the bin takes its share with it", arguments: TestBackend.allCases)
    func removeMany(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("jade")
            _ = try await S.put(server, token, Data("1".utf8), name: "one.txt")
            var ids: [String] = []
            for _ in 0..<3 { ids.append(S.id(try await S.create(server, token, ["path": "/one.txt"]))) }
            let removed = try await server.post("/v1/share/remove", ["ids": Array(ids.prefix(2))], token: token)
            #expect(removed.status == 200 && S.int(removed.result["removed"]) == 2, "\(removed.text)")
            #expect(try await S.list(server, token).map(S.id) == [ids[2]])

            let node = try await S.node(server, token, "/one.txt")
            #expect(try await server.post("/v1/files/remove", ["path": "/one.txt", "recycle": 1], token: token).status == 200)
            #expect(try await S.listed(server, token, ids[2])?["state"] as? String == "binned")
            #expect(try await server.post("/v1/files/remove", ["uuid": node.uuid], token: token).status == 200)
            #expect(try await S.list(server, token).isEmpty, "deleted from the bin: share gone")
            S.expectRefused(try await S.open(server, ids[2]), 404, "SHARE_NOT_FOUND", "after deletion from the bin")
        }
    }

    @Test("every way a node goes for good takes its shares: emptyBin, overwrite by move, rename and restore; a reused node id never revives a share", arguments: TestBackend.allCases)
    func deletedEveryWay(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("ugo")
            func shareOf(_ name: String, _ path: String = "/") async throws -> String {
                _ = try await S.put(server, token, Data("old \(name)".utf8), name: name, path: path)
                return S.id(try await S.create(server, token, ["path": path == "/" ? "/\(name)" : "\(path)/\(name)"]))
            }
            func gone(_ id: String, _ what: String) async throws {
                S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", what)
                #expect(try await S.listed(server, token, id) == nil, "\(what): still listed")
            }
            // emptyBin.
            let binned = try await shareOf("binned.txt")
            #expect(try await server.post("/v1/files/remove", ["path": "/binned.txt", "recycle": 1], token: token).status == 200)
            #expect(try await server.post("/v1/files/emptyBin", [:], token: token).status == 200)
            try await gone(binned, "after emptyBin")
            // Overwritten by a move, by a rename, by a restore.
            let moved = try await shareOf("same.txt", "/target")
            _ = try await S.put(server, token, Data("new".utf8), name: "same.txt", path: "/source")
            #expect(try await server.post("/v1/files/move", ["path": "/source/same.txt", "destPath": "/target", "conflict": "overwrite"], token: token).status == 200)
            try await gone(moved, "overwritten by a move")
            let renamed = try await shareOf("b.txt")
            _ = try await S.put(server, token, Data("a".utf8), name: "a.txt")
            #expect(try await server.post("/v1/files/rename", ["path": "/a.txt", "name": "b.txt", "conflict": "overwrite"], token: token).status == 200)
            try await gone(renamed, "overwritten by a rename")
            let restored = try await shareOf("r.txt")
            let first = try await S.node(server, token, "/r.txt")
            #expect(try await server.post("/v1/files/remove", ["path": "/r.txt", "recycle": 1], token: token).status == 200)
            let standing = try await shareOf("r.txt")
            #expect(try await server.post("/v1/files/recycle", ["uuid": first.uuid, "recycle": 0, "conflict": "overwrite"], token: token).status == 200)
            try await gone(standing, "overwritten by a restore")
            _ = try await S.opened(server, restored)  // the restored node's own share is back
            // Nothing left naming a node that is not there.
            #expect(try await server.count("shares", "node_id NOT IN (SELECT id FROM nodes)") == 0)

            // The newest node deleted for good, then a new one (SQLite may hand out its id again).
            let last = try await shareOf("last.txt")
            #expect(try await server.post("/v1/files/remove", ["path": "/last.txt"], token: token).status == 200)
            _ = try await S.put(server, token, Data("NEW-OWNER-CONTENT".utf8), name: "fresh.txt")
            let reopened = try await S.open(server, last)
            S.expectRefused(reopened, 404, "SHARE_NOT_FOUND", "a share of a deleted node, after a new node")
            #expect(!reopened.text.contains("fresh.txt"))
        }
    }

    @Test("disabling the owner ends their shares and links at once; enabling brings them back", arguments: TestBackend.allCases)
    func disabledOwner(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("kai")
            let bytes = S.bytes(2_000)
            _ = try await S.put(server, token, bytes, name: "k.bin")
            let id = S.id(try await S.create(server, token, ["path": "/k.bin"]))
            let opened = try await S.opened(server, id)
            let address = try #require(opened["downloadAddress"] as? String)

            try await server.write { db in try await UserRepository.setStatus(.disabled, userId: user.id, on: db) }
            S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", "open, owner disabled")
            S.expectRefused(try await S.get(server, address), 404, "SHARE_NOT_FOUND", "link, owner disabled")

            try await server.write { db in try await UserRepository.setStatus(.active, userId: user.id, on: db) }
            #expect(try await S.get(server, address).body == bytes)
            _ = try await S.opened(server, id)
        }
    }

    @Test("pan user disable (the CLI, on the running server's database) ends the owner's shares")
    func disabledOwnerByCLI() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("lena")
            _ = try await S.put(server, token, Data("l".utf8), name: "l.txt")
            let id = S.id(try await S.create(server, token, ["path": "/l.txt"]))
            let address = try #require(try await S.opened(server, id)["downloadAddress"] as? String)
            let disable = try await CLITests.run(["user", "disable", "lena", "--data-dir", server.dataDirectory])
            #expect(disable.status == 0, "\(disable)")
            S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", "open after pan user disable")
            S.expectRefused(try await S.get(server, address), 404, "SHARE_NOT_FOUND", "link after pan user disable")
            let enable = try await CLITests.run(["user", "enable", "lena", "--data-dir", server.dataDirectory])
            #expect(enable.status == 0, "\(enable)")
            #expect(try await S.get(server, address).status == 200)
        }
    }

    // MARK: Preview only

    @Test("turning allowDownload off ends download addresses already handed out (403 SHARE_NO_DOWNLOAD); previews go on; lowering maxDownloads below the count exhausts it", arguments: TestBackend.allCases)
    func updateEndsDownloads(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("abe")
            let text = Data("viewable text\n".utf8)
            _ = try await S.put(server, token, text, name: "v.txt")
            let id = S.id(try await S.create(server, token, ["path": "/v.txt"]))
            let opened = try await S.opened(server, id)
            let download = try #require(opened["downloadAddress"] as? String)
            let preview = try #require(opened["previewAddress"] as? String)
            #expect(try await S.get(server, download).body == text)

            let off = try await server.post("/v1/share/update", ["id": id, "allowDownload": false], token: token)
            #expect(off.status == 200 && off.result["allowDownload"] as? Bool == false, "\(off.text)")
            S.expectRefused(try await S.get(server, download), 403, "SHARE_NO_DOWNLOAD", "download address after allowDownload off")
            #expect(try await S.get(server, preview).body == text)
            let reopened = try await S.opened(server, id)
            #expect(reopened["downloadAddress"] == nil || reopened["downloadAddress"] is NSNull)

            #expect(try await server.post("/v1/share/update", ["id": id, "allowDownload": true, "maxDownloads": 1], token: token).status == 200)
            let listed = try #require(try await S.listed(server, token, id))
            #expect(listed["state"] as? String == "exhausted" && S.int(listed["downloads"]) == 1, "\(listed)")
            S.expectRefused(try await S.open(server, id), 404, "SHARE_NOT_FOUND", "exhausted by a lower limit")
            S.expectRefused(try await S.get(server, preview), 404, "SHARE_NOT_FOUND", "preview of an exhausted share")
        }
    }


    @Test("allowDownload false: no downloadAddress; text previews inline as text/plain under a sandbox CSP, not counted; HTML and SVG are never previewed")
    func previewOnly() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("mia")
            let text = Data("<script>alert(1)</script> plain\n".utf8)
            _ = try await S.put(server, token, text, name: "notes.txt", path: "/p")
            _ = try await S.put(server, token, Data("<html><script>alert(1)</script></html>".utf8), name: "page.html", path: "/p")
            _ = try await S.put(server, token, Data("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".utf8), name: "pic.svg", path: "/p")

            let preview = try await S.create(server, token, ["path": "/p/notes.txt", "allowDownload": false, "maxDownloads": 1])
            #expect(preview["allowDownload"] as? Bool == false)
            let opened = try await S.opened(server, S.id(preview))
            #expect(opened["downloadAddress"] == nil || opened["downloadAddress"] is NSNull, "\(opened)")
            #expect((opened["share"] as? Object)?["allowDownload"] as? Bool == false)
            let previewAddress = try #require(opened["previewAddress"] as? String, "\(opened)")
            for _ in 0..<3 {
                let shown = try await S.get(server, previewAddress)
                #expect(shown.status == 200 && shown.body == text)
                #expect(shown.headers[.contentType] == "text/plain; charset=utf-8", "\(shown.headers)")
                #expect(shown.headers[.contentDisposition]?.hasPrefix("inline") == true)
                #expect(shown.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
                #expect(shown.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            }
            #expect(S.int(try await S.listed(server, token, S.id(preview))?["downloads"]) == 0, "previews are not counted")
            // The preview address turned into a download one: refused (signature or preview-only).
            let forged = try await server.request(.get, S.withQuery(previewAddress, "m", "d"))
            #expect(forged.status == 403 && forged.body != text, "\(forged.status) \(forged.text.prefix(200))")

            // A folder with active content, download allowed: downloadable as attachments, never previewed as what they are
            // (HTML may be previewed as plain text: §8 serves any text as text/plain).
            let folder = S.id(try await S.create(server, token, ["path": "/p"]))
            let grant = try #require(try await S.opened(server, folder)["grant"] as? String)
            let entries = S.entries(try await S.page(server, folder, grant: grant, path: "/"))
            for name in ["page.html", "pic.svg"] {
                let entry = try #require(entries[name])
                if let preview = entry["previewAddress"] as? String {
                    let shown = try await S.get(server, preview)
                    #expect(shown.status == 403 || shown.headers[.contentType] == "text/plain; charset=utf-8", "\(name) previewed as \(shown.headers[.contentType] ?? "-")")
                    if shown.status == 200 {
                        #expect(shown.headers[.contentSecurityPolicy]?.contains("sandbox") == true && shown.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                    }
                }
                let download = try await S.get(server, try #require(entry["downloadAddress"] as? String))
                #expect(download.status == 200 && download.headers[.contentDisposition]?.hasPrefix("attachment") == true)
                #expect(!(download.headers[.contentType] ?? "").contains("html") && !(download.headers[.contentType] ?? "").contains("svg"), "\(download.headers)")
                // Its download address asked for as a preview: refused.
                let asPreview = try await server.request(.get, S.withQuery(try #require(entry["downloadAddress"] as? String), "m", "p"))
                #expect(asPreview.status == 403, "\(name) as preview: \(asPreview.status)")
            }
            #expect(entries["notes.txt"]?["previewAddress"] is String)
        }
    }
}
