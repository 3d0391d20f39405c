import Foundation

extension FileNode {
    /// A file's WebDAV entity tag: its content hash, quoted (strong: same bytes,
    /// same tag, so a client's cached copy stays valid across renames); a
    /// directory's names its version.
    public var davETag: String {
        if let storeId { return "\"\(storeId)\"" }
        return "\"\(uuid)-\(version)\""
    }
}

/// `If-Match` / `If-None-Match` on a PUT (RFC 9110 §13.1), checked inside the
/// write's transaction against what the path holds then — so a client that
/// says "only if it is still the version I read" can't lose a change made
/// meanwhile by another client.
public struct DAVPrecondition: Sendable, Equatable {
    /// `If-Match`: nil when absent; `["*"]` means "something is there".
    public var ifMatch: [String]?
    /// `If-None-Match`: nil when absent; `["*"]` means "nothing is there".
    public var ifNoneMatch: [String]?

    public init(ifMatch: [String]? = nil, ifNoneMatch: [String]? = nil) {
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
    }

    public static let none = DAVPrecondition()

    /// The entity tags of a header value: `*`, or a list of (weak or strong) tags.
    public static func tags(_ header: String?) -> [String]? {
        guard let header else { return nil }
        let tags = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return tags.isEmpty ? nil : tags
    }

    /// Whether a PUT may replace `current` (nil: nothing at the path).
    public func holds(for current: FileNode?) -> Bool {
        if let ifMatch {
            guard let current else { return false }
            if !ifMatch.contains("*"), !ifMatch.contains(current.davETag) { return false }
        }
        if let ifNoneMatch, let current {
            // Weak comparison (RFC 9110 §13.1.2): `W/"x"` matches `"x"`.
            if ifNoneMatch.contains("*") || ifNoneMatch.contains(where: { $0 == current.davETag || $0 == "W/" + current.davETag }) { return false }
        }
        return true
    }

    public static let failed = PanError(status: 412, code: "PRECONDITION_FAILED", "the resource is not in the state the request's If-Match / If-None-Match requires")
}
