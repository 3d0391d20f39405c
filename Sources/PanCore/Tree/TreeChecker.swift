import Foundation
import SQLCommon

/// `pan fsck`: checks every invariant of the trees, objects and sessions, and
/// repairs what can be derived (paths, pathIds, intervals, reference counts,
/// `spaceUsed`).
public enum TreeChecker {
    public struct Finding: Sendable, Equatable, Codable, CustomStringConvertible {
        public let check: String
        public let detail: String
        public var description: String { "\(check): \(detail)" }
    }

    public static func check(on db: any DatabaseConnection) async throws -> [Finding] {
        var findings: [Finding] = []
        func add(_ check: String, _ rows: [Row], _ detail: (Row) throws -> String) throws {
            for row in rows { findings.append(Finding(check: check, detail: try detail(row))) }
        }
        try await add("duplicate-name", db.query(
            "SELECT parent_id, name, COUNT(*) AS n FROM nodes WHERE state = \(FileNode.State.live.sql) AND parent_id IS NOT NULL GROUP BY user_id, parent_id, name HAVING COUNT(*) > 1"
        )) { "\(try $0.int64("n")) live nodes named \(try $0.string("name")) in directory \(try $0.int64("parent_id"))" }
        try await add("roots", db.query(
            "SELECT u.id FROM users u WHERE (SELECT COUNT(*) FROM nodes WHERE user_id = u.id AND parent_id IS NULL) != 1"
        )) { "user \(try $0.int64("id")) does not have exactly one root" }
        try await add("path", db.query(
            """
            SELECT n.id, n.path, p.path AS parent_path, n.name FROM nodes n JOIN nodes p ON p.user_id = n.user_id AND p.id = n.parent_id
            WHERE n.path != (CASE WHEN p.path = '/' THEN '/' || n.name ELSE p.path || '/' || n.name END)
            """
        )) { "node \(try $0.int64("id")) has path \(try $0.string("path")), expected parent's path + name" }
        for row in try await db.query("SELECT id, path, path_id FROM nodes") where PanPath.pathId(try row.string("path")) != (try row.string("path_id")) {
            findings.append(Finding(check: "path-id", detail: "node \(try row.int64("id")) has a pathId that is not md5(path)"))
        }
        try await add("interval-nesting", db.query(
            "SELECT n.id FROM nodes n JOIN nodes p ON p.user_id = n.user_id AND p.id = n.parent_id WHERE NOT (n.lft > p.lft AND n.rgt < p.rgt AND n.lft < n.rgt)"
        )) { "node \(try $0.int64("id")) is not strictly inside its parent's interval" }
        try await add("interval-siblings", db.query(
            """
            SELECT id FROM (SELECT id, lft, LAG(rgt) OVER (PARTITION BY user_id, parent_id ORDER BY lft) AS previous
                            FROM nodes WHERE parent_id IS NOT NULL) AS siblings WHERE previous IS NOT NULL AND lft <= previous
            """
        )) { "node \(try $0.int64("id")) overlaps its previous sibling" }
        // A parent is always looked up with the child's user_id, so a node whose
        // parent belongs to someone else shows up as having no parent at all.
        try await add("interval-user", db.query(
            "SELECT n.id FROM nodes n WHERE n.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nodes p WHERE p.user_id = n.user_id AND p.id = n.parent_id)"
        )) { "node \(try $0.int64("id")) has no parent among its user's nodes" }
        try await add("live-under-bin", db.query(
            "SELECT n.id FROM nodes n JOIN nodes p ON p.user_id = n.user_id AND p.id = n.parent_id WHERE n.state = \(FileNode.State.live.sql) AND p.state != \(FileNode.State.live.sql)"
        )) { "live node \(try $0.int64("id")) is inside a recycled directory" }
        try await add("file-object", db.query(
            "SELECT n.id FROM nodes n LEFT JOIN store_objects o ON o.hash = n.store_hash WHERE n.type = \(FileNode.Kind.file.sql) AND o.hash IS NULL"
        )) { "file \(try $0.int64("id")) names no stored object" }
        try await add("space-used", db.query(
            """
            SELECT id, space_used, actual FROM (
                SELECT u.id, u.space_used,
                       COALESCE((SELECT SUM(size) FROM nodes WHERE user_id = u.id AND type = \(FileNode.Kind.file.sql)), 0) AS actual
                FROM users u
            ) AS usage WHERE space_used != actual
            """
        )) { "user \(try $0.int64("id")) has spaceUsed \(try $0.int64("space_used")), files sum to \(try $0.int64("actual"))" }
        // The counters may run high (the sweeper leaves them so), never low: low, they would let a user past the cap or quota.
        try await add("pending-counters", db.query(
            """
            SELECT id, pending_uploads, pending_bytes, actual, actual_bytes FROM (
                SELECT u.id, u.pending_uploads, u.pending_bytes,
                       (SELECT COUNT(*) FROM upload_sessions WHERE user_id = u.id AND state = 'pending') AS actual,
                       (SELECT COALESCE(SUM(declared_size), 0) FROM upload_sessions WHERE user_id = u.id AND state = 'pending') AS actual_bytes
                FROM users u
            ) AS pending WHERE pending_uploads < actual OR pending_bytes < actual_bytes
            """
        )) {
            "user \(try $0.int64("id")) counts \(try $0.int64("pending_uploads")) pending uploads of \(try $0.int64("pending_bytes")) bytes, "
                + "its sessions are \(try $0.int64("actual")) of \(try $0.int64("actual_bytes")) bytes"
        }
        // Every stored name passes the name rule as it is (names from before a
        // rule, or written by hand, would be unreachable or look like another).
        for row in try await db.query("SELECT id, name FROM nodes WHERE parent_id IS NOT NULL") {
            let (id, name) = (try row.int64("id"), try row.string("name"))
            switch Result(catching: { () throws(PanError) -> String in try PanPath.name(name) }) {
            // Bytes, not `String ==`, which holds NFD and NFC spellings equal.
            case .success(let canonical) where !canonical.utf8.elementsEqual(name.utf8):
                findings.append(Finding(check: "name", detail: "node \(id) has a name not in NFC form"))
            case .failure(let refusal):
                findings.append(Finding(check: "name", detail: "node \(id) has a name the name rule refuses: \(refusal.message)"))
            case .success: break
            }
        }
        // Natural name order sorts by a key made from the name in Swift: one
        // that is missing or stale puts the node in the wrong place of every listing.
        for node in try await nodesWithStaleNameKeys(on: db) {
            findings.append(Finding(check: "name-key", detail: "node \(node.id) has a name sort key that is not its name's"))
        }
        try await add("node-count", db.query(
            """
            SELECT id, node_count, actual FROM (
                SELECT u.id, u.node_count, (SELECT COUNT(*) FROM nodes WHERE user_id = u.id) AS actual FROM users u
            ) AS counts WHERE node_count != actual
            """
        )) { "user \(try $0.int64("id")) counts \(try $0.int64("node_count")) nodes, has \(try $0.int64("actual"))" }
        try await add("session-state", db.query(
            "SELECT s.id FROM upload_sessions s WHERE s.state = 'failed' AND s.failure_code IS NULL"
        )) { "failed session \(try $0.string("id")) has no recorded failure" }
        try await add("session-node", db.query(
            "SELECT s.id FROM upload_sessions s WHERE s.result_node_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nodes WHERE user_id = s.user_id AND id = s.result_node_id)"
        )) { "session \(try $0.string("id")) points at a node that does not exist" }
        // A share dies with its node (`TreeMutations.deleteRange`); one left over would answer 404 for ever.
        try await add("share-node", db.query(
            "SELECT s.id FROM shares s WHERE NOT EXISTS (SELECT 1 FROM nodes WHERE user_id = s.user_id AND id = s.node_id)"
        )) { "share \(try $0.string("id")) names a node that does not exist" }
        // WebDAV's dead properties and locks die with their node too (`TreeMutations.deleteRange`).
        for table in ["dav_properties", "dav_locks"] {
            try await add("dav-node", db.query(
                "SELECT d.node_id FROM \(table) d WHERE NOT EXISTS (SELECT 1 FROM nodes WHERE user_id = d.user_id AND id = d.node_id)"
            )) { "\(table) names node \(try $0.int64("node_id")), which does not exist" }
        }
        return findings
    }

