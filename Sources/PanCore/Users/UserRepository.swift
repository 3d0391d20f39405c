import Foundation
import SQLiteKit

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
    public static func create(_ new: NewUser, on db: Connection, now: Int64 = Millis.now()) throws -> User {
        do {
            try db.run(
                """
                INSERT INTO users (name, phone, email, country_code, password_hash, space_capacity, create_time)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                new.name, new.phone, new.email, new.countryCode, new.passwordHash, new.spaceCapacity, now
            )
        } catch let error as SQLiteError where error.isUniqueViolation {
            throw PanError.userExists
        }
        let id = db.lastInsertRowID
        _ = try TreeRepository.root(of: id, on: db, now: now)
        return try find(id: id, on: db)!
    }

    public static func find(id: Int64, on db: Connection) throws -> User? {
        try db.queryRow("SELECT * FROM users WHERE id = ?", id).map(User.init(row:))
    }

    /// A user name, or a phone number when all digits (`api.md` §3).
    public static func find(login value: String, on db: Connection) throws -> (User, passwordHash: String)? {
        let row: Row?
        if !value.isEmpty, value.allSatisfy(\.isNumber) {
            row = try db.queryRow("SELECT * FROM users WHERE phone = ? OR name = ? ORDER BY phone = ? DESC LIMIT 1", value, value, value)
        } else {
            row = try db.queryRow("SELECT * FROM users WHERE name = ?", value)
        }
        guard let row else { return nil }
        return (try User(row: row), try row.string("password_hash"))
    }

    /// By id (all digits) or by name.
    public static func find(reference: String, on db: Connection) throws -> User? {
        if let id = Int64(reference), let user = try find(id: id, on: db) { return user }
        return try db.queryRow("SELECT * FROM users WHERE name = ? OR phone = ?", reference, reference).map(User.init(row:))
    }

    public static func list(on db: Connection) throws -> [User] {
        try db.query("SELECT * FROM users ORDER BY id").map(User.init(row:))
    }

    public static func setPasswordHash(_ hash: String, userId: Int64, on db: Connection) throws {
        // A new password revokes every token issued before it.
        try db.run("UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?", hash, userId)
    }

    public static func setStatus(_ status: Int, userId: Int64, on db: Connection) throws {
        try db.run("UPDATE users SET status = ?, token_version = token_version + 1 WHERE id = ?", status, userId)
    }

    public static func setCapacity(_ bytes: Int64, userId: Int64, on db: Connection) throws {
        try db.run("UPDATE users SET space_capacity = ? WHERE id = ?", bytes, userId)
    }

    public static func revokeTokens(userId: Int64, on db: Connection) throws {
        try db.run("UPDATE users SET token_version = token_version + 1 WHERE id = ?", userId)
    }

    /// Adds `delta` (possibly negative) to `space_used`.
    public static func addSpaceUsed(_ delta: Int64, userId: Int64, on db: Connection) throws {
        guard delta != 0 else { return }
        try db.run("UPDATE users SET space_used = MAX(0, space_used + ?) WHERE id = ?", delta, userId)
    }
}
