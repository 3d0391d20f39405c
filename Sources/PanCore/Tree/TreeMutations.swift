import Foundation
import SQLCommon

/// Renames, moves, copies, deletes and recycles subtrees — each in the
/// caller's single transaction, keeping paths, pathIds, intervals, reference
/// counts and `spaceUsed` consistent.
public enum TreeMutations {
    // MARK: Helpers

    /// The node and everything below it, in `lft` order.
    static func subtree(of node: FileNode, on db: any DatabaseConnection) async throws -> [FileNode] {
        try await db.query(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND n.lft >= ? AND n.lft < ? ORDER BY n.lft",
            node.userId, node.lft, node.rgt
        ).map(FileNode.init(row:))
    }

    /// A locked node anywhere in the subtree blocks changing it.
    static func requireUnlocked(_ node: FileNode, on db: any DatabaseConnection) async throws {
        let locked = try await db.scalar(
            "SELECT COUNT(*) FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ? AND locking = 1 AND state = \(FileNode.State.live.sql)",
            node.userId, node.lft, node.rgt
        ) ?? 0
        if locked > 0 { throw PanError.fileLocked }
    }

    /// Rewrites `path`/`path_id` of the subtree after its top moved from `oldPath`.
    static func rewritePaths(of node: FileNode, from oldPath: String, on db: any DatabaseConnection) async throws {
        guard let fresh = try await TreeRepository.node(id: node.id, userId: node.userId, on: db) else { throw PanError.fileNotFound }
        for row in try await db.query(
            "SELECT id, path FROM nodes WHERE user_id = ? AND lft > ? AND lft < ?", fresh.userId, fresh.lft, fresh.rgt
        ) {
            guard let newPath = PanPath.rebase(try row.string("path"), from: oldPath, to: fresh.path) else { continue }
            try await db.run(
                "UPDATE nodes SET path = ?, path_id = ? WHERE user_id = ? AND id = ?", newPath, PanPath.pathId(newPath), fresh.userId, try row.int64("id")
            )
        }
    }

    /// How far a subtree reaches below its top node, read in one scan: the
    /// depth and path-length caps are both checked on what a move, copy,
    /// rename or restore would make of it.
    struct Extent {
        /// Levels below the top (0 for a file or an empty directory).
        let height: Int
        /// Characters (Unicode scalars, as SQL's LENGTH counts) the longest path has beyond the top's own.
        let longestSuffix: Int

        init(of node: FileNode, on db: any DatabaseConnection) async throws {
            let row = try await db.queryRow(
                """
                SELECT MAX(LENGTH(path) - LENGTH(REPLACE(path, '/', ''))) AS deepest, MAX(LENGTH(path)) AS longest
                FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ?
                """,
                node.userId, node.lft, node.rgt
            )
            height = max(0, Int(try row?.optionalInt64("deepest") ?? 0) - PanPath.depth(of: node.path))
            longestSuffix = max(0, Int(try row?.optionalInt64("longest") ?? 0) - node.path.unicodeScalars.count)
        }

        /// The subtree under `directory` must not reach past the depth cap.
        func requireDepth(into directory: FileNode) throws {
            try PanPath.requireDepth(PanPath.depth(of: directory.path) + 1 + height)
        }

        /// The subtree's top at `newPath` must not make any path below it longer than the cap.
        func requirePathLength(at newPath: String) throws {
            try PanPath.requirePathLength(newPath.unicodeScalars.count + longestSuffix)
        }
    }

    /// What to do with a name taken at the destination: the name to use, or
    /// nil to leave the node where it is (`skip`).
    static func resolveName(
        _ name: String, in directory: FileNode, moving: FileNode, policy: ConflictPolicy, userId: Int64,
        copying: Bool = false, on db: any DatabaseConnection
    ) async throws -> String? {
        guard let existing = try await TreeRepository.child(of: directory, named: name, on: db) else { return name }
        // Moving or renaming a node onto itself is no conflict; copying it is.
        if existing.id == moving.id, !copying { return name }
        switch policy {
        case .fail: throw PanError.fileAlreadyExists
        case .skip: return nil
        case .rename: return try await TreeRepository.freeName(in: directory, for: name, on: db)
        case .overwrite:
            // Only a file replaces a file: a directory is never replaced (its
            // contents would be lost unseen), nor does one replace a file.
            guard existing.isFile, moving.isFile else { throw PanError.directoryNotReplaced }
            try await requireUnlocked(existing, on: db)
            try await delete(existing, on: db)
            return name
        }
    }

