import SQLiteKit

/// A Pan account (`api.md` §3's user object, less what stays server-side).
public struct User: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var phone: String?
    public var email: String?
    public var countryCode: String
    public var spaceUsed: Int64
    public var spaceCapacity: Int64
    public var createTime: Int64
    public var type: Int
    /// 0 active, 1 disabled.
    public var status: Int
    public var icon: String
    public var tokenVersion: Int64

    public var isDisabled: Bool { status != 0 }
    public var remainingSpace: Int64 { max(0, spaceCapacity - spaceUsed) }

    init(row: Row) throws {
        id = try row.int64("id")
        name = try row.string("name")
        phone = try row.optionalString("phone")
        email = try row.optionalString("email")
        countryCode = try row.string("country_code")
        spaceUsed = try row.int64("space_used")
        spaceCapacity = try row.int64("space_capacity")
        createTime = try row.int64("create_time")
        type = try row.int("type")
        status = try row.int("status")
        icon = try row.string("icon")
        tokenVersion = try row.int64("token_version")
    }
}
