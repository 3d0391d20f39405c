import Foundation
import Logging
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// Issue #26 "The list": conflict choices (replace / keep both / skip) for
/// move, copy and restore; the bin's deletion dates, "Empty bin", and the
/// retention sweep (`PAN_BIN_RETENTION`) — each on both engines.
@Suite("Recycle bin and conflict choices (issue #26)")
struct RecycleBinTests {
    typealias Object = [String: Any]

    /// A file at `path` holding `content` (FilesTests' instant upload of stored content).
    @discardableResult
    func file(_ server: TestServer, _ token: String, _ path: String, _ content: String = "x") async throws -> Object {
        try await FilesTests().file(server, token, path, content)
    }

    func mkdir(_ server: TestServer, _ token: String, _ path: String) async throws -> Object {
        let reply = try await server.post("/v1/files/createDirectory", ["path": path], token: token)
        guard reply.status == 200 else { throw TestFailure("mkdir \(path): \(reply.text)") }
        return reply.result
    }

    func get(_ server: TestServer, _ token: String, _ path: String) async throws -> Object? {
        let reply = try await server.post("/v1/files/get", ["path": path], token: token)
        return reply.status == 200 ? reply.result : nil
    }

    func bin(_ server: TestServer, _ token: String, pageSize: Int = 100) async throws -> (list: [Object], total: Int) {
        let reply = try await server.post("/v1/files/page", ["recycle": 1, "pageSize": pageSize], token: token)
        guard reply.status == 200 else { throw TestFailure("bin: \(reply.text)") }
        return (reply.result["list"] as? [Object] ?? [], reply.result["totalCount"] as? Int ?? -1)
    }

    func spaceUsed(_ server: TestServer, _ token: String) async throws -> Int64 {
        let reply = try await server.post("/v1/user/info", [:], token: token)
        guard let used = reply.result["spaceUsed"] as? Int else { throw TestFailure("user/info: \(reply.text)") }
        return Int64(used)
    }

    func fsckClean(_ server: TestServer, _ when: String = "") async throws {
        let findings = try await server.read { db in try await TreeChecker.check(on: db) }
        #expect(findings.isEmpty, "fsck \(when): \(findings)")
    }

    func names(_ list: Any?) -> [String] { (list as? [Object] ?? []).compactMap { $0["name"] as? String }.sorted() }

    // MARK: Skip

