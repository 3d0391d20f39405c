import Foundation
import SQLCommon

/// A user's file tree in SQLite. Functions run on the caller's connection,
/// inside the caller's transaction; only live nodes (state 0) are found.
public enum TreeRepository {
    // MARK: Reading

    /// The user's root directory, created on first use.
    public static func root(of userId: Int64, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws -> FileNode {
        if let root = try await db.queryRow(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.parent_id IS NULL", userId
        ) {
            return try FileNode(row: root)
        }
        guard !db.isReadOnly else { throw PanError.fileNotFound }
        let inserted = try await db.queryRow(
            """
            INSERT INTO nodes (uuid, user_id, parent_id, name, name_key, path, path_id, type, ext, mime, size, lft, rgt, atime, ctime, mtime)
            VALUES (?, ?, NULL, '', ?, '/', ?, 1, '', ?, 0, ?, ?, ?, ?, ?) RETURNING id
            """,
            RandomID.hex32(), userId, NameSortKey(""), PanPath.pathId("/"), MimeType.directory,
            IntervalAllocator.rootLeft, IntervalAllocator.rootRight, now, now, now
        )
        // The root is counted like any node, but never refused.
        try await NodeLimits.take(1, userId: userId, limit: 0, on: db)
        return try await node(id: try inserted!.int64("id"), userId: userId, on: db)!
    }

    public static func node(id: Int64, userId: Int64, on db: any DatabaseConnection) async throws -> FileNode? {
        try await db.queryRow(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.id = ?", userId, id
        ).map(FileNode.init(row:))
    }

    /// A live node by its normalized path (`/` is the root), via the pathId index.
    public static func node(userId: Int64, path: String, on db: any DatabaseConnection) async throws -> FileNode? {
        if path == PanPath.root { return try await root(of: userId, on: db) }
        return try await db.queryRow(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.path_id = ? AND n.state = \(FileNode.State.live.sql)",
            userId, PanPath.pathId(path)
        ).map(FileNode.init(row:))
    }

    /// A live node by uuid; another user's node is simply not found.
    public static func node(userId: Int64, uuid: String, on db: any DatabaseConnection) async throws -> FileNode? {
        try await db.queryRow(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.uuid = ? AND n.user_id = ? AND n.state = \(FileNode.State.live.sql)",
            uuid.lowercased(), userId
        ).map(FileNode.init(row:))
    }

    /// The live node an address names (`uuid`, else `path`); `FILE_NOT_FOUND` when there is none.
    static func node(userId: Int64, at address: NodeAddress, on db: any DatabaseConnection) async throws -> FileNode {
        let node = if let uuid = address.uuid {
            try await self.node(userId: userId, uuid: uuid, on: db)
        } else {
            try await self.node(userId: userId, path: address.path ?? PanPath.root, on: db)
        }
        guard let node else { throw PanError.fileNotFound }
        return node
    }

    /// The live node at `path` and its live child `name`, in one statement
    /// (two probes of the path index): a token request's directory and what
    /// stands at the file's name.
    static func nodeAndChild(userId: Int64, path: String, name: String, on db: any DatabaseConnection) async throws -> (FileNode?, FileNode?) {
        let childPath = PanPath.join(path, name)
        var node: FileNode?, child: FileNode?
        for row in try await db.query(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.path_id IN (?, ?) AND n.state = \(FileNode.State.live.sql)",
            userId, PanPath.pathId(path), PanPath.pathId(childPath)
        ) {
            let found = try FileNode(row: row)
            if found.path == path { node = found } else if found.path == childPath { child = found }
        }
        return (node, child)
    }

    public static func child(of directory: FileNode, named name: String, on db: any DatabaseConnection) async throws -> FileNode? {
        try await db.queryRow(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.parent_id = ? AND n.name = ? AND n.state = \(FileNode.State.live.sql)",
            directory.userId, directory.id, name
        ).map(FileNode.init(row:))
    }

    // MARK: Writing

    /// `mkdir -p`: the directory at `path`, creating what is missing.
    /// A file anywhere on the way is `NOT_A_DIRECTORY`. `nodeLimit`: the user's
    /// node cap (`PAN_MAX_NODES`, `NodeLimits`).
    public static func directory(
        userId: Int64, path: String, nodeLimit: Int64 = NodeLimits.defaultPerUser, on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> FileNode {
        // The nearest existing ancestor, looked up by path from the bottom: a new
        // directory's parent usually exists, so that is one lookup, not one per
        // level from the root (which made an N-deep chain O(N²), issue #18).
        // Split once: re-splitting each ancestor's path would trim it again, and
        // an inner name ending in whitespace (U+3000, U+00A0…) would lose it.
        let segments = PanPath.segments(of: path)
        var existingLevels = segments.count
        var current: FileNode
        while true {
            if existingLevels == 0 {
                current = try await root(of: userId, on: db, now: now)
                break
            }
            let ancestor = "/" + segments[..<existingLevels].joined(separator: "/")
            if let existing = try await node(userId: userId, path: ancestor, on: db) {
                guard existing.isDirectory else { throw PanError.notADirectory }
                current = existing
                break
            }
            existingLevels -= 1
        }
        for segment in segments[existingLevels...] {
            current = try await insert(
                userId: userId, parent: current, name: segment, kind: .directory,
                size: 0, mime: MimeType.directory, storeHash: nil, nodeLimit: nodeLimit, on: db, now: now
            )
        }
        return current
    }

    /// Inserts one node under `parent`. The unique index on live names
    /// turns a duplicate into `FILE_AREADY_EXISTS`, whatever the code above did.
    ///
    /// Every node is made here, so this is the backstop of the rules on what
    /// a node may be: its name passes `PanPath.name` unchanged, its depth and
    /// path length are within the caps, and the user stays within `nodeLimit`
    /// (`PAN_MAX_NODES`, counted in the same statement that checks it).
    /// `addingSpace`: bytes to add to the user's `space_used` in the same
    /// UPDATE that counts the node (a placed file's).
    public static func insert(
        userId: Int64, parent: FileNode, name: String, kind: FileNode.Kind, size: Int64, mime: String,
        storeHash: String?, nodeLimit: Int64 = NodeLimits.defaultPerUser, addingSpace: Int64 = 0,
        on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> FileNode {
        guard parent.isDirectory else { throw PanError.notADirectory }
        // Bytes, not `String ==`, which holds NFD and NFC spellings equal.
        guard try PanPath.name(name).utf8.elementsEqual(name.utf8) else {
            throw PanError.invalidName("a name must be stored in its canonical (NFC) form")
        }
        // Every node is created here, so this is the cap's backstop: a request
        // path is checked when parsed, but `parent` + `path`, copies and the
        // callback all build on nodes that are already deep (issue #14 item 7).
        try PanPath.requireDepth(PanPath.depth(of: parent.path) + 1)
        let (lft, rgt) = try await IntervalAllocator.allocate(parentId: parent.id, userId: userId, isDirectory: kind == .directory, on: db)
        let path = PanPath.join(parent.path, name)
        try PanPath.requirePathLength(path.unicodeScalars.count)
        let inserted: Row?
        do {
            // RETURNING the node as `columns` reads it (its parent's uuid is known): no re-read.
            inserted = try await db.queryRow(
                """
                INSERT INTO nodes (uuid, user_id, parent_id, name, name_key, path, path_id, type, ext, mime, size, store_hash,
                                   lft, rgt, atime, ctime, mtime)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING \(FileNode.insertedColumns)
                """,
                RandomID.ordered32(), userId, parent.id, name, NameSortKey(name), path, PanPath.pathId(path), kind.rawValue,
                kind == .file ? PanPath.ext(of: name) : "", mime, size, storeHash, lft, rgt, now, now, now
            )
        } catch let error as any DatabaseFailure where error.isUniqueViolation {
            throw PanError.fileAlreadyExists
        }
        try await NodeLimits.take(1, userId: userId, limit: nodeLimit, addingSpace: addingSpace, on: db)
        guard let inserted else { throw PanError.internalError("the insert of \(path) returned no row") }
        var node = try FileNode(row: inserted)
        node.parent = parent.uuid
        return node
    }

    /// Replaces a file's content: same uuid, `version` + 1.
    public static func replaceContent(
        of file: FileNode, storeHash: String, size: Int64, mime: String, on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> FileNode {
        try await db.run(
            "UPDATE nodes SET store_hash = ?, size = ?, mime = ?, version = version + 1, mtime = ?, atime = ? WHERE user_id = ? AND id = ?",
            storeHash, size, mime, now, now, file.userId, file.id
        )
        return try await node(id: file.id, userId: file.userId, on: db)!
    }

    /// A free `name (n).ext` in a directory, for the `rename` policy: `name`
    /// itself if free, else `name (1)`, `name (2)`… after the last one taken.
    ///
    /// Found in O(log n) indexed lookups, not by trying 1, 2, 3…: that made a
    /// copy of one file repeated 1,000 times cost 500,000 lookups in one
    /// transaction (7 s of the writer, issue #24 §2.3). The probe doubles n
    /// while `name (n)` is taken, then halves the gap between the last taken
    /// and the first free n; with the series 1…k taken (how `rename` fills it)
    /// that gives k + 1, and in any case a free name next to a taken one.
    public static func freeName(in directory: FileNode, for name: String, on db: any DatabaseConnection) async throws -> String {
        if try await child(of: directory, named: name, on: db) == nil { return name }
        func isTaken(_ n: Int) async throws -> Bool { try await child(of: directory, named: PanPath.numbered(name, n), on: db) != nil }
        // Invariant: `name (taken)` exists (0 stands for `name` itself), `name (free)` does not.
        var taken = 0, free = 1
        while try await isTaken(free) {
            // Only a tree built to defeat the probe reaches this: 2^40 names
            // at powers of two would not fit in any account anyway.
            guard free < 1 << 40 else { throw PanError.fileAlreadyExists }
            (taken, free) = (free, free * 2)
        }
        while free - taken > 1 {
            let middle = taken + (free - taken) / 2
            if try await isTaken(middle) { taken = middle } else { free = middle }
        }
        return PanPath.numbered(name, free)
    }

    /// Counts the live nodes of a user (for stats and tests).
    public static func count(userId: Int64, on db: any DatabaseConnection) async throws -> Int64 {
        try await db.scalar("SELECT COUNT(*) FROM nodes WHERE user_id = ? AND state = \(FileNode.State.live.sql)", userId) ?? 0
    }
}

// MARK: Listing

extension TreeRepository {
    /// The original server's sort codes for `page`/`list`/`list2` (docs/clients.md).
    /// −1, 0 (the desktop app's) and any unknown code are the default:
    /// directories first, newest first. Every order ends on `id`, so pages
    /// never overlap or skip among equal keys.
    ///
    /// "name" is natural order: `name_key` (`NameSortKey`), then the name's
    /// bytes, then the id. Until every node has its key (`NameKeys`), an
    /// order is used in its `byNameBytes` form: the name's bytes, then the id.
    public struct Order: Sendable, Equatable {
        public let code: Int
        let sql: String
        /// The sort key's columns when they all run one way (a keyset
        /// condition is then one row-value comparison an index serves), and
        /// which way; nil for the mixed orders (type one way, the rest the other).
        let keyset: (columns: [String], descending: Bool)?
        /// Whether names sort by `name_key` (false: by their bytes, the fallback).
        let natural: Bool

        public static let `default` = Order(code: -1)
        public static let nameAscending = Order(code: 2)

        /// Unknown codes are the default. A lookup: every order is built once.
        public init(code: Int) {
            self = Self.known[code] ?? Self.known[-1]!
        }

        /// This order with names compared by their bytes: for a database whose
        /// older nodes have no `name_key` yet (a NULL would sort first in
        /// SQLite, last in PostgreSQL).
        var byNameBytes: Order { Self.knownByBytes[code] ?? self }

        private init(code: Int, terms spec: String, natural: Bool) {
            let terms = spec.split(separator: ",").flatMap { term -> [(column: String, descending: Bool)] in
                let parts = term.split(separator: " ")
                let descending = parts[1] == "desc"
                // Natural name order: the key, then the bytes (equal keys: `File1`, `file1`).
                if parts[0] == "name", natural { return [("name_key", descending), ("name", descending)] }
                return [(String(parts[0]), descending)]
            }
            self.code = code
            self.natural = natural
            sql = terms.map { "n.\($0.column) \($0.descending ? "DESC" : "ASC")" }.joined(separator: ", ")
            let uniform = Set(terms.map(\.descending)).count == 1
            keyset = uniform ? (terms.map(\.column), terms[0].descending) : nil
        }

        public static func == (lhs: Order, rhs: Order) -> Bool { lhs.code == rhs.code && lhs.natural == rhs.natural }

        private static let specs: [Int: String] = {
            var specs: [Int: String] = [
                -1: "type desc,ctime desc,id desc",
                -2: "id asc",  // none: insertion order
                1: "type desc,ctime asc,id asc",
                2: "name asc,id asc",
                3: "name desc,id desc",
                12: "size asc,id asc",
                13: "size desc,id desc",
            ]
            for (i, direction) in ["desc", "asc"].enumerated() {
                specs[4 + i] = "type \(direction),name desc,id desc"
                specs[6 + i] = "type \(direction),name asc,id asc"
                specs[8 + i] = "type \(direction),size desc,id desc"
                specs[10 + i] = "type \(direction),size asc,id asc"
                specs[14 + i] = "type \(direction),ctime desc,id desc"
                specs[16 + i] = "type \(direction),ctime asc,id asc"
            }
            return specs
        }()

        /// Built once: the page queries interpolate one on every request.
        private static let known = Dictionary(uniqueKeysWithValues: specs.map { ($0.key, Order(code: $0.key, terms: $0.value, natural: true)) })
        private static let knownByBytes = Dictionary(uniqueKeysWithValues: specs.map { ($0.key, Order(code: $0.key, terms: $0.value, natural: false)) })
    }

    /// A page of a directory's live children; `type` 0 files, 1 directories, nil all.
    /// `hidingSystemFolders`: leave out `PanPath.systemFolders` (pass it for the root).
    ///
    /// With a `cache` and the directory's listing `version` (`listingVersion`,
    /// read in this same transaction), a big directory that is being paged
    /// costs neither a COUNT of its children nor an OFFSET skip of them on
    /// every page: see `ListingCache` for what is kept and why it is never stale.
    public static func children(
        of directory: FileNode, type: Int?, order: Order, limit: Int, offset: Int, hidingSystemFolders: Bool = false,
        cache: ListingCache? = nil, version: Int64? = nil, on db: any DatabaseConnection
    ) async throws -> (nodes: [FileNode], total: Int64) {
        var typeFilter = type.map { " AND n.type = " + ($0 == 1 ? FileNode.Kind.directory.sql : FileNode.Kind.file.sql) } ?? ""
        if hidingSystemFolders {
            // Constant names of our own, never user input: safe to inline.
            typeFilter += " AND n.name NOT IN (" + PanPath.systemFolders.map { "'\($0)'" }.joined(separator: ",") + ")"
        }
        let children = "n.user_id = ? AND n.parent_id = ? AND n.state = \(FileNode.State.live.sql)\(typeFilter)"
        func countChildren() async throws -> Int64 {
            try await db.scalar("SELECT COUNT(*) FROM nodes n WHERE \(children)", directory.userId, directory.id) ?? 0
        }

        var known: ListingCache.Entry?
        if let cache, let version {
            let cacheKey = ListingCache.Key(
                userId: directory.userId, directoryId: directory.id, directoryUUID: directory.uuid, order: order.code,
                naturalNames: order.natural, filter: typeFilter
            )
            var entry: ListingCache.Entry
            var changed = false
            if let hit = cache.entry(cacheKey, version: version) {
                entry = hit
            } else {
                entry = ListingCache.Entry(version: version, total: try await countChildren())
                changed = true
            }
            // What this page's OFFSET walks: nothing for a page past the end
            // (answered empty below), whatever the client sent (up to Int.max).
            let walk: Int64 = offset < entry.total ? Int64(offset) : 0
            if entry.boundaries == nil, !entry.keysRefused, walk >= Int64(ListingCache.stride), let keyset = order.keyset,
               cache.keepsKeys(forTotal: entry.total), cache.worthLearning(entry, walk: walk) {
                // Pages of this version have walked enough entries with OFFSET:
                // learn every stride-th child's sort key, in one ordered scan.
                let columns = keyset.columns.map { "n." + $0 }.joined(separator: ", ")
                let rows = try await db.query(
                    """
                    SELECT \(keyset.columns.joined(separator: ", ")) FROM (
                        SELECT \(columns), ROW_NUMBER() OVER (ORDER BY \(order.sql)) - 1 AS position
                        FROM nodes n WHERE \(children)
                    ) AS ranked WHERE position % \(ListingCache.stride) = 0 ORDER BY position
                    """,
                    directory.userId, directory.id
                )
                entry.boundaries = rows.map(\.values)
                changed = true
            } else if entry.boundaries == nil, walk > 0 {
                entry.walked = ListingCache.saturatingSum(entry.walked, walk)
                changed = true
            }
            if changed { entry = cache.store(entry, for: cacheKey) }
            known = entry
        }
        let total: Int64
        if let cached = known?.total { total = cached } else { total = try await countChildren() }
        guard limit > 0, offset < total else { return ([], total) }

        // Start from the nearest learned child at or before `offset`.
        var start = "", startValues: [any DatabaseBindable] = [], skip = offset
        if let boundaries = known?.boundaries, let keyset = order.keyset, offset >= ListingCache.stride, !boundaries.isEmpty {
            let index = min(offset / ListingCache.stride, boundaries.count - 1)
            let tuple = keyset.columns.map { "n." + $0 }.joined(separator: ", ")
            let marks = Array(repeating: "?", count: keyset.columns.count).joined(separator: ", ")
            start = " AND (\(tuple)) \(keyset.descending ? "<=" : ">=") (\(marks))"
            startValues = boundaries[index]
            skip = offset - index * ListingCache.stride
        }
        // The page's ids first, from the index alone (OFFSET skips index entries, not
        // table rows and parent joins), then its rows.
        let nodes = try await db.query(
            """
            SELECT \(FileNode.columns) FROM (
                SELECT n.id FROM nodes n WHERE \(children)\(start)
                ORDER BY \(order.sql) LIMIT ? OFFSET ?
            ) AS page JOIN nodes n ON n.user_id = ? AND n.id = page.id \(FileNode.parentJoin)
            ORDER BY \(order.sql)
            """,
            arguments: [directory.userId, directory.id] + startValues + [limit, skip, directory.userId]
        ).map(FileNode.init(row:))
        return (nodes, total)
    }

    /// The listing version of a directory whose pages are being read, nil for
    /// any other (migration 0009: triggers bump it with each change to its children).
    public static func listingVersion(of directory: FileNode, on db: any DatabaseConnection) async throws -> Int64? {
        try await db.scalar("SELECT version FROM listing_versions WHERE user_id = ? AND directory_id = ?", directory.userId, directory.id)
    }

    /// Starts keeping a directory's listing version, so its pages can be
    /// served from `ListingCache`; from then on every change to its children
    /// also writes this row. Only for directories big enough to be paged.
    public static func versionListing(of directory: FileNode, on db: any DatabaseConnection) async throws {
        try await db.run(
            "INSERT INTO listing_versions (user_id, directory_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            directory.userId, directory.id
        )
    }

    /// `top` and every live node under it, by path.
    static func subtree(of top: FileNode, on db: any DatabaseConnection) async throws -> [FileNode] {
        try await db.query(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.lft >= ? AND n.lft < ? AND n.state = \(FileNode.State.live.sql) ORDER BY n.path",
            top.userId, top.lft, top.rgt
        ).map(FileNode.init(row:))
    }

    /// An item of the recycle bin, by uuid or by its path when recycled (newest
    /// first); one being purged is gone already (`RecycleBin`).
    public static func recycledNode(userId: Int64, uuid: String?, path: String?, on db: any DatabaseConnection) async throws -> FileNode? {
        if let uuid, !uuid.isEmpty {
            return try await db.queryRow(
                "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.uuid = ? AND n.user_id = ? AND \(RecycleBin.listed("n"))",
                uuid.lowercased(), userId
            ).map(FileNode.init(row:))
        }
        guard let path else { return nil }
        return try await db.queryRow(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.path_id = ? AND \(RecycleBin.listed("n")) ORDER BY n.recycled_at DESC LIMIT 1",
            userId, PanPath.pathId(path)
        ).map(FileNode.init(row:))
    }
}
