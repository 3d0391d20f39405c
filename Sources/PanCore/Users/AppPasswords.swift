import Crypto
import Foundation
import SQLCommon
import TextSupport
import WCS

/// A per-device password for WebDAV (issue #29 §3): made and revoked by its
/// owner (web app, `POST /v1/user/appPassword/*`, `pan user app-password`),
/// good for `/dav/` only — never for `/v1/user/login` or the web app — so a
/// lost laptop costs that one password, not the account's.
///
/// The secret is shown once, at creation; the row keeps its keyed hash
/// (`AppPasswordKey`). Revoking deletes the row: the hash of a revoked
/// secret serves nothing, and deleting keeps a user's rows bounded by
/// `maxPerUser` however many are made and revoked over the years.
///
/// A password change leaves app passwords valid: they are separate,
/// revocable credentials (a device set up with one keeps syncing), and
/// revoking them is explicit. A disabled account's app passwords stop
/// working with it (`DAVAuthenticator` checks the user on every request).
public struct AppPassword: Sendable, Equatable {
    /// 16 hex characters from the system CSPRNG: a handle for lists and revoke, not a secret.
    public var id: String
    public var userId: Int64
    /// The device or purpose the owner named it after.
    public var name: String
    /// Unix ms.
    public var createdAt: Int64
    /// Unix ms of the last WebDAV request it signed in, written at most once per
    /// `touchInterval` (so it may lag that much); nil: never used.
    public var lastUsedAt: Int64?

    /// Most app passwords per user: a create past it is 409 `APP_PASSWORD_LIMIT`.
    public static let maxPerUser = 50
    /// Longest name, in Unicode scalars.
    public static let maxNameLength = 64
    /// `last_used_at` is written at most this often per app password (ms).
    public static let touchInterval: Int64 = 60 * 1000

    public init(id: String, userId: Int64, name: String, createdAt: Int64, lastUsedAt: Int64?) {
        self.id = id
        self.userId = userId
        self.name = name
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }

    init(row: Row) throws {
        id = try row.string("id")
        userId = try row.int64("user_id")
        name = try row.string("name")
        createdAt = try row.int64("created_at")
        lastUsedAt = if case .integer(let v) = row["last_used_at"] { v } else { nil }
    }

    /// Whether a sign-in at `now` should record that it was used.
    public func needsTouch(now: Int64) -> Bool {
        lastUsedAt.map { now - $0 >= Self.touchInterval } ?? true
    }

    /// The name as stored: surrounding spaces trimmed; 400 `INVALID_FIELD`
    /// when empty, longer than `maxNameLength` or holding control or
    /// formatting characters (it is shown in lists and terminals).
    public static func checkedName(_ raw: String?) throws(PanError) -> String {
        let name = (raw ?? "").trimmedSpaces()
        if name.isEmpty { throw PanError.invalidField("name", "an app password needs a name (the device it is for)") }
        if name.unicodeScalars.count > maxNameLength { throw PanError.invalidField("name", "at most \(maxNameLength) characters") }
        if name.unicodeScalars.contains(where: {
            switch $0.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: true
            default: false
            }
        }) {
            throw PanError.invalidField("name", "no control or formatting characters")
        }
        return name
    }
}

/// The secret of an app password: 30 characters of lowercase base32 (RFC 4648:
/// no 0, 1, 8 or 9 to mistake for letters) — 150 bits from the system CSPRNG —
/// shown in six groups of five, `abcde-fghij-klmno-pqrst-uvwxy-z2345`, easy
/// to read off one screen and type on another.
public enum AppPasswordSecret {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let length = 30
    static let group = 5

    /// A new secret, grouped for display.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        // 32 is a power of two: a byte's low 5 bits are uniform.
        let characters = (0..<length).map { _ in Character(Unicode.Scalar(alphabet[Int(generator.next() as UInt8) & 31])) }
        return stride(from: 0, to: length, by: group).map { String(characters[$0..<$0 + group]) }.joined(separator: "-")
    }

    /// The canonical form of what a client sent, or nil when it cannot be an
    /// app password (then it is only tried as the account's password). Lenient
    /// as people type: any case, dashes and spaces anywhere, and 0/1 for o/l.
    public static func canonical(_ typed: String) -> String? {
        guard typed.utf8.count <= 4 * length else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(length)
        for byte in typed.utf8 {
            switch byte {
            case UInt8(ascii: "-"), UInt8(ascii: " "): continue
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "2")...UInt8(ascii: "7"): out.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): out.append(byte + 32)
            case UInt8(ascii: "0"): out.append(UInt8(ascii: "o"))
            case UInt8(ascii: "1"): out.append(UInt8(ascii: "l"))
            default: return nil
            }
        }
        return out.count == length ? String(decoding: out, as: UTF8.self) : nil
    }
}

