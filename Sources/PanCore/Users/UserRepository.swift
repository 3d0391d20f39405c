import Foundation
import SQLCommon

/// Users in SQLite. Every function runs on a connection the caller holds,
/// inside the caller's transaction.
public enum UserRepository {
    public struct NewUser: Sendable {
        public var name: String
        public var phone: String?
        public var email: String?
        public var countryCode: String = "86"
        public var passwordHash: String
        public var spaceCapacity: Int64

        public init(name: String, phone: String? = nil, email: String? = nil, passwordHash: String, spaceCapacity: Int64) {
            self.name = name
            self.phone = phone
            self.email = email
            self.passwordHash = passwordHash
            self.spaceCapacity = spaceCapacity
        }
    }

    /// Creates the user and its root directory.
    public static func create(_ new: NewUser, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws -> User {
        let id: Int64
        do {
            // Names and phones are unique across users through `logins`, a table
            // keyed by the login itself: `users` stays keyed by id alone, so it
            // can be distributed by user (Citus) with the trees.
            id = try await db.savepoint { () throws -> Int64 in
                let row = try await db.queryRow(
                    """
                    INSERT INTO users (name, phone, email, country_code, password_hash, space_capacity, create_time)
                    VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id
                    """,
                    new.name, new.phone, new.email, new.countryCode, new.passwordHash, new.spaceCapacity, now
                )
                let id = try row!.int64("id")
                try await db.run("INSERT INTO logins (login, user_id, kind) VALUES (?, ?, 'name')", new.name, id)
                if let phone = new.phone, phone != new.name {
                    try await db.run("INSERT INTO logins (login, user_id, kind) VALUES (?, ?, 'phone')", phone, id)
                }
                return id
            }
        } catch let error as any DatabaseFailure where error.isUniqueViolation {
            throw PanError.userExists
        }
        _ = try await TreeRepository.root(of: id, on: db, now: now)
        return try await find(id: id, on: db)!
    }

    public static func find(id: Int64, on db: any DatabaseConnection) async throws -> User? {
        try await db.queryRow("SELECT * FROM users WHERE id = ?", id).map(User.init(row:))
    }

    /// The user's row and, in the same statement, whether the sign-in
    /// session `session` still exists (`User.sessionSeenAt`): what every
    /// authenticated request reads, so checking the session costs no
    /// statement of its own and holds across servers sharing the database.
    public static func find(id: Int64, session: String?, on db: any DatabaseConnection) async throws -> User? {
        guard let session else { return try await find(id: id, on: db) }
        return try await db.queryRow("\(selectWithSession) WHERE u.id = ?", id, session, id).map(User.init(row:))
    }

    /// The user's row, locked for the rest of the write transaction on
    /// PostgreSQL (`FOR UPDATE`: that user's writers run one at a time, on any
    /// server); on SQLite the one writer already serializes. The row *is* the
    /// lock: a transaction that starts here reads the user once — with
    /// `session`, and that session's `last_seen_at` (`find(id:session:)`).
    static func lock(id: Int64, session: String? = nil, on db: any DatabaseConnection) async throws -> User? {
        let forUpdate = db.dialect == .postgres ? " FOR UPDATE" : ""
        guard let session else { return try await db.queryRow("SELECT * FROM users WHERE id = ?\(forUpdate)", id).map(User.init(row:)) }
        // FOR UPDATE locks the rows of the FROM list only: the user, not the session.
        return try await db.queryRow("\(selectWithSession) WHERE u.id = ?\(forUpdate)", id, session, id).map(User.init(row:))
    }

    /// The user row plus `session_seen_at`: the session's `last_seen_at`, NULL when it is gone.
    /// The user id is bound again inside (not `= u.id`), so PostgreSQL prunes to one partition when planning.
    private static let selectWithSession = """
        SELECT u.*, (SELECT s.last_seen_at FROM sessions s WHERE s.user_id = ? AND s.id = ?) AS session_seen_at FROM users u
        """

    /// A user name, or a phone number when all digits (`api.md` §3).
    public static func find(login value: String, on db: any DatabaseConnection) async throws -> (User, passwordHash: String)? {
        let row: Row?
        if !value.isEmpty, value.allSatisfy(\.isNumber) {
            // A phone number wins over a user named with the same digits.
            row = try await db.queryRow(
                "SELECT u.* FROM logins l JOIN users u ON u.id = l.user_id WHERE l.login = ? ORDER BY l.kind DESC LIMIT 1", value
            )
        } else {
            row = try await db.queryRow("SELECT u.* FROM logins l JOIN users u ON u.id = l.user_id WHERE l.login = ? AND l.kind = 'name'", value)
        }
        guard let row else { return nil }
        return (try User(row: row), try row.string("password_hash"))
    }

    /// By id (all digits) or by name.
    public static func find(reference: String, on db: any DatabaseConnection) async throws -> User? {
        if let id = Int64(reference), let user = try await find(id: id, on: db) { return user }
        return try await db.queryRow(
            "SELECT u.* FROM logins l JOIN users u ON u.id = l.user_id WHERE l.login = ? ORDER BY l.kind ASC LIMIT 1", reference
        ).map(User.init(row:))
    }

    public static func list(on db: any DatabaseConnection) async throws -> [User] {
        try await db.query("SELECT * FROM users ORDER BY id").map(User.init(row:))
    }

    public static func setPasswordHash(_ hash: String, userId: Int64, on db: any DatabaseConnection) async throws {
        // A new password revokes every token issued before it, and ends every sign-in.
        try await db.run("UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?", hash, userId)
        try await UserSessionRepository.endAll(userId: userId, on: db)
    }

    public static func setStatus(_ status: User.Status, userId: Int64, on db: any DatabaseConnection) async throws {
        try await db.run("UPDATE users SET status = ?, token_version = token_version + 1 WHERE id = ?", status.rawValue, userId)
        try await UserSessionRepository.endAll(userId: userId, on: db)
    }

    /// The name on the user's share pages; nil clears it.
    static func setDisplayName(_ name: String?, userId: Int64, on db: any DatabaseConnection) async throws {
        try await db.run("UPDATE users SET display_name = ? WHERE id = ?", name, userId)
    }

    public static func setCapacity(_ bytes: Int64, userId: Int64, on db: any DatabaseConnection) async throws {
        try await db.run("UPDATE users SET space_capacity = ? WHERE id = ?", bytes, userId)
    }

    /// Signs the user out everywhere: every token issued so far (with a
    /// session or from before sessions) stops working, every session ends.
    public static func revokeTokens(userId: Int64, on db: any DatabaseConnection) async throws {
        try await db.run("UPDATE users SET token_version = token_version + 1 WHERE id = ?", userId)
        try await UserSessionRepository.endAll(userId: userId, on: db)
    }

    /// Adds `delta` (possibly negative) to `space_used`.
    public static func addSpaceUsed(_ delta: Int64, userId: Int64, on db: any DatabaseConnection) async throws {
        guard delta != 0 else { return }
        try await db.run(
            "UPDATE users SET space_used = CASE WHEN space_used + ? < 0 THEN 0 ELSE space_used + ? END WHERE id = ?", delta, delta, userId
        )
    }
}
