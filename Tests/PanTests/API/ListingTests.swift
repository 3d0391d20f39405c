import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanPostgres
@testable import PanHTTPSupport
import SQLCommon
import WCS

/// Pages of a big directory come from `ListingCache` (a kept total and every
/// 32nd child's sort key) once it is being paged. Each page here is checked
/// against the same page computed without any cache, in every order, before
/// and after each kind of change to the directory: a stale or misplaced
/// page shows up as a difference.
@Suite("Listing pages of big directories: the kept totals and keyset starts are never stale (issue #18)")
struct ListingTests {
    static let size = 700
    /// The name of the i-th child made (names and insertion order differ).
    static func name(_ i: Int) -> String { String(format: "n%04d-%d", (i * 389) % size, i % 3) }

    /// `/big` with `size` children (directories and files, with ties on ctime
    /// and size so the id tie-breaker matters) and an empty `/other`.
    static func seedBig(_ server: TestServer, _ user: User) async throws -> FileNode {
        try await server.write { db -> FileNode in
            let big = try await TreeRepository.directory(userId: user.id, path: "/big", on: db)
            _ = try await TreeRepository.directory(userId: user.id, path: "/other", on: db)
            var hashes: [Int: String] = [:]
            for size in 0..<50 {
                let bytes = Data(repeating: 0x61, count: size)
                let hash = ContentHasher.hash(bytes)
                _ = try await StoreObjectRepository.upsert(hash: hash, size: Int64(size), mime: "", bucket: "pan", objectKey: "k-\(hash)", on: db)
                hashes[size] = hash
            }
            for i in 0..<Self.size {
                let kind: FileNode.Kind = i % 7 == 0 ? .directory : .file
                _ = try await TreeRepository.insert(
                    userId: user.id, parent: big, name: Self.name(i),
                    kind: kind, size: kind == .file ? Int64(i % 50) : 0, mime: "", storeHash: kind == .file ? hashes[i % 50] : nil, on: db,
                    now: 1_700_000_000_000 + Int64(i / 4)
                )
            }
            try await db.run("UPDATE users SET space_used = (SELECT SUM(size) FROM nodes WHERE user_id = ? AND type = 0) WHERE id = ?", user.id, user.id)
            return big
        }
    }

