import Foundation
import SQLiteKit

/// `pan fsck`: checks every invariant of the trees, objects and sessions, and
/// repairs what can be derived (paths, pathIds, intervals, reference counts,
/// `spaceUsed`).
public enum TreeChecker {
    public struct Finding: Sendable, Equatable, Codable, CustomStringConvertible {
        public let check: String
        public let detail: String
        public var description: String { "\(check): \(detail)" }
    }

    public static func check(on db: Connection) throws -> [Finding] {
        var findings: [Finding] = []
        func add(_ check: String, _ rows: [Row], _ detail: (Row) throws -> String) throws {
            for row in rows { findings.append(Finding(check: check, detail: try detail(row))) }
        }
        try add("duplicate-name", db.query(
            "SELECT parent_id, name, COUNT(*) AS n FROM nodes WHERE state = \(FileNode.State.live.sql) AND parent_id IS NOT NULL GROUP BY parent_id, name HAVING n > 1"
        )) { "\(try $0.int64("n")) live nodes named \(try $0.string("name")) in directory \(try $0.int64("parent_id"))" }
        try add("roots", db.query(
            "SELECT u.id FROM users u WHERE (SELECT COUNT(*) FROM nodes WHERE user_id = u.id AND parent_id IS NULL) != 1"
        )) { "user \(try $0.int64("id")) does not have exactly one root" }
        try add("path", db.query(
            """
            SELECT n.id, n.path, p.path AS parent_path, n.name FROM nodes n JOIN nodes p ON p.id = n.parent_id
            WHERE n.path != (CASE WHEN p.path = '/' THEN '/' || n.name ELSE p.path || '/' || n.name END)
            """
        )) { "node \(try $0.int64("id")) has path \(try $0.string("path")), expected parent's path + name" }
        for row in try db.query("SELECT id, path, path_id FROM nodes") where PanPath.pathId(try row.string("path")) != (try row.string("path_id")) {
            findings.append(Finding(check: "path-id", detail: "node \(try row.int64("id")) has a pathId that is not md5(path)"))
        }
        try add("interval-nesting", db.query(
            "SELECT n.id FROM nodes n JOIN nodes p ON p.id = n.parent_id WHERE NOT (n.lft > p.lft AND n.rgt < p.rgt AND n.lft < n.rgt)"
        )) { "node \(try $0.int64("id")) is not strictly inside its parent's interval" }
        try add("interval-siblings", db.query(
            """
            SELECT id FROM (SELECT id, lft, LAG(rgt) OVER (PARTITION BY parent_id ORDER BY lft) AS previous
                            FROM nodes WHERE parent_id IS NOT NULL) WHERE previous IS NOT NULL AND lft <= previous
            """
        )) { "node \(try $0.int64("id")) overlaps its previous sibling" }
        try add("interval-user", db.query(
            "SELECT n.id FROM nodes n JOIN nodes p ON p.id = n.parent_id WHERE n.user_id != p.user_id"
        )) { "node \(try $0.int64("id")) belongs to another user than its parent" }
        try add("live-under-bin", db.query(
            "SELECT n.id FROM nodes n JOIN nodes p ON p.id = n.parent_id WHERE n.state = \(FileNode.State.live.sql) AND p.state != \(FileNode.State.live.sql)"
        )) { "live node \(try $0.int64("id")) is inside a recycled directory" }
        try add("file-object", db.query(
            "SELECT n.id FROM nodes n LEFT JOIN store_objects o ON o.hash = n.store_hash WHERE n.type = \(FileNode.Kind.file.sql) AND o.hash IS NULL"
        )) { "file \(try $0.int64("id")) names no stored object" }
        try add("ref-count", db.query(
            """
            SELECT o.hash, o.ref_count, (SELECT COUNT(*) FROM nodes WHERE store_hash = o.hash) AS actual
            FROM store_objects o WHERE o.ref_count != actual
            """
        )) { "object \(try $0.string("hash")) counts \(try $0.int64("ref_count")) references, has \(try $0.int64("actual"))" }
        try add("space-used", db.query(
            """
            SELECT u.id, u.space_used, COALESCE((SELECT SUM(size) FROM nodes WHERE user_id = u.id AND type = \(FileNode.Kind.file.sql)), 0) AS actual
            FROM users u WHERE u.space_used != actual
            """
        )) { "user \(try $0.int64("id")) has spaceUsed \(try $0.int64("space_used")), files sum to \(try $0.int64("actual"))" }
        try add("session-state", db.query(
            "SELECT s.id FROM upload_sessions s WHERE s.state = 'failed' AND s.failure_code IS NULL"
        )) { "failed session \(try $0.string("id")) has no recorded failure" }
        try add("session-node", db.query(
            "SELECT s.id FROM upload_sessions s WHERE s.result_node_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nodes WHERE id = s.result_node_id)"
        )) { "session \(try $0.string("id")) points at a node that does not exist" }
        return findings
    }

