import Foundation
import SQLiteKit

/// A stored content object, shared by every node with its hash.
public struct StoreObject: Sendable, Equatable, Codable {
    public var hash: String
    public var size: Int64
    public var mime: String
    public var bucket: String
    public var objectKey: String
    public var refCount: Int64
    public var created: Int64

    init(row: Row) throws {
        hash = try row.string("hash")
        size = try row.int64("size")
        mime = try row.string("mime")
        bucket = try row.string("bucket")
        objectKey = try row.string("object_key")
        refCount = try row.int64("ref_count")
        created = try row.int64("created")
    }
}

public enum StoreObjectRepository {
    public static func find(hash: String, on db: Connection) throws -> StoreObject? {
        try db.queryRow("SELECT * FROM store_objects WHERE hash = ?", hash).map(StoreObject.init(row:))
    }

    /// Records an object if its hash is new; an existing one is kept as it is
    /// (same hash, same bytes: the first stored copy serves everyone).
    public static func upsert(
        hash: String, size: Int64, mime: String, bucket: String, objectKey: String, on db: Connection, now: Int64 = Millis.now()
    ) throws -> StoreObject {
        try db.run(
            """
            INSERT INTO store_objects (hash, size, mime, bucket, object_key, ref_count, created)
            VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (hash) DO NOTHING
            """,
            hash, size, mime, bucket, objectKey, now
        )
        return try find(hash: hash, on: db)!
    }

    public static func retain(hash: String, on db: Connection) throws {
        try db.run("UPDATE store_objects SET ref_count = ref_count + 1 WHERE hash = ?", hash)
    }

    /// Drops one reference; at zero the object waits for `pan store gc`.
    public static func release(hash: String, on db: Connection) throws {
        try db.run("UPDATE store_objects SET ref_count = MAX(0, ref_count - 1) WHERE hash = ?", hash)
    }

    public static func list(limit: Int = 1000, on db: Connection) throws -> [StoreObject] {
        try db.query("SELECT * FROM store_objects ORDER BY created DESC LIMIT ?", limit).map(StoreObject.init(row:))
    }

    /// Up to `limit` files that use an object, as `(userId, path)`.
    static func users(of hash: String, limit: Int, on db: Connection) throws -> [(userId: Int64, path: String)] {
        try db.query("SELECT user_id, path FROM nodes WHERE store_hash = ? ORDER BY user_id, path LIMIT ?", hash, limit)
            .map { (try $0.int64("user_id"), try $0.string("path")) }
    }

    /// Objects no node uses (their count at zero, confirmed against `nodes`),
    /// deleted unless `dryRun`; the caller removes their bytes after the commit.
    static func collectUnused(dryRun: Bool, on db: Connection) throws -> [StoreObject] {
        let garbage = try db.query("SELECT * FROM store_objects WHERE ref_count = 0").map(StoreObject.init(row:))
        let unused = try garbage.filter { try db.scalar("SELECT COUNT(*) FROM nodes WHERE store_hash = ?", $0.hash) == 0 }
        if !dryRun { for object in unused { try db.run("DELETE FROM store_objects WHERE hash = ?", object.hash) } }
        return unused
    }

    static func allKeys(on db: Connection) throws -> Set<String> {
        Set(try db.query("SELECT object_key FROM store_objects").map { try $0.string("object_key") })
    }
}