    @Test("every order and page equals an uncached listing, through inserts, renames, moves, recycle, restore, purge and raw SQL", arguments: TestBackend.allCases)
    func pagesMatchUncached(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("lister")
            let directory = try await Self.seedBig(server, user)
            let cache = server.listings
            // Learn the keys at a version's second page, so the few pages below use them.
            cache.learnAfterWalks.store(0, ordering: .relaxed)

            /// Pages through HTTP (twice each: the second request of a version learns
            /// the sort keys, later ones start from them) against the uncached listing.
            func check(_ label: String, orders: [Int], types: [Int?] = [nil], pageSize: Int = 30) async throws {
                for order in orders {
                    for type in types {
                        let reference = try await server.read { db -> (names: [String], total: Int64) in
                            let current = try await #require(try TreeRepository.node(id: directory.id, userId: user.id, on: db))
                            let all = try await TreeRepository.children(
                                of: current, type: type, order: ListingOrder(code: order), limit: 100_000, offset: 0, on: db
                            )
                            return (all.nodes.map(\.name), all.total)
                        }
                        let lastPage = max(1, (Int(reference.total) + pageSize - 1) / pageSize)
                        for page in [1, 3, 8, 15, lastPage, lastPage + 1] {
                            var body: [String: Any] = ["path": "/big", "orderBy": order, "pageSize": pageSize, "page": page]
                            if let type { body["type"] = type }
                            let expected = Array(reference.names.dropFirst((page - 1) * pageSize).prefix(pageSize))
                            for attempt in 0..<2 {
                                let reply = try await server.post("/v1/files/page", body, token: token)
                                let names = (reply.result["list"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                                #expect(names == expected, "\(label): orderBy \(order) type \(type.map(String.init) ?? "all") page \(page) try \(attempt)")
                                #expect(reply.result["totalCount"] as? Int == Int(reference.total), "\(label): total, orderBy \(order)")
                            }
                        }
                    }
                }
            }

            let everyOrder = [-1, -2, 0, 1, 2, 3, 12, 13] + Array(4...17)
            try await check("fresh", orders: everyOrder)
            try await check("fresh, by type", orders: [-1, 2], types: [0, 1])
            #expect(try await server.count("listing_versions") == 1, "the big directory was paged without keeping its version")
            #expect(cache.pagedDirectories > 0, "the pages above never used kept sort keys")

            // Every order's SQL is the same on both engines; PostgreSQL pages are slower
            // in a debug build, so its checks after each change take fewer orders.
            let someOrders = backend == .sqlite ? [-1, 1, 2, 3, 7, 13] : [-1, 2, 13]
            try await FilesTests().file(server, token, "/big/added.bin", "added")
            try await check("after an insert", orders: someOrders)

            #expect(try await server.post("/v1/files/rename", ["path": "/big/" + Self.name(3), "name": "zz-renamed"], token: token).success == true)
            try await check("after a rename", orders: someOrders)

            #expect(try await server.post("/v1/files/move", ["path": ["/big/" + Self.name(10), "/big/" + Self.name(20)], "destPath": "/other"], token: token).success == true)
            try await check("after a move out", orders: someOrders)
            #expect(try await server.post("/v1/files/move", ["path": ["/other/" + Self.name(10)], "destPath": "/big"], token: token).success == true)
            try await check("after a move in", orders: someOrders)

            #expect(try await server.post("/v1/files/remove", ["path": "/big/" + Self.name(100), "recycle": 1], token: token).success == true)
            try await check("after a recycle", orders: someOrders)
            let bin = try await server.post("/v1/files/page", ["recycle": 1, "pageSize": 20], token: token)
            let recycled = try #require((bin.result["list"] as? [[String: Any]])?.first?["uuid"] as? String, "\(bin.text)")
            #expect(try await server.post("/v1/files/recycle", ["uuid": recycled, "recycle": 0], token: token).success == true)
            try await check("after a restore", orders: someOrders)
            #expect(try await server.post("/v1/files/remove", ["path": ["/big/" + Self.name(200)]], token: token).success == true)
            try await check("after a removal", orders: someOrders)

            let findings = try await server.read { db in try await TreeChecker.check(on: db) }
            #expect(findings.isEmpty, "fsck: \(findings)")

            // Writers that never pass through Pan's repositories (another process, a
            // repair by hand) are caught too: the version is kept by triggers.
            try await server.write { db in
                try await db.run("UPDATE nodes SET size = size + 1000 WHERE user_id = ? AND parent_id = ? AND name = ?", user.id, directory.id, Self.name(301))
            }
            try await check("after a raw size change", orders: [12, 13])
            try await server.write { db in
                try await db.run("UPDATE nodes SET name = 'a-first' WHERE user_id = ? AND parent_id = ? AND name = ?", user.id, directory.id, Self.name(400))
            }
            try await check("after a raw rename", orders: [2, 3])

        }
    }

    @Test("a versioned directory's version moves with each change to its children, in the same transaction; other directories have none", arguments: TestBackend.allCases)
    func versionBumps(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("versions")
            @Sendable func version(_ path: String) async throws -> Int64? {
                try await server.read { db in
                    guard let node = try await TreeRepository.node(userId: user.id, path: path, on: db) else { throw TestFailure("no \(path)") }
                    return try await TreeRepository.listingVersion(of: node, on: db)
                }
            }
            _ = try await server.post("/v1/files/createDirectory", ["path": "/a/b"], token: token)
            // Listing a small directory keeps no version for it.
            _ = try await server.post("/v1/files/page", ["path": "/a", "page": 2, "pageSize": 1], token: token)
            #expect(try await version("/a") == nil)
            try await server.write { db in
                try await TreeRepository.versionListing(of: try #require(try TreeRepository.node(userId: user.id, path: "/a", on: db)), on: db)
            }
            let before = try #require(try await version("/a"))
            // A change inside /a/b is not a change to /a's children, and /a/b keeps no version.
            try await FilesTests().file(server, token, "/a/b/f.bin", "f")
            #expect(try await version("/a") == before)
            #expect(try await version("/a/b") == nil)
            // Renaming /a/b changes /a's children; so does a new child.
            _ = try await server.post("/v1/files/rename", ["path": "/a/b", "name": "c"], token: token)
            let renamed = try #require(try await version("/a"))
            #expect(renamed > before)
            try await FilesTests().file(server, token, "/a/g.bin", "g")
            #expect(try #require(try await version("/a")) > renamed)
            // A change that is rolled back leaves no bump behind.
            let settled = try await version("/a")
            await #expect(throws: TestFailure.self) {
                try await server.write { db in
                    try await db.run("UPDATE nodes SET name = 'x' WHERE user_id = ? AND path = '/a/c'", user.id)
                    throw TestFailure("undo")
                }
            }
            #expect(try await version("/a") == settled)
            // Removing the directory for good removes its version too.
            #expect(try await server.post("/v1/files/remove", ["path": ["/a"]], token: token).success == true)
            #expect(try await server.count("listing_versions") == 0)
        }
    }

