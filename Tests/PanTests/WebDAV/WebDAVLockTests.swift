import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// `/dav/` class 2: dead properties (PROPPATCH) and write locks (LOCK, UNLOCK, `If`).
@Suite struct WebDAVLockTests {
    static func dav(
        _ server: TestServer, _ method: String, _ path: String, user: String = "alice", headers: [String: String] = [:], _ body: String? = nil
    ) async throws -> TestServer.Reply {
        try await WebDAVTests.dav(server, method, path, user: user, headers: headers, body: body.map { Data($0.utf8) })
    }

    static func propset(_ properties: String) -> String {
        "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop>\(properties)</D:prop></D:set></D:propertyupdate>"
    }

    static let win32 = """
        <Z:Win32LastModifiedTime xmlns:Z="urn:schemas-microsoft-com:">Sat, 05 Dec 2026 10:00:00 GMT</Z:Win32LastModifiedTime>\
        <Z:Win32FileAttributes xmlns:Z="urn:schemas-microsoft-com:">00000020</Z:Win32FileAttributes>\
        <t:note xmlns:t="urn:test" xml:lang="zh">笔记 &#65536; <t:em>&amp;</t:em><other xmlns="urn:other"/></t:note>
        """

    /// The dead properties a PROPFIND (Depth 0, allprop) of `path` shows, as text.
    static func allprop(_ server: TestServer, _ path: String, user: String = "alice") async throws -> String {
        let reply = try await dav(server, "PROPFIND", path, user: user, headers: ["Depth": "0"])
        #expect(reply.status == 207)
        return reply.text
    }

    static func lockBody(exclusive: Bool = true, owner: String = "<D:owner>tests</D:owner>") -> String {
        """
        <?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:\(exclusive ? "exclusive" : "shared")/></D:lockscope>\
        <D:locktype><D:write/></D:locktype>\(owner)</D:lockinfo>
        """
    }

    /// Takes a lock; returns the reply and its token.
    static func lock(
        _ server: TestServer, _ path: String, user: String = "alice", exclusive: Bool = true, depth: String = "0", timeout: String? = nil
    ) async throws -> (reply: TestServer.Reply, token: String?) {
        var headers = ["Depth": depth]
        if let timeout { headers["Timeout"] = timeout }
        let reply = try await dav(server, "LOCK", path, user: user, headers: headers, lockBody(exclusive: exclusive))
        let token = reply.headers[HTTPField.Name("Lock-Token")!].map { String($0.dropFirst().dropLast()) }
        return (reply, token)
    }

