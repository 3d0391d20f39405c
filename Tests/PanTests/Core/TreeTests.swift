import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
import SQLiteKit

/// The file tree's gapped nested-set intervals, and the path rules (`api.md` §4).
@Suite("File tree intervals and paths (TreeTests)")
struct TreeTests {
    // MARK: Support

    /// A small deterministic generator, so a failure can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct NodeRow: Sendable {
        let id: Int64
        let parentId: Int64?
        let name: String
        let path: String
        let pathId: String
        let isDirectory: Bool
        let lft: Int64
        let rgt: Int64
    }

    static func nodes(of userId: Int64, on db: Connection) async throws -> [NodeRow] {
        try await db.query("SELECT id, parent_id, name, path, path_id, type, lft, rgt FROM nodes WHERE user_id = ? ORDER BY id", userId)
            .map { row in
                NodeRow(
                    id: try row.int64("id"), parentId: try row.optionalInt64("parent_id"), name: try row.string("name"),
                    path: try row.string("path"), pathId: try row.string("path_id"), isDirectory: try row.int("type") == 1,
                    lft: try row.int64("lft"), rgt: try row.int64("rgt")
                )
            }
    }

    /// Every invariant of the tree of `userId`; returns the violations (empty: all hold).
    /// `sample` directories additionally get their interval descendants compared, in SQL,
    /// with their parent_id descendants.
    static func violations(userId: Int64, sample: [Int64], on db: Connection) async throws -> [String] {
        let all = try await nodes(of: userId, on: db)
        var problems: [String] = []
        func fail(_ message: String) { if problems.count < 30 { problems.append(message) } }

        var byId: [Int64: NodeRow] = [:]
        var children: [Int64: [NodeRow]] = [:]
        var roots: [NodeRow] = []
        for node in all {
            byId[node.id] = node
            if let parentId = node.parentId { children[parentId, default: []].append(node) } else { roots.append(node) }
        }
        if roots.count != 1 { fail("user \(userId) has \(roots.count) roots") }
        for root in roots {
            if root.path != "/" { fail("root \(root.id) has path \(root.path)") }
            if root.lft != IntervalAllocator.rootLeft || root.rgt != IntervalAllocator.rootRight {
                fail("root \(root.id) spans [\(root.lft), \(root.rgt)]")
            }
        }

        for node in all {
            if !(node.lft < node.rgt) { fail("node \(node.id) \(node.path): lft \(node.lft) >= rgt \(node.rgt)") }
            if node.pathId != PanPath.pathId(node.path) { fail("node \(node.id) \(node.path): path_id \(node.pathId)") }
            guard let parentId = node.parentId else { continue }
            guard let parent = byId[parentId] else {
                fail("node \(node.id) has parent \(parentId) outside the user's tree")
                continue
            }
            if !parent.isDirectory { fail("node \(node.id) is under the file \(parent.path)") }
            if !(parent.lft < node.lft && node.rgt < parent.rgt) {
                fail("node \(node.id) \(node.path) [\(node.lft), \(node.rgt)] not strictly inside parent \(parent.path) [\(parent.lft), \(parent.rgt)]")
            }
            let expected = parent.path == "/" ? "/" + node.name : parent.path + "/" + node.name
            if node.path != expected { fail("node \(node.id): path \(node.path), expected \(expected)") }
            if node.path != PanPath.join(parent.path, node.name) { fail("node \(node.id): path disagrees with PanPath.join") }
        }

        for (parentId, siblings) in children {
            let sorted = siblings.sorted { $0.lft < $1.lft }
            for (a, b) in zip(sorted, sorted.dropFirst()) where !(a.rgt < b.lft) {
                fail("siblings under \(parentId) overlap: \(a.path) [\(a.lft), \(a.rgt)] and \(b.path) [\(b.lft), \(b.rgt)]")
            }
        }

        // Subtree sizes by parent_id, children before parents.
        var size: [Int64: Int] = [:]
        func subtreeSize(_ id: Int64) -> Int {
            // Iterative post-order: the tree may be deep.
            var stack: [(Int64, Bool)] = [(id, false)]
            while let (current, expanded) = stack.popLast() {
                if size[current] != nil { continue }
                let kids = children[current] ?? []
                if expanded || kids.isEmpty {
                    size[current] = 1 + kids.reduce(0) { $0 + (size[$1.id] ?? 0) }
                } else {
                    stack.append((current, true))
                    for kid in kids { stack.append((kid.id, false)) }
                }
            }
            return size[id]!
        }
        // Every node: the nodes whose lft lies inside its interval are exactly its descendants' count.
        let lefts = all.map(\.lft).sorted()
        func countOfLefts(above low: Int64, below high: Int64) -> Int {
            func lowerBound(_ value: Int64) -> Int {
                var lo = 0, hi = lefts.count
                while lo < hi { let mid = (lo + hi) / 2; if lefts[mid] < value { lo = mid + 1 } else { hi = mid } }
                return lo
            }
            return lowerBound(high) - lowerBound(low + 1)
        }
        for node in all {
            let byWalk = subtreeSize(node.id) - 1
            let byInterval = countOfLefts(above: node.lft, below: node.rgt)
            if byWalk != byInterval { fail("node \(node.id) \(node.path): \(byWalk) descendants by parent_id, \(byInterval) by interval") }
        }

        // The sample: the real query the server would run, as sets.
        for id in sample {
            guard let node = byId[id] else { fail("sample node \(id) missing"); continue }
            let byInterval = await Set(try db.query(
                "SELECT id FROM nodes WHERE user_id = ? AND lft > ? AND rgt < ?", userId, node.lft, node.rgt
            ).map { try $0.int64("id") })
            var byWalk = Set<Int64>()
            var queue = children[id] ?? []
            while let next = queue.popLast() {
                byWalk.insert(next.id)
                queue.append(contentsOf: children[next.id] ?? [])
            }
            if byInterval != byWalk {
                fail("descendants of \(node.path): \(byInterval.count) by interval, \(byWalk.count) by parent_id, differing in \(byInterval.symmetricDifference(byWalk).prefix(5))")
            }
        }
        return problems
    }

    static func newUser(_ name: String, on db: Connection) async throws -> User {
        try await UserRepository.create(.init(name: name, passwordHash: "x", spaceCapacity: 1 << 40), on: db)
    }

    static func storeHash(_ n: Int, on db: Connection) async throws -> String {
        let hash = "hash-\(n)"
        _ = try await StoreObjectRepository.upsert(hash: hash, size: Int64(n), mime: "text/plain", bucket: "pan", objectKey: "k\(n)", on: db)
        return hash
    }

    @discardableResult
    static func file(_ name: String, in parent: FileNode, userId: Int64, hash: String, on db: Connection) async throws -> FileNode {
        try await TreeRepository.insert(
            userId: userId, parent: parent, name: name, kind: .file, size: 1, mime: MimeType.forName(name), storeHash: hash, on: db
        )
    }

    @discardableResult
    static func directory(_ name: String, in parent: FileNode, userId: Int64, on db: Connection) async throws -> FileNode {
        try await TreeRepository.insert(
            userId: userId, parent: parent, name: name, kind: .directory, size: 0, mime: MimeType.directory, storeHash: nil, on: db
        )
    }

    // MARK: Intervals

    /// Runs one insert in a savepoint; a failure is recorded (not thrown) so the test can go on
    /// and still check the invariants of what was built.
    static func attempt<T>(_ what: @autoclosure () -> String, _ failures: inout [String], on db: Connection, _ body: () async throws -> T) async -> T? {
        do {
            return try await db.savepoint(named: "pan_sp", body)
        } catch {
            failures.append("\(what()): \(error)")
            return nil
        }
    }

    @Test("random inserts, a 40-deep chain and a 3000-wide directory keep every interval invariant", arguments: [UInt64(0x5EED_0001), 0xC0FF_EE42])
    func randomTrees(seed: UInt64) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)

        let (alice, other) = try await database.write { db in
            await (try Self.newUser("alice", on: db), try Self.newUser("other", on: db))
        }
        let aliceId = alice.id, otherId = other.id

        // Random nested directories (depth 1…15) and files in random known directories,
        // with a second user's tree growing interleaved (same interval space, different user_id).
        let randomFailures = try await database.write { db -> [String] in
            var failures: [String] = []
            var rng = SplitMix64(seed: seed)
            var hashes: [String] = []
            for n in 0..<8 { hashes.append(try await Self.storeHash(n, on: db)) }
            var known = await [try TreeRepository.root(of: aliceId, on: db)]
            var otherKnown = await [try TreeRepository.root(of: otherId, on: db)]
            let extensions = [".txt", ".tar.gz", "", ".pdf", ".JPG"]
            for i in 0..<2_500 {
                let roll = Int.random(in: 0..<100, using: &rng)
                if roll < 30 {
                    let depth = Int.random(in: 1...15, using: &rng)
                    let path = "/" + (0..<depth).map { _ in "d\(Int.random(in: 0..<3, using: &rng))" }.joined(separator: "/")
                    if let node = await Self.attempt("mkdir -p \(path)", &failures, on: db, {
                        try await TreeRepository.directory(userId: aliceId, path: path, on: db)
                    }) { known.append(node) }
                } else if roll < 35 {
                    let parent = otherKnown.randomElement(using: &rng)!
                    if otherKnown.count < 200, Bool.random(using: &rng) {
                        if let node = await Self.attempt("other: mkdir \(parent.path)/o\(i)", &failures, on: db, {
                            try await Self.directory("o\(i)", in: parent, userId: otherId, on: db)
                        }) { otherKnown.append(node) }
                    } else {
                        _ = await Self.attempt("other: file in \(parent.path)", &failures, on: db) {
                            try await Self.file("o\(i).bin", in: parent, userId: otherId, hash: hashes[i % hashes.count], on: db)
                        }
                    }
                } else {
                    let parent = known.randomElement(using: &rng)!
                    let name = "f\(i)" + extensions[Int.random(in: 0..<extensions.count, using: &rng)]
                    if let node = await Self.attempt("file \(PanPath.join(parent.path, name))", &failures, on: db, {
                        try await Self.file(name, in: parent, userId: aliceId, hash: hashes[i % hashes.count], on: db)
                    }), node.ext != PanPath.ext(of: name) {
                        failures.append("ext of \(name) stored as \(node.ext)")
                    }
                }
            }
            return failures
        }
        #expect(randomFailures.isEmpty, "\(randomFailures.count) random inserts failed, e.g.\n\(randomFailures.prefix(5).joined(separator: "\n"))")

        // A chain 40 directories deep: each level gets 1/32 of its parent's tail, so the
        // allocator runs out around depth 12 and must renumber.
        let chainPath = "/deep/" + (1...40).map { "c\($0)" }.joined(separator: "/")
        let (deepest, chain, chainFailures) = try await database.write { db -> (FileNode?, [Int64], [String]) in
            var failures: [String] = []
            let deepest = await Self.attempt("mkdir -p \(chainPath)", &failures, on: db) {
                try await TreeRepository.directory(userId: aliceId, path: chainPath, on: db)
            }
            if let deepest {
                let hash = try await Self.storeHash(100, on: db)
                _ = await Self.attempt("file at the bottom of the chain", &failures, on: db) {
                    try await Self.file("bottom.txt", in: deepest, userId: aliceId, hash: hash, on: db)
                }
                // Siblings branching off the chain half way down, after the chain exists.
                if let middle = try await TreeRepository.node(userId: aliceId, path: "/deep/" + (1...20).map { "c\($0)" }.joined(separator: "/"), on: db) {
                    for k in 0..<30 {
                        _ = await Self.attempt("mkdir \(middle.path)/side\(k)", &failures, on: db) {
                            try await Self.directory("side\(k)", in: middle, userId: aliceId, on: db)
                        }
                    }
                } else {
                    failures.append("the chain's middle is missing")
                }
            }
            let ids = try await db.query("SELECT id FROM nodes WHERE user_id = ? AND path LIKE '/deep%' AND type = 1", aliceId).map { try $0.int64("id") }
            return (deepest, ids, failures)
        }
        #expect(chainFailures.isEmpty, "\(chainFailures.prefix(5).joined(separator: "\n"))")
        #expect(deepest?.path == chainPath)

        // 3000 subdirectories of one directory: the tail shrinks by 1/32 per insert, so it is
        // used up after ~1400 and the directory's children must be re-spread.
        let (wideId, movedFirstChild, wideFailures) = try await database.write { db -> (Int64, Bool, [String]) in
            var failures: [String] = []
            let root = try await TreeRepository.root(of: aliceId, on: db)
            let wide = try await Self.directory("wide", in: root, userId: aliceId, on: db)
            let first = try await Self.directory("s0", in: wide, userId: aliceId, on: db)
            for k in 1..<3_000 {
                guard let sub = await Self.attempt("mkdir /wide/s\(k)", &failures, on: db, {
                    try await Self.directory("s\(k)", in: wide, userId: aliceId, on: db)
                }) else { continue }
                if k % 500 == 0 {
                    let hash = try await Self.storeHash(k, on: db)
                    _ = await Self.attempt("files under /wide/s\(k)", &failures, on: db) {
                        try await Self.file("x.txt", in: sub, userId: aliceId, hash: hash, on: db)
                        let inner = try await Self.directory("inner", in: sub, userId: aliceId, on: db)
                        try await Self.file("y.txt", in: inner, userId: aliceId, hash: hash, on: db)
                    }
                }
            }
            guard let firstNow = try await TreeRepository.node(id: first.id, userId: first.userId, on: db) else { throw TestFailure("s0 vanished") }
            let count = try await db.scalar("SELECT COUNT(*) FROM nodes WHERE parent_id = ?", wide.id) ?? 0
            if count != 3_000 { failures.append("/wide has \(count) children, not 3000") }
            // Files into the first children, whose intervals were squeezed by the re-spread.
            let hash = try await Self.storeHash(9_999, on: db)
            for k in 0..<20 {
                guard let sub = try await TreeRepository.node(userId: aliceId, path: "/wide/s\(k)", on: db) else {
                    failures.append("/wide/s\(k) vanished")
                    continue
                }
                _ = await Self.attempt("file in /wide/s\(k)", &failures, on: db) {
                    try await Self.file("late.txt", in: sub, userId: aliceId, hash: hash, on: db)
                }
            }
            return (wide.id, firstNow.lft != first.lft || firstNow.rgt != first.rgt, failures)
        }
        #expect(wideFailures.isEmpty, "\(wideFailures.prefix(5).joined(separator: "\n"))")
        #expect(movedFirstChild, "the 3000-wide directory never renumbered its children")

        // Check both users, with the interval query compared to a parent_id walk on a sample.
        let (aliceProblems, otherProblems, aliceCount) = try await database.read { db -> ([String], [String], Int64) in
            var rng = SplitMix64(seed: seed ^ 0xFFFF)
            let directories = try await db.query("SELECT id FROM nodes WHERE user_id = ? AND type = 1", aliceId).map { try $0.int64("id") }
            let root = try await TreeRepository.root(of: aliceId, on: db)
            var sample = [root.id, wideId] + chain.prefix(45)
            for _ in 0..<60 { sample.append(directories.randomElement(using: &rng)!) }
            let otherDirectories = try await db.query("SELECT id FROM nodes WHERE user_id = ? AND type = 1", otherId).map { try $0.int64("id") }
            return await (
                try Self.violations(userId: aliceId, sample: sample, on: db),
                try Self.violations(userId: otherId, sample: otherDirectories, on: db),
                try TreeRepository.count(userId: aliceId, on: db)
            )
        }
        #expect(aliceProblems.isEmpty, "\(aliceProblems.joined(separator: "\n"))")
        #expect(otherProblems.isEmpty, "\(otherProblems.joined(separator: "\n"))")
        #expect(aliceCount > 5_000)

        // Renumbering on demand, from the deepest chain node, from the wide directory and from
        // the root, keeps the invariants too.
        let deepestChainId = chain.max() ?? wideId
        let afterRenumber = try await database.write { db -> [String] in
            try await IntervalAllocator.renumber(startingAt: deepestChainId, userId: aliceId, on: db)
            try await IntervalAllocator.renumber(startingAt: wideId, userId: aliceId, on: db)
            let root = try await TreeRepository.root(of: aliceId, on: db)
            try await IntervalAllocator.renumber(startingAt: root.id, userId: aliceId, on: db)
            return try await Self.violations(userId: aliceId, sample: [root.id, wideId, deepestChainId], on: db)
                + Self.violations(userId: otherId, sample: [], on: db)
        }
        #expect(afterRenumber.isEmpty, "\(afterRenumber.joined(separator: "\n"))")
    }

    /// mkdir -p one level at a time down a single chain; the deepest level reached, or the failure.
    static func chain(depth: Int, withFiles: Bool, on db: Connection) async throws -> (reached: Int, failure: String?) {
        let user = try await newUser("chain", on: db)
        let hash = try await storeHash(1, on: db)
        var path = ""
        for level in 1...depth {
            path += "/c\(level)"
            do {
                let node = try await TreeRepository.directory(userId: user.id, path: path, on: db)
                if withFiles { try await file("f.txt", in: node, userId: user.id, hash: hash, on: db) }
            } catch {
                return (level - 1, "at depth \(level) (\(path)): \(error)")
            }
        }
        let problems = try await violations(userId: user.id, sample: [], on: db)
        return (depth, problems.isEmpty ? nil : problems.joined(separator: "\n"))
    }

    @Test("a chain of 40 nested directories can be created one level at a time", arguments: [false, true])
    func deepChain(withFiles: Bool) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)
        let (reached, failure) = try await database.write { db in try await Self.chain(depth: 40, withFiles: withFiles, on: db) }
        #expect(reached == 40 && failure == nil, "\(failure ?? "")")
    }

    @Test("an insert into a 20k-node tree writes one row, not a shift of the tree")
    func insertTouchesOneRow() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)

        let userId = try await database.write { db -> Int64 in
            let user = try await Self.newUser("big", on: db)
            let root = try await TreeRepository.root(of: user.id, on: db)
            let hash = try await Self.storeHash(1, on: db)
            for d in 0..<100 {
                let dir = try await Self.directory("dir\(d)", in: root, userId: user.id, on: db)
                for f in 0..<199 { try await Self.file("file\(f).txt", in: dir, userId: user.id, hash: hash, on: db) }
            }
            return user.id
        }

        let (total, deltas) = try await database.write { db -> (Int64, [String: Int64]) in
            let total = try await TreeRepository.count(userId: userId, on: db)
            func changes(_ body: () async throws -> Void) async throws -> Int64 {
                let before = try await db.scalar("SELECT total_changes()") ?? 0
                try await body()
                return await (try db.scalar("SELECT total_changes()") ?? 0) - before
            }
            let hash = try await Self.storeHash(1, on: db)
            let root = try await TreeRepository.root(of: userId, on: db)
            // Early directories have every other node to their right: the old design shifted all of them.
            guard let first = try await TreeRepository.node(userId: userId, path: "/dir0", on: db),
                  let middle = try await TreeRepository.node(userId: userId, path: "/dir50", on: db)
            else { throw TestFailure("directories vanished") }
            var deltas: [String: Int64] = [:]
            deltas["file in /dir0"] = try await changes { try await Self.file("new.txt", in: first, userId: userId, hash: hash, on: db) }
            deltas["file in /dir50"] = try await changes { try await Self.file("new.txt", in: middle, userId: userId, hash: hash, on: db) }
            deltas["directory in /dir0"] = try await changes { try await Self.directory("sub", in: first, userId: userId, on: db) }
            deltas["file in /"] = try await changes { try await Self.file("top.txt", in: root, userId: userId, hash: hash, on: db) }
            return (total, deltas)
        }
        #expect(total >= 20_000)
        for (what, delta) in deltas.sorted(by: { $0.key < $1.key }) {
            #expect(delta >= 1 && delta < 10, "\(what) changed \(delta) rows")
        }

        let problems = try await database.read { db in
            try await Self.violations(userId: userId, sample: [], on: db)
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("a duplicate live name is FILE_AREADY_EXISTS and allocates nothing visible")
    func duplicateName() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try PanDatabase.open(dataDirectory: directory, readerCount: 1)
        let (error, count) = try await database.write { db -> (PanError?, Int64) in
            let user = try await Self.newUser("dup", on: db)
            let root = try await TreeRepository.root(of: user.id, on: db)
            let hash = try await Self.storeHash(1, on: db)
            try await Self.file("a.txt", in: root, userId: user.id, hash: hash, on: db)
            var caught: PanError?
            do { try await Self.file("a.txt", in: root, userId: user.id, hash: hash, on: db) } catch let error as PanError { caught = error }
            // A file in the way of mkdir -p.
            do {
                _ = try await TreeRepository.directory(userId: user.id, path: "/a.txt/b", on: db)
                caught = nil
            } catch let error as PanError where error == .notADirectory {}
            return await (caught, try TreeRepository.count(userId: user.id, on: db))
        }
        #expect(error == .fileAlreadyExists)
        #expect(count == 2)
    }

    // MARK: PanPath

    @Test("normalize and validated")
    func normalize() throws {
        #expect(PanPath.normalize("  \\a//b\\c/ ") == "/a/b/c")
        #expect(PanPath.normalize("") == "/")
        #expect(PanPath.normalize("/") == "/")
        #expect(PanPath.normalize("//") == "/")
        #expect(PanPath.normalize(" \\ ") == "/")
        #expect(PanPath.normalize("a") == "/a")
        #expect(PanPath.normalize("/a b/c ") == "/a b/c")
        #expect(try PanPath.validated("a//b") == "/a/b")
        #expect(try PanPath.validated("") == "/")
        #expect(throws: PanError.self) { try PanPath.validated("/a/../b") }
        #expect(throws: PanError.self) { try PanPath.validated("/a/./b") }
        #expect(PanPath.parent(of: "/a/b/c") == "/a/b")
        #expect(PanPath.parent(of: "/a") == "/")
        #expect(PanPath.parent(of: "/") == "/")
        #expect(PanPath.lastSegment(of: "/a/b/c") == "c")
        #expect(PanPath.join("/", "a") == "/a")
        #expect(PanPath.join("/a", "b") == "/a/b")
    }

    @Test("ext", arguments: [
        ("1.txt", ".txt"), ("a.tar.gz", ".gz"), (".txt", ".txt"), ("txt", ""), ("txt.", ""), ("a.b.", ""), ("A.PDF", ".PDF"),
    ])
    func ext(name: String, expected: String) {
        #expect(PanPath.ext(of: name) == expected)
    }

    @Test("pathId is the MD5 hex of the UTF-8 path")
    func pathId() {
        #expect(PanPath.pathId("/") == "6666cd76f96956469e7be39d750cc7d9")
        #expect(PanPath.pathId("/d/e/f/g/5系标轴2.0.pdf.asset.1518484456597.pdf") == "f2624b13bfdce9efbc842bd30f764e69")
    }

    @Test("numbered names for the rename policy")
    func numbered() {
        #expect(PanPath.numbered("a.txt", 2) == "a (2).txt")
        #expect(PanPath.numbered("a.tar.gz", 1) == "a.tar (1).gz")
        #expect(PanPath.numbered("README", 3) == "README (3)")
        #expect(PanPath.numbered(".txt", 1) == ".txt (1)")
        #expect(PanPath.numbered("txt.", 1) == "txt. (1)")
        #expect(PanPath.numbered("5系标轴.pdf", 2) == "5系标轴 (2).pdf")
    }

    @Test("the name rule: refused names, accepted names, NFC")
    func nameRule() throws {
        for bad in ["", ".", "..", "a/b", "/", "a\0b", "\0", String(repeating: "a", count: 256), String(repeating: "é", count: 128),
                    "a\\b", "a\u{1B}[31mred", "a\rb", "a\nb", "a\tb", "a\u{7F}", "a\u{85}b", "a\u{9B}b", "evil\u{202E}gpj.exe",
                    "a\u{202A}b", "a\u{2066}b", "a\u{2069}", "a\u{200D}b", "rep\u{200B}ort", "\u{301}x"] {
            #expect(throws: PanError.self, "\(bad.debugDescription) should be refused") { try PanPath.name(bad) }
        }
        do {
            _ = try PanPath.name("")
        } catch {
            #expect(error.code == "INVALID_NAME")
        }
        for good in ["a", "...", ".hidden", "a b", "5系标轴2.0.pdf", String(repeating: "a", count: 255),
                     String(repeating: "é", count: 127) + "a", "emoji 👍🏽", "x\u{301}"] {
            #expect(throws: Never.self, "\(good.debugDescription) should be accepted") { try PanPath.name(good) }
        }
        // NFD comes back NFC, in names and in paths.
        let nfd = "cafe\u{301}", nfc = "caf\u{E9}"
        #expect(Array(try PanPath.name(nfd).utf8) == Array(nfc.utf8))
        #expect(Array(try PanPath.validated("/\(nfd)/x").utf8) == Array("/\(nfc)/x".utf8))
    }
}
