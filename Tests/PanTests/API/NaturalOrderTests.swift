import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanServer
import SQLCommon
import SQLiteKit

/// Issue #26 "The list" and bug 9: names list in natural, case-insensitive
/// order on the server, for every order code that sorts by name, on both
/// engines — `_under, apple, Banana, File1, file2, file10, Zebra`, not the
/// bytes' `Banana, File1, Zebra, _under, apple, file10, file2`.
@Suite("Natural name order (issue #26)")
struct NaturalOrderTests {
    // MARK: The key

    func key(_ name: String) -> NameSortKey { NameSortKey(name) }

    /// `names` sorted as listings sort them: key, then the name's bytes.
    func sorted(_ names: [String]) -> [String] {
        names.sorted { a, b in
            let (ka, kb) = (key(a), key(b))
            return ka != kb ? ka < kb : a.utf8.lexicographicallyPrecedes(b.utf8)
        }
    }

    @Test("the issue's names in natural order; digit runs compare as numbers, whatever their zeros")
    func issueExample() {
        let bytewise = ["Banana", "File1", "Zebra", "_under", "apple", "file10", "file2"]
        #expect(sorted(bytewise) == ["_under", "apple", "Banana", "File1", "file2", "file10", "Zebra"])
        #expect(key("file2") < key("file10"))
        #expect(key("file9") < key("file10"))
        #expect(key("a2b") < key("a10a"))
        #expect(key("v1.9") < key("v1.10"))
        #expect(key("file002") == key("file2"), "leading zeros don't change the number")
        #expect(key("x0") == key("x000"))
        #expect(key("x0") < key("x1"))
        // A number sits where its digits would among punctuation and letters.
        #expect(key("a-") < key("a1"))
        #expect(key("a.") < key("a1"))
        #expect(key("a1") < key("a:"))
        #expect(key("a1") < key("aa"))
        #expect(key("a") < key("a1"))
        #expect(key("a1") < key("a1b"))
        // Equal keys are ordered by the name's bytes (then id): still total.
        #expect(sorted(["x1", "x01", "X1"]) == ["X1", "x01", "x1"])
    }

    @Test("case folds fully and compatibility forms are their plain forms (NFKC): full-width, ligatures, circled digits")
    func foldingAndCompatibility() {
        #expect(key("ABC") == key("abc"))
        #expect(key("Straße") == key("STRASSE"))
        #expect(key("ΣΑΣ") == key("σας"))
        #expect(key("１２") == key("12"), "full-width digits are digits")
        #expect(key("file１２") > key("file9"))
        #expect(key("ＡＢＣ") == key("abc"))
        #expect(key("ﬁle") == key("file"))
        #expect(key("①") == key("1"))
        #expect(key("x²") == key("x2"))
        // Decimal digits of other scripts count by their value.
        #expect(key("v٣") == key("v3"))
        #expect(key("v٣") < key("v10"))
        #expect(key("ch\u{0967}\u{0966}") == key("ch10"), "Devanagari १० is 10")
    }

    @Test("CJK and other scripts sort after Latin by code point; empty and odd names have keys")
    func otherScripts() {
        #expect(sorted(["日本", "émile", "Zebra", "中文", "apple"]) == ["apple", "Zebra", "émile", "中文", "日本"])
        #expect(key("第2章") < key("第10章"))
        #expect(key("").bytes.isEmpty, "the root's name")
        #expect(key(" ") < key("a"))
        #expect(key("😀1") < key("😀2"))
        #expect(key("a\u{301}") == key("á"), "canonical forms are one")
    }

    @Test("very long digit runs: longer numbers after shorter ones past the one-byte length, and runs past 255 digits")
    func longDigitRuns() {
        let run254 = String(repeating: "9", count: 254)
        let run255 = "1" + String(repeating: "0", count: 254)
        let run300 = "1" + String(repeating: "0", count: 299)
        let run70000 = "1" + String(repeating: "0", count: 69_999)
        #expect(key(run254) < key(run255))
        #expect(key(run255) < key(run300))
        #expect(key(run300) < key(run70000))
        #expect(key("2") < key(run300))
        #expect(key("0000" + run300) == key(run300))
        #expect(key(run300 + "a") < key(run300 + "b"))
        #expect(key(String(repeating: "0", count: 500)) == key("0"))
        // The digits are kept whole: two long numbers differing in the last digit differ.
        #expect(key(run300) < key(String(run300.dropLast()) + "1"))
    }