    @Test("the cache stays within its entry and byte budgets, keeps no keys too big for a quarter of it, never goes back a version, and keeps keys learnt at the same version")
    func budgets() {
        // A key of one integer counts 40 bytes: 90 keys 3,600, a quarter of the budget 4,000.
        let cache = ListingCache(capacity: 3, keyBudget: 16_000)
        func key(_ id: Int64) -> ListingCache.Key { .init(userId: 1, directoryId: id, directoryUUID: "u\(id)", order: 2, naturalNames: true, filter: "") }
        func keys(_ n: Int) -> [[DatabaseValue]] { Array(repeating: [.integer(1)], count: n) }
        #expect(!cache.keepsKeys(forTotal: ListingCache.keysetThreshold))
        #expect(cache.keepsKeys(forTotal: 32 * 62))
        #expect(!cache.keepsKeys(forTotal: 32 * 63), "a quarter of the budget at 64 bytes a key is the most one directory-order gets")
        let walkedMuch = ListingCache.Entry(version: 1, total: 1_000, walked: 15_000)
        #expect(!cache.worthLearning(walkedMuch, walk: 900))
        #expect(cache.worthLearning(walkedMuch, walk: 1_000))
        #expect(!cache.worthLearning(ListingCache.Entry(version: 1, total: .max / 2, walked: .max), walk: .max), "overflow is never worth learning, nor a trap")
        #expect(ListingCache.saturatingSum(.max, .max) == .max)
        for id in 1...5 {
            cache.store(.init(version: 1, total: 3_000, boundaries: keys(90)), for: key(Int64(id)))
            #expect(cache.keptBytes <= 16_000)
        }
        #expect(cache.pagedDirectories == 3, "capacity 3")
        #expect(cache.keptBytes == 3 * 3_600)
        cache.store(.init(version: 1, total: 3_000, boundaries: keys(100)), for: key(8))
        #expect(cache.keptBytes <= 16_000)
        #expect(cache.entry(key(8), version: 1)?.boundaries?.count == 100)
        // Same version without keys (a concurrent page's walk): the learnt keys stay.
        cache.store(.init(version: 1, total: 3_000, walked: 5), for: key(8))
        #expect(cache.entry(key(8), version: 1)?.boundaries?.count == 100)
        // Too big for a quarter: kept without keys, and marked so the version is not learnt again.
        let refused = cache.store(.init(version: 1, total: 9_000, boundaries: keys(300)), for: key(9))
        #expect(refused.boundaries == nil && refused.keysRefused)
        cache.store(.init(version: 1, total: 3_000, boundaries: keys(100)), for: key(8))
        // A newer version replaces; an older snapshot's entry never does.
        cache.store(.init(version: 2, total: 3_001), for: key(8))
        cache.store(.init(version: 1, total: 3_000, boundaries: keys(100)), for: key(8))
        #expect(cache.entry(key(8), version: 1) == nil)
        #expect(cache.entry(key(8), version: 2)?.total == 3_001)
    }

