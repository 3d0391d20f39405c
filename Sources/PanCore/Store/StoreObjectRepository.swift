import Foundation
import SQLCommon

/// A stored content object, shared by every node with its hash.
public struct StoreObject: Sendable, Equatable, Codable {
    public var hash: String
    public var size: Int64
    public var mime: String
    public var bucket: String
    public var objectKey: String
    /// Live and recycled files using the object, counted from `nodes` (no
    /// shared counter: two users' uploads of one content never contend on a row).
    public var refCount: Int64
    public var created: Int64

    init(row: Row) throws {
        hash = try row.string("hash")
        size = try row.int64("size")
        mime = try row.string("mime")
        bucket = try row.string("bucket")
        objectKey = try row.string("object_key")
        // Present only where a query counts it (`columnsCounted`).
        refCount = if case .integer(let count) = row["ref_count"] { count } else { 0 }
        created = try row.int64("created")
    }
}

public enum StoreObjectRepository {
    static let columns = "o.hash, o.size, o.mime, o.bucket, o.object_key, o.created"
    /// With the reference count, for listings meant for people (`pan store`).
    static let columnsCounted = columns + ", (SELECT COUNT(*) FROM nodes n WHERE n.store_hash = o.hash) AS ref_count"

    public static func find(hash: String, on db: any DatabaseConnection) async throws -> StoreObject? {
        try await db.queryRow("SELECT \(columns) FROM store_objects o WHERE o.hash = ?", hash).map(StoreObject.init(row:))
    }

    /// The object of `hash` and whether a node of `userId` (live or binned)
    /// holds it: instant upload's question, one statement, the ownership one
    /// probe of `nodes_user_store_hash`.
    public static func find(hash: String, heldBy userId: Int64, on db: any DatabaseConnection) async throws -> (StoreObject, owned: Bool)? {
        guard let row = try await db.queryRow(
            """
            SELECT \(columns), CASE WHEN EXISTS (SELECT 1 FROM nodes n WHERE n.user_id = ? AND n.store_hash = o.hash)
                                    THEN 1 ELSE 0 END AS owned
            FROM store_objects o WHERE o.hash = ?
            """,
            userId, hash
        ) else { return nil }
        return (try StoreObject(row: row), try row.int64("owned") == 1)
    }

    /// `insertIfMissing`, then the object as stored (the first writer's, if the content was already there).
    public static func upsert(
        hash: String, size: Int64, mime: String, bucket: String, objectKey: String, on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> StoreObject {
        try await insertIfMissing(hash: hash, size: size, mime: mime, bucket: bucket, objectKey: objectKey, on: db, now: now)
        return try await find(hash: hash, on: db)!
    }

    static func findCounted(hash: String, on db: any DatabaseConnection) async throws -> StoreObject? {
        try await db.queryRow("SELECT \(columnsCounted) FROM store_objects o WHERE o.hash = ?", hash).map(StoreObject.init(row:))
    }

    /// Records an object if its hash is new; an existing one is kept as it is
    /// (same hash, same bytes: the first stored copy serves everyone).
    public static func insertIfMissing(
        hash: String, size: Int64, mime: String, bucket: String, objectKey: String, on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws {
        try await db.run(
            """
            INSERT INTO store_objects (hash, size, mime, bucket, object_key, created)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (hash) DO UPDATE SET created = CASE WHEN excluded.created > store_objects.created
                                                            THEN excluded.created ELSE store_objects.created END
            """,
            hash, size, mime, bucket, objectKey, now
        )
    }

    /// `insertIfMissing` and `find` in one statement: the object as stored
    /// (the first writer's, if the content was already there).
    static func record(
        hash: String, size: Int64, mime: String, bucket: String, objectKey: String, on db: any DatabaseConnection, now: Int64
    ) async throws -> StoreObject {
        guard let row = try await db.queryRow(
            """
            INSERT INTO store_objects (hash, size, mime, bucket, object_key, created)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (hash) DO UPDATE SET created = CASE WHEN excluded.created > store_objects.created
                                                            THEN excluded.created ELSE store_objects.created END
            RETURNING hash, size, mime, bucket, object_key, created
            """,
            hash, size, mime, bucket, objectKey, now
        ) else { throw PanError.internalError("recording the object of \(hash) returned no row") }
        return try StoreObject(row: row)
    }

    public static func list(limit: Int = 1000, on db: any DatabaseConnection) async throws -> [StoreObject] {
        try await db.query("SELECT \(columnsCounted) FROM store_objects o ORDER BY o.created DESC LIMIT ?", limit).map(StoreObject.init(row:))
    }

    /// Up to `limit` files that use an object, as `(userId, path)`.
    static func users(of hash: String, limit: Int, on db: any DatabaseConnection) async throws -> [(userId: Int64, path: String)] {
        try await db.query("SELECT user_id, path FROM nodes WHERE store_hash = ? ORDER BY user_id, path LIMIT ?", hash, limit)
            .map { (try $0.int64("user_id"), try $0.string("path")) }
    }

    /// Objects no node uses (their count at zero, confirmed against `nodes`),
    /// deleted unless `dryRun`; the caller removes their bytes after the commit.
    /// Mark and sweep: objects no node (live or binned) uses and that are older
    /// than the grace period are forgotten. A node insert that names an object
    /// holds a key-share lock on its row (the foreign key), so on PostgreSQL an
    /// instant upload racing this either commits first (the delete then fails
    /// for that object, which is skipped) or fails its insert on the foreign key,
    /// which answers 503 with nothing written (`PanError(storeError:)`); its retry
    /// uploads the bytes anew. A callback storing the same content renews
    /// `created` first, so an object in use again is inside its grace period.
    static func collectUnused(dryRun: Bool, olderThan cutoff: Int64, on db: any DatabaseConnection) async throws -> [StoreObject] {
        let unused = try await db.query(
            """
            SELECT \(columns), 0 AS ref_count FROM store_objects o
            WHERE o.created < ? AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.store_hash = o.hash)
            ORDER BY o.created
            """,
            cutoff
        ).map(StoreObject.init(row:))
        guard !dryRun else { return unused }
        var deleted: [StoreObject] = []
        for object in unused {
            do {
                let gone = try await db.savepoint {
                    // Re-checked here: a callback storing the same content again since
                    // the mark renewed `created` (insertIfMissing), so the grace holds.
                    try await db.run(
                        "DELETE FROM store_objects WHERE hash = ? AND created < ? AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.store_hash = ?)",
                        object.hash, cutoff, object.hash
                    )
                }
                if gone > 0 { deleted.append(object) }
            } catch let error as any DatabaseFailure where error.isForeignKeyViolation {
                continue  // a file started using it meanwhile
            }
        }
        return deleted
    }

    /// Forgets the object of `hash` if it holds exactly `objectKey`'s bytes and
    /// no node uses it (an upload whose file was refused). A node created
    /// meanwhile by another user keeps it (the foreign key refuses the delete).
    static func forgetIfUnused(hash: String, objectKey: String, on db: any DatabaseConnection) async throws {
        do {
            _ = try await db.savepoint {
                try await db.run(
                    "DELETE FROM store_objects WHERE hash = ? AND object_key = ? AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.store_hash = ?)",
                    hash, objectKey, hash
                )
            }
        } catch let error as any DatabaseFailure where error.isForeignKeyViolation {
            return
        }
    }

    static func allKeys(on db: any DatabaseConnection) async throws -> Set<String> {
        Set(try await db.query("SELECT object_key FROM store_objects").map { try $0.string("object_key") })
    }
}
