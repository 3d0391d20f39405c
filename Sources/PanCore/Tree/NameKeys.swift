import SQLCommon
import Synchronization

/// Whether every node of the database has its `name_key`, and the backfill
/// that gives nodes from before migration 0015 (PostgreSQL 0010) theirs.
///
/// The key is computed in Swift (`NameSortKey`), so no migration can fill
/// it: opening the store (`PanStore.completeNameKeys`, from
/// `StoreOpening.open`) walks the nodes still without one, in batches of one
/// short write transaction each, in (user_id, id) order by a partial index
/// that holds only those nodes (a keyset, not a rescan from the start: on
/// PostgreSQL the filled entries stay in the index as dead tuples until
/// vacuum). A 1M-node database costs a few hundred such transactions once.
///
/// Until no node lacks a key, listings fall back to ordering names by their
/// bytes (`Order.byNameBytes`): correct, as before 0015, where natural order
/// with some keys missing would not be (a NULL sorts first in SQLite, last in
/// PostgreSQL). That can be seen from another process while one is filling,
/// or from a server of an older build still writing. The probe is one lookup
/// in that (then empty) index, and stops once it has found none.
public final class NameKeys: Sendable {
    /// Nodes a backfill transaction fills: a few ms of the writer each.
    public static let batchSize = 500

    private let complete = Atomic<Bool>(false)

    public init() {}

    /// `order` as this database can serve it now: natural, or by name bytes
    /// while some node still lacks its key. Probes only orders by name, and
    /// only until the first probe finds every key made.
    func servable(_ order: TreeRepository.Order, on db: any DatabaseConnection) async throws -> TreeRepository.Order {
        let fallback = order.byNameBytes
        guard fallback.sql != order.sql, !complete.load(ordering: .relaxed) else { return order }
        if try await Self.anyMissing(on: db) { return fallback }
        complete.store(true, ordering: .relaxed)
        return order
    }

    static func anyMissing(on db: any DatabaseConnection) async throws -> Bool {
        try await db.queryRow("SELECT id FROM nodes WHERE name_key IS NULL LIMIT 1") != nil
    }

    /// Where a backfill has got to: the last node it filled.
    public struct Cursor: Sendable, Equatable {
        let userId: Int64
        let id: Int64
    }

    /// Fills up to `limit` keys after `cursor`, in one transaction (the
    /// caller's). Returns how many it filled and where to go on from; nil
    /// once there is nothing after the cursor.
    static func fill(after cursor: Cursor?, limit: Int, on db: any DatabaseConnection) async throws -> (filled: Int, next: Cursor?) {
        let start = cursor.map { _ in " AND (user_id, id) > (?, ?)" } ?? ""
        let rows = try await db.query(
            "SELECT user_id, id, name FROM nodes WHERE name_key IS NULL\(start) ORDER BY user_id, id LIMIT ?",
            arguments: (cursor.map { [$0.userId, $0.id] } ?? []) + [limit]
        )
        var next: Cursor?
        for row in rows {
            let (userId, id) = (try row.int64("user_id"), try row.int64("id"))
            try await db.run(
                "UPDATE nodes SET name_key = ? WHERE user_id = ? AND id = ?", NameSortKey(try row.string("name")), userId, id
            )
            next = Cursor(userId: userId, id: id)
        }
        return (rows.count, rows.count < limit ? nil : next)
    }
}
