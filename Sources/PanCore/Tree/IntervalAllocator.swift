import SQLCommon

/// Gapped nested-set intervals, so inserting a node costs O(log n), not O(n).
///
/// The original system shifted every node to the right of an insert (~13 ms
/// per insert at 20k nodes, growing linearly). Here:
/// - a user's root spans `[0, 2^62]`;
/// - a new child takes space right after its parent's last child: a file the
///   two positions `[l, l+1]`, a directory 1/32 of the parent's free tail, so
///   it has room for its own children — except a directory that is its
///   parent's first child: it takes all but 1/64 of the free tail. A chain
///   (each level the first child of the one above) then loses 1/64 of its
///   room per level, not 31/32: 1,000 levels fit in 2^62 without renumbering,
///   where 1/32 shares ran out every ~10 levels and made an N-deep chain
///   O(N²) (issue #18). Later siblings share the 1/64 left, as before;
/// - only when a parent's free tail is used up is a subtree renumbered: the
///   nearest ancestor with ample room re-spreads its descendants, giving each
///   directory a share proportional to its size and leaving half its space
///   free. That is local (its subtree only) and rare (after it, the tail
///   again serves many inserts).
/// Invariants: an ancestor's interval strictly contains its descendants',
/// siblings' intervals are disjoint (recycled nodes keep theirs).
enum IntervalAllocator {
    static let rootLeft: Int64 = 0
    static let rootRight: Int64 = 1 << 62
    /// A directory takes 1/32 of its parent's free tail…
    static let directoryShareShift: Int64 = 5
    /// …or, as its parent's first child, all but 1/64 of it.
    static let firstDirectoryReserveShift: Int64 = 6
    /// Room an ancestor must have, per node of its subtree, to be the one renumbered.
    static let roomPerNode: Int64 = 4096

    /// Picks `[lft, rgt]` for a new child of `parentId`, renumbering if needed.
    static func allocate(parentId: Int64, userId: Int64, isDirectory: Bool, on db: any DatabaseConnection) async throws -> (Int64, Int64) {
        if let interval = try await tryAllocate(parentId: parentId, userId: userId, isDirectory: isDirectory, on: db) { return interval }
        // Renumber the nearest roomy ancestor; if that was still too tight, go one higher.
        var start: Int64? = parentId
        while let from = start {
            let renumbered = try await renumber(startingAt: from, userId: userId, on: db)
            if let interval = try await tryAllocate(parentId: parentId, userId: userId, isDirectory: isDirectory, on: db) { return interval }
            start = try await db.scalar("SELECT parent_id FROM nodes WHERE user_id = ? AND id = ?", userId, renumbered)
        }
        throw PanError.internalError("no interval space left under node \(parentId)")
    }

    private static func tryAllocate(
        parentId: Int64, userId: Int64, isDirectory: Bool, minimumWidth: Int64 = 2, on db: any DatabaseConnection
    ) async throws -> (Int64, Int64)? {
        // The parent's interval and the end of its last child, in one statement.
        guard let parent = try await db.queryRow(
            """
            SELECT p.lft, p.rgt, (SELECT MAX(c.rgt) FROM nodes c WHERE c.user_id = ? AND c.parent_id = p.id) AS last_end
            FROM nodes p WHERE p.user_id = ? AND p.id = ?
            """,
            userId, userId, parentId
        ) else {
            throw PanError.fileNotFound
        }
        let parentLeft = try parent.int64("lft"), parentRight = try parent.int64("rgt")
        let lastEnd = try parent.optionalInt64("last_end") ?? parentLeft
        let free = parentRight - lastEnd - 1
        if isDirectory {
            let isFirstChild = lastEnd == parentLeft
            let span = isFirstChild ? free - (free >> firstDirectoryReserveShift) : free >> directoryShareShift
            if span >= max(2, minimumWidth) { return (lastEnd + 1, lastEnd + span) }
            // A moved subtree may take more than the usual share, if the tail holds it twice over.
            guard minimumWidth > 2, free >= 2 * minimumWidth else { return nil }
            return (lastEnd + 1, lastEnd + minimumWidth)
        }
        guard free >= 2 else { return nil }
        return (lastEnd + 1, lastEnd + 2)
    }

    /// Walks up from `nodeId` to the first ancestor with room for its subtree,
    /// then re-spreads that subtree.
    @discardableResult
    static func renumber(startingAt nodeId: Int64, userId: Int64, on db: any DatabaseConnection) async throws -> Int64 {
        var currentId = nodeId
        while true {
            guard let row = try await db.queryRow("SELECT parent_id, lft, rgt FROM nodes WHERE user_id = ? AND id = ?", userId, currentId) else {
                throw PanError.fileNotFound
            }
            let left = try row.int64("lft"), right = try row.int64("rgt")
            let parentId = try row.optionalInt64("parent_id")
            let count = try await db.scalar(
                "SELECT COUNT(*) FROM nodes WHERE user_id = ? AND lft > ? AND lft < ?", userId, left, right
            ) ?? 0
            let (room, overflow) = (count + 2).multipliedReportingOverflow(by: roomPerNode)
            if parentId == nil || (!overflow && right - left >= room) {
                try await respread(userId: userId, rootId: currentId, left: left, right: right, on: db)
                return currentId
            }
            currentId = parentId!
        }
    }

    private struct Item {
        var id: Int64
        var isDirectory: Bool
        var children: [Int] = []
        var size: Int64 = 1
    }

