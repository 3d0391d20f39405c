import Foundation
import SQLCommon

/// What one zip download holds (issue #26): the selection `POST
/// /v1/files/zip` recorded (`ZipLink`) and, when the link is followed, the
/// entries read from the tree in one read transaction (`ZipSnapshot`). The
/// archive's bytes are the HTTP layer's (`PanAPI/Downloads/Zip`); which
/// nodes, under which names, is decided here.
public enum ZipLimits {
    /// How long a link may wait to be started. A stream already running finishes.
    public static let linkLifetime: Int64 = 600_000
    /// Live links one user may hold (each row is at most ~33 KB of uuids); more → 429.
    public static let linksPerUser = 20
    /// Nodes in one archive: copy's subtree limit (`NodeLimits.nodesPerRequest`).
    public static var nodesPerArchive: Int { NodeLimits.nodesPerRequest }

    /// 413 `TOO_MANY_NODES` past `nodesPerArchive` (the code copy uses for its cap).
    static func requireNodes(_ count: Int) throws(PanError) {
        if count > nodesPerArchive {
            throw PanError(
                status: 413, code: "TOO_MANY_NODES",
                "a zip may hold at most \(nodesPerArchive) files and folders; this selection has more: download it in parts"
            )
        }
    }

    static let tooManyLinks = PanError(
        status: 429, code: "TOO_MANY_DOWNLOADS", "too many zip downloads prepared in the last 10 minutes; start or let some expire first",
        retryAfter: 60
    )
}

/// A recorded selection, as `POST /v1/files/zip` answers it.
public struct ZipLink: Sendable, Equatable {
    /// 32 random hex digits; with `userId`, the row's key.
    public let id: String
    public let userId: Int64
    /// The sources' node uuids, in the order given (duplicates and nodes inside another source dropped).
    public let sources: [String]
    /// The archive's file name: `<name>.zip` for one source, else `Pan-<date>.zip`.
    public let name: String
    /// Unix ms after which the link may no longer be started.
    public let expiresAt: Int64
}

/// One entry of an archive: a directory, or a file and the object holding its bytes.
public struct ZipEntry: Sendable, Equatable {
    /// Relative to the selection, `/`-separated, no leading or trailing slash:
    /// a folder's own name is the top (`Photos/2024/a.jpg`); a selected root's
    /// children are the top.
    public let path: String
    public let isDirectory: Bool
    /// Bytes of the stored object (0 for directories and objectless files).
    public let size: Int64
    /// The object key; nil for directories and empty files without one.
    public let objectKey: String?
    /// Unix ms.
    public let modified: Int64
}

/// The entries of a link, as the tree stood when the download started.
public struct ZipSnapshot: Sendable {
    public let name: String
    public let entries: [ZipEntry]
}

enum ZipSelectionRepository {
    /// Records a selection of the user's live nodes: resolves every address
    /// (`FILE_NOT_FOUND` otherwise), counts their live subtrees (more than
    /// `ZipLimits.nodesPerArchive` → 413 `TOO_MANY_NODES`, before anything is
    /// read), prunes the user's expired links and refuses past
    /// `ZipLimits.linksPerUser`. One write transaction.
    static func create(userId: Int64, sources addresses: [NodeAddress], now: Int64, on db: any DatabaseConnection) async throws -> ZipLink {
        var nodes: [FileNode] = []
        for address in addresses {
            nodes.append(try await TreeRepository.node(userId: userId, at: address, on: db))
        }
        nodes = outermost(nodes)
        var count = 0
        for node in nodes {
            count += try await TreeMutations.copySize(of: node, on: db)
            try ZipLimits.requireNodes(count)
        }
        try await db.run("DELETE FROM zip_links WHERE user_id = ? AND expires_at < ?", userId, now)
        let live: Int64 = try await db.scalar("SELECT COUNT(*) FROM zip_links WHERE user_id = ?", userId) ?? 0
        guard live < Int64(ZipLimits.linksPerUser) else { throw ZipLimits.tooManyLinks }
        let link = ZipLink(
            id: RandomID.hex32(), userId: userId, sources: nodes.map(\.uuid), name: archiveName(nodes, now: now),
            expiresAt: now + ZipLimits.linkLifetime
        )
        try await db.run(
            "INSERT INTO zip_links (user_id, id, sources, name, expires_at) VALUES (?, ?, ?, ?, ?)",
            userId, link.id, link.sources.joined(separator: ","), link.name, link.expiresAt
        )
        return link
    }