    @Test("move and copy with conflict skip: taken names stay where they are, the others go, counts and skipped reported", arguments: TestBackend.allCases)
    func skipOnMoveAndCopy(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("skip1")
            try await file(server, token, "/src/a.txt", "a")
            try await file(server, token, "/src/b.txt", "b-source")
            try await file(server, token, "/src/c/inner.txt", "c")
            try await file(server, token, "/src/d.txt", "d")
            let keptB = try await file(server, token, "/dest/b.txt", "b-dest")
            let keptC = try await mkdir(server, token, "/dest/c")

            let moved = try await server.post(
                "/v1/files/move", ["path": ["/src/a.txt", "/src/b.txt", "/src/c"], "destPath": "/dest", "conflict": "skip"], token: token
            )
            #expect(moved.status == 200, "\(moved.text)")
            #expect(moved.json["result"] as? Int == 1, "only a.txt moved")
            #expect(names(moved.json["skipped"]) == ["b.txt", "c"])
            #expect((moved.json["skipped"] as? [Object])?.compactMap { $0["path"] as? String }.sorted() == ["/src/b.txt", "/src/c"])
            #expect(try await get(server, token, "/dest/a.txt") != nil)
            #expect(try await get(server, token, "/src/a.txt") == nil)
            #expect(try await get(server, token, "/src/b.txt") != nil, "skipped: left where it was")
            #expect(try await get(server, token, "/src/c/inner.txt") != nil)
            #expect(try await get(server, token, "/dest/b.txt")?["uuid"] as? String == keptB["uuid"] as? String, "the taken name is untouched")
            #expect(try await get(server, token, "/dest/c")?["uuid"] as? String == keptC["uuid"] as? String)
            #expect(try await get(server, token, "/dest/c/inner.txt") == nil, "no merge into the taken folder")

            // Copy: the same rule; two sources of one name in one request — the second finds it taken.
            _ = try await mkdir(server, token, "/other")
            try await file(server, token, "/other/d.txt", "d-other")
            let copied = try await server.post(
                "/v1/files/copy",
                ["path": ["/src/b.txt", "/src/c", "/src/d.txt", "/other/d.txt"], "destPath": "/dest", "conflict": "skip"], token: token
            )
            #expect(copied.status == 200, "\(copied.text)")
            #expect(copied.json["result"] as? Int == 1, "only /src/d.txt copied")
            #expect(names(copied.json["skipped"]) == ["b.txt", "c", "d.txt"])
            #expect((copied.json["skipped"] as? [Object])?.contains { $0["path"] as? String == "/other/d.txt" } == true)
            let copy = try #require(try await get(server, token, "/dest/d.txt"))
            #expect(copy["storeId"] as? String == ContentHasher.hash(Data("d".utf8)), "the first of the two took the name")
            #expect(try await get(server, token, "/src/d.txt") != nil, "a copy leaves its source")

            // Everything taken: nothing changes, 0.
            let none = try await server.post("/v1/files/move", ["path": ["/src/b.txt"], "destPath": "/dest", "conflict": "skip"], token: token)
            #expect(none.json["result"] as? Int == 0)
            #expect(names(none.json["skipped"]) == ["b.txt"])
            // Without skip the reply is as it always was: no `skipped` key; fail still refuses the whole request.
            let plain = try await server.post("/v1/files/move", ["path": ["/dest/a.txt"], "destPath": "/src"], token: token)
            #expect(plain.json["result"] as? Int == 1)
            #expect(plain.json["skipped"] == nil)
            let refused = try await server.post("/v1/files/move", ["path": ["/src/a.txt", "/src/b.txt"], "destPath": "/dest"], token: token)
            #expect(refused.status == 409)
            #expect(refused.code == "FILE_AREADY_EXISTS")
            #expect(try await get(server, token, "/src/a.txt") != nil, "one transaction: a.txt did not move either")
            // Rename and uploads name one target: skip refuses like fail.
            let rename = try await server.post("/v1/files/rename", ["path": "/src/a.txt", "name": "b.txt", "conflict": "skip"], token: token)
            #expect(rename.status == 409)
            #expect(rename.code == "FILE_AREADY_EXISTS")
            let upload = try await server.post(
                "/v1/store/token", ["path": "/src/b.txt", "hash": ContentHasher.hash(Data("a".utf8)), "conflict": "skip"], token: token
            )
            #expect(upload.code == "FILE_AREADY_EXISTS", "\(upload.text)")
            #expect(try await server.post("/v1/files/move", ["path": "/src/a.txt", "destPath": "/dest", "conflict": "merge"], token: token).code == "INVALID_FIELD")
            try await fsckClean(server)
        }
    }

    @Test("restore with skip, overwrite and rename; many at once; a folder is never replaced (409 DIRECTORY_NOT_REPLACED)", arguments: TestBackend.allCases)
    func restoreChoices(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("skip2")
            let a = try await file(server, token, "/a.txt", "aaa")
            let b = try await file(server, token, "/b.txt", "bbbb")
            try await file(server, token, "/c/inner.txt", "c")
            let cDir = try #require(try await get(server, token, "/c"))
            #expect(try await server.post("/v1/files/remove", ["path": ["/a.txt", "/b.txt", "/c"], "recycle": 1], token: token).status == 200)
            // The names are taken again meanwhile.
            let newB = try await file(server, token, "/b.txt", "new b")
            _ = try await mkdir(server, token, "/c")
            let uuids = [a["uuid"], b["uuid"], cDir["uuid"]].compactMap { $0 as? String }

            // Many at once with skip: a.txt comes back, b.txt and c stay in the bin.
            let many = try await server.post("/v1/files/recycle", ["uuid": uuids, "recycle": 0, "conflict": "skip"], token: token)
            #expect(many.status == 200, "\(many.text)")
            #expect(many.json["result"] as? Int == 1)
            #expect(names(many.json["skipped"]) == ["b.txt", "c"])
            #expect((many.json["skipped"] as? [Object])?.allSatisfy { $0["recycledAt"] is Int } == true, "still in the bin")
            #expect(try await get(server, token, "/a.txt")?["uuid"] as? String == a["uuid"] as? String)
            #expect(names(try await bin(server, token).list) == ["b.txt", "c"])

            // One at a time with skip: `result` is the node as it still is in the bin.
            let one = try await server.post("/v1/files/recycle", ["uuid": b["uuid"]!, "recycle": 0, "conflict": "skip"], token: token)
            #expect(one.status == 200)
            #expect(one.result["uuid"] as? String == b["uuid"] as? String)
            #expect(one.result["recycledAt"] is Int)
            #expect(names(one.json["skipped"]) == ["b.txt"])
            // fail: 409 as before.
            #expect(try await server.post("/v1/files/recycle", ["uuid": b["uuid"]!, "recycle": 0], token: token).code == "FILE_AREADY_EXISTS")

            // overwrite (replace): the binned file takes its place, the live one is deleted for good.
            let replaced = try await server.post("/v1/files/recycle", ["uuid": b["uuid"]!, "recycle": 0, "conflict": "overwrite"], token: token)
            #expect(replaced.status == 200, "\(replaced.text)")
            #expect(replaced.result["uuid"] as? String == b["uuid"] as? String)
            #expect(replaced.result["recycledAt"] == nil)
            #expect(replaced.json["skipped"] == nil)
            let nowB = try #require(try await get(server, token, "/b.txt"))
            #expect(nowB["uuid"] as? String == b["uuid"] as? String)
            #expect(nowB["size"] as? Int == 4)
            #expect(try await server.post("/v1/files/get", ["uuid": newB["uuid"]!], token: token).status == 404)
            #expect(try await spaceUsed(server, token) == 3 + 4 + 1, "a.txt, b.txt and the binned c/inner.txt; the replaced file's bytes released")

            // A folder is never replaced: a clear 409, nothing changed.
            let folder = try await server.post("/v1/files/recycle", ["uuid": cDir["uuid"]!, "recycle": 0, "conflict": "overwrite"], token: token)
            #expect(folder.status == 409)
            #expect(folder.code == "DIRECTORY_NOT_REPLACED")
            #expect(names(try await bin(server, token).list) == ["c"])
            // rename (keep both): it comes back as "c (1)", with its content.
            let kept = try await server.post("/v1/files/recycle", ["uuid": cDir["uuid"]!, "recycle": 0, "conflict": "rename"], token: token)
            #expect(kept.status == 200, "\(kept.text)")
            #expect(kept.result["path"] as? String == "/c (1)")
            #expect(try await get(server, token, "/c (1)/inner.txt") != nil)
            #expect(try await bin(server, token).total == 0)

            // Replace on copy and move: a folder over a folder, a file over a folder, a folder over a file — the same 409.
            _ = try await mkdir(server, token, "/dest/c")
            try await file(server, token, "/dest/a.txt", "other a")
            _ = try await mkdir(server, token, "/dest/a2")
            try await file(server, token, "/a2", "a file named like the folder")
            _ = try await mkdir(server, token, "/dirs/a.txt")
            for (route, source) in [("copy", "/c"), ("move", "/c"), ("move", "/a2"), ("copy", "/a2"), ("move", "/dirs/a.txt")] {
                let reply = try await server.post("/v1/files/\(route)", ["path": [source], "destPath": "/dest", "conflict": "overwrite"], token: token)
                #expect(reply.status == 409, "\(route) \(source): \(reply.text)")
                #expect(reply.code == "DIRECTORY_NOT_REPLACED", "\(route) \(source)")
            }
            #expect(try await get(server, token, "/a2") != nil)
            #expect(try await get(server, token, "/dest/a.txt")?["size"] as? Int == 7)
            // A file over a file still replaces on copy too.
            let fileOverFile = try await server.post("/v1/files/copy", ["path": ["/a.txt"], "destPath": "/dest", "conflict": "overwrite"], token: token)
            #expect(fileOverFile.json["result"] as? Int == 1)
            #expect(try await get(server, token, "/dest/a.txt")?["size"] as? Int == 3)
            try await fsckClean(server)
        }
    }

    // MARK: Deletion date

    @Test("bin items carry recycledAt (Unix ms, as ctime), newest first; live listings don't", arguments: TestBackend.allCases)
    func recycledAt(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("when")
            try await file(server, token, "/old.txt")
            try await file(server, token, "/new/inner.txt")
            let before = Millis.now()
            _ = try await server.post("/v1/files/remove", ["path": "/old.txt", "recycle": 1], token: token)
            try await Task.sleep(for: .milliseconds(5))
            _ = try await server.post("/v1/files/remove", ["path": "/new", "recycle": 1], token: token)
            let after = Millis.now()
            let (list, total) = try await bin(server, token)
            #expect(total == 2)
            #expect(list.map { $0["name"] as? String } == ["new", "old.txt"], "newest first")
            let times = list.compactMap { $0["recycledAt"] as? Int }.map(Int64.init)
            #expect(times.count == 2)
            #expect(times.allSatisfy { (before...after).contains($0) }, "\(times) within \(before)...\(after)")
            #expect(times[0] > times[1])
            for item in list { #expect((item["ctime"] as? Int).map(Int64.init)! <= Int64(item["recycledAt"] as! Int)) }
            // Live nodes have no such key, in page, list and get.
            try await file(server, token, "/live.txt")
            let page = try await server.post("/v1/files/page", ["path": "/"], token: token)
            #expect((page.result["list"] as? [Object])?.allSatisfy { $0["recycledAt"] == nil } == true)
            let listed = try await server.post("/v1/files/list", ["path": "/"], token: token)
            #expect((listed.json["result"] as? [Object])?.allSatisfy { $0["recycledAt"] == nil } == true)
            #expect(try await get(server, token, "/live.txt")?["recycledAt"] == nil)
        }
    }

    // MARK: Empty bin

    @Test("emptyBin deletes every bin item for good: quota and references released, fsck clean, another user's bin untouched", arguments: TestBackend.allCases)
    func emptyBin(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("empty1")
            let (other, otherToken) = try await server.user("empty2")
            try await file(server, token, "/live.txt", "live!")  // 5
            try await file(server, token, "/folder/a.txt", "binned-only content")  // 19
            try await file(server, token, "/folder/sub/b.txt", "live!")  // 5, shares live.txt's object
            try await file(server, token, "/loose.txt", "loose")  // 5
            try await file(server, otherToken, "/theirs.txt", "binned-only content")
            _ = try await server.post("/v1/files/remove", ["path": ["/folder", "/loose.txt"], "recycle": 1], token: token)
            _ = try await server.post("/v1/files/remove", ["path": "/theirs.txt", "recycle": 1], token: otherToken)
            #expect(try await spaceUsed(server, token) == 5 + 19 + 5 + 5, "binned files keep their space")

            let emptied = try await server.post("/v1/files/emptyBin", [:], token: token)
            #expect(emptied.status == 200, "\(emptied.text)")
            #expect(emptied.json["result"] as? Int == 2)
            #expect(try await bin(server, token).total == 0)
            #expect(try await spaceUsed(server, token) == 5)
            #expect(try await server.count("nodes", "user_id = \(user.id) AND state != 0") == 0)
            #expect(try await server.count("nodes", "user_id = \(user.id)") == 2, "the root and live.txt")
            let references = try await server.read { db in
                (try await StoreObjectRepository.findCounted(hash: ContentHasher.hash(Data("live!".utf8)), on: db)!.refCount,
                 try await StoreObjectRepository.findCounted(hash: ContentHasher.hash(Data("loose".utf8)), on: db)!.refCount,
                 try await StoreObjectRepository.findCounted(hash: ContentHasher.hash(Data("binned-only content".utf8)), on: db)!.refCount)
            }
            #expect(references.0 == 1, "live.txt still holds it")
            #expect(references.1 == 0, "only the emptied bin held it: gc may free it")
            #expect(references.2 == 1, "the other user's binned file still holds it")
            // The other user's bin and quota are untouched.
            #expect(try await bin(server, otherToken).total == 1)
            #expect(try await spaceUsed(server, otherToken) == 19)
            #expect(try await server.count("nodes", "user_id = \(other.id)") == 2)
            // Again: nothing left, 0; unauthenticated: 401.
            #expect(try await server.post("/v1/files/emptyBin", [:], token: token).json["result"] as? Int == 0)
            #expect(try await server.post("/v1/files/emptyBin", [:]).status == 401)
            try await fsckClean(server)
        }
    }

    /// A bin several steps big (the server's `binStep`, made small by
    /// `smallSteps`): one binned folder of more nodes than a step deletes, and
    /// more single-file items than a step takes, made by copies of 10 seed files.
    func bigBin(_ server: TestServer, _ token: String) async throws -> (folderUUID: String, items: Int) {
        let step = server.configuration.binStep
        for i in 0..<Self.seeds { try await file(server, token, "/seed/f\(i).txt", "seed \(i % 7)") }
        _ = try await mkdir(server, token, "/big")
        let copies = (step.nodes + step.nodes / 2) / (Self.seeds + 1) + 1
        let made = try await server.post(
            "/v1/files/copy", ["path": Array(repeating: "/seed", count: copies), "destPath": "/big", "conflict": "rename"], token: token
        )
        guard made.json["result"] as? Int == copies else { throw TestFailure("copy: \(made.text)") }
        let folder = try #require(try await get(server, token, "/big"))
        let loose = step.items + step.items / 2 + 1
        try await file(server, token, "/loose/one.txt", "one")
        #expect(try await server.post(
            "/v1/files/copy", ["path": Array(repeating: "/loose/one.txt", count: loose - 1), "destPath": "/loose", "conflict": "rename"], token: token
        ).status == 200)
        let children = try await server.post("/v1/files/list", ["path": "/loose", "size": 0], token: token)
        let paths = (children.json["result"] as? [Object] ?? []).compactMap { $0["path"] as? String }
        #expect(paths.count == loose)
        #expect(try await server.post("/v1/files/remove", ["path": paths, "recycle": 1], token: token).status == 200)
        #expect(try await server.post("/v1/files/remove", ["path": "/big", "recycle": 1], token: token).status == 200)
        return (try #require(folder["uuid"] as? String), loose + 1)
    }

    static let seeds = 10
    /// Steps of 40 nodes and 8 items: a bin of a few hundred nodes takes several.
    static let smallSteps: @Sendable (inout PanConfiguration) -> Void = {
        anyonesContent(&$0)
        $0.binStep = RecycleBin.StepSize(nodes: 40, items: 8)
        // The steps here are the test's own: the server's sweeper (every minute by default)
        // finishes a half-done purge by design, and did so mid-test in a slow CI run.
        $0.sweepInterval = 3600
    }

    @Test("emptyBin of a bin bigger than one step finishes; a half-purged folder is gone from the bin at once and cannot be restored", arguments: TestBackend.allCases)
    func emptyBinInSteps(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: Self.smallSteps) { server in
            let (user, token) = try await server.user("bigbin")
            let (folderUUID, items) = try await bigBin(server, token)
            #expect(try await bin(server, token).total == items)
            let binnedNodes = try await server.count("nodes", "user_id = \(user.id) AND state = 1")
            let size = server.configuration.binStep
            #expect(binnedNodes > Int64(size.nodes))

            // One step by hand, as a concurrent request would see between two:
            // the loose files go first (oldest), then the folder is cut from its bottom.
            let step = try await server.write { db in
                try await RecycleBin.purgeStep(userId: user.id, binnedBy: Millis.now(), size: size, on: db)
            }
            #expect(step.nodes == size.nodes || step.items == size.items)
            #expect(step.more)
            try await fsckClean(server, "between two steps")
            // Step until the folder is half gone.
            while try await server.count("nodes", "user_id = \(user.id) AND recycled_at = -1") == 0 {
                _ = try await server.write { db in try await RecycleBin.purgeStep(userId: user.id, binnedBy: Millis.now(), size: size, on: db) }
                try await fsckClean(server, "between two steps")
            }
            #expect(try await bin(server, token).total == 0, "a folder being purged is no longer listed")
            let restore = try await server.post("/v1/files/recycle", ["uuid": folderUUID, "recycle": 0], token: token)
            #expect(restore.status == 404, "nobody gets half a folder back: \(restore.text)")
            #expect(try await server.post("/v1/files/remove", ["uuid": folderUUID], token: token).status == 404)
            #expect(try await server.count("nodes", "user_id = \(user.id) AND state = 1") > 0)

            // A new item binned now, then emptyBin: it finishes the folder, and takes the new one too.
            try await file(server, token, "/late.txt", "late")
            _ = try await server.post("/v1/files/remove", ["path": "/late.txt", "recycle": 1], token: token)
            let emptied = try await server.post("/v1/files/emptyBin", [:], token: token)
            #expect(emptied.status == 200, "\(emptied.text)")
            #expect(emptied.json["result"] as? Int == 2, "the folder and late.txt")
            #expect(try await server.count("nodes", "user_id = \(user.id) AND state = 1") == 0)
            #expect(try await bin(server, token).total == 0)
            let live = try await server.count("nodes", "user_id = \(user.id) AND type = 0")
            #expect(try await spaceUsed(server, token) == (try await server.read { db in
                try await db.scalar("SELECT COALESCE(SUM(size), 0) FROM nodes WHERE user_id = ? AND type = 0", user.id) ?? -1
            }))
            #expect(live == Int64(Self.seeds), "the seed files")
            try await fsckClean(server, "after")
        }
    }

    @Test("emptyBin on a big bin in one request: every item counted, the writer never held by one huge transaction", arguments: TestBackend.allCases)
    func emptyBinWhole(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: Self.smallSteps) { server in
            let (user, token) = try await server.user("bigbin2")
            let (_, items) = try await bigBin(server, token)
            // Another user's writes go on while it runs (each step is its own transaction).
            let (_, otherToken) = try await server.user("bystander")
            async let emptied = server.post("/v1/files/emptyBin", [:], token: token)
            var writes = 0
            for i in 0..<5 {
                if try await server.post("/v1/files/createDirectory", ["path": "/d\(i)"], token: otherToken).status == 200 { writes += 1 }
            }
            let reply = try await emptied
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["result"] as? Int == items)
            #expect(writes == 5)
            #expect(try await server.count("nodes", "user_id = \(user.id) AND state = 1") == 0)
            #expect(try await spaceUsed(server, token) == Int64((0..<Self.seeds).map { "seed \($0 % 7)".utf8.count }.reduce(0, +)))
            try await fsckClean(server)
        }
    }

    @Test("a server's step (RecycleBin.StepSize.standard) deletes exactly its nodes of a bigger folder, in one transaction of its own")
    func standardStep() async throws {
        try await withServer(configure: anyonesContent) { server in
            let (user, token) = try await server.user("standard")
            for i in 0..<100 { try await file(server, token, "/seed/f\(i).txt", "seed \(i % 7)") }
            _ = try await mkdir(server, token, "/big")
            let size = RecycleBin.StepSize.standard
            let copies = size.nodes / 101 + 1
            let made = try await server.post(
                "/v1/files/copy", ["path": Array(repeating: "/seed", count: copies), "destPath": "/big", "conflict": "rename"], token: token
            )
            #expect(made.json["result"] as? Int == copies)
            _ = try await server.post("/v1/files/remove", ["path": "/big", "recycle": 1], token: token)
            let started = ContinuousClock.now
            let step = try await server.write { db in try await RecycleBin.purgeStep(userId: user.id, binnedBy: Millis.now(), size: size, on: db) }
            let took = ContinuousClock.now - started
            print("RecycleBin standard step: \(step.nodes) nodes in \(took)")
            #expect(step.nodes == size.nodes)
            #expect(step.items == 0)
            #expect(step.more)
            try await fsckClean(server)
        }
    }

    // MARK: Retention

    @Test("PAN_BIN_RETENTION parses seconds, units, 0 and off; refuses the rest")
    func retentionSetting() throws {
        var configuration = PanConfiguration()
        #expect(configuration.binRetention == TimeInterval(30 * 86400))
        for (text, expected) in [("1s", 1.0), ("90", 90), ("45m", 2700), ("12h", 43200), ("30d", 2_592_000), (" 2D ", 172_800), ("0.5s", 0.5)] {
            try configuration.apply(environment: ["PAN_BIN_RETENTION": text])
            #expect(configuration.binRetention == expected, "\(text)")
        }
        for off in ["0", "off", "OFF", "0d"] {
            configuration.binRetention = 1
            try configuration.apply(environment: ["PAN_BIN_RETENTION": off])
            #expect(configuration.binRetention == nil, "\(off)")
        }
        for bad in ["", "-1", "soon", "5w", "d", "nan", "1e30"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try configuration.apply(environment: ["PAN_BIN_RETENTION": bad]) }
        }
    }

    /// Makes an item of `token`'s bin look binned `seconds` ago.
    func age(_ server: TestServer, uuid: String, seconds: Int64) async throws {
        _ = try await server.write { db in
            try await db.run("UPDATE nodes SET recycled_at = ? WHERE uuid = ?", Millis.now() - seconds * 1000, uuid)
        }
    }

    @Test("the sweeper deletes items older than PAN_BIN_RETENTION and keeps recent ones; off keeps everything", arguments: TestBackend.allCases)
    func retention(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: {
            anyonesContent(&$0)
            $0.binRetention = 60
            $0.sweepInterval = 0.2
        }) { server in
            let (_, token) = try await server.user("ret1")
            let (_, otherToken) = try await server.user("ret2")
            let old = try await file(server, token, "/old/a.txt", "old bytes")  // 9
            let oldFolder = try #require(try await get(server, token, "/old"))
            try await file(server, token, "/recent.txt", "recent")  // 6
            let theirs = try await file(server, otherToken, "/theirs.txt", "their old bytes")
            _ = try await server.post("/v1/files/remove", ["path": ["/old", "/recent.txt"], "recycle": 1], token: token)
            _ = try await server.post("/v1/files/remove", ["path": "/theirs.txt", "recycle": 1], token: otherToken)
            // Binned 2 minutes ago, past the 60 s retention; recent.txt just now.
            try await age(server, uuid: oldFolder["uuid"] as! String, seconds: 120)
            try await age(server, uuid: theirs["uuid"] as! String, seconds: 120)
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let (mine, theirs) = (try await bin(server, token).total, try await bin(server, otherToken).total)
                if mine == 1, theirs == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(names(try await bin(server, token).list) == ["recent.txt"])
            #expect(try await bin(server, otherToken).total == 0)
            #expect(try await server.post("/v1/files/recycle", ["uuid": oldFolder["uuid"]!, "recycle": 0], token: token).status == 404)
            #expect(try await server.post("/v1/files/get", ["uuid": old["uuid"]!], token: token).status == 404)
            #expect(try await spaceUsed(server, token) == 6)
            #expect(try await spaceUsed(server, otherToken) == 0)
            let metrics = try await server.request(.get, "/metrics")
            #expect(metrics.text.contains("pan_bin_expired_items_total 2"), "\(metrics.text.split(separator: "\n").filter { $0.contains("bin") })")
            try await fsckClean(server)

        }
    }

    @Test("the retention sweep works a bin bigger than one step off in bounded steps and finishes it", arguments: TestBackend.allCases)
    func retentionInSteps(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: {
            Self.smallSteps(&$0)
            $0.binRetention = nil  // swept by hand below
            $0.sweepInterval = 3600
        }) { server in
            let (user, token) = try await server.user("ret3")
            let (_, items) = try await bigBin(server, token)
            // Binned in 1970: past any retention.
            _ = try await server.write { db in try await db.run("UPDATE nodes SET recycled_at = 1000 WHERE user_id = ? AND recycled_at IS NOT NULL", user.id) }
            var logger = Logger(label: "test-bin")
            logger.logLevel = .critical
            let metrics = ServerMetrics()
            // Off: nothing is due (only a purge left half done would be finished).
            let off = BinSweeper(store: server.services.store, retention: nil, interval: 1, metrics: metrics.pan, logger: logger)
            try await off.sweep()
            #expect(try await bin(server, token).total == items, "off: kept")
            let sweeper = BinSweeper(store: server.services.store, retention: 86400, interval: 1, metrics: metrics.pan, logger: logger)
            // One step deletes at most a step's nodes; one tick runs several steps.
            let step = try #require(try await server.services.store.purgeBin(binnedBy: Millis.now() - 86_400_000))
            #expect(step.nodes <= server.configuration.binStep.nodes)
            #expect(step.nodes > 0)
            try await fsckClean(server, "between steps")
            try await sweeper.sweep()
            #expect(try await server.count("nodes", "user_id = \(user.id) AND state = 1") == 0)
            #expect(try await bin(server, token).total == 0)
            try await fsckClean(server, "after")
        }
    }
}
