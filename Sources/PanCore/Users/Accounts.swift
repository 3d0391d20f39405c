import Crypto
import Foundation
import SQLCommon
import WCS

/// The rules a user name follows wherever one is chosen: `pan user add`,
/// `POST /v1/user/changeName`, `changeNameAndGet` and `register` (issue #28).
public enum UserNameRule {
    /// Longest name, in Unicode scalars.
    public static let maxLength = 64

    /// Why `name` cannot be a user name, or nil when it can. A login value is
    /// trimmed before it is looked up (`api.md` §3), and all digits means a
    /// phone number, so neither can ever name a user.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "a user name may not be empty" }
        if name.allSatisfy(\.isNumber) { return "a user name may not be all digits (those are phone numbers)" }
        if name.unicodeScalars.count > maxLength { return "a user name is at most \(maxLength) characters" }
        if name.first.map({ $0.isWhitespace }) == true || name.last.map({ $0.isWhitespace }) == true {
            return "a user name may not begin or end with a space"
        }
        if name.unicodeScalars.contains(where: {
            $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
                || $0.properties.generalCategory == .lineSeparator || $0.properties.generalCategory == .paragraphSeparator
        }) {
            return "a user name may not contain control or formatting characters"
        }
        return nil
    }

    /// `problem` as the API's error: 400 `INVALID_NAME`.
    public static func check(_ name: String) throws(PanError) {
        if let problem = problem(name) { throw PanError.invalidName(problem) }
    }
}

/// The rule a new password follows (`pan user add`, `changePassword`,
/// `register`): not empty. Most clients send the MD5 hex of what was typed,
/// so the server cannot see a password's length; the web app asks for 8
/// characters or more before it sends one.
public enum PasswordRule {
    /// Longest password text accepted, in bytes (MD5 hex is 32).
    public static let maxBytes = 1024

    public static func check(_ password: String?) throws(PanError) {
        guard let password, !password.isEmpty else { throw PanError.passwordRequired }
        if password.utf8.count > maxBytes { throw PanError.invalidField("password", "at most \(maxBytes) bytes") }
    }
}

extension PasswordHasher {
    /// Hashes what a client sent for storage: the MD5 hex most clients send
    /// (32 hex characters, any case), else the plain password. Either way
    /// `verify` later accepts the plain password and its MD5 hex, so a
    /// password registered by one client signs in from every other.
    public func hash(clientPassword: String) throws -> String {
        let lowered = clientPassword.lowercased()
        return Self.isMD5Hex(lowered) ? try hash(md5Hex: lowered) : try hash(plainPassword: clientPassword)
    }
}

/// `PAN_REGISTRATION`: whether people may create their own accounts.
public enum RegistrationMode: String, Sendable, CaseIterable {
    /// Admins create every account (`pan user add`): the default.
    case closed
    /// Whoever holds an invite code (`pan user invite`).
    case invite
    /// Anyone who can reach the server.
    case open
}

/// An invite code made by `pan user invite`. The code itself is shown once
/// and never stored: the row keeps its SHA-256 (a code is 128 random bits,
/// so a fast hash is enough; nothing about it is guessable from the hash).
public struct Invite: Sendable, Equatable {
    /// The first 12 hex characters of the code's hash: a handle for listings, not a secret.
    public var id: String
    public var codeHash: String
    /// Space capacity of an account made with it, in bytes.
    public var quota: Int64
    public var maxUses: Int64
    public var uses: Int64
    /// Unix ms; nil: never.
    public var expiresAt: Int64?
    public var createdAt: Int64

    public func isUsable(now: Int64) -> Bool { uses < maxUses && (expiresAt.map { $0 > now } ?? true) }

    /// A fresh code: 32 hex characters (128 bits from the system CSPRNG).
    public static func newCode() -> String { RandomID.hex32() }

    /// What is stored for a code: SHA-256 hex of the code as typed, trimmed and lowercased.
    public static func hash(code: String) -> String {
        Hex.encode(SHA256.hash(data: Data(code.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().utf8)))
    }

