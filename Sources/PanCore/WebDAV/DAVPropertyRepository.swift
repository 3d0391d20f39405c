import Foundation
import SQLCommon

/// Dead properties in SQL (`dav_properties`). Functions run on the caller's
/// connection, inside the caller's transaction (`SQLPanStore`).
enum DAVPropertyRepository {
    /// The dead properties of the user's nodes `nodeIds`, by node, in name order.
    static func properties(userId: Int64, nodeIds: [Int64], on db: any DatabaseConnection) async throws -> [Int64: [DAVDeadProperty]] {
        var found: [Int64: [DAVDeadProperty]] = [:]
        // A listing page at a time (1,000 ids), in bounded IN lists.
        for start in stride(from: 0, to: nodeIds.count, by: 500) {
            let ids = Array(nodeIds[start..<min(start + 500, nodeIds.count)])
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            for row in try await db.query(
                "SELECT node_id, namespace, name, value FROM dav_properties WHERE user_id = ? AND node_id IN (\(marks)) ORDER BY node_id, namespace, name",
                arguments: [userId] + ids
            ) {
                found[try row.int64("node_id"), default: []].append(
                    DAVDeadProperty(namespace: try row.string("namespace"), name: try row.string("name"), xml: try row.string("value"))
                )
            }
        }
        return found
    }

    /// Applies a PROPPATCH's changes in document order; refused whole (the
    /// caller's transaction rolls back) when the node would carry more than
    /// `DAVLimits.maxPropertiesPerNode`.
    static func apply(_ changes: [DAVPropertyChange], userId: Int64, nodeId: Int64, on db: any DatabaseConnection) async throws {
        for change in changes {
            switch change {
            case .set(let property):
                try await db.run(
                    """
                    INSERT INTO dav_properties (user_id, node_id, namespace, name, value) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (user_id, node_id, namespace, name) DO UPDATE SET value = excluded.value
                    """,
                    userId, nodeId, property.namespace, property.name, property.xml
                )
            case .remove(let namespace, let name):
                try await db.run(
                    "DELETE FROM dav_properties WHERE user_id = ? AND node_id = ? AND namespace = ? AND name = ?", userId, nodeId, namespace, name
                )
            }
        }
        let count = try await db.scalar("SELECT COUNT(*) FROM dav_properties WHERE user_id = ? AND node_id = ?", userId, nodeId) ?? 0
        if count > Int64(DAVLimits.maxPropertiesPerNode) { throw PanError.davTooManyProperties }
    }

    /// Which of the user's nodes with `lft` in `from..<to` carry dead properties
    /// (a copy then copies only theirs).
    static func nodesWithProperties(userId: Int64, from: Int64, to: Int64, on db: any DatabaseConnection) async throws -> Set<Int64> {
        Set(try await db.query(
            """
            SELECT DISTINCT p.node_id FROM dav_properties p JOIN nodes n ON n.user_id = p.user_id AND n.id = p.node_id
            WHERE p.user_id = ? AND n.lft >= ? AND n.lft < ?
            """,
            userId, from, to
        ).map { try $0.int64("node_id") })
    }

    /// Gives `copy` the dead properties of `original` (at most the per-node cap: one statement).
    static func copy(userId: Int64, from original: Int64, to copy: Int64, on db: any DatabaseConnection) async throws {
        try await db.run(
            "INSERT INTO dav_properties (user_id, node_id, namespace, name, value) SELECT user_id, ?, namespace, name, value FROM dav_properties WHERE user_id = ? AND node_id = ?",
            copy, userId, original
        )
    }

    /// Deletes the properties (and WebDAV locks) of the user's nodes with `lft`
    /// in `from..<to`, before those nodes are deleted for good.
    static func removeForNodes(userId: Int64, from: Int64, to: Int64, on db: any DatabaseConnection) async throws {
        for table in ["dav_properties", "dav_locks"] {
            try await db.run(
                "DELETE FROM \(table) WHERE user_id = ? AND node_id IN (SELECT id FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ?)",
                userId, userId, from, to
            )
        }
    }
}