    /// Fixes what is derivable; returns what was changed. Run inside a write transaction.
    public static func repair(on db: Connection) throws -> [String] {
        var done: [String] = []
        // Paths and pathIds, top-down from each root.
        var fixedPaths = 0
        for root in try db.query("SELECT id FROM nodes WHERE parent_id IS NULL") {
            var queue: [(Int64, String)] = [(try root.int64("id"), "/")]
            while let (id, path) = queue.popLast() {
                for child in try db.query("SELECT id, name, path, path_id FROM nodes WHERE parent_id = ?", id) {
                    let childPath = PanPath.join(path, try child.string("name"))
                    if try child.string("path") != childPath || (try child.string("path_id")) != PanPath.pathId(childPath) {
                        try db.run("UPDATE nodes SET path = ?, path_id = ? WHERE id = ?", childPath, PanPath.pathId(childPath), try child.int64("id"))
                        fixedPaths += 1
                    }
                    queue.append((try child.int64("id"), childPath))
                }
            }
        }
        if fixedPaths > 0 { done.append("rewrote \(fixedPaths) path(s)") }
        let refs = try db.run(
            "UPDATE store_objects SET ref_count = (SELECT COUNT(*) FROM nodes WHERE store_hash = store_objects.hash) WHERE ref_count != (SELECT COUNT(*) FROM nodes WHERE store_hash = store_objects.hash)"
        )
        if refs > 0 { done.append("recounted references of \(refs) object(s)") }
        let space = try db.run(
            "UPDATE users SET space_used = COALESCE((SELECT SUM(size) FROM nodes WHERE user_id = users.id AND type = \(FileNode.Kind.file.sql)), 0) WHERE space_used != COALESCE((SELECT SUM(size) FROM nodes WHERE user_id = users.id AND type = \(FileNode.Kind.file.sql)), 0)"
        )
        if space > 0 { done.append("recomputed spaceUsed of \(space) user(s)") }
        let intervalProblems = try check(on: db).filter { $0.check.hasPrefix("interval") }
        if !intervalProblems.isEmpty {
            for root in try db.query("SELECT id, user_id FROM nodes WHERE parent_id IS NULL") {
                try IntervalAllocator.respreadByParents(rootId: try root.int64("id"), on: db)
            }
            done.append("renumbered every tree's intervals")
        }
        return done
    }
}

extension IntervalAllocator {
    /// Renumbers a whole tree from `parent_id` alone, for repairs where the
    /// intervals themselves cannot be trusted.
    static func respreadByParents(rootId: Int64, on db: Connection) throws {
        try db.run("UPDATE nodes SET lft = ?, rgt = ? WHERE id = ?", rootLeft, rootRight, rootId)
        // Give every node a fresh, tightly nested interval in depth-first order of parent_id…
        var children: [Int64: [Int64]] = [:]
        for row in try db.query(
            "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) SELECT n.id, n.parent_id FROM nodes n JOIN sub ON sub.id = n.id",
            rootId
        ) {
            if let parent = try row.optionalInt64("parent_id") { children[parent, default: []].append(try row.int64("id")) }
        }
        // …then lay them out as a temporary tight tree, which `respread` spreads out.
        var counter: Int64 = rootLeft + 1
        func visit(_ id: Int64) throws {
            let left = counter
            counter += 1
            for child in children[id] ?? [] { try visit(child) }
            let right = counter
            counter += 1
            if id != rootId { try db.run("UPDATE nodes SET lft = ?, rgt = ? WHERE id = ?", left, right, id) }
        }
        try visit(rootId)
        guard let root = try db.queryRow("SELECT user_id FROM nodes WHERE id = ?", rootId) else { return }
        try respread(userId: try root.int64("user_id"), rootId: rootId, left: rootLeft, right: rootRight, on: db)
    }
}
