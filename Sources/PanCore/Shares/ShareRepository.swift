import Foundation
import SQLCommon

/// Share links in SQL. Functions run on the caller's connection, inside the
/// caller's transaction (`SQLPanStore`); what a share may be is `Share`'s.
enum ShareRepository {
    /// The share's columns, its owner's and its node's (as `FileNode.columns`
    /// reads them, so the share's own ids are renamed): one statement reads a
    /// share whole, whoever asks (`Share(row:)`).
    private static let columns = """
        s.user_id AS share_user_id, s.id AS share_id, s.node_id AS share_node_id, s.password_hash, s.epoch, s.expires_at,
        s.max_downloads, s.allow_download, s.views, s.downloads, s.last_access_at, s.created_at AS share_created_at,
        u.status AS owner_status, u.display_name AS owner_display_name, \(FileNode.columns)
        """
    private static let from = """
        shares s JOIN users u ON u.id = s.user_id
        LEFT JOIN nodes n ON n.user_id = s.user_id AND n.id = s.node_id \(FileNode.parentJoin)
        """

    /// Shares the user's live node at `address` (not the root). One write transaction.
    static func create(
        userId: Int64, at address: NodeAddress, settings: ShareSettings, now: Int64, on db: any DatabaseConnection
    ) async throws -> Share {
        let node = try await TreeRepository.node(userId: userId, at: address, on: db)
        guard node.parentId != nil else { throw PanError.invalidField("path", "the root cannot be shared; share a folder in it") }
        let count: Int64 = try await db.scalar("SELECT COUNT(*) FROM shares WHERE user_id = ?", userId) ?? 0
        guard count < Int64(ShareLimits.perUser) else { throw ShareLimits.tooMany }
        var id = ShareID.make()
        // 128 random bits do not collide; PostgreSQL's index on id alone cannot be unique, so look once anyway.
        while try await db.queryRow("SELECT 1 AS one FROM shares WHERE id = ?", id) != nil { id = ShareID.make() }
        try await db.run(
            """
            INSERT INTO shares (user_id, id, node_id, password_hash, expires_at, max_downloads, allow_download, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            userId, id, node.id, settings.passwordHash ?? nil, settings.expiresAt ?? nil, settings.maxDownloads ?? nil,
            (settings.allowDownload ?? true) ? 1 : 0, now
        )
        guard let share = try await find(userId: userId, id: id, on: db) else { throw PanError.internalError("the new share \(id) was not found") }
        return share
    }

    /// One of the user's shares, with its node as it is now.
    static func find(userId: Int64, id: String, on db: any DatabaseConnection) async throws -> Share? {
        try await db.queryRow("SELECT \(columns) FROM \(from) WHERE s.user_id = ? AND s.id = ?", userId, id).map(share)
    }

    /// A share by id alone, whoever owns it: the public lookup (the link
    /// carries only the id), in one statement.
    static func find(id: String, on db: any DatabaseConnection) async throws -> Share? {
        try await db.queryRow("SELECT \(columns) FROM \(from) WHERE s.id = ?", id).map(share)
    }

    /// The user's shares, newest first, optionally only those of one node; with their total.
    static func list(
        userId: Int64, nodeId: Int64?, limit: Int, offset: Int, on db: any DatabaseConnection
    ) async throws -> (shares: [Share], total: Int64) {
        let filter = nodeId == nil ? "" : " AND s.node_id = ?"
        var arguments: [any DatabaseBindable] = [userId]
        if let nodeId { arguments.append(nodeId) }
        let total = try await db.queryRow("SELECT COUNT(*) AS n FROM shares s WHERE s.user_id = ?\(filter)", arguments: arguments)
        let rows = try await db.query(
            "SELECT \(columns) FROM \(from) WHERE s.user_id = ?\(filter) ORDER BY s.created_at DESC, s.id LIMIT ? OFFSET ?",
            arguments: arguments + [limit, offset]
        )
        return (try rows.map(share), try total?.int64("n") ?? 0)
    }

    /// Every share (the admin's `pan share list`), newest first.
    static func all(userId: Int64?, limit: Int, on db: any DatabaseConnection) async throws -> [Share] {
        let rows = if let userId {
            try await db.query("SELECT \(columns) FROM \(from) WHERE s.user_id = ? ORDER BY s.created_at DESC LIMIT ?", userId, limit)
        } else {
            try await db.query("SELECT \(columns) FROM \(from) ORDER BY s.created_at DESC LIMIT ?", limit)
        }
        return try rows.map(share)
    }

    /// Applies what `settings` sets; a new or cleared password moves the epoch,
    /// ending every grant and address handed out. Nil when the user has no such share.
    static func update(userId: Int64, id: String, settings: ShareSettings, on db: any DatabaseConnection) async throws -> Share? {
        var sets: [String] = []
        var arguments: [any DatabaseBindable] = []
        if let hash = settings.passwordHash {
            sets.append("password_hash = ?, epoch = epoch + 1")
            arguments.append(hash)
        }
        if let expiresAt = settings.expiresAt {
            sets.append("expires_at = ?")
            arguments.append(expiresAt)
        }
        if let maxDownloads = settings.maxDownloads {
            sets.append("max_downloads = ?")
            arguments.append(maxDownloads)
        }
        if let allow = settings.allowDownload {
            sets.append("allow_download = ?")
            arguments.append(allow ? 1 : 0)
        }
        if !sets.isEmpty {
            let changed = try await db.run(
                "UPDATE shares SET \(sets.joined(separator: ", ")) WHERE user_id = ? AND id = ?", arguments: arguments + [userId, id]
            )
            guard changed > 0 else { return nil }
        }
        return try await find(userId: userId, id: id, on: db)
    }

    /// Deletes those of `ids` that are the user's; returns how many.
    static func remove(userId: Int64, ids: [String], on db: any DatabaseConnection) async throws -> Int {
        var removed = 0
        for id in Set(ids) {
            let count = try await db.run("DELETE FROM shares WHERE user_id = ? AND id = ?", userId, id)
            if count > 0 {
                removed += count
                try await db.run("DELETE FROM share_tickets WHERE user_id = ? AND share_id = ?", userId, id)
            }
        }
        return removed
    }

    /// The shares (and their tickets) of nodes being deleted for good: those
    /// whose `lft` is in `from..<to` (`TreeMutations.deleteRange`, before the nodes go).
    static func removeForNodes(userId: Int64, from: Int64, to: Int64, on db: any DatabaseConnection) async throws {
        let doomed = try await db.query(
            """
            SELECT s.id FROM shares s JOIN nodes n ON n.user_id = s.user_id AND n.id = s.node_id
            WHERE s.user_id = ? AND n.user_id = ? AND n.lft >= ? AND n.lft < ?
            """,
            userId, userId, from, to
        ).map { try $0.string("id") }
        if !doomed.isEmpty { _ = try await remove(userId: userId, ids: doomed, on: db) }
    }

    /// An open: one more view, and when. Nil-safe: a share removed meanwhile changes nothing.
    static func recordView(userId: Int64, id: String, now: Int64, on db: any DatabaseConnection) async throws {
        try await db.run("UPDATE shares SET views = views + 1, last_access_at = ? WHERE user_id = ? AND id = ?", now, userId, id)
    }

    /// Counts a new download, atomically with the limit: the UPDATE's own
    /// condition refuses past `max_downloads`, and concurrent ones (on any
    /// server) queue on the row, so exactly the limit get through. Then the
    /// address's ticket starts (or restarts) with `served` bytes. False: the
    /// limit is reached (or the share is gone).
    static func countDownload(
        userId: Int64, id: String, ticket: String, served: Int64, ticketExpiresAt: Int64, now: Int64, on db: any DatabaseConnection
    ) async throws -> Bool {
        let counted = try await db.queryRow(
            """
            UPDATE shares SET downloads = downloads + 1, last_access_at = ?
            WHERE user_id = ? AND id = ? AND (max_downloads IS NULL OR downloads < max_downloads) RETURNING downloads
            """,
            now, userId, id
        )
        guard counted != nil else { return false }
        // Expired tickets are the sweeper's (`sweepTickets`), off the download's path.
        try await db.run(
            """
            INSERT INTO share_tickets (user_id, share_id, ticket, served, expires_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (user_id, share_id, ticket) DO UPDATE SET served = excluded.served, expires_at = excluded.expires_at
            """,
            userId, id, ticket, served, ticketExpiresAt
        )
        return true
    }

    /// Deletes tickets past their address's expiry (up to `limit`); returns how many.
    static func sweepTickets(before cutoff: Int64, limit: Int, on db: any DatabaseConnection) async throws -> Int {
        // By key, so PostgreSQL deletes exactly the rows the bounded SELECT chose.
        let rows = try await db.query("SELECT user_id, share_id, ticket FROM share_tickets WHERE expires_at < ? LIMIT ?", cutoff, limit)
        var deleted = 0
        for row in rows {
            deleted += try await db.run(
                "DELETE FROM share_tickets WHERE user_id = ? AND share_id = ? AND ticket = ?",
                try row.int64("user_id"), try row.string("share_id"), try row.string("ticket")
            )
        }
        return deleted
    }

    /// A live file of the owner and where its bytes are (the object's key and
    /// size), in one statement: a share download's only read after the share.
    static func file(userId: Int64, uuid: String, on db: any DatabaseConnection) async throws -> (FileNode, objectKey: String?, objectSize: Int64?)? {
        guard let row = try await db.queryRow(
            """
            SELECT \(FileNode.columns), o.object_key AS object_key, o.size AS object_size
            FROM \(FileNode.from) LEFT JOIN store_objects o ON o.hash = n.store_hash
            WHERE n.uuid = ? AND n.user_id = ? AND n.state = \(FileNode.State.live.sql)
            """,
            uuid.lowercased(), userId
        ) else { return nil }
        return (try FileNode(row: row), try row.optionalString("object_key"), try row.optionalInt64("object_size"))
    }

    /// A Range continuation on an address whose download was counted: free
    /// while the ticket has served at most `allowance` bytes with this one.
    /// False: not counted before, or the allowance is spent (count it anew).
    static func continueDownload(
        userId: Int64, id: String, ticket: String, bytes: Int64, allowance: Int64, on db: any DatabaseConnection
    ) async throws -> Bool {
        try await db.queryRow(
            """
            UPDATE share_tickets SET served = served + ?
            WHERE user_id = ? AND share_id = ? AND ticket = ? AND served + ? <= ? RETURNING served
            """,
            bytes, userId, id, ticket, bytes, allowance
        ) != nil
    }

    private static func share(_ row: Row) throws -> Share {
        Share(
            id: try row.string("share_id"), userId: try row.int64("share_user_id"), nodeId: try row.int64("share_node_id"),
            passwordHash: try row.optionalString("password_hash"), epoch: try row.int64("epoch"),
            expiresAt: try row.optionalInt64("expires_at"), maxDownloads: try row.optionalInt64("max_downloads"),
            allowDownload: try row.int64("allow_download") != 0, views: try row.int64("views"), downloads: try row.int64("downloads"),
            lastAccessAt: try row.optionalInt64("last_access_at"), createdAt: try row.int64("share_created_at"),
            // The LEFT JOIN finds no node only if it is gone (which deleting it prevents: its shares go with it).
            node: try row.optionalString("uuid") == nil ? nil : try FileNode(row: row),
            ownerActive: try row.int("owner_status") == User.Status.active.rawValue,
            ownerDisplayName: try row.optionalString("owner_display_name")
        )
    }
}