    init(row: Row) throws {
        codeHash = try row.string("code_hash")
        id = String(codeHash.prefix(12))
        quota = try row.int64("quota")
        maxUses = try row.int64("max_uses")
        uses = try row.int64("uses")
        expiresAt = if case .integer(let v) = row["expires_at"] { v } else { nil }
        createdAt = try row.int64("created_at")
    }
}

/// Invites in SQL. Every function runs inside the caller's transaction.
public enum InviteRepository {
    static func create(codeHash: String, quota: Int64, maxUses: Int64, expiresAt: Int64?, now: Int64, on db: any DatabaseConnection) async throws {
        try await db.run(
            "INSERT INTO invites (code_hash, quota, max_uses, uses, expires_at, created_at) VALUES (?, ?, ?, 0, ?, ?)",
            codeHash, quota, maxUses, expiresAt, now
        )
    }

    static func list(on db: any DatabaseConnection) async throws -> [Invite] {
        try await db.query("SELECT * FROM invites ORDER BY created_at, code_hash").map(Invite.init(row:))
    }

    /// Uses the invite once, if it has a use left and has not expired: one
    /// statement, so two registrations can never both take its last use (on
    /// SQLite the one writer runs them in turn; on PostgreSQL the second
    /// UPDATE waits for the first's row lock and re-checks `uses` after it).
    /// The quota it grants, or nil. Undone with the caller's transaction.
    static func consume(codeHash: String, now: Int64, on db: any DatabaseConnection) async throws -> Int64? {
        try await db.queryRow(
            """
            UPDATE invites SET uses = uses + 1
            WHERE code_hash = ? AND uses < max_uses AND (expires_at IS NULL OR expires_at > ?)
            RETURNING quota
            """,
            codeHash, now
        ).map { try $0.int64("quota") }
    }

    /// Removes invites whose hash starts with `prefix` (at least 6 hex characters); how many.
    static func remove(prefix: String, on db: any DatabaseConnection) async throws -> Int {
        try await db.run("DELETE FROM invites WHERE code_hash LIKE ?", prefix + "%")
    }
}

/// What a sign-up asks for (`POST /v1/user/register`).
public struct Registration: Sendable {
    public var name: String
    public var passwordHash: String
    /// The invite's hash (invite mode); nil: open registration.
    public var inviteHash: String?
    /// Capacity when no invite grants one.
    public var defaultQuota: Int64
    public var device: String
    public var address: String
    public var sessionLimit: Int

    public init(name: String, passwordHash: String, inviteHash: String?, defaultQuota: Int64, device: String, address: String, sessionLimit: Int) {
        self.name = name
        self.passwordHash = passwordHash
        self.inviteHash = inviteHash
        self.defaultQuota = defaultQuota
        self.device = device
        self.address = address
        self.sessionLimit = sessionLimit
    }
}

/// People's own accounts (issue #28): what `PanStore` does for them.
public protocol PanAccounts {
    /// The stored password hash of a user (nil: no such user).
    func passwordHash(userId: Int64) async throws -> String?
    /// Sets a new password hash if the stored one is still `expected` (the one
    /// the old password was checked against; else `oldPasswordWrong`), bumps
    /// the token version (every earlier token dies, the caller's too) and
    /// ends every sign-in session but `keep` (the caller's, which goes on
    /// with a token of the new version). The updated user.
    func changePassword(userId: Int64, expected: String, newHash: String, keep session: String?) async throws -> User
    /// Renames the user (`UserNameRule` already checked): 409 `NAME_TAKEN` when
    /// another account has the name, decided by the `logins` key, so two
    /// concurrent claims of one name never both win. The updated user.
    func changeName(userId: Int64, to name: String) async throws -> User
    /// A new account and its first sign-in session, in one transaction that
    /// also uses up one use of the invite (`INVITE_INVALID` when it has none
    /// left, expired or never existed) — a refused name gives the use back.
    func register(_ registration: Registration) async throws -> (User, UserSession)
    func createInvite(codeHash: String, quota: Int64, maxUses: Int64, expiresAt: Int64?) async throws
    func invites() async throws -> [Invite]
    /// Removes invites by id prefix; how many.
    func removeInvites(prefix: String) async throws -> Int
}

