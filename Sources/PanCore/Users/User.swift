import SQLCommon

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
    /// The name shown on the user's share pages (issue #27); nil: none set.
    /// Never the login name, which a public page must not show.
    public var displayName: String?
    /// Server-side counters, read with the row (`SELECT *`): files and
    /// directories (`PAN_MAX_NODES`), and the upper bound of pending upload
    /// sessions and their declared bytes (`UploadSessionRepository.pendingLoad`).
    public var nodeCount: Int64 = 0
    public var pendingUploads: Int64 = 0
    public var pendingBytes: Int64 = 0
    /// `last_seen_at` of the caller's sign-in session, read in the same
    /// statement as the row (`UserRepository.find(id:session:)`, `lock`);
    /// nil when the row was read without one, or the session has ended.
    public var sessionSeenAt: Int64?

    /// Who may act with a session token: the rule every authenticated request
    /// applies (`Authenticator`, and the token request's own transaction).
    /// Logout everywhere, password changes and disabling bump the version, so
    /// older tokens die; logout and revoke delete one session, so its tokens
    /// die. A token without a session (signed before sessions existed) is
    /// held to the version alone. The row must have been read with the
    /// credential's session (`UserRepository.find(id:session:)`).
    public func admit(_ credential: SessionCredential) throws(PanError) {
        guard tokenVersion == credential.tokenVersion else { throw .tokenInvalid }
        if credential.sessionId != nil, sessionSeenAt == nil { throw .tokenInvalid }
        guard !isDisabled else { throw .userDisabled }
    }

    public var isDisabled: Bool { status != Status.active.rawValue }

    /// `users.status`.
    public enum Status: Int, Sendable { case active = 0, disabled = 1 }
    public var remainingSpace: Int64 { max(0, spaceCapacity - spaceUsed) }

    /// The quota rule, in one place: `bytes` more may be stored when they fit
    /// in what is left after `reserved` (declared by pending uploads), counting
    /// `freed` (what the write replaces) as space. Adding nothing always fits.
    public func ensureRoom(for bytes: Int64, reserved: Int64 = 0, freed: Int64 = 0) throws(PanError) {
        guard bytes > 0 else { return }
        if bytes > room(reserved: reserved, freed: freed) { throw .quotaExceeded }
    }

    /// Bytes that may still be stored (may be negative after a quota was lowered).
    public func room(reserved: Int64 = 0, freed: Int64 = 0) -> Int64 {
        spaceCapacity - spaceUsed - reserved + freed
    }

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
        displayName = if case .text(let v) = row["display_name"] { v } else { nil }
        // Absent from rows that do not select them.
        nodeCount = if case .integer(let v) = row["node_count"] { v } else { 0 }
        pendingUploads = if case .integer(let v) = row["pending_uploads"] { v } else { 0 }
        pendingBytes = if case .integer(let v) = row["pending_bytes"] { v } else { 0 }
        sessionSeenAt = if case .integer(let v) = row["session_seen_at"] { v } else { nil }
    }
}