    @Test("offsets far past the end (any start up to Int64.max, sent as a string) answer empty, walk nothing and never overflow the cache's bookkeeping")
    func hugeOffsets() async throws {
        try await withServer { server in
            let (user, token) = try await server.user("far")
            try await server.write { db in
                let big = try await TreeRepository.directory(userId: user.id, path: "/big", on: db)
                for i in 0..<300 {
                    _ = try await TreeRepository.insert(userId: user.id, parent: big, name: "d\(i)", kind: .directory, size: 0, mime: "", storeHash: nil, on: db)
                }
            }
            // The first listing keeps the big directory's version; the rest use the cache.
            _ = try await server.post("/v1/files/page", ["path": "/big"], token: token)
            for order in [-1, 1] {
                for _ in 0..<3 {
                    let list = try await server.post("/v1/files/list", ["path": "/big", "start": String(Int64.max), "size": 10, "orderBy": order], token: token)
                    #expect(list.status == 200 && (list.json["result"] as? [Any])?.isEmpty == true, "\(list.text)")
                }
            }
            // Nothing learnt from pages that walked nothing.
            #expect(server.listings.pagedDirectories == 0)
            let deep = try await server.post("/v1/files/page", ["path": "/big", "page": 10, "pageSize": 20], token: token)
            #expect((deep.result["list"] as? [Any])?.count == 20, "\(deep.text)")
            #expect(try await server.request(.get, "/healthz").status == 200)
        }
    }

    @Test("the real clients' request shapes on a big, cached directory: desktop list2 with start -1, list with size 0, page with order 0, odd and string values", arguments: TestBackend.allCases)
    func clientShapesOnACachedDirectory(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("shapes")
            let directory = try await Self.seedBig(server, user)
            server.listings.learnAfterWalks.store(0, ordering: .relaxed)
            func uncached(type: Int?, order: Int, limit: Int, offset: Int) async throws -> [String] {
                try await server.read { db in
                    try await TreeRepository.children(
                        of: directory, type: type, order: ListingOrder(code: order), limit: limit, offset: offset, on: db
                    ).nodes.map(\.name)
                }
            }
            func names(_ reply: TestServer.Reply, list: Bool = false) -> [String] {
                let items = list ? reply.json["result"] as? [[String: Any]] : reply.result["list"] as? [[String: Any]]
                return (items ?? []).compactMap { $0["name"] as? String }
            }
            // Each shape twice: the first registers or fills the cache, the second is served from it.
            for _ in 0..<2 {
                // The desktop app's Move dialog: list2, start -1, directories only.
                let tree = try await server.post("/v1/files/list2", ["path": "/big", "start": -1, "size": 100, "type": 1], token: token)
                #expect(names(tree) == (try await uncached(type: 1, order: -1, limit: 100, offset: 0)), "\(tree.text.prefix(300))")
                // list with size 0 (no limit, up to the list cap) from a deep start.
                let rest = try await server.post("/v1/files/list", ["path": "/big", "start": 650, "size": 0], token: token)
                #expect(names(rest, list: true) == (try await uncached(type: nil, order: -1, limit: 1_000, offset: 650)))
                // page with the desktop's order 0, a page number sent as a string, deep in.
                let desktop = try await server.post("/v1/files/page", ["path": "/big", "order": 0, "page": "20", "pageSize": 30], token: token)
                #expect(names(desktop) == (try await uncached(type: nil, order: -1, limit: 30, offset: 570)))
                #expect(desktop.result["totalCount"] as? Int == Self.size)
                // The web app's odd values: pageSize -1 (the default 20), "flase", an unknown orderBy.
                let odd = try await server.post("/v1/files/page", ["path": "/big", "page": 9, "pageSize": -1, "recycle": "flase", "orderBy": "abc"], token: token)
                #expect(names(odd) == (try await uncached(type: nil, order: -1, limit: 20, offset: 160)), "\(odd.text.prefix(300))")
                // By name, files only, by a client that sends the order as a string.
                let byName = try await server.post("/v1/files/page", ["path": "/big", "orderBy": "2", "type": 0, "page": 11, "pageSize": 25], token: token)
                #expect(names(byName) == (try await uncached(type: 0, order: 2, limit: 25, offset: 250)))
            }
            #expect(server.listings.pagedDirectories > 0, "no shape above was served from kept keys")
        }
    }
}