extension PanError {
    /// `changePassword` with a wrong `oldPassword` (403, not 401: the caller's session is fine, and the web app signs out on 401).
    public static let oldPasswordWrong = PanError(status: 403, code: "OLD_PASSWORD_WRONG", "the current password is wrong")
    /// `changeName`, `changeNameAndGet`, `register`: another account has that name.
    public static let nameTaken = PanError(status: 409, code: "NAME_TAKEN", "that user name is taken")
    /// `register` with `PAN_REGISTRATION=closed` (the default).
    public static let registrationClosed = PanError(
        status: 403, code: "REGISTRATION_CLOSED", "this server does not take sign-ups: ask its administrator for an account"
    )
    /// `register` in invite mode without a code.
    public static let inviteRequired = PanError(status: 403, code: "INVITE_REQUIRED", "signing up here takes an invite code")
    /// `register` with a code that is unknown, used up or expired (one answer for all).
    public static let inviteInvalid = PanError(status: 403, code: "INVITE_INVALID", "the invite code is unknown, used up or expired")
    /// The SMS endpoints: Pan has no SMS gateway.
    public static let smsNotAvailable = PanError(
        status: 501, code: "SMS_NOT_AVAILABLE", "this server sends no text messages: sign in with your user name and password"
    )
    /// `/v1/offline/*`: torrent and magnet downloads are not part of Pan.
    public static let offlineNotSupported = PanError(
        status: 501, code: "OFFLINE_NOT_SUPPORTED", "offline (torrent, magnet and URL) downloads are not supported by this server"
    )
}

extension UserRepository {
    static func passwordHash(userId: Int64, on db: any DatabaseConnection) async throws -> String? {
        try await db.queryRow("SELECT password_hash FROM users WHERE id = ?", userId).map { try $0.string("password_hash") }
    }

    /// `PanAccounts.changePassword`, inside the caller's write transaction.
    static func changePassword(userId: Int64, expected: String, newHash: String, keep session: String?, on db: any DatabaseConnection) async throws -> User {
        // The user's row, locked (PostgreSQL), with the hash the old password was checked against.
        guard try await lock(id: userId, on: db) != nil, let stored = try await passwordHash(userId: userId, on: db) else {
            throw PanError.tokenInvalid
        }
        // Changed meanwhile (another change, `pan user passwd`): the old password was checked against a hash that is gone.
        guard stored == expected else { throw PanError.oldPasswordWrong }
        try await db.run("UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?", newHash, userId)
        if let session {
            try await db.run("DELETE FROM sessions WHERE user_id = ? AND id <> ?", userId, session)
        } else {
            try await UserSessionRepository.endAll(userId: userId, on: db)
        }
        guard let user = try await find(id: userId, session: session, on: db) else { throw PanError.tokenInvalid }
        return user
    }

    /// `PanAccounts.changeName`, inside the caller's write transaction.
    static func changeName(userId: Int64, to name: String, on db: any DatabaseConnection) async throws -> User {
        guard let user = try await lock(id: userId, on: db) else { throw PanError.tokenInvalid }
        guard user.name != name else { return user }
        do {
            // The login row is the claim: its primary key lets one account have a name,
            // whichever server or transaction asks first (the other waits, then fails).
            try await db.savepoint {
                try await db.run("DELETE FROM logins WHERE user_id = ? AND kind = 'name'", userId)
                try await db.run("INSERT INTO logins (login, user_id, kind) VALUES (?, ?, 'name')", name, userId)
                try await db.run("UPDATE users SET name = ? WHERE id = ?", name, userId)
            }
        } catch let error as any DatabaseFailure where error.isUniqueViolation {
            throw PanError.nameTaken
        }
        guard let renamed = try await find(id: userId, on: db) else { throw PanError.tokenInvalid }
        return renamed
    }
}