    /// The entries of a link that is still live, read in one read transaction
    /// (the caller's): nil when there is no such link (never made, or pruned),
    /// it has expired, or the user is gone or disabled. Sources deleted since the
    /// link was made are left out; if none is left → `FILE_NOT_FOUND`.
    static func snapshot(userId: Int64, linkId: String, now: Int64, on db: any DatabaseConnection) async throws -> ZipSnapshot? {
        guard let row = try await db.queryRow(
            """
            SELECT l.sources, l.name, l.expires_at FROM zip_links l JOIN users u ON u.id = l.user_id
            WHERE l.user_id = ? AND l.id = ? AND u.status = \(User.Status.active.sql)
            """,
            userId, linkId
        ) else { return nil }
        guard try row.int64("expires_at") >= now else { return nil }
        var sources: [FileNode] = []
        for uuid in try row.string("sources").split(separator: ",") {
            if let node = try await TreeRepository.node(userId: userId, uuid: String(uuid), on: db) { sources.append(node) }
        }
        // A move since the link was made can put one source inside another.
        sources = outermost(sources)
        guard !sources.isEmpty else { throw PanError.fileNotFound }
        var entries: [ZipEntry] = []
        var topNames = Set<String>()
        for source in sources {
            // Two sources from different folders may share a name: the later is `name (1)`, as `rename` would call it.
            var top = source.name
            if source.parentId != nil {
                var n = 0
                while !topNames.insert(top).inserted {
                    n += 1
                    top = PanPath.numbered(source.name, n)
                }
            }
            let remaining = ZipLimits.nodesPerArchive - entries.count
            let subtree = try await liveSubtree(of: source, limit: remaining + 1, on: db)
            // The tree may have grown since the link was made: the cap holds at the snapshot too.
            try ZipLimits.requireNodes(entries.count + subtree.count)
            for item in subtree {
                let relative: String
                if source.parentId == nil {
                    guard item.id != source.id else { continue }  // the root itself is no entry
                    relative = String(item.path.dropFirst())
                } else {
                    relative = item.id == source.id ? top : top + String(item.path.dropFirst(source.path.count))
                }
                entries.append(ZipEntry(
                    path: relative, isDirectory: item.isDirectory, size: item.isDirectory ? 0 : item.objectSize ?? 0,
                    objectKey: item.isDirectory ? nil : item.objectKey, modified: item.modified
                ))
            }
        }
        return ZipSnapshot(name: try row.string("name"), entries: entries)
    }

    private struct SubtreeItem {
        let id: Int64
        let path: String
        let isDirectory: Bool
        let objectKey: String?
        let objectSize: Int64?
        let modified: Int64
    }

    /// `top` and its live descendants in tree order (`lft`: a parent before its
    /// children), with each file's object; at most `limit`. A live node below a
    /// binned directory is not reachable in the tree, so it is left out.
    private static func liveSubtree(of top: FileNode, limit: Int, on db: any DatabaseConnection) async throws -> [SubtreeItem] {
        let rows = try await db.query(
            """
            SELECT n.id, n.parent_id, n.path, n.type, n.mtime, o.object_key, o.size AS object_size
            FROM nodes n LEFT JOIN store_objects o ON o.hash = n.store_hash
            WHERE n.user_id = ? AND n.lft >= ? AND n.lft < ? AND n.state = \(FileNode.State.live.sql)
            ORDER BY n.lft LIMIT ?
            """,
            top.userId, top.lft, top.rgt, limit
        )
        var reached: Set<Int64> = [top.id]
        var items: [SubtreeItem] = []
        for row in rows {
            let id = try row.int64("id")
            if id != top.id {
                guard let parent = try row.optionalInt64("parent_id"), reached.contains(parent) else { continue }
            }
            let isDirectory = try row.int("type") == FileNode.Kind.directory.rawValue
            if isDirectory { reached.insert(id) }
            items.append(SubtreeItem(
                id: id, path: try row.string("path"), isDirectory: isDirectory, objectKey: try row.optionalString("object_key"),
                objectSize: try row.optionalInt64("object_size"), modified: try row.int64("mtime")
            ))
        }
        return items
    }

    /// The nodes that are not inside another one of them (or the same node
    /// twice), in their given order: a folder and a file in it are one source.
    static func outermost(_ nodes: [FileNode]) -> [FileNode] {
        var seen = Set<Int64>()
        return nodes.filter { node in
            guard seen.insert(node.id).inserted else { return false }
            return !nodes.contains { other in other.id != node.id && other.lft < node.lft && node.rgt <= other.rgt }
        }
    }

    /// `<name>.zip` for one source that is not the root, else `Pan-<UTC date>.zip`.
    static func archiveName(_ nodes: [FileNode], now: Int64) -> String {
        if nodes.count == 1, nodes[0].parentId != nil { return nodes[0].name + ".zip" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return "Pan-\(formatter.string(from: Date(timeIntervalSince1970: Double(now) / 1000))).zip"
    }
}
