import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
import WCS

@Suite("Files API and the tree (api.md §7)")
struct FilesTests {
    /// Creates a file at `path` by instant upload of `content`.
    @discardableResult
    func file(_ server: TestServer, _ token: String, _ path: String, _ content: String = "x") async throws -> [String: Any] {
        let bytes = Data(content.utf8)
        let hash = ContentHasher.hash(bytes)
        _ = try await server.write { db in
            try await StoreObjectRepository.upsert(hash: hash, size: Int64(bytes.count), mime: "", bucket: "pan", objectKey: "k-\(hash)", on: db)
        }
        let reply = try await server.post("/v1/store/token", ["path": path, "hash": hash], token: token)
        guard reply.result["uuid"] != nil else { throw TestFailure("not created: \(reply.text)") }
        return reply.result
    }

    func fsckClean(_ server: TestServer) async throws {
        let findings = try await server.read { db in try await TreeChecker.check(on: db) }
        #expect(findings.isEmpty, "fsck: \(findings)")
    }

    @Test("page: root info, pagination, sort orders, type filter", arguments: TestBackend.allCases)
    func page(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("p")
            for (i, name) in ["b.txt", "a.txt", "c.txt"].enumerated() {
                try await file(server, token, "/\(name)", String(repeating: "z", count: i + 1))
                try await Task.sleep(for: .milliseconds(3))
            }
            _ = try await server.post("/v1/files/createDirectory", ["path": "/", "name": "dir"], token: token)
            let root = try await server.post("/v1/files/page", ["path": ""], token: token)
            #expect(root.status == 200)
            let info = try #require(root.result["info"] as? [String: Any])
            #expect(info["path"] as? String == "/")
            #expect(info["parent"] as? String == "")
            #expect(info["pathId"] as? String == "6666cd76f96956469e7be39d750cc7d9")
            #expect(info["mime"] as? String == "application/x-directory")
            #expect(root.result["totalCount"] as? Int == 4)
            let list = try #require(root.result["list"] as? [[String: Any]])
            #expect(list.first?["name"] as? String == "dir", "default order is ctime desc")
            let byName = try await server.post("/v1/files/page", ["path": "/", "orderBy": 2, "pageSize": 2, "page": 2], token: token)
            #expect((byName.result["list"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["c.txt", "dir"])
            #expect(byName.result["totalPage"] as? Int == 2)
            let bySize = try await server.post("/v1/files/page", ["path": "/", "order": "13", "type": 0], token: token)
            #expect((bySize.result["list"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["c.txt", "a.txt", "b.txt"])
            let dirs = try await server.post("/v1/files/page", ["path": "/", "type": 1], token: token)
            #expect(dirs.result["totalCount"] as? Int == 1)
            #expect(try await server.post("/v1/files/page", ["path": "/", "pageSize": 1000], token: token).status == 400)
            // Every code the original server knew is accepted (7: type asc, name asc: files first).
            let filesFirst = try await server.post("/v1/files/page", ["path": "/", "orderBy": 7], token: token)
            #expect((filesFirst.result["list"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["a.txt", "b.txt", "c.txt", "dir"])
            #expect(try await server.post("/v1/files/page", ["path": "/nope"], token: token).code == "FILE_NOT_FOUND")
            // list: a bare array; list2: {info, list}.
            let bare = try await server.post("/v1/files/list", ["path": "/", "start": 1, "size": 2, "orderBy": 2], token: token)
            let array = try #require(bare.json["result"] as? [[String: Any]])
            #expect(array.compactMap { $0["name"] as? String } == ["b.txt", "c.txt"])
            let two = try await server.post("/v1/files/list2", ["path": "/", "start": 0, "size": 10, "order": 3], token: token)
            #expect((two.result["info"] as? [String: Any])?["path"] as? String == "/")
            #expect((two.result["list"] as? [[String: Any]])?.first?["name"] as? String == "dir")
        }
    }

    @Test("createDirectory creates parents and returns an existing directory as it is", arguments: TestBackend.allCases)
    func createDirectory(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("cd")
            let made = try await server.post("/v1/files/createDirectory", ["path": "/a/b", "name": "c"], token: token)
            #expect(made.result["path"] as? String == "/a/b/c")
            #expect(made.result["type"] as? Int == 1)
            #expect(made.result["storeId"] == nil)
            let again = try await server.post("/v1/files/createDirectory", ["path": "/a/b", "name": "c"], token: token)
            #expect(again.result["uuid"] as? String == made.result["uuid"] as? String)
            try await file(server, token, "/a/f.txt")
            let onFile = try await server.post("/v1/files/createDirectory", ["path": "/a", "name": "f.txt"], token: token)
            #expect(onFile.status == 409)
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/a", "name": ".."], token: token).status == 400)
            try await fsckClean(server)
        }
    }

    @Test("paths deeper than PanPath.maximumDepth are refused with INVALID_PATH before anything is created", arguments: TestBackend.allCases)
    func depthLimit(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("deep")
            let deepest = String(repeating: "/d", count: PanPath.maximumDepth)
            let made = try await server.post("/v1/files/createDirectory", ["path": deepest], token: token)
            #expect(made.status == 200)
            #expect(made.result["path"] as? String == deepest)
            let tooDeep = try await server.post("/v1/files/createDirectory", ["path": String(repeating: "/e", count: PanPath.maximumDepth + 1)], token: token)
            #expect(tooDeep.status == 400)
            #expect(tooDeep.json["code"] as? String == "INVALID_PATH")
            let upload = try await server.post("/v1/store/token", ["name": "f.txt", "path": deepest + "/x"], token: token)
            #expect(upload.json["code"] as? String == "INVALID_PATH")
            // Nothing of the refused chains exists.
            #expect(try await server.post("/v1/files/get", ["path": "/e"], token: token).status == 404)
            let inside = try await server.post("/v1/files/page", ["path": deepest], token: token)
            #expect(inside.result["totalCount"] as? Int == 0)
            try await fsckClean(server)
        }
    }

    @Test("rename rewrites the subtree's paths; conflicts and bad names", arguments: TestBackend.allCases)
    func rename(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("rn")
            try await file(server, token, "/docs/deep/x.txt")
            try await file(server, token, "/other.txt")
            let renamed = try await server.post("/v1/files/rename", ["path": "/docs", "name": "papers"], token: token)
            #expect(renamed.result["path"] as? String == "/papers")
            let moved = try await server.post("/v1/files/get", ["path": "/papers/deep/x.txt"], token: token)
            #expect(moved.status == 200)
            #expect(moved.result["pathId"] as? String == PanPath.pathId("/papers/deep/x.txt"))
            #expect(try await server.post("/v1/files/get", ["path": "/docs/deep/x.txt"], token: token).status == 404)
            let byUUID = try await server.post("/v1/files/rename", ["uuid": moved.result["uuid"]!, "newName": "y.md"], token: token)
            #expect(byUUID.result["ext"] as? String == ".md")
            let taken = try await server.post("/v1/files/rename", ["path": "/other.txt", "name": "papers"], token: token)
            #expect(taken.code == "FILE_AREADY_EXISTS")
            #expect(try await server.post("/v1/files/rename", ["path": "/other.txt", "name": "a/b"], token: token).status == 400)
            #expect(try await server.post("/v1/files/rename", ["path": "/missing", "name": "z"], token: token).status == 404)
            try await fsckClean(server)
        }
    }

    @Test("move and copy: arrays, destinations, cycles, conflicts, quota, shared objects", arguments: TestBackend.allCases)
    func moveAndCopy(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("mv", capacity: 100)
            try await file(server, token, "/a/one.txt", "11111")
            try await file(server, token, "/a/sub/two.txt", "22222")
            try await file(server, token, "/b/one.txt", "other")
            _ = try await server.post("/v1/files/createDirectory", ["path": "/dest"], token: token)
            let cycle = try await server.post("/v1/files/move", ["path": ["/a"], "destPath": "/a/sub"], token: token)
            #expect(cycle.status == 400)
            #expect(cycle.code == "MOVE_INTO_ITSELF")
            let moved = try await server.post("/v1/files/move", ["path": ["/a/sub", "/a/one.txt"], "destPath": "/dest"], token: token)
            #expect(moved.json["result"] as? Int == 2)
            #expect(try await server.post("/v1/files/get", ["path": "/dest/sub/two.txt"], token: token).status == 200)
            let conflict = try await server.post("/v1/files/move", ["path": "/b/one.txt", "destPath": "/dest"], token: token)
            #expect(conflict.code == "FILE_AREADY_EXISTS")
            let over = try await server.post("/v1/files/move", ["path": "/b/one.txt", "destPath": "/dest", "overwrite": 1], token: token)
            #expect(over.status == 200)
            let dest = try await server.post("/v1/files/get", ["path": "/dest"], token: token)
            let copied = try await server.post("/v1/files/copy", ["uuid": [dest.result["uuid"]!], "parent": "/"], token: token)
            #expect(copied.status == 409, "/dest exists at the root already")
            let renamedCopy = try await server.post("/v1/files/copy", ["path": "/dest", "destPath": "/", "conflict": "rename"], token: token)
            #expect(renamedCopy.status == 200)
            #expect(try await server.post("/v1/files/get", ["path": "/dest (1)/sub/two.txt"], token: token).status == 200)
            let state = try await server.read { db in
                await (try UserRepository.find(id: user.id, on: db)!.spaceUsed,
                 try StoreObjectRepository.findCounted(hash: ContentHasher.hash(Data("22222".utf8)), on: db)!.refCount)
            }
            #expect(state.0 == 20, "two files of 5 bytes, copied")
            #expect(state.1 == 2)
            // Quota: another copy of 10 bytes exceeds 100? No — make it exceed with a smaller quota.
            try await server.write { db in try await UserRepository.setCapacity(25, userId: user.id, on: db) }
            let overQuota = try await server.post("/v1/files/copy", ["path": "/dest", "destPath": "/", "conflict": "rename"], token: token)
            #expect(overQuota.status == 403)
            #expect(overQuota.code == "QUOTA_EXCEEDED")
            try await fsckClean(server)
        }
    }

    @Test("remove, recycle bin round trip, permanent delete releases references", arguments: TestBackend.allCases)
    func recycleBin(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("rb")
            try await file(server, token, "/keep/a.txt", "aaaa")
            try await file(server, token, "/keep/inner/b.txt", "bbbbbb")
            let binned = try await server.post("/v1/files/remove", ["path": "/keep", "recycle": 1], token: token)
            #expect(binned.json["result"] as? Int == 1)
            #expect(try await server.post("/v1/files/get", ["path": "/keep/a.txt"], token: token).status == 404)
            let bin = try await server.post("/v1/files/page", ["recycle": 1], token: token)
            let listed = try #require(bin.result["list"] as? [[String: Any]])
            #expect(listed.map { $0["path"] as? String } == ["/keep"])
            // The space stays used while in the bin.
            #expect(try await server.read { db in try await UserRepository.find(id: user.id, on: db)!.spaceUsed } == 10)
            // A new /keep may exist meanwhile; restoring then conflicts.
            _ = try await server.post("/v1/files/createDirectory", ["path": "/keep"], token: token)
            #expect(try await server.post("/v1/files/recycle", ["path": "/keep", "recycle": 0], token: token).status == 409)
            _ = try await server.post("/v1/files/remove", ["path": "/keep"], token: token)
            let restored = try await server.post("/v1/files/recycle", ["path": "/keep", "recycle": 0], token: token)
            #expect(restored.status == 200)
            #expect(try await server.post("/v1/files/get", ["path": "/keep/inner/b.txt"], token: token).status == 200)
            // Permanent delete: references and space released, objects wait for gc.
            let removed = try await server.post("/v1/files/remove", ["path": ["/keep"]], token: token)
            #expect(removed.status == 200)
            let after = try await server.read { db in
                await (try UserRepository.find(id: user.id, on: db)!.spaceUsed,
                 try StoreObjectRepository.findCounted(hash: ContentHasher.hash(Data("aaaa".utf8)), on: db)!.refCount)
            }
            #expect(after.0 == 0)
            #expect(after.1 == 0)
            #expect(try await server.post("/v1/files/remove", ["path": "/"], token: token).status == 400)
            #expect(try await server.post("/v1/files/remove", ["path": "/nope"], token: token).status == 404)
            try await fsckClean(server)
        }
    }

    @Test("another user's nodes are not found; locked nodes cannot change", arguments: TestBackend.allCases)
    func isolationAndLocks(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, alice) = try await server.user("alice")
            let (_, bob) = try await server.user("bob")
            let secret = try await file(server, alice, "/private/s.txt")
            let uuid = try #require(secret["uuid"] as? String)
            #expect(try await server.post("/v1/files/get", ["uuid": uuid], token: bob).status == 404)
            #expect(try await server.post("/v1/files/rename", ["uuid": uuid, "name": "x"], token: bob).status == 404)
            #expect(try await server.post("/v1/files/remove", ["uuid": [uuid]], token: bob).status == 404)
            #expect(try await server.post("/v1/files/get", ["path": "/private/s.txt"], token: bob).status == 404)
            try await server.write { db in try await db.run("UPDATE nodes SET locking = 1 WHERE uuid = ?", uuid) }
            let locked = try await server.post("/v1/files/rename", ["uuid": uuid, "name": "x"], token: alice)
            #expect(locked.status == 423)
            #expect(locked.code == "FILE_LOCKED")
            #expect(try await server.post("/v1/files/remove", ["path": "/private"], token: alice).status == 423)
            #expect(try await server.post("/v1/files/move", ["path": "/private", "destPath": "/"], token: alice).status == 200, "moving to where it is is a no-op")
        }
    }

    @Test("2,000 random operations over HTTP leave fsck clean", arguments: [20261127])
    func randomOperations(seed: UInt64) async throws {
        try await withServer(configure: anyonesContent) { server in
            let (_, token) = try await server.user("rand", capacity: 1 << 40)
            var rng = TreeTests.SplitMix64(seed: seed)
            var directories = ["/"]
            var files: [String] = []
            var statuses: [Int: Int] = [:]
            func pick(_ list: [String]) -> String { list[Int.random(in: 0..<list.count, using: &rng)] }
            for step in 0..<2000 {
                let name = "n\(step % 37)"
                let reply: TestServer.Reply
                switch Int.random(in: 0..<10, using: &rng) {
                case 0, 1:
                    reply = try await server.post("/v1/files/createDirectory", ["path": pick(directories), "name": name], token: token)
                    if let path = reply.result["path"] as? String, !directories.contains(path) { directories.append(path) }
                case 2, 3:
                    let path = PanPath.join(pick(directories), name + ".txt")
                    let bytes = Data("content \(step % 11)".utf8)
                    let hash = ContentHasher.hash(bytes)
                    _ = try await server.write { db in
                        try await StoreObjectRepository.upsert(hash: hash, size: Int64(bytes.count), mime: "", bucket: "pan", objectKey: "k\(hash)", on: db)
                    }
                    reply = try await server.post("/v1/store/token", ["path": path, "hash": hash, "conflict": "rename"], token: token)
                    if let created = reply.result["path"] as? String { files.append(created) }
                case 4:
                    reply = try await server.post("/v1/files/rename", ["path": pick(directories + files), "name": name + "r"], token: token)
                case 5:
                    reply = try await server.post("/v1/files/move", ["path": [pick(directories + files)], "destPath": pick(directories), "conflict": "rename"], token: token)
                case 6:
                    reply = try await server.post("/v1/files/copy", ["path": [pick(directories + files)], "destPath": pick(directories), "conflict": "rename"], token: token)
                case 7:
                    reply = try await server.post("/v1/files/remove", ["path": pick(directories + files), "recycle": Bool.random(using: &rng) ? 1 : 0], token: token)
                case 8:
                    let bin = try await server.post("/v1/files/page", ["recycle": 1, "pageSize": 50], token: token)
                    let items = (bin.result["list"] as? [[String: Any]]) ?? []
                    if let item = items.randomElement(using: &rng), let uuid = item["uuid"] as? String {
                        reply = try await server.post("/v1/files/recycle", ["uuid": uuid, "recycle": 0, "conflict": "rename"], token: token)
                    } else {
                        reply = bin
                    }
                default:
                    reply = try await server.post("/v1/files/page", ["path": pick(directories), "pageSize": 50], token: token)
                }
                statuses[reply.status, default: 0] += 1
                #expect(reply.status < 500, "step \(step): \(reply.text)")
                // Refresh what exists now, cheaply, every 100 steps.
                if step % 100 == 99 {
                    let live = try await server.read { db in
                        try await db.query("SELECT path, type FROM nodes WHERE user_id = 1 AND state = 0").map { (try $0.string("path"), try $0.int("type")) }
                    }
                    directories = live.filter { $0.1 == 1 }.map(\.0)
                    files = live.filter { $0.1 == 0 }.map(\.0)
                }
            }
            #expect((statuses[200] ?? 0) > 1000, "most operations succeed: \(statuses)")
            try await fsckClean(server)
        }
    }
}