    @Test("PROPPATCH stores dead properties (Windows', namespaced XML values, xml:lang, characters past U+FFFF) and PROPFIND gives them back; all or nothing; bounded", arguments: TestBackend.allCases)
    func propertiesRoundTrip(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice")
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "hello").status == 201)
            let patched = try await Self.dav(server, "PROPPATCH", "/dav/a.txt", Self.propset(Self.win32))
            #expect(patched.status == 207)
            #expect(patched.text.contains("HTTP/1.1 200 OK") && !patched.text.contains("403"), "\(patched.text)")

            let all = try await Self.allprop(server, "/dav/a.txt")
            #expect(all.contains("<Win32LastModifiedTime xmlns=\"urn:schemas-microsoft-com:\">Sat, 05 Dec 2026 10:00:00 GMT</Win32LastModifiedTime>"))
            #expect(all.contains("<Win32FileAttributes xmlns=\"urn:schemas-microsoft-com:\">00000020</Win32FileAttributes>"))
            // The value's own namespaces, its language and a character past U+FFFF come back.
            #expect(all.contains("<note xmlns=\"urn:test\" xml:lang=\"zh\">笔记 \u{10000} <em xmlns=\"urn:test\">&amp;</em><other xmlns=\"urn:other\"/></note>"), "\(all)")
            let named = try await Self.dav(server, "PROPFIND", "/dav/a.txt", headers: ["Depth": "0"],
                "<D:propfind xmlns:D=\"DAV:\"><D:prop><Z:Win32FileAttributes xmlns:Z=\"urn:schemas-microsoft-com:\"/><x:missing xmlns:x=\"urn:x\"/></D:prop></D:propfind>")
            #expect(named.text.contains(">00000020</Win32FileAttributes>"))
            #expect(named.text.contains("<missing xmlns=\"urn:x\"/></D:prop><D:status>HTTP/1.1 404 Not Found"))
            let names = try await Self.dav(server, "PROPFIND", "/dav/a.txt", headers: ["Depth": "0"], "<D:propfind xmlns:D=\"DAV:\"><D:propname/></D:propfind>")
            #expect(names.text.contains("<Win32FileAttributes xmlns=\"urn:schemas-microsoft-com:\"/>") && !names.text.contains("00000020"))
            // A PUT gives the same node new content: its properties stay.
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "new content").status == 204)
            #expect(try await Self.allprop(server, "/dav/a.txt").contains(">00000020<"))

            // One protected property fails the whole PROPPATCH: 403 for it, 424 for the rest, nothing stored.
            let mixed = try await Self.dav(server, "PROPPATCH", "/dav/a.txt", Self.propset(
                "<D:getetag>forged</D:getetag><q xmlns=\"urn:q\">1</q>"
            ) .replacingOccurrences(of: "</D:set>", with: "</D:set><D:remove><D:prop><Z:Win32FileAttributes xmlns:Z=\"urn:schemas-microsoft-com:\"/></D:prop></D:remove>"))
            #expect(mixed.status == 207)
            #expect(mixed.text.contains("HTTP/1.1 403 Forbidden</D:status><D:error><D:cannot-modify-protected-property/>"))
            #expect(mixed.text.contains("HTTP/1.1 424 Failed Dependency"))
            let after = try await Self.allprop(server, "/dav/a.txt")
            #expect(!after.contains("urn:q") && after.contains(">00000020<"))

            // Removing one, in document order after a set of another.
            let removed = try await Self.dav(server, "PROPPATCH", "/dav/a.txt", """
                <D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><q xmlns="urn:q">2</q></D:prop></D:set>\
                <D:remove><D:prop><Z:Win32FileAttributes xmlns:Z="urn:schemas-microsoft-com:"/></D:prop></D:remove></D:propertyupdate>
                """)
            #expect(removed.status == 207 && !removed.text.contains("424"))
            let now = try await Self.allprop(server, "/dav/a.txt")
            #expect(now.contains("<q xmlns=\"urn:q\">2</q>") && !now.contains("Win32FileAttributes"))

            // Bounds: a value past 64 KiB, and past 100 properties on one node, are refused whole.
            let big = try await Self.dav(server, "PROPPATCH", "/dav/a.txt", Self.propset(
                "<b xmlns=\"urn:b\">\(String(repeating: "x", count: DAVLimits.maxPropertyBytes))</b><c xmlns=\"urn:c\">1</c>"
            ))
            #expect(big.text.contains("507 Insufficient Storage") && big.text.contains("424 Failed Dependency"))
            let many = (0...DAVLimits.maxPropertiesPerNode).map { "<p\($0) xmlns=\"urn:many\">v</p\($0)>" }.joined()
            let tooMany = try await Self.dav(server, "PROPPATCH", "/dav/a.txt", Self.propset(many))
            #expect(tooMany.text.contains("507 Insufficient Storage"))
            let stored = try await server.read { db in try await db.scalar("SELECT COUNT(*) FROM dav_properties") }
            #expect(stored == 3)  // Win32LastModifiedTime, note, q: nothing of the refused ones
            // A body nested past the parser's depth cap is a clear 400.
            let deep = String(repeating: "<a>", count: 200) + String(repeating: "</a>", count: 200)
            #expect(try await Self.dav(server, "PROPPATCH", "/dav/a.txt", Self.propset(deep)).status == 400)
        }
    }

    @Test("dead properties follow MOVE, are copied by COPY (Depth infinity and 0), and go with the node when the bin is emptied; fsck clean", arguments: TestBackend.allCases)
    func propertiesFollowMoveAndCopy(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let alice = try await server.createUser("alice")
            #expect(try await Self.dav(server, "MKCOL", "/dav/d").status == 201)
            #expect(try await Self.dav(server, "PUT", "/dav/d/f.txt", "x").status == 201)
            #expect(try await Self.dav(server, "PROPPATCH", "/dav/d", Self.propset("<t xmlns=\"urn:t\">dir</t>")).status == 207)
            #expect(try await Self.dav(server, "PROPPATCH", "/dav/d/f.txt", Self.propset("<t xmlns=\"urn:t\">file</t>")).status == 207)

            #expect(try await Self.dav(server, "COPY", "/dav/d", headers: ["Destination": "/dav/d2"]).status == 201)
            #expect(try await Self.allprop(server, "/dav/d2").contains(">dir</t>"))
            #expect(try await Self.allprop(server, "/dav/d2/f.txt").contains(">file</t>"))
            #expect(try await Self.dav(server, "COPY", "/dav/d", headers: ["Destination": "/dav/shallow", "Depth": "0"]).status == 201)
            #expect(try await Self.allprop(server, "/dav/shallow").contains(">dir</t>"))
            // The copy is its own: changing it leaves the original alone.
            #expect(try await Self.dav(server, "PROPPATCH", "/dav/d2/f.txt", Self.propset("<t xmlns=\"urn:t\">changed</t>")).status == 207)
            #expect(try await Self.allprop(server, "/dav/d/f.txt").contains(">file</t>"))

            #expect(try await Self.dav(server, "MOVE", "/dav/d2", headers: ["Destination": "/dav/moved"]).status == 201)
            #expect(try await Self.allprop(server, "/dav/moved/f.txt").contains(">changed</t>"))
            // Listing a folder shows its members' properties too.
            let listing = try await Self.dav(server, "PROPFIND", "/dav/moved", headers: ["Depth": "1"])
            #expect(listing.text.contains(">dir</t>") && listing.text.contains(">changed</t>"))

            let count = { @Sendable () async throws -> Int64 in
                try await server.read { db in try await db.scalar("SELECT COUNT(*) FROM dav_properties") } ?? -1
            }
            #expect(try await count() == 5)
            // Binned: kept (a restore brings them back); deleted for good: gone.
            #expect(try await Self.dav(server, "DELETE", "/dav/moved").status == 204)
            #expect(try await count() == 5)
            _ = try await server.services.store.emptyBin(userId: alice.id)
            #expect(try await count() == 3)
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
        }
    }

    @Test("a lock keeps writes without its token out (423, lock-token-submitted); its holder writes with it; another user's token neither satisfies If nor unlocks", arguments: TestBackend.allCases)
    func lockConflictsAndForeignTokens(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice")
            try await server.createUser("bob")
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "v1").status == 201)
            let (taken, token) = try await Self.lock(server, "/dav/a.txt")
            #expect(taken.status == 200)
            let aliceToken = try #require(token)
            #expect(taken.text.contains("<D:locktoken><D:href>\(aliceToken)</D:href>"))

            // Another client (same account, no token): every write is refused.
            let put = try await Self.dav(server, "PUT", "/dav/a.txt", "v2")
            #expect(put.status == 423)
            #expect(put.text.contains("<D:lock-token-submitted><D:href>/dav/a.txt</D:href>"))
            #expect(try await Self.dav(server, "DELETE", "/dav/a.txt").status == 423)
            #expect(try await Self.dav(server, "MOVE", "/dav/a.txt", headers: ["Destination": "/dav/b.txt"]).status == 423)
            #expect(try await Self.dav(server, "PROPPATCH", "/dav/a.txt", Self.propset("<x xmlns=\"urn:x\">1</x>")).status == 423)
            #expect(try await Self.lock(server, "/dav/a.txt").reply.status == 423)
            #expect(try await Self.lock(server, "/dav/a.txt", exclusive: false).reply.status == 423)
            // A false If condition is 412; a malformed one 400.
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", headers: ["If": "(<DAV:no-lock>)"], "v2").status == 412)
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", headers: ["If": "(<unclosed"], "v2").status == 400)
            // The holder, tagged or not.
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", headers: ["If": "(<\(aliceToken)>)"], "v2").status == 204)
            let tagged = "<http://127.0.0.1:\(server.port)/dav/a.txt> (<\(aliceToken)>)"
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", headers: ["If": tagged], "v3").status == 204)

            // Bob, in his own tree: alice's token is no lock of his.
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", user: "bob", "bob's").status == 201)
            let (bobs, bobToken) = try await Self.lock(server, "/dav/a.txt", user: "bob")
            #expect(bobs.status == 200)  // his a.txt is not alice's: no conflict
            let withAlices = try await Self.dav(server, "PUT", "/dav/a.txt", user: "bob", headers: ["If": "(<\(aliceToken)>)"], "x")
            #expect(withAlices.status == 412)
            let unlockAlices = try await Self.dav(server, "UNLOCK", "/dav/a.txt", user: "bob", headers: ["Lock-Token": "<\(aliceToken)>"])
            #expect(unlockAlices.status == 409)
            #expect(unlockAlices.text.contains("lock-token-matches-request-uri"))
            // Alice's lock stands; bob's own token works for bob.
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "v4").status == 423)
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", user: "bob", headers: ["If": "(<\(try #require(bobToken))>)"], "y").status == 204)

            #expect(try await Self.dav(server, "UNLOCK", "/dav/a.txt", headers: ["Lock-Token": "<\(aliceToken)>"]).status == 204)
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "v5").status == 204)
            #expect(try await Self.dav(server, "GET", "/dav/a.txt").text == "v5")
        }
    }

    @Test("shared locks share; a depth-infinity lock on a folder covers what is below it and its membership; DELETE ends the locks; LOCK on an unmapped URL makes an empty file (201)", arguments: TestBackend.allCases)
    func collectionAndSharedLocks(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice")
            #expect(try await Self.dav(server, "MKCOL", "/dav/c").status == 201)
            #expect(try await Self.dav(server, "PUT", "/dav/c/in.txt", "x").status == 201)
            let (first, shared1) = try await Self.lock(server, "/dav/c/in.txt", exclusive: false)
            #expect(first.status == 200)
            let (second, shared2) = try await Self.lock(server, "/dav/c/in.txt", exclusive: false)
            #expect(second.status == 200 && shared1 != shared2)
            // A depth-infinity exclusive lock above conflicts with them.
            #expect(try await Self.lock(server, "/dav/c", depth: "infinity").reply.status == 423)
            for token in [shared1, shared2] {
                #expect(try await Self.dav(server, "UNLOCK", "/dav/c/in.txt", headers: ["Lock-Token": "<\(try #require(token))>"]).status == 204)
            }

            let (locked, token) = try await Self.lock(server, "/dav/c", depth: "infinity")
            #expect(locked.status == 200)
            let folderToken = try #require(token)
            #expect(try await Self.dav(server, "PUT", "/dav/c/new.txt", "x").status == 423)
            #expect(try await Self.dav(server, "PUT", "/dav/c/in.txt", "y").status == 423)
            #expect(try await Self.dav(server, "MKCOL", "/dav/c/sub").status == 423)
            #expect(try await Self.dav(server, "COPY", "/dav/c/in.txt", headers: ["Destination": "/dav/c/copy.txt"]).status == 423)
            #expect(try await Self.dav(server, "COPY", "/dav/c/in.txt", headers: ["Destination": "/dav/out.txt"]).status == 201)
            let discovery = try await Self.dav(server, "PROPFIND", "/dav/c/in.txt", headers: ["Depth": "0"],
                "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:lockdiscovery/></D:prop></D:propfind>")
            #expect(discovery.text.contains("<D:lockroot><D:href>/dav/c</D:href></D:lockroot>"))
            #expect(try await Self.dav(server, "PUT", "/dav/c/new.txt", headers: ["If": "</dav/c> (<\(folderToken)>)"], "x").status == 201)
            // A refresh through a member (empty body, the token in If).
            let refreshed = try await Self.dav(server, "LOCK", "/dav/c/new.txt", headers: ["If": "(<\(folderToken)>)", "Timeout": "Second-100"])
            #expect(refreshed.status == 200 && refreshed.text.contains("Second-100"))
            #expect(try await Self.dav(server, "DELETE", "/dav/c", headers: ["If": "(<\(folderToken)>)"]).status == 204)
            // The lock went with it: a new folder at the path is free.
            #expect(try await Self.dav(server, "MKCOL", "/dav/c").status == 201)
            #expect(try await Self.dav(server, "PUT", "/dav/c/in.txt", "z").status == 201)

            // A depth-0 lock on a folder protects its membership: locking a new name in it needs the token.
            let (folder0, folder0Token) = try await Self.lock(server, "/dav/c", depth: "0")
            #expect(folder0.status == 200)
            #expect(try await Self.lock(server, "/dav/c/unmapped.txt").reply.status == 423)
            #expect(try await Self.dav(server, "UNLOCK", "/dav/c", headers: ["Lock-Token": "<\(try #require(folder0Token))>"]).status == 204)
            let (unmapped, _) = try await Self.lock(server, "/dav/c/unmapped.txt")
            #expect(unmapped.status == 201)
            let made = try await Self.dav(server, "GET", "/dav/c/unmapped.txt")
            #expect(made.status == 200 && made.body.isEmpty)
            #expect(try await Self.lock(server, "/dav/nowhere/x.txt").reply.status == 409)
        }
    }

    @Test("a lock's timeout: Infinite capped at an hour, none asked the default; an expired lock binds nobody and is swept")
    func lockTimeout() async throws {
        try await withServer { server in
            try await server.createUser("alice")
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "x").status == 201)
            #expect(try await Self.dav(server, "PUT", "/dav/b.txt", "x").status == 201)
            let (capped, cappedToken) = try await Self.lock(server, "/dav/b.txt", timeout: "Infinite, Second-4100000000")
            #expect(capped.text.contains("<D:timeout>Second-\(DAVLimits.maxLockTimeout)</D:timeout>"))
            #expect(try await Self.dav(server, "UNLOCK", "/dav/b.txt", headers: ["Lock-Token": "<\(try #require(cappedToken))>"]).status == 204)
            #expect(try await Self.lock(server, "/dav/b.txt").reply.text.contains("<D:timeout>Second-\(DAVLimits.defaultLockTimeout)</D:timeout>"))

            let (short, _) = try await Self.lock(server, "/dav/a.txt", timeout: "Second-1")
            #expect(short.status == 200)
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "y").status == 423)
            try await Task.sleep(for: .milliseconds(1_300))
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "y").status == 204)
            #expect(try await server.services.store.sweepDAVLocks(before: Millis.now(), limit: 100) == 1)
            let left = try await server.read { db in try await db.scalar("SELECT COUNT(*) FROM dav_locks") }
            #expect(left == 1)  // b.txt's
        }
    }

    @Test("the store checks the locks again inside each write's transaction: a lock taken after the face's check still stops the write", arguments: TestBackend.allCases)
    func lockCheckedInTheWriteTransaction(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let alice = try await server.createUser("alice")
            let store = server.services.store
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "x").status == 201)
            // As if the face's check had passed just before another client locked the file.
            let lock = try await store.davLock(
                userId: alice.id, path: "/a.txt", request: DAVLockRequest(infinite: false, exclusive: true, owner: "", timeout: 60), creating: nil
            ).lock
            let stale = DAVLockGuard(tree: ["/a.txt"], members: ["/"])
            await #expect(throws: PanError.davLocked) { try await store.davRemove(userId: alice.id, path: "/a.txt", lockGuard: stale) }
            await #expect(throws: PanError.davLocked) {
                try await store.davTransfer(userId: alice.id, from: "/a.txt", to: "/b.txt", overwrite: true, copying: false, shallow: false, lockGuard: stale)
            }
            await #expect(throws: PanError.davLocked) {
                try await store.davPatchProperties(userId: alice.id, path: "/a.txt", changes: [.remove(namespace: "urn:x", name: "x")], lockGuard: DAVLockGuard(at: ["/a.txt"]))
            }
            #expect(try await Self.dav(server, "GET", "/dav/a.txt").status == 200)
            // With the token, the same writes go through.
            var held = stale
            held.tokens = [lock.token]
            _ = try await store.davTransfer(userId: alice.id, from: "/a.txt", to: "/b.txt", overwrite: true, copying: false, shallow: false, lockGuard: held)
            #expect(try await store.davLocks(userId: alice.id).isEmpty)  // a moved node leaves its locks behind
        }
    }

    @Test("bounds: locks per user (507 past the cap, expired ones not counted), a lock's owner size, changes per PROPPATCH", arguments: TestBackend.allCases)
    func lockAndPatchBounds(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let alice = try await server.createUser("alice")
            #expect(try await Self.dav(server, "PUT", "/dav/a.txt", "x").status == 201)
            #expect(try await Self.dav(server, "PUT", "/dav/b.txt", "x").status == 201)
            let node = try #require(try await server.services.store.node(userId: alice.id, at: NodeAddress(uuid: nil, path: "/a.txt")).node)
            // The cap's worth of shared locks on a.txt, written directly (a thousand LOCKs would be slow).
            let far = Millis.now() + 3_600_000
            try await server.write { db in
                for index in 0..<DAVLimits.maxLocksPerUser {
                    try await db.run(
                        "INSERT INTO dav_locks (user_id, token, node_id, depth, exclusive, owner, timeout, expires_at, created_at) VALUES (?, ?, ?, 0, 0, '', 3600, ?, 0)",
                        alice.id, "urn:uuid:test-\(index)", node.id, far
                    )
                }
            }
            let refused = try await Self.lock(server, "/dav/b.txt")
            #expect(refused.reply.status == 507)
            #expect(refused.reply.text.contains("TOO_MANY_LOCKS"))
            // Expired locks neither count nor stay.
            try await server.write { db in try await db.run("UPDATE dav_locks SET expires_at = 1 WHERE user_id = ?", alice.id) }
            #expect(try await Self.lock(server, "/dav/b.txt").reply.status == 200)
            let rows = try await server.read { db in try await db.scalar("SELECT COUNT(*) FROM dav_locks") }
            #expect(rows == 1)

            let owner = "<D:owner>\(String(repeating: "o", count: DAVLimits.maxOwnerBytes))</D:owner>"
            let bigOwner = try await Self.dav(server, "LOCK", "/dav/a.txt", headers: ["Depth": "0"], Self.lockBody(owner: owner))
            #expect(bigOwner.status == 400)
            let removes = (0...DAVLimits.maxPropertyChanges).map { "<p\($0) xmlns=\"urn:x\"/>" }.joined()
            let tooMany = try await Self.dav(server, "PROPPATCH", "/dav/a.txt",
                "<D:propertyupdate xmlns:D=\"DAV:\"><D:remove><D:prop>\(removes)</D:prop></D:remove></D:propertyupdate>")
            #expect(tooMany.status == 400)
        }
    }

    @Test("pan fsck finds dead properties and locks of nodes that no longer exist, and repair removes them", arguments: TestBackend.allCases)
    func fsckFindsOrphans(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let alice = try await server.createUser("alice")
            try await server.write { db in
                try await db.run("INSERT INTO dav_properties (user_id, node_id, namespace, name, value) VALUES (?, 999999, 'urn:x', 'x', '<x/>')", alice.id)
                try await db.run(
                    // Not expired: the sweeper removes expired locks, and under load it ran between the two fscks.
                    "INSERT INTO dav_locks (user_id, token, node_id, depth, exclusive, owner, timeout, expires_at, created_at) VALUES (?, 'urn:uuid:orphan', 999999, 0, 1, '', 60, ?, 0)",
                    alice.id, Millis.now() + 3_600_000
                )
            }
            let store = server.services.store
            #expect(try await store.fsck(repair: false).findings.filter { $0.check == "dav-node" }.count == 2)
            let repaired = try await store.fsck(repair: true)
            #expect(repaired.repairs.count == 2 && repaired.findings.isEmpty, "\(repaired)")
        }
    }

    @Test("with an external WCS, LOCK on an unmapped URL uploads the empty file to WCS (201), and a PUT with the token fills it (Finder's way of making a file)")
    func unmappedLockWithExternalWCS() async throws {
        try await WebDAVExternalWCSTests.withStandIn { pan, _ in
            try await pan.createUser("alice")
            let (locked, token) = try await Self.lock(pan, "/dav/new.txt")
            #expect(locked.status == 201, "\(locked.status) \(locked.text)")
            #expect(try await pan.count("nodes", "name = 'new.txt' AND size = 0 AND store_hash = '\(ContentHasher.hash(Data()))'") == 1)
            #expect(try await Self.dav(pan, "PUT", "/dav/new.txt", "z").status == 423)
            let put = try await Self.dav(pan, "PUT", "/dav/new.txt", headers: ["If": "(<\(try #require(token))>)"], "content")
            #expect(put.status == 204, "\(put.status) \(put.text)")
            #expect(try await pan.count("nodes", "name = 'new.txt' AND size = 7") == 1)
        }
    }
}