    /// Re-spreads the subtree found inside `[left, right]` over the same interval
    /// (or, for a move, over `[newLeft, newRight]`).
    static func respread(
        userId: Int64, rootId: Int64, left: Int64, right: Int64, newLeft: Int64? = nil, newRight: Int64? = nil,
        on db: any DatabaseConnection
    ) async throws {
        let rows = try await db.query(
            "SELECT id, parent_id, type FROM nodes WHERE user_id = ? AND lft > ? AND lft < ? ORDER BY lft",
            userId, left, right
        )
        let (left, right) = (newLeft ?? left, newRight ?? right)
        var items = [Item(id: rootId, isDirectory: true)]
        var indexById: [Int64: Int] = [rootId: 0]
        for row in rows {
            let id = try row.int64("id")
            indexById[id] = items.count
            items.append(Item(id: id, isDirectory: try row.int("type") == 1))
        }
        for (offset, row) in rows.enumerated() {
            guard let parentId = try row.optionalInt64("parent_id"), let parentIndex = indexById[parentId] else { continue }
            items[parentIndex].children.append(offset + 1)
        }
        // Subtree sizes, children before parents (rows come in lft order, so reverse works).
        for index in items.indices.reversed() {
            items[index].size = 1 + items[index].children.reduce(0) { $0 + items[$1].size }
        }
        var assignments: [(Int64, Int64, Int64)] = []
        assignments.reserveCapacity(rows.count)
        // Iterative to survive very deep trees.
        var stack: [(Int, Int64, Int64)] = [(0, left, right)]
        while let (index, l, r) = stack.popLast() {
            if index != 0 { assignments.append((items[index].id, l, r)) }
            let children = items[index].children
            guard !children.isEmpty else { continue }
            let available = r - l - 1
            let tight = children.reduce(Int64(0)) { $0 + 2 * items[$1].size }
            guard available >= tight else { throw PanError.internalError("renumbering found too little room") }
            // What is left beyond the tight need goes to the directories in
            // proportion to their size, and to a free tail for new children: half
            // at the renumbered node, one node's share below it. Proportional
            // shares keep a deep chain's space linear in its depth, not halving.
            let isTop = index == 0
            let spare = isTop ? (available - tight) / 2 : available - tight
            let directoryWeight = children.reduce(Int64(0)) { $0 + (items[$1].isDirectory ? items[$1].size : 0) } + (isTop ? 0 : 1)
            var cursor = l + 1
            for child in children {
                var width = 2 * items[child].size
                if items[child].isDirectory, directoryWeight > 0 {
                    // Exact 128-bit arithmetic: the shares must never add up past the parent.
                    width += directoryWeight.dividingFullWidth(spare.multipliedFullWidth(by: items[child].size)).quotient
                }
                stack.append((child, cursor, cursor + width - 1))
                cursor += width
            }
        }
        for (id, l, r) in assignments {
            try await db.run("UPDATE nodes SET lft = ?, rgt = ? WHERE user_id = ? AND id = ?", l, r, userId, id)
        }
        if newLeft != nil {
            try await db.run("UPDATE nodes SET lft = ?, rgt = ? WHERE user_id = ? AND id = ?", left, right, userId, rootId)
        }
    }

    /// Moves the subtree of `nodeId` under `parentId`: takes a fresh interval
    /// there, wide enough for the subtree, and re-spreads the subtree into it.
    /// Costs O(size of the moved subtree), whatever the size of the tree.
    static func relocate(nodeId: Int64, userId: Int64, toParent parentId: Int64, newName: String? = nil, on db: any DatabaseConnection) async throws {
        guard let row = try await db.queryRow("SELECT type, lft, rgt FROM nodes WHERE user_id = ? AND id = ?", userId, nodeId) else {
            throw PanError.fileNotFound
        }
        let count = try await db.scalar(
            "SELECT COUNT(*) FROM nodes WHERE user_id = ? AND lft > ? AND lft < ?", userId, try row.int64("lft"), try row.int64("rgt")
        ) ?? 0
        let isDirectory = try row.int("type") == 1
        let need = isDirectory ? 4 * (count + 2) : 2
        func place() async throws -> Bool {
            guard let interval = try await tryAllocate(parentId: parentId, userId: userId, isDirectory: isDirectory, minimumWidth: need, on: db) else {
                return false
            }
            // Read the bounds now: renumbering an ancestor may have moved the subtree too.
            guard let current = try await db.queryRow("SELECT lft, rgt FROM nodes WHERE user_id = ? AND id = ?", userId, nodeId) else {
                throw PanError.fileNotFound
            }
            if let newName {
                try await db.run(
                    "UPDATE nodes SET parent_id = ?, name = ?, name_key = ? WHERE user_id = ? AND id = ?",
                    parentId, newName, NameSortKey(newName), userId, nodeId
                )
            } else {
                try await db.run("UPDATE nodes SET parent_id = ? WHERE user_id = ? AND id = ?", parentId, userId, nodeId)
            }
            try await respread(
                userId: userId, rootId: nodeId, left: try current.int64("lft"), right: try current.int64("rgt"),
                newLeft: interval.0, newRight: interval.1, on: db
            )
            return true
        }
        // Renumber ever higher ancestors until the destination has room (the root always does).
        var from: Int64? = parentId
        while let current = from {
            if try await place() { return }
            let renumbered = try await renumber(startingAt: current, userId: userId, on: db)
            from = try await db.scalar("SELECT parent_id FROM nodes WHERE user_id = ? AND id = ?", userId, renumbered)
        }
        if try await place() { return }
        throw PanError.internalError("no interval space left to move node \(nodeId)")
    }
}