    // MARK: Through HTTP, both engines

    /// Natural ascending order of what `seed` makes in `/n`.
    static let ascending = [
        "_under", "apple", "Banana", "dir9", "Dir10", "File1", "file2", "file10",
        "x01.txt", "x1.txt", "x9.txt", "x１２.txt", "Zebra", "émile", "日本",
    ]
    static let directories: Set<String> = ["dir9", "Dir10"]

    static func seed(_ server: TestServer, _ token: String) async throws {
        for name in ascending.shuffled() {
            if directories.contains(name) {
                let made = try await server.post("/v1/files/createDirectory", ["path": "/n", "name": name], token: token)
                #expect(made.status == 200, "\(made.text)")
            } else {
                _ = try await FilesTests().file(server, token, "/n/\(name)", name)
            }
        }
    }

    /// Every name of `/n` in the order `orderBy`, page by page (`pageSize` 4: four pages).
    static func paged(_ server: TestServer, _ token: String, orderBy: Int, path: String = "/n", pageSize: Int = 4) async throws -> [String] {
        var names: [String] = []
        for page in 1... {
            let reply = try await server.post("/v1/files/page", ["path": path, "orderBy": orderBy, "page": page, "pageSize": pageSize], token: token)
            #expect(reply.status == 200, "\(reply.text)")
            let list = (reply.result["list"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            if list.isEmpty { break }
            names += list
        }
        return names
    }

    @Test("/v1/files/page in every name order (2, 3 and 4–7 with directories), across pages; list and list2 too", arguments: TestBackend.allCases)
    func everyNameOrder(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (_, token) = try await server.user("natural")
            try await Self.seed(server, token)
            let ascending = Self.ascending
            let files = ascending.filter { !Self.directories.contains($0) }
            let directories = ascending.filter { Self.directories.contains($0) }
            let expected: [Int: [String]] = [
                2: ascending, 3: ascending.reversed(),
                4: directories.reversed() + files.reversed(), 5: files.reversed() + directories.reversed(),
                6: directories + files, 7: files + directories,
            ]
            for (code, names) in expected.sorted(by: { $0.key < $1.key }) {
                #expect(try await Self.paged(server, token, orderBy: code) == names, "orderBy \(code)")
                #expect(try await Self.paged(server, token, orderBy: code, pageSize: 999) == names, "orderBy \(code), one page")
            }
            let list = try await server.post("/v1/files/list", ["path": "/n", "order": 2, "start": 3, "size": 5], token: token)
            let listed = (list.json["result"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(listed == Array(ascending[3..<8]), "\(list.text)")
            let list2 = try await server.post("/v1/files/list2", ["path": "/n", "order": "3", "size": 0], token: token)
            let listed2 = ((list2.result["list"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            #expect(listed2 == ascending.reversed(), "\(list2.text)")
            try await FilesTests().fsckClean(server)
        }
    }

    @Test("every write that names a node sets its key: rename, copy and move with conflict rename, restore with rename; fsck checks it", arguments: TestBackend.allCases)
    func writesSetTheKey(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("renamer")
            try await Self.seed(server, token)
            // A rename moves the node to its new natural place.
            #expect(try await server.post("/v1/files/rename", ["path": "/n/apple", "name": "FILE3"], token: token).success == true)
            var expected = Self.ascending.filter { $0 != "apple" }
            expected.insert("FILE3", at: expected.firstIndex(of: "file10")!)
            #expect(try await Self.paged(server, token, orderBy: 2) == expected)
            // Copy onto a taken name with conflict rename: `file2 (1)` sorts after `file2`, before `FILE3`.
            #expect(try await server.post("/v1/files/copy", ["path": "/n/file2", "destPath": "/n", "conflict": "rename"], token: token).success == true)
            expected.insert("file2 (1)", at: expected.firstIndex(of: "FILE3")!)
            #expect(try await Self.paged(server, token, orderBy: 2) == expected)
            // Move in from elsewhere onto a taken name, renamed.
            _ = try await FilesTests().file(server, token, "/m/Zebra", "other zebra")
            #expect(try await server.post("/v1/files/move", ["path": "/m/Zebra", "destPath": "/n", "conflict": "rename"], token: token).success == true)
            expected.insert("Zebra (1)", at: expected.firstIndex(of: "Zebra")! + 1)
            #expect(try await Self.paged(server, token, orderBy: 2) == expected)
            // Recycle, take the name, restore with rename.
            #expect(try await server.post("/v1/files/remove", ["path": "/n/x9.txt", "recycle": 1], token: token).success == true)
            _ = try await FilesTests().file(server, token, "/n/x9.txt", "new x9")
            let bin = try await server.post("/v1/files/page", ["recycle": 1], token: token)
            let binned = try #require((bin.result["list"] as? [[String: Any]])?.first?["uuid"] as? String, "\(bin.text)")
            let restored = try await server.post("/v1/files/recycle", ["uuid": binned, "recycle": 0, "conflict": "rename"], token: token)
            #expect(restored.result["name"] as? String == "x9 (1).txt", "\(restored.text)")
            // " " sorts before ".": `x9 (1).txt` comes first.
            expected.insert("x9 (1).txt", at: expected.firstIndex(of: "x9.txt")!)
            #expect(try await Self.paged(server, token, orderBy: 2) == expected)
            #expect(try await Self.paged(server, token, orderBy: 3) == expected.reversed())
            try await FilesTests().fsckClean(server)

            // A key that is not its name's is a finding, and repair remakes it.
            try await server.write { db in
                try await db.run("UPDATE nodes SET name_key = ? WHERE user_id = ? AND name = 'Banana'", NameSortKey("zzz"), user.id)
            }
            let findings = try await server.read { db in try await TreeChecker.check(on: db) }
            #expect(findings.map(\.check) == ["name-key"], "\(findings)")
            let repairs = try await server.services.store.fsck(repair: true)
            #expect(repairs.repairs.contains("remade the name sort key of 1 node(s)"), "\(repairs.repairs)")
            #expect(repairs.findings.isEmpty, "\(repairs.findings)")
            #expect(try await Self.paged(server, token, orderBy: 2) == expected)
        }
    }

    @Test("a big directory paged from the listing cache: keyset starts use the natural key, every page, both directions", arguments: TestBackend.allCases)
    func bigDirectoryPages(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("bigger")
            let count = 300  // past ListingCache.keysetThreshold
            try await server.write { db in
                let big = try await TreeRepository.directory(userId: user.id, path: "/big", on: db)
                for i in (1...count).shuffled() {
                    // Case alternates, so byte order would put all "F…" first.
                    _ = try await TreeRepository.insert(
                        userId: user.id, parent: big, name: (i % 2 == 0 ? "F" : "f") + "\(i)", kind: .directory, size: 0,
                        mime: MimeType.directory, storeHash: nil, on: db
                    )
                }
            }
            server.listings.learnAfterWalks.store(0, ordering: .relaxed)
            let ascending = (1...count).map { (i: Int) in (i % 2 == 0 ? "F" : "f") + "\(i)" }
            // Twice: the first pass learns the keys (from the second page on), the second starts from them.
            for pass in 0..<2 {
                #expect(try await Self.paged(server, token, orderBy: 2, path: "/big", pageSize: 37) == ascending, "pass \(pass)")
                #expect(try await Self.paged(server, token, orderBy: 3, path: "/big", pageSize: 37) == ascending.reversed(), "pass \(pass)")
            }
            #expect(server.listings.pagedDirectories >= 2, "the pages never started from kept keys")
        }
    }

    // MARK: Existing nodes

    @Test("nodes without a key (from before the migration) list by bytes until the backfill, which gives every one its key in batches", arguments: TestBackend.allCases)
    func backfill(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: anyonesContent) { server in
            let (user, token) = try await server.user("older")
            let count = NameKeys.batchSize * 2 + 37
            let names = (1...count).map { "\($0 % 2 == 0 ? "B" : "a")\($0)" }
            try await server.write { db in
                let old = try await TreeRepository.directory(userId: user.id, path: "/old", on: db)
                for name in names {
                    _ = try await TreeRepository.insert(
                        userId: user.id, parent: old, name: name, kind: .directory, size: 0, mime: MimeType.directory, storeHash: nil, on: db
                    )
                }
                // As 0015 leaves the nodes it finds.
                try await db.run("UPDATE nodes SET name_key = NULL")
            }
            let bytewise = names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            #expect(try await Self.paged(server, token, orderBy: 2, path: "/old", pageSize: 500) == bytewise, "before the backfill: byte order")
            let filled = try await server.services.store.completeNameKeys()
            #expect(filled == count + 2, "every node, the root and /old included")
            #expect(try await server.count("nodes", "name_key IS NULL") == 0)
            #expect(try await server.services.store.completeNameKeys() == 0, "nothing left to fill")
            #expect(try await Self.paged(server, token, orderBy: 2, path: "/old", pageSize: 500) == sorted(names), "after: natural")
            try await FilesTests().fsckClean(server)
        }
    }

    @Test("a SQLite database migrated from the schema before 0015, with nodes, gets their keys when opened: natural order, fsck clean")
    func migratedDatabase() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = PanDatabase.path(inDataDirectory: directory)
        let all = try PanDatabase.migrationRunner().migrations
        let keyed = try #require(all.first { $0.name.hasSuffix("_name_sort_key.sql") }).version
        let names = ["file10", "Zebra", "_under", "file2", "apple", "File1", "Banana"]
        do {
            let connection = try Connection(path: path)
            _ = try MigrationRunner(all.filter { $0.version < keyed }).migrate(connection)
            try await connection.run("INSERT INTO users (name, password_hash, space_capacity, create_time, node_count) VALUES ('old', 'x', 100, 1, ?)", names.count + 1)
            try await connection.run(
                """
                INSERT INTO nodes (uuid, user_id, parent_id, name, path, path_id, type, ext, mime, size, lft, rgt, atime, ctime, mtime)
                VALUES (?, 1, NULL, '', '/', ?, 1, '', ?, 0, ?, ?, 1, 1, 1)
                """,
                RandomID.hex32(), PanPath.pathId("/"), MimeType.directory, IntervalAllocator.rootLeft, IntervalAllocator.rootRight
            )
            for (i, name) in names.enumerated() {
                try await connection.run(
                    """
                    INSERT INTO nodes (uuid, user_id, parent_id, name, path, path_id, type, ext, mime, size, lft, rgt, atime, ctime, mtime)
                    VALUES (?, 1, 1, ?, ?, ?, 1, '', ?, 0, ?, ?, 1, 1, 1)
                    """,
                    RandomID.hex32(), name, "/" + name, PanPath.pathId("/" + name), MimeType.directory, Int64(10 + 2 * i), Int64(11 + 2 * i)
                )
            }
        }
        var configuration = PanConfiguration()
        configuration.dataDirectory = directory
        let store = try await StoreOpening.open(
            configuration, settings: UploadSettings(bucket: "pan", credentials: [], uploadURL: "", callbackURL: ""), readerCount: 1,
            logger: .init(label: "test")
        )
        let listing = try await store.listing(
            userId: 1, of: NodeAddress(uuid: nil, path: "/"), window: ListingWindow(type: nil, order: ListingOrder(code: 2), limit: 100, offset: 0)
        )
        #expect(listing.children.map(\.name) == ["_under", "apple", "Banana", "File1", "file2", "file10", "Zebra"])
        let report = try await store.fsck(repair: false)
        #expect(report.findings.isEmpty, "\(report.findings)")
        await store.close()
    }
}