    /// Nodes whose `name_key` is not `NameSortKey` of their name (or is missing).
    static func nodesWithStaleNameKeys(on db: any DatabaseConnection) async throws -> [(id: Int64, userId: Int64, name: String)] {
        try await db.query("SELECT id, user_id, name, name_key FROM nodes").compactMap { row in
            let name = try row.string("name")
            return NameSortKey.matches(row["name_key"], name: name) ? nil : (try row.int64("id"), try row.int64("user_id"), name)
        }
    }

    /// Fixes what is derivable; returns what was changed. Run inside a write transaction.
    public static func repair(on db: any DatabaseConnection) async throws -> [String] {
        var done: [String] = []
        // Repairs rewrite paths, intervals and quotas across users: no writer may run
        // meanwhile. SQLite's one writer gives that; on PostgreSQL, servers keep
        // writing, so the tables are locked against writes (reads go on).
        if db.dialect == .postgres {
            try await db.run("LOCK TABLE users, nodes, upload_sessions IN EXCLUSIVE MODE")
        }
        // Paths and pathIds, top-down from each root.
        var fixedPaths = 0
        for root in try await db.query("SELECT id, user_id FROM nodes WHERE parent_id IS NULL") {
            let userId = try root.int64("user_id")
            var queue: [(Int64, String)] = [(try root.int64("id"), "/")]
            while let (id, path) = queue.popLast() {
                for child in try await db.query("SELECT id, name, path, path_id FROM nodes WHERE user_id = ? AND parent_id = ?", userId, id) {
                    let childPath = PanPath.join(path, try child.string("name"))
                    if try child.string("path") != childPath || (try child.string("path_id")) != PanPath.pathId(childPath) {
                        try await db.run(
                            "UPDATE nodes SET path = ?, path_id = ? WHERE user_id = ? AND id = ?",
                            childPath, PanPath.pathId(childPath), userId, try child.int64("id")
                        )
                        fixedPaths += 1
                    }
                    queue.append((try child.int64("id"), childPath))
                }
            }
        }
        if fixedPaths > 0 { done.append("rewrote \(fixedPaths) path(s)") }
        let staleKeys = try await nodesWithStaleNameKeys(on: db)
        for node in staleKeys {
            try await db.run("UPDATE nodes SET name_key = ? WHERE user_id = ? AND id = ?", NameSortKey(node.name), node.userId, node.id)
        }
        if !staleKeys.isEmpty { done.append("remade the name sort key of \(staleKeys.count) node(s)") }
        let space = try await db.run(
            "UPDATE users SET space_used = COALESCE((SELECT SUM(size) FROM nodes WHERE user_id = users.id AND type = \(FileNode.Kind.file.sql)), 0) WHERE space_used != COALESCE((SELECT SUM(size) FROM nodes WHERE user_id = users.id AND type = \(FileNode.Kind.file.sql)), 0)"
        )
        if space > 0 { done.append("recomputed spaceUsed of \(space) user(s)") }
        let pending = try await db.run(
            """
            UPDATE users SET
                pending_uploads = (SELECT COUNT(*) FROM upload_sessions WHERE user_id = users.id AND state = 'pending'),
                pending_bytes = (SELECT COALESCE(SUM(declared_size), 0) FROM upload_sessions WHERE user_id = users.id AND state = 'pending')
            WHERE pending_uploads < (SELECT COUNT(*) FROM upload_sessions WHERE user_id = users.id AND state = 'pending')
               OR pending_bytes < (SELECT COALESCE(SUM(declared_size), 0) FROM upload_sessions WHERE user_id = users.id AND state = 'pending')
            """
        )
        if pending > 0 { done.append("recounted the pending uploads of \(pending) user(s)") }
        let counted = try await db.run(
            "UPDATE users SET node_count = (SELECT COUNT(*) FROM nodes WHERE user_id = users.id) WHERE node_count != (SELECT COUNT(*) FROM nodes WHERE user_id = users.id)"
        )
        if counted > 0 { done.append("recounted the nodes of \(counted) user(s)") }
        let orphanShares = try await db.run(
            "DELETE FROM shares WHERE NOT EXISTS (SELECT 1 FROM nodes WHERE user_id = shares.user_id AND id = shares.node_id)"
        )
        if orphanShares > 0 { done.append("removed \(orphanShares) share link(s) of nodes that no longer exist") }
        for table in ["dav_properties", "dav_locks"] {
            let orphans = try await db.run(
                "DELETE FROM \(table) WHERE NOT EXISTS (SELECT 1 FROM nodes WHERE user_id = \(table).user_id AND id = \(table).node_id)"
            )
            if orphans > 0 { done.append("removed \(orphans) row(s) of \(table) of nodes that no longer exist") }
        }
        let intervalProblems = try await check(on: db).filter { $0.check.hasPrefix("interval") }
        if !intervalProblems.isEmpty {
            for root in try await db.query("SELECT id, user_id FROM nodes WHERE parent_id IS NULL") {
                try await IntervalAllocator.respreadByParents(rootId: try root.int64("id"), userId: try root.int64("user_id"), on: db)
            }
            done.append("renumbered every tree's intervals")
        }
        return done
    }
}

