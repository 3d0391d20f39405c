import SQLCommon

/// The recycle bin: what is listed in it, and deleting its items for good in
/// bounded steps (`POST /v1/files/emptyBin`, and `PAN_BIN_RETENTION`'s sweep).
///
/// An item of the bin is the top node of a recycled subtree: the only node
/// of it with `recycled_at` set (its time in Unix ms, as `ctime`); the nodes
/// below it are in the bin with it (state 1). Deleting an item is the same
/// deletion as `remove` of a binned uuid (`TreeMutations.deleteRange`): space,
/// node count and the references of its files (counted from nodes, so
/// `pan store gc` frees objects nothing names) all go with its rows.
///
/// A bin can hold a million nodes, and every write of a user holds the writer
/// (SQLite's one writer; PostgreSQL's per-user lock) for its whole transaction.
/// So a purge runs as steps of at most `StepSize.standard` nodes and
/// items, each its own transaction that leaves the tree
/// consistent (`pan fsck` finds nothing between any two). An item too big for
/// one step is deleted from its bottom: the nodes with the highest `lft` of
/// its interval, which always include every descendant of each (a
/// descendant's `lft` is higher than its ancestor's), so no node is ever left
/// without its parent. Such an item is marked `purging` in the step that
/// starts it: from then on it is no longer listed in the bin and cannot be
/// restored or removed (404 `FILE_NOT_FOUND`): nobody gets back half a
/// folder. The next step (of the same purge, or any later one, or the
/// sweeper after a crash) finishes it first.
public enum RecycleBin {
    /// How much one purge step may delete.
    public struct StepSize: Sendable, Equatable {
        /// Most nodes one step deletes.
        public var nodes: Int
        /// Most items one step takes (each costs a handful of statements).
        public var items: Int

        public init(nodes: Int, items: Int) {
            self.nodes = max(1, nodes)
            self.items = max(1, items)
        }

        /// What servers use. Measured (RecycleBinTests.standardStep, a debug
        /// build on a loaded 2-core machine, SQLite): a step of 5,000 nodes
        /// held the writer 1.1 s; of 1,000, 0.06 s. Tests make bins of
        /// several steps with smaller ones.
        public static let standard = StepSize(nodes: 1_000, items: 100)
    }
    /// `recycled_at` of an item whose deletion has begun (see above). Below
    /// every real time, so purges pick it up first.
    static let purging: Int64 = -1

    /// SQL: the node (alias `n`, or none) is an item listed in the bin.
    static func listed(_ alias: String = "") -> String {
        let column = alias.isEmpty ? "recycled_at" : "\(alias).recycled_at"
        // `> purging` also reads as IS NOT NULL, so the partial indexes on it still serve.
        return "\(column) > \(purging)"
    }

    /// Items of a user's bin, newest first, and how many there are.
    public static func items(userId: Int64, limit: Int, offset: Int, on db: any DatabaseConnection) async throws -> (nodes: [FileNode], total: Int64) {
        let total = try await db.scalar("SELECT COUNT(*) FROM nodes WHERE user_id = ? AND \(listed())", userId) ?? 0
        let nodes = try await db.query(
            "SELECT \(FileNode.columns) FROM \(FileNode.from) WHERE n.user_id = ? AND \(listed("n")) ORDER BY n.recycled_at DESC, n.id DESC LIMIT ? OFFSET ?",
            userId, limit, offset
        ).map(FileNode.init(row:))
        return (nodes, total)
    }

    /// What one purge step did.
    public struct Step: Sendable, Equatable {
        /// Items of the bin deleted completely (a nested item counts: it was listed too).
        public var items = 0
        /// Nodes deleted (files and directories).
        public var nodes = 0
        /// Bytes of the deleted files: released from the user's `spaceUsed`.
        public var bytes: Int64 = 0
        /// Whether items binned by the cutoff may remain (another step is due).
        public var more = false

        public init() {}

        mutating func add(_ deletion: TreeMutations.Deletion) {
            items += deletion.binItems
            nodes += deletion.nodes
            bytes += deletion.bytes
        }
    }

    /// One bounded step of deleting, for good, the user's items binned at or
    /// before `cutoff` (Unix ms), oldest first — an item nested in another is
    /// always older, so it goes first, whole. Runs in the caller's write
    /// transaction, which must hold the user (`write(user:)`).
    public static func purgeStep(
        userId: Int64, binnedBy cutoff: Int64, size: StepSize = .standard, on db: any DatabaseConnection
    ) async throws -> Step {
        var step = Step()
        let items = try await db.query(
            """
            SELECT id, lft, rgt, recycled_at FROM nodes WHERE user_id = ? AND recycled_at IS NOT NULL AND recycled_at <= ?
            ORDER BY recycled_at, id LIMIT ?
            """,
            userId, cutoff, size.items
        )
        step.more = items.count == size.items
        var budget = size.nodes
        for item in items {
            guard budget > 0 else { step.more = true; break }
            let (id, lft, rgt) = (try item.int64("id"), try item.int64("lft"), try item.int64("rgt"))
            // Counted no further than the budget: a huge item costs no full scan per step.
            let size = Int(try await db.scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ? LIMIT ?) AS bounded",
                userId, lft, rgt, budget + 1
            ) ?? 0)
            if size <= budget {
                // Gone already when it was nested in an item deleted before it (size 0).
                step.add(try await TreeMutations.deleteRange(userId: userId, from: lft, to: rgt, on: db))
                budget -= size
                continue
            }
            // Too big for what is left of this step: its `budget` deepest-last nodes go now.
            guard let bottom = try await db.scalar(
                "SELECT lft FROM nodes WHERE user_id = ? AND lft > ? AND lft < ? ORDER BY lft DESC LIMIT 1 OFFSET ?",
                userId, lft, rgt, budget - 1
            ) else { throw PanError.internalError("bin item \(id) has fewer nodes than counted") }
            if try item.int64("recycled_at") != purging {
                try await db.run("UPDATE nodes SET recycled_at = \(purging) WHERE user_id = ? AND id = ?", userId, id)
            }
            step.add(try await TreeMutations.deleteRange(userId: userId, from: bottom, to: rgt, on: db))
            step.more = true
            break
        }
        return step
    }

    /// The owner of the oldest item binned at or before `cutoff` (the
    /// retention sweep's next user), by the `nodes_bin_age` index; nil: none.
    public static func oldestOwner(binnedBy cutoff: Int64, on db: any DatabaseConnection) async throws -> Int64? {
        try await db.scalar(
            "SELECT user_id FROM nodes WHERE recycled_at IS NOT NULL AND recycled_at <= ? ORDER BY recycled_at LIMIT 1", cutoff
        )
    }
}
