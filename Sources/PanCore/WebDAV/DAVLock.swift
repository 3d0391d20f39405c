import Foundation

/// A WebDAV write lock (RFC 4918 §6–7) as stored (`dav_locks`), with the
/// path its root node has now. What a lock covers and what two locks
/// conflict on is decided here, for the store (taking a lock) and for the
/// WebDAV face (checking a write) alike.
public struct DAVLock: Sendable, Equatable {
    public var token: String
    public var nodeId: Int64
    /// The path of the node the lock is rooted at (its lock root).
    public var rootPath: String
    /// Depth infinity (else 0).
    public var infinite: Bool
    public var exclusive: Bool
    /// The client's `<D:owner>` element, serialized (empty: none given).
    public var owner: String
    /// The timeout asked for and granted, in seconds.
    public var timeout: Int64
    public var expiresAt: Int64

    public init(token: String, nodeId: Int64, rootPath: String, infinite: Bool, exclusive: Bool, owner: String, timeout: Int64, expiresAt: Int64) {
        (self.token, self.nodeId, self.rootPath, self.infinite, self.exclusive) = (token, nodeId, rootPath, infinite, exclusive)
        (self.owner, self.timeout, self.expiresAt) = (owner, timeout, expiresAt)
    }

    /// Whether the lock covers the resource at `path`: its root, or anything
    /// below a depth-infinity root.
    public func covers(_ path: String) -> Bool {
        rootPath == path || (infinite && DAVLock.isBelow(path, rootPath))
    }

    /// Whether the lock is rooted at `path` or below it (removing or moving
    /// `path` ends it).
    public func isWithin(_ path: String) -> Bool {
        rootPath == path || DAVLock.isBelow(rootPath, path)
    }

    /// Whether taking `request` at `path` conflicts with this lock (RFC 4918
    /// §6.1, §7): the two overlap and one of them is exclusive.
    public func conflicts(with request: DAVLockRequest, at path: String) -> Bool {
        guard exclusive || request.exclusive else { return false }
        return covers(path) || (request.infinite && isWithin(path))
    }

    /// `path` is strictly below `ancestor`.
    static func isBelow(_ path: String, _ ancestor: String) -> Bool {
        if ancestor == PanPath.root { return path != PanPath.root }
        return path.hasPrefix(ancestor) && path.dropFirst(ancestor.count).first == "/"
    }

    /// Seconds left at `now` (Unix ms), at least 0.
    public func secondsLeft(now: Int64) -> Int64 { max(0, (expiresAt - now + 999) / 1000) }
}

/// What a WebDAV write changes, and the lock tokens its `If` header
/// submitted: a write may go ahead only when every lock protecting what it
/// changes has its token there. Checked by the WebDAV face before the write
/// (to answer before reading a body) and again by the store inside the
/// write's transaction (`DAVLockRepository.require`), so a lock taken in
/// between is not passed by.
public struct DAVLockGuard: Sendable {
    /// Resources changed themselves (PUT's file, PROPPATCH's node).
    public var at: [String] = []
    /// Resources changed with everything below them (DELETE, MOVE's source, an overwritten destination).
    public var tree: [String] = []
    /// Collections whose membership changes: a depth-0 lock on one protects it (RFC 4918 §7.5).
    public var members: [String] = []
    public var tokens: Set<String> = []

    public init(at: [String] = [], tree: [String] = [], members: [String] = [], tokens: Set<String> = []) {
        (self.at, self.tree, self.members, self.tokens) = (at, tree, members, tokens)
    }

    /// A new or replaced resource at `path` (PUT of a new file, MKCOL, COPY/MOVE's destination).
    public static func placing(_ path: String, replacing: Bool) -> DAVLockGuard {
        replacing
            ? DAVLockGuard(tree: [path], members: [PanPath.parent(of: path)])
            : DAVLockGuard(at: [path], members: [PanPath.parent(of: path)])
    }

    public mutating func add(_ other: DAVLockGuard) {
        at += other.at
        tree += other.tree
        members += other.members
        tokens.formUnion(other.tokens)
    }

    /// The locks among `locks` that protect what the write changes.
    public func protecting(_ locks: [DAVLock]) -> [DAVLock] {
        locks.filter { lock in
            at.contains(where: lock.covers) || members.contains(where: lock.covers)
                || tree.contains { lock.covers($0) || lock.isWithin($0) }
        }
    }

    /// Those of them whose token was not submitted: the write must wait (423).
    public func unheld(_ locks: [DAVLock]) -> [DAVLock] {
        protecting(locks).filter { !tokens.contains($0.token) }
    }
}

/// What a LOCK asks for.
public struct DAVLockRequest: Sendable {
    public var infinite: Bool
    public var exclusive: Bool
    public var owner: String
    /// Seconds, already within `DAVLimits.maxLockTimeout`.
    public var timeout: Int64
    public init(infinite: Bool, exclusive: Bool, owner: String, timeout: Int64) {
        (self.infinite, self.exclusive, self.owner, self.timeout) = (infinite, exclusive, owner, timeout)
    }
}

/// A dead property of a node (one a client set with PROPPATCH): its
/// qualified name and the property element itself, serialized.
public struct DAVDeadProperty: Sendable, Equatable {
    public var namespace: String
    public var name: String
    /// The whole property element as XML text, written back as is.
    public var xml: String
    public init(namespace: String, name: String, xml: String) { (self.namespace, self.name, self.xml) = (namespace, name, xml) }
}

/// One step of a PROPPATCH, applied in document order.
public enum DAVPropertyChange: Sendable {
    case set(DAVDeadProperty)
    case remove(namespace: String, name: String)
}

/// The bounds of WebDAV's stored state: every request's work stays small.
public enum DAVLimits {
    /// The most one property element may take, serialized.
    public static let maxPropertyBytes = 64 << 10
    /// The most dead properties one node may carry.
    public static let maxPropertiesPerNode = 100
    /// The most sets and removes one PROPPATCH may hold (each is a statement
    /// in a transaction that holds the user's lock); clients send a handful.
    public static let maxPropertyChanges = 2 * maxPropertiesPerNode
    /// The most live locks one user may hold.
    public static let maxLocksPerUser = 1_000
    /// The most a lock's `<D:owner>` may take, serialized.
    public static let maxOwnerBytes = 4 << 10
    /// A lock's timeout when the client asks for none (seconds).
    public static let defaultLockTimeout: Int64 = 600
    /// The longest a lock is granted for (`Infinite` and longer asks get this).
    public static let maxLockTimeout: Int64 = 3_600
}

extension PanError {
    /// A lock conflicts with the one asked for, or a write lacks a lock's token.
    public static let davLocked = PanError(status: 423, code: "LOCKED", "the resource is locked")
    public static let davTooManyLocks = PanError(
        status: 507, code: "TOO_MANY_LOCKS", "a user holds at most \(DAVLimits.maxLocksPerUser) locks; unlock some first"
    )
    public static let davTooManyProperties = PanError(
        status: 507, code: "TOO_MANY_PROPERTIES", "a file or folder carries at most \(DAVLimits.maxPropertiesPerNode) dead properties"
    )
}