    // MARK: Operations

    public static func rename(_ node: FileNode, to name: String, policy: ConflictPolicy = .fail, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws -> FileNode {
        guard node.parentId != nil else { throw PanError.badRequest("the root cannot be renamed") }
        let name = try PanPath.name(name)
        try await requireUnlocked(node, on: db)
        if name == node.name { return node }
        guard let parentId = node.parentId, let parent = try await TreeRepository.node(id: parentId, userId: node.userId, on: db) else {
            throw PanError.fileNotFound
        }
        // `skip` leaves a node as it is: for a rename, whose new name the user
        // typed, that is a refusal like `fail`'s.
        guard let finalName = try await resolveName(name, in: parent, moving: node, policy: policy, userId: node.userId, on: db) else {
            throw PanError.fileAlreadyExists
        }
        let path = PanPath.join(parent.path, finalName)
        try await Extent(of: node, on: db).requirePathLength(at: path)
        do {
            try await db.run(
                "UPDATE nodes SET name = ?, name_key = ?, path = ?, path_id = ?, ext = ?, mtime = ? WHERE user_id = ? AND id = ?",
                finalName, NameSortKey(finalName), path, PanPath.pathId(path), node.isFile ? PanPath.ext(of: finalName) : "", now, node.userId, node.id
            )
        } catch let error as any DatabaseFailure where error.isUniqueViolation {
            throw PanError.fileAlreadyExists
        }
        try await rewritePaths(of: node, from: node.path, on: db)
        return try await TreeRepository.node(id: node.id, userId: node.userId, on: db)!
    }

    /// Moves the subtree into `directory`; nil when `skip` left it where it is.
    public static func move(_ node: FileNode, into directory: FileNode, policy: ConflictPolicy = .fail, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws -> FileNode? {
        guard node.parentId != nil else { throw PanError.badRequest("the root cannot be moved") }
        guard directory.isDirectory else { throw PanError.notADirectory }
        // Into itself or below itself: the tree would become a cycle.
        if directory.lft >= node.lft, directory.rgt <= node.rgt {
            throw PanError(status: 400, code: "MOVE_INTO_ITSELF", "a directory cannot move into itself or its descendants")
        }
        if node.parentId == directory.id { return node }
        try await requireUnlocked(node, on: db)
        let extent = try await Extent(of: node, on: db)
        try extent.requireDepth(into: directory)
        guard let name = try await resolveName(node.name, in: directory, moving: node, policy: policy, userId: node.userId, on: db) else {
            return nil
        }
        let path = PanPath.join(directory.path, name)
        try extent.requirePathLength(at: path)
        do {
            // Name and parent change in one statement, so the unique live-name index never sees a half-move.
            try await IntervalAllocator.relocate(nodeId: node.id, userId: node.userId, toParent: directory.id, newName: name, on: db)
            try await db.run(
                "UPDATE nodes SET path = ?, path_id = ?, mtime = ? WHERE user_id = ? AND id = ?", path, PanPath.pathId(path), now, node.userId, node.id
            )
        } catch let error as any DatabaseFailure where error.isUniqueViolation {
            throw PanError.fileAlreadyExists
        }
        try await rewritePaths(of: node, from: node.path, on: db)
        return try await TreeRepository.node(id: node.id, userId: node.userId, on: db)!
    }

    /// How many nodes a copy of `node` makes (its live part; an upper bound when
    /// a live node sits below a recycled directory, which is not copied): one
    /// indexed count, so a request's copies are weighed before any is written.
    public static func copySize(of node: FileNode, on db: any DatabaseConnection) async throws -> Int {
        Int(try await db.scalar(
            "SELECT COUNT(*) FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ? AND state = \(FileNode.State.live.sql)",
            node.userId, node.lft, node.rgt
        ) ?? 0)
    }

    /// Copies the live part of the subtree; files share their stored objects.
    /// Refused before its first insert past `NodeLimits.nodesPerRequest` nodes
    /// or the user's `nodeLimit`. nil when `skip` made no copy.
    public static func copy(
        _ node: FileNode, into directory: FileNode, policy: ConflictPolicy = .fail, nodeLimit: Int64 = NodeLimits.defaultPerUser,
        on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> FileNode? {
        guard node.parentId != nil else { throw PanError.badRequest("the root cannot be copied") }
        guard directory.isDirectory else { throw PanError.notADirectory }
        if directory.lft >= node.lft, directory.rgt <= node.rgt {
            throw PanError(status: 400, code: "COPY_INTO_ITSELF", "a directory cannot be copied into itself or its descendants")
        }
        // Checked before the first insert: the whole copy is refused, not cut off at the cap.
        try await Extent(of: node, on: db).requireDepth(into: directory)
        // Counted before reading the subtree: a huge one is refused without loading it.
        let size = try await copySize(of: node, on: db)
        try NodeLimits.requireNewNodes(size)
        try await NodeLimits.requireRoom(for: size, userId: node.userId, limit: nodeLimit, on: db)
        let nodes = try await subtree(of: node, on: db).filter { $0.state == 0 }
        let bytes = nodes.reduce(Int64(0)) { $0 + ($1.isFile ? $1.size : 0) }
        guard let user = try await UserRepository.find(id: node.userId, on: db) else { throw PanError.userNotFound }
        try user.ensureRoom(for: bytes)
        guard let name = try await resolveName(node.name, in: directory, moving: node, policy: policy, userId: node.userId, copying: true, on: db) else {
            return nil
        }
        // Only the live part is copied, and it is in hand: its longest path, without another scan.
        let longest = nodes.map(\.path.unicodeScalars.count).max() ?? node.path.unicodeScalars.count
        try PanPath.requirePathLength(PanPath.join(directory.path, name).unicodeScalars.count + longest - node.path.unicodeScalars.count)
        var copies: [Int64: FileNode] = [:]
        var top: FileNode?
        for original in nodes {
            let parent = original.id == node.id ? directory : copies[original.parentId ?? -1]
            guard let parent else { continue }  // below a recycled directory
            let copy = try await TreeRepository.insert(
                userId: node.userId, parent: parent, name: original.id == node.id ? name : original.name,
                kind: original.type, size: original.size, mime: original.mime, storeHash: original.storeId,
                nodeLimit: nodeLimit, on: db, now: now
            )
            copies[original.id] = copy
            if original.id == node.id { top = copy }
        }
        // Dead properties (WebDAV's PROPPATCH) go with the copy: one statement per
        // node that has any, each at most `DAVLimits.maxPropertiesPerNode` rows.
        for original in try await DAVPropertyRepository.nodesWithProperties(userId: node.userId, from: node.lft, to: node.rgt, on: db) {
            if let copy = copies[original] { try await DAVPropertyRepository.copy(userId: node.userId, from: original, to: copy.id, on: db) }
        }
        try await UserRepository.addSpaceUsed(bytes, userId: node.userId, on: db)
        return top!
    }

    /// Deletes the subtree for good: references and space are released; objects
    /// at zero references wait for `pan store gc`.
    public static func delete(_ node: FileNode, on db: any DatabaseConnection) async throws {
        guard node.parentId != nil else { throw PanError.badRequest("the root cannot be removed") }
        try await requireUnlocked(node, on: db)
        _ = try await deleteRange(userId: node.userId, from: node.lft, to: node.rgt, on: db)
    }

    /// What `deleteRange` deleted.
    struct Deletion {
        var nodes = 0
        var bytes: Int64 = 0
        /// Items of the recycle bin among them (nodes with `recycled_at`).
        var binItems = 0
    }

    /// Deletes the user's nodes whose `lft` is in `from..<to`, releasing their
    /// space and node count. The range must hold every descendant of each of
    /// its nodes (a subtree's interval, or the bottom of one: `RecycleBin`),
    /// so no node is left without its parent.
    static func deleteRange(userId: Int64, from: Int64, to: Int64, on db: any DatabaseConnection) async throws -> Deletion {
        // Objects are not released here: references are counted from nodes, and
        // `pan store gc` forgets an object once no node names it.
        let counts = try await db.queryRow(
            """
            SELECT COALESCE(SUM(CASE WHEN type = \(FileNode.Kind.file.sql) THEN size ELSE 0 END), 0) AS bytes,
                   COUNT(recycled_at) AS items
            FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ?
            """,
            userId, from, to
        )
        var deletion = Deletion(bytes: try counts?.int64("bytes") ?? 0, binItems: Int(try counts?.int64("items") ?? 0))
        // Sessions that made these files forget them (SQLite's foreign key would
        // do it; PostgreSQL's schema has none, for Citus): a replayed callback
        // then answers that the file is gone.
        if db.dialect == .postgres {
            try await db.run(
                """
                UPDATE upload_sessions SET result_node_id = NULL WHERE user_id = ? AND result_node_id IN (
                    SELECT id FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ?)
                """,
                userId, userId, from, to
            )
        }
        // Their share links go with them (issue #27): a link never outlives its node.
        try await ShareRepository.removeForNodes(userId: userId, from: from, to: to, on: db)
        // So do their WebDAV dead properties and locks.
        try await DAVPropertyRepository.removeForNodes(userId: userId, from: from, to: to, on: db)
        deletion.nodes = try await db.run("DELETE FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ?", userId, from, to)
        try await NodeLimits.release(deletion.nodes, userId: userId, on: db)
        try await UserRepository.addSpaceUsed(-deletion.bytes, userId: userId, on: db)
        return deletion
    }

    /// Moves the subtree to the recycle bin; it keeps its space and references.
    public static func recycle(_ node: FileNode, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws {
        guard node.parentId != nil else { throw PanError.badRequest("the root cannot be removed") }
        try await requireUnlocked(node, on: db)
        try await db.run("UPDATE nodes SET state = \(FileNode.State.recycled.sql) WHERE user_id = ? AND lft >= ? AND lft < ? AND state = \(FileNode.State.live.sql)", node.userId, node.lft, node.rgt)
        try await db.run("UPDATE nodes SET recycled_at = ? WHERE user_id = ? AND id = ?", now, node.userId, node.id)
    }

    /// Brings a recycled subtree back where it was (re-creating its directory if
    /// that is gone); what was recycled inside it on its own stays in the bin.
    /// nil when `skip` left it in the bin (its name is taken there).
    public static func restore(
        _ node: FileNode, policy: ConflictPolicy = .fail, nodeLimit: Int64 = NodeLimits.defaultPerUser,
        on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> FileNode? {
        guard node.recycledAt != nil, node.state == 1 else { throw PanError.fileNotFound }
        let parentPath = PanPath.parent(of: node.path)
        let directory = try await TreeRepository.directory(userId: node.userId, path: parentPath, nodeLimit: nodeLimit, on: db, now: now)
        // A directory re-created just now is empty: `skip` never leaves one behind.
        guard let name = try await resolveName(node.name, in: directory, moving: node, policy: policy, userId: node.userId, on: db) else {
            return nil
        }
        // `rename` adds " (n)" on every restore: paths could otherwise grow past the cap.
        try await Extent(of: node, on: db).requirePathLength(at: PanPath.join(directory.path, name))
        // Nodes to bring back: the subtree, minus subtrees recycled separately inside it.
        var back: Set<Int64> = [node.id]
        for item in try await subtree(of: node, on: db) where item.id != node.id {
            if item.recycledAt == nil, let parentId = item.parentId, back.contains(parentId) { back.insert(item.id) }
        }
        // Move and rename while still in the bin, where names need not be unique.
        if node.parentId != directory.id {
            try await IntervalAllocator.relocate(nodeId: node.id, userId: node.userId, toParent: directory.id, on: db)
        }
        if node.parentId != directory.id || name != node.name {
            let path = PanPath.join(directory.path, name)
            try await db.run(
                "UPDATE nodes SET name = ?, name_key = ?, path = ?, path_id = ? WHERE user_id = ? AND id = ?",
                name, NameSortKey(name), path, PanPath.pathId(path), node.userId, node.id
            )
            try await rewritePaths(of: node, from: node.path, on: db)
        }
        for id in back { try await db.run("UPDATE nodes SET state = \(FileNode.State.live.sql) WHERE user_id = ? AND id = ?", node.userId, id) }
        try await db.run("UPDATE nodes SET recycled_at = NULL WHERE user_id = ? AND id = ?", node.userId, node.id)
        return try await TreeRepository.node(id: node.id, userId: node.userId, on: db)!
    }
}