/// What an app password's row keeps instead of the secret: HMAC-SHA256 of its
/// canonical form under a key derived from the server's secret (`PAN_JWT_SECRET`
/// or the data directory's `jwt-secret`), hex.
///
/// Why not PBKDF2 like account passwords: a WebDAV client sends its password
/// with every request (rclone: hundreds a sync), and a slow hash exists to make
/// guessing a *human-chosen* password expensive. This secret is 150 random
/// bits: no guess list to try, so one HMAC is as safe and costs microseconds.
/// Why keyed rather than a bare SHA-256 (as invites are): a stolen database
/// copy alone then gives nothing to test a secret against. The lookup is by
/// this hash (indexed); its timing can only tell about HMAC outputs, which no
/// one without the key can steer, so the secret itself is never compared.
/// Rotating the server secret retires every app password (and session token).
public struct AppPasswordKey: Sendable {
    private let key: SymmetricKey

    public init(serverSecret: String) {
        // Its own key, derived, so app passwords never share one with tokens or links.
        key = SymmetricKey(data: SHA256.hash(data: Data("pan-app-passwords\n\(serverSecret)".utf8)))
    }

    /// The stored hash of a secret in canonical form (`AppPasswordSecret.canonical`).
    public func hash(canonical: String) -> String {
        Hex.encode(Data(HMAC<SHA256>.authenticationCode(for: Data(canonical.utf8), using: key)))
    }
}

/// App passwords in SQL. Every function runs inside the caller's transaction.
enum AppPasswordRepository {
    /// Adds one unless the user has `AppPassword.maxPerUser` (409
    /// `APP_PASSWORD_LIMIT`). The caller's transaction holds the user's row
    /// lock (PostgreSQL), so two creates never both pass the count.
    static func create(userId: Int64, name: String, secretHash: String, now: Int64, on db: any DatabaseConnection) async throws -> AppPassword {
        let count = try await db.scalar("SELECT COUNT(*) FROM app_passwords WHERE user_id = ?", userId) ?? 0
        guard count < Int64(AppPassword.maxPerUser) else { throw PanError.appPasswordLimit }
        let password = AppPassword(id: String(RandomID.hex32().prefix(16)), userId: userId, name: name, createdAt: now, lastUsedAt: nil)
        try await db.run(
            "INSERT INTO app_passwords (user_id, id, name, secret_hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, NULL)",
            userId, password.id, name, secretHash, now
        )
        return password
    }

    /// The user's app passwords, newest first (never the hashes).
    static func list(userId: Int64, on db: any DatabaseConnection) async throws -> [AppPassword] {
        try await db.query(
            """
            SELECT user_id, id, name, created_at, last_used_at FROM app_passwords
            WHERE user_id = ? ORDER BY created_at DESC, id LIMIT ?
            """,
            userId, AppPassword.maxPerUser
        ).map(AppPassword.init(row:))
    }

    /// Deletes one of the user's app passwords; false when the user has none with that id.
    static func revoke(userId: Int64, id: String, on db: any DatabaseConnection) async throws -> Bool {
        try await db.run("DELETE FROM app_passwords WHERE user_id = ? AND id = ?", userId, id) > 0
    }

    /// The user's app password with this hash, if any (one index probe).
    static func find(userId: Int64, secretHash: String, on db: any DatabaseConnection) async throws -> AppPassword? {
        try await db.queryRow(
            "SELECT user_id, id, name, created_at, last_used_at FROM app_passwords WHERE user_id = ? AND secret_hash = ?",
            userId, secretHash
        ).map(AppPassword.init(row:))
    }

    /// Records a use; never moves `last_used_at` back, and a revoked one stays gone.
    static func touch(userId: Int64, id: String, at now: Int64, on db: any DatabaseConnection) async throws {
        try await db.run(
            "UPDATE app_passwords SET last_used_at = ? WHERE user_id = ? AND id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
            now, userId, id, now
        )
    }
}

/// App passwords: what `PanStore` does for them, one transaction each.
public protocol PanAppPasswords {
    /// Stores a new app password (`name` already checked, `secretHash` from
    /// `AppPasswordKey`); 409 `APP_PASSWORD_LIMIT` past `AppPassword.maxPerUser`.
    func createAppPassword(userId: Int64, name: String, secretHash: String) async throws -> AppPassword
    /// The user's app passwords, newest first; never a secret or its hash.
    func appPasswords(userId: Int64) async throws -> [AppPassword]
    /// Revokes one of the user's app passwords at once; false when the user has
    /// none with that id (another user's id included).
    func revokeAppPassword(userId: Int64, id: String) async throws -> Bool
    /// The user's app password whose secret hashes to `secretHash`, or nil.
    func verifyAppPassword(userId: Int64, secretHash: String) async throws -> AppPassword?
    /// Records that it signed a request in at `at` (Unix ms); see `AppPassword.needsTouch`.
    func touchAppPassword(userId: Int64, id: String, at: Int64) async throws
}

extension PanError {
    /// `appPassword/create` when the user already has `AppPassword.maxPerUser`.
    public static let appPasswordLimit = PanError(
        status: 409, code: "APP_PASSWORD_LIMIT", "an account has at most \(AppPassword.maxPerUser) app passwords: revoke one first"
    )
    /// `appPassword/revoke` with an id the user has no app password under.
    public static let appPasswordNotFound = PanError(status: 404, code: "APP_PASSWORD_NOT_FOUND", "no such app password")
}
