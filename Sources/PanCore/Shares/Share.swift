import Foundation
import WCS

/// A share link (issue #27): one of a user's files or folders, for people
/// without an account, at `/s/<id>`. The rules of what a share may be and
/// when it answers are here; the SQL is `ShareRepository`'s, the wire is
/// PanAPI's (`Shares/`).
public struct Share: Sendable, Equatable {
    /// 22 base64url characters: 16 bytes of the system CSPRNG (`ShareID`).
    public let id: String
    public let userId: Int64
    public let nodeId: Int64
    /// PBKDF2 (`PasswordHasher`); nil when the share has no password.
    public let passwordHash: String?
    /// Goes up when the password changes; grants and download addresses sign it.
    public let epoch: Int64
    public let expiresAt: Int64?
    public let maxDownloads: Int64?
    public let allowDownload: Bool
    public let views: Int64
    public let downloads: Int64
    public let lastAccessAt: Int64?
    public let createdAt: Int64
    /// The node as it is now (it follows renames and moves); nil only if it is
    /// gone, which deleting it for good prevents (its shares go with it).
    public let node: FileNode?
    public let ownerActive: Bool
    /// The owner's display name (`users.display_name`), never their login.
    public let ownerDisplayName: String?

    public enum State: String, Sendable { case active, expired, exhausted, binned, disabled }

    /// The one rule of whether a share answers, in order of what the owner can fix.
    public func state(now: Int64 = Millis.now()) -> State {
        guard ownerActive else { return .disabled }
        guard let node, node.state == FileNode.State.live.rawValue else { return .binned }
        if let expiresAt, expiresAt <= now { return .expired }
        if let maxDownloads, downloads >= maxDownloads { return .exhausted }
        return .active
    }

    public var hasPassword: Bool { passwordHash != nil }

    public var downloadsLeft: Int64? { maxDownloads.map { max(0, $0 - downloads) } }

    /// Whether `other` is the shared node or inside the shared folder: the
    /// bound every public request is held to. Both live nodes of the owner.
    public func contains(_ other: FileNode) -> Bool {
        guard let node, other.userId == userId else { return false }
        if other.id == node.id { return true }
        return node.isDirectory && other.lft > node.lft && other.lft < node.rgt
    }
}

/// What a share is made with, or changed to (`nil`: unchanged on update;
/// `.some(nil)`: cleared), parsed and bounded by the caller's layer.
public struct ShareSettings: Sendable {
    /// `.some(nil)` clears the password (on update).
    public var passwordHash: String??
    public var expiresAt: Int64??
    public var maxDownloads: Int64??
    public var allowDownload: Bool?

    public init(passwordHash: String?? = nil, expiresAt: Int64?? = nil, maxDownloads: Int64?? = nil, allowDownload: Bool? = nil) {
        self.passwordHash = passwordHash
        self.expiresAt = expiresAt
        self.maxDownloads = maxDownloads
        self.allowDownload = allowDownload
    }
}

public enum ShareLimits {
    /// Shares one user may hold.
    public static let perUser = 1_000
    /// Share ids one `remove` may name.
    public static let idsPerRequest = 1_000
    public static let maxDownloads: Int64 = 1_000_000
    /// Furthest expiry: ten years.
    public static let longestLifetime: Int64 = 10 * 366 * 86_400_000
    public static let passwordLength = 1...128
    /// Bytes a download's address may serve in Range continuations before it
    /// counts again: twice the file (a resume re-fetches at most what is
    /// missing; a player seeking about needs more) plus 1 MiB.
    public static func continuationAllowance(size: Int64) -> Int64 { 2 * size + 1_048_576 }

    static let tooMany = PanError(
        status: 409, code: "TOO_MANY_SHARES", "you have \(perUser) share links already: remove some first"
    )
}

public enum ShareID {
    /// A new id: 16 random bytes as 22 base64url characters.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next(), b = generator.next()
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: a >> ($0 * 8)) } + (0..<8).map { UInt8(truncatingIfNeeded: b >> ($0 * 8)) }
        // Unpadded: 22 characters, nothing to escape in a path.
        return String(Base64URL.encode(Data(bytes)).prefix(22))
    }

    /// Whether `text` could be an id at all (1–64 URL-safe characters):
    /// anything else is refused as not found before the database is asked.
    public static func isPlausible(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }
}

extension PanError {
    /// One answer for an unknown, removed, expired, exhausted, binned or disabled share.
    public static let shareNotFound = PanError(status: 404, code: "SHARE_NOT_FOUND", "this share link does not exist or has expired")
}