extension IntervalAllocator {
    /// Renumbers a whole tree from `parent_id` alone, for repairs where the
    /// intervals themselves cannot be trusted.
    static func respreadByParents(rootId: Int64, userId: Int64, on db: any DatabaseConnection) async throws {
        try await db.run("UPDATE nodes SET lft = ?, rgt = ? WHERE user_id = ? AND id = ?", rootLeft, rootRight, userId, rootId)
        // Give every node a fresh, tightly nested interval in depth-first order of parent_id…
        var children: [Int64: [Int64]] = [:]
        for row in try await db.query(
            """
            WITH RECURSIVE sub(id) AS (
                SELECT CAST(? AS BIGINT) UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.user_id = ? AND n.parent_id = sub.id
            ) SELECT n.id, n.parent_id FROM nodes n JOIN sub ON n.user_id = ? AND n.id = sub.id
            """,
            rootId, userId, userId
        ) {
            if let parent = try row.optionalInt64("parent_id") { children[parent, default: []].append(try row.int64("id")) }
        }
        // …then lay them out as a temporary tight tree, which `respread` spreads out.
        var counter: Int64 = rootLeft + 1
        func visit(_ id: Int64) async throws {
            let left = counter
            counter += 1
            for child in children[id] ?? [] { try await visit(child) }
            let right = counter
            counter += 1
            if id != rootId { try await db.run("UPDATE nodes SET lft = ?, rgt = ? WHERE user_id = ? AND id = ?", left, right, userId, id) }
        }
        try await visit(rootId)
        try await respread(userId: userId, rootId: rootId, left: rootLeft, right: rootRight, on: db)
    }
}
