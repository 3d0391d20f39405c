import SQLCommon

/// A node of a user's tree, encoded as `api.md` §4's file object.
public struct FileNode: Sendable, Equatable, Encodable {
    public enum Kind: Int, Sendable { case file = 0, directory = 1 }
    /// `nodes.state`: live in the tree, or in the recycle bin (with its subtree).
    public enum State: Int, Sendable { case live = 0, recycled = 1 }

    public var id: Int64
    public var parentId: Int64?
    public var uuid: String
    public var userId: Int64
    public var name: String
    public var path: String
    public var pathId: String
    /// The parent's uuid; `""` for the root.
    public var parent: String
    public var type: Kind
    public var ext: String
    public var size: Int64
    public var mime: String
    public var storeId: String?
    public var atime: Int64
    public var ctime: Int64
    public var mtime: Int64
    public var lft: Int64
    public var rgt: Int64
    public var version: Int64
    public var locking: Bool
    public var preview: Int
    public var flag: Int
    /// 0 live, 1 in the recycle bin.
    public var state: Int
    /// Set on the top node of a recycled subtree only.
    public var recycledAt: Int64?

    /// A file a client can preview: `preview` is one of `PreviewKind`'s codes above 0.
    public var hasPreview: Bool { preview > 0 }

    /// Set for a request of the Android app (`User-Agent: QZCloud`), which
    /// declares `preview` as a Boolean and fails a whole list on a number
    /// (`api.md` §8): `preview` is then `hasPreview`'s value.
    @TaskLocal public static var previewAsBoolean = false

    public var isDirectory: Bool { type == .directory }
    public var isFile: Bool { type == .file }

    /// The columns every node query selects, with the parent's uuid joined in.
    static let columns = """
        n.id, n.parent_id, n.uuid, n.user_id, n.name, n.path, n.path_id, n.type, n.ext, n.size, n.mime,
        n.store_hash, n.atime, n.ctime, n.mtime, n.lft, n.rgt, n.version, n.locking, n.preview, n.flag, n.state, n.recycled_at,
        COALESCE(p.uuid, '') AS parent_uuid
        """
    /// `columns` as an INSERT … RETURNING gives them (no join: the caller knows the parent).
    static let insertedColumns = """
        id, parent_id, uuid, user_id, name, path, path_id, type, ext, size, mime,
        store_hash, atime, ctime, mtime, lft, rgt, version, locking, preview, flag, state, recycled_at, '' AS parent_uuid
        """
    static let parentJoin = "LEFT JOIN nodes p ON p.user_id = n.user_id AND p.id = n.parent_id"
    static let from = "nodes n " + parentJoin


    enum CodingKeys: String, CodingKey {
        case uuid, userId, name, path, pathId, parent, type, ext, size, mime, storeId
        case atime, ctime, mtime, lft, rgt, version, locking, preview, flag, hasPreview, recycledAt
        case id = "_id", parentId = "_parentId", state = "_state"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(uuid, forKey: .uuid)
        try c.encode(userId, forKey: .userId)
        try c.encode(name, forKey: .name)
        try c.encode(path, forKey: .path)
        try c.encode(pathId, forKey: .pathId)
        try c.encode(parent, forKey: .parent)
        try c.encode(type.rawValue, forKey: .type)
        try c.encode(ext, forKey: .ext)
        try c.encode(size, forKey: .size)
        try c.encode(mime, forKey: .mime)
        // Files carry `storeId` (the desktop app's instant-upload test); directories don't.
        if let storeId { try c.encode(storeId, forKey: .storeId) }
        try c.encode(atime, forKey: .atime)
        try c.encode(ctime, forKey: .ctime)
        try c.encode(mtime, forKey: .mtime)
        try c.encode(lft, forKey: .lft)
        try c.encode(rgt, forKey: .rgt)
        try c.encode(version, forKey: .version)
        try c.encode(locking, forKey: .locking)
        if Self.previewAsBoolean { try c.encode(hasPreview, forKey: .preview) } else { try c.encode(preview, forKey: .preview) }
        try c.encode(flag, forKey: .flag)
        try c.encode(hasPreview, forKey: .hasPreview)
        // Items of the recycle bin: when they were binned (Unix ms, as `ctime`).
        if let recycledAt { try c.encode(recycledAt, forKey: .recycledAt) }
    }
}

extension FileNode {
    /// A node as `columns`/`from` select it.
    init(row: Row) throws {
        id = try row.int64("id")
        parentId = try row.optionalInt64("parent_id")
        uuid = try row.string("uuid")
        userId = try row.int64("user_id")
        name = try row.string("name")
        path = try row.string("path")
        pathId = try row.string("path_id")
        type = Kind(rawValue: try row.int("type")) ?? .file
        ext = try row.string("ext")
        size = try row.int64("size")
        mime = try row.string("mime")
        storeId = try row.optionalString("store_hash")
        atime = try row.int64("atime")
        ctime = try row.int64("ctime")
        mtime = try row.int64("mtime")
        lft = try row.int64("lft")
        rgt = try row.int64("rgt")
        version = try row.int64("version")
        locking = try row.bool("locking")
        // Decided at read time by `PreviewKind` (the stored column is not
        // consulted): every node, old ones included, gets today's rule, and a
        // rename to another extension changes it at once.
        preview = PreviewKind.code(name: name, mime: mime, isDirectory: type == .directory)
        flag = try row.int("flag")
        state = try row.int("state")
        recycledAt = try row.optionalInt64("recycled_at")
        parent = try row.string("parent_uuid")
    }
}

extension FileNode: JSONWritable {
    /// The same fields as `encode(to:)`, without `JSONEncoder`.
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("uuid", uuid)
            json.field("userId", userId)
            json.field("name", name)
            json.field("path", path)
            json.field("pathId", pathId)
            json.field("parent", parent)
            json.field("type", type.rawValue)
            json.field("ext", ext)
            json.field("size", size)
            json.field("mime", mime)
            if let storeId { json.field("storeId", storeId) }
            json.field("atime", atime)
            json.field("ctime", ctime)
            json.field("mtime", mtime)
            json.field("lft", lft)
            json.field("rgt", rgt)
            json.field("version", version)
            json.field("locking", locking)
            if Self.previewAsBoolean { json.field("preview", hasPreview) } else { json.field("preview", preview) }
            json.field("flag", flag)
            json.field("hasPreview", hasPreview)
            if let recycledAt { json.field("recycledAt", recycledAt) }
        }
    }
}

/// Schema values in SQL text: the enums' raw values, so no statement spells a
/// bare 0 or 1 (constants of ours, never user input — safe to interpolate, and
/// literal, so SQLite still matches the partial indexes on `state = 0`).
protocol SQLLiteral: RawRepresentable where RawValue == Int {}
extension SQLLiteral { var sql: String { String(rawValue) } }
extension FileNode.Kind: SQLLiteral {}
extension FileNode.State: SQLLiteral {}
extension User.Status: SQLLiteral {}
