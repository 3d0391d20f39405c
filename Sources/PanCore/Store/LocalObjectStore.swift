import Crypto
import Foundation
import WCS

/// The bytes of Pan's own WCS-compatible endpoint, under `<data>/storage`:
/// - `objects/ab/<sha256(key)>` — stored objects, addressed by opaque keys,
///   written once (`publishObject`);
/// - `blocks/<token>/` — one directory per upload token (`<token>`: SHA-256
///   of its policy) holding its slice-upload blocks: `<id>.part|.blk|.json`,
///   `<order>.order` (which block holds each position of the file),
///   `deadline` (the token's), `session` (its upload session's id, if it
///   names one), `.lock`;
/// - `tmp/` — files being written, published by fsync + rename or link.
public struct LocalObjectStore: Sendable {
    public let root: String
    public var objectsDirectory: String { root + "/objects" }
    public var blocksDirectory: String { root + "/blocks" }
    public var temporaryDirectory: String { root + "/tmp" }

    public init(dataDirectory: String) throws {
        root = (dataDirectory as NSString).appendingPathComponent("storage")
        for directory in [objectsDirectory, blocksDirectory, temporaryDirectory] {
            try DataDirectory.create(directory)
        }
    }

    /// Object keys may hold any characters; the file name is their SHA-256.
    public func objectPath(forKey key: String) -> String {
        let digest = Hex.encode(SHA256.hash(data: Data(key.utf8)))
        return "\(objectsDirectory)/\(digest.prefix(2))/\(digest)"
    }

    public func prepareObjectDirectory(forKey key: String) throws {
        let directory = (objectPath(forKey: key) as NSString).deletingLastPathComponent
        try DataDirectory.create(directory)
    }

    public func objectExists(key: String) -> Bool { FileOps.size(of: objectPath(forKey: key)) != nil }

    public func newTemporaryPath() -> String { "\(temporaryDirectory)/\(RandomID.hex32())" }

    // MARK: Publishing objects

    /// The file one upload put at a key, by identity: its cleanup removes
    /// those bytes and never another upload's at the same key.
    public struct PublishedObject: Sendable, Equatable {
        public let key: String
        let path: String
        let device: UInt64
        let inode: UInt64
    }

    /// Puts the finished file `temporary` at `key` unless an object is there,
    /// in one atomic step: link(2) fails with EEXIST when the key exists, so
    /// two uploads racing for one key cannot both pass a check and the later
    /// replace the earlier's bytes (issue #24 §2.1). `replacing` (a token with
    /// `overwrite`) renames over whatever is there. Returns nil, leaving
    /// `temporary` to the caller, when the key is taken.
    public func publishObject(_ temporary: String, key: String, replacing: Bool) throws -> PublishedObject? {
        try prepareObjectDirectory(forKey: key)
        let path = objectPath(forKey: key)
        // The inode the key will name, taken before it is visible: whatever
        // happens at the key afterwards, cleanup compares against this.
        var info = stat()
        guard stat(temporary, &info) == 0 else { throw IOError("stat", path: temporary) }
        let published = PublishedObject(key: key, path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        if replacing {
            try FileOps.publish(temporary, as: path)
            return published
        }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return nil }
            throw IOError("link", path: path)
        }
        unlink(temporary)
        Self.syncDirectory(of: path)
        return published
    }

    /// Deletes what an upload published, if the key still holds those bytes.
    public func removePublished(_ object: PublishedObject) {
        var info = stat()
        guard stat(object.path, &info) == 0, UInt64(info.st_dev) == object.device, UInt64(info.st_ino) == object.inode else { return }
        unlink(object.path)
    }

    /// fsync of a directory, so a link or rename in it survives a crash.
    static func syncDirectory(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    // MARK: Checking recorded objects

    /// Recorded objects whose bytes are not here (or not whole): what `pan
    /// fsck` reports. A stat per object, no reading; `pan store verify`
    /// re-hashes the bytes.
    public func findingsForRecordedObjects(_ objects: [StoreObject]) -> [TreeChecker.Finding] {
        var findings: [TreeChecker.Finding] = []
        for object in objects {
            let path = objectPath(forKey: object.objectKey)
            guard let size = FileOps.size(of: path) else {
                findings.append(.init(check: "object-bytes", detail: "object \(object.hash) (key \(object.objectKey)) has no bytes at \(path)"))
                continue
            }
            if size != object.size {
                findings.append(.init(check: "object-bytes", detail: "object \(object.hash) (key \(object.objectKey)) is recorded as \(object.size) bytes, its file holds \(size)"))
            }
        }
        return findings
    }

    // MARK: Blocks of slice uploads

    /// One block of a slice upload.
    public struct BlockInfo: Codable, Sendable, Equatable {
        /// SHA-256 of the upload token's policy: only the same token continues a block.
        public var owner: String
        public var size: Int64
        /// The token's deadline (ms); after it the block is garbage.
        public var deadline: Int64
        /// The block's position in the file (`mkblk`'s `blockOrder`).
        public var order: Int64

        public init(owner: String, size: Int64, deadline: Int64, order: Int64) {
            self.owner = owner
            self.size = size
            self.deadline = deadline
            self.order = order
        }
    }

    public func tokenBlocksDirectory(_ owner: String) -> String { "\(blocksDirectory)/\(owner)" }
    public func partPath(_ id: String, owner: String) -> String { "\(tokenBlocksDirectory(owner))/\(id).part" }
    public func blockPath(_ id: String, owner: String) -> String { "\(tokenBlocksDirectory(owner))/\(id).blk" }
    func infoPath(_ id: String, owner: String) -> String { "\(tokenBlocksDirectory(owner))/\(id).json" }
    func orderPath(_ order: Int64, owner: String) -> String { "\(tokenBlocksDirectory(owner))/\(order).order" }

    /// Registers a new block of a token at `info.order`, in one step under the
    /// token's lock. A block the token already holds at that order is removed
    /// first: every Wangsu SDK retries or resumes a block by sending `mkblk`
    /// for the same order again, and the earlier attempt is then dead. So a
    /// token holds at most one block per position, and as the caller checks
    /// `order · 4 MiB + size ≤ fsizeLimit`, a token's blocks never add up past
    /// its `fsizeLimit` however often they are sent (issue #24 §2.2).
    ///
    /// `session`: the token's upload session, kept beside its blocks so that
    /// the sweeper can remove them when the session lapses (`removeBlocks(ofSessions:)`).
    public func beginBlock(_ info: BlockInfo, session: String? = nil) throws -> String {
        guard Self.isOwner(info.owner) else { throw IOError("block owner", path: info.owner, errno: EINVAL) }
        return try withTokenLock(info.owner) {
            let deadlinePath = tokenBlocksDirectory(info.owner) + "/deadline"
            if FileOps.size(of: deadlinePath) == nil { try writeSmallFile(Data(String(info.deadline).utf8), to: deadlinePath) }
            let sessionPath = tokenBlocksDirectory(info.owner) + "/session"
            if let session, FileOps.size(of: sessionPath) == nil { try writeSmallFile(Data(session.utf8), to: sessionPath) }
            let slot = orderPath(info.order, owner: info.owner)
            if let previous = try? String(contentsOfFile: slot, encoding: .utf8), Self.isBlockID(previous) {
                removeBlockFiles(previous, owner: info.owner)
            }
            let id = RandomID.hex32()
            // The part file is made here, under the lock: receiving only opens it,
            // so a block replaced or removed meanwhile is never made again.
            try DataDirectory.createPrivateFile(partPath(id, owner: info.owner))
            try writeSmallFile(try JSONEncoder().encode(info), to: infoPath(id, owner: info.owner))
            try writeSmallFile(Data(id.utf8), to: slot)
            return id
        }
    }

    public func readInfo(id: String, owner: String) -> BlockInfo? {
        guard Self.isBlockID(id), Self.isOwner(owner),
              let data = FileManager.default.contents(atPath: infoPath(id, owner: owner)),
              let info = try? JSONDecoder().decode(BlockInfo.self, from: data), info.owner == owner
        else { return nil }
        return info
    }

    /// Every block of a token, and its directory: its upload completed (or
    /// its deadline passed), so none of them will be used.
    public func removeTokenBlocks(owner: String) {
        guard Self.isOwner(owner), FileManager.default.fileExists(atPath: tokenBlocksDirectory(owner)) else { return }
        _ = try? withTokenLock(owner) {
            let directory = tokenBlocksDirectory(owner)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name != ".lock" {
                unlink(directory + "/" + name)
            }
            // The lock file goes last, while held: a request waiting on it sees
            // it unlinked and starts over (`withTokenLock`).
            unlink(directory + "/.lock")
            rmdir(directory)
        }
    }

    /// Removes the blocks of every token whose upload session is one of
    /// `sessions` (ended: lapsed or cancelled). One small read per token with
    /// blocks; returns how many tokens' blocks went.
    @discardableResult
    public func removeBlocks(ofSessions sessions: Set<String>) -> Int {
        guard !sessions.isEmpty else { return 0 }
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blocksDirectory)) ?? [] where Self.isOwner(name) {
            guard let session = try? String(contentsOfFile: "\(blocksDirectory)/\(name)/session", encoding: .utf8),
                  sessions.contains(session) else { continue }
            removeTokenBlocks(owner: name)
            removed += 1
        }
        return removed
    }

    /// The bytes a token's blocks hold now (finished blocks and parts), for `store/status`.
    public func receivedBytes(owner: String) -> Int64 {
        guard Self.isOwner(owner) else { return 0 }
        let directory = tokenBlocksDirectory(owner)
        var total: Int64 = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasSuffix(".blk") || name.hasSuffix(".part") {
            total += FileOps.size(of: directory + "/" + name) ?? 0
        }
        return total
    }

    private func removeBlockFiles(_ id: String, owner: String) {
        for path in [partPath(id, owner: owner), blockPath(id, owner: owner), infoPath(id, owner: owner)] { FileOps.remove(path) }
    }

    /// Runs `body` holding the token's lock: flock(2) on `blocks/<token>/.lock`,
    /// which also serialises servers sharing `storage/` on one machine (and on
    /// NFS, where Linux maps it to a POSIX lock).
    private func withTokenLock<T>(_ owner: String, _ body: () throws -> T) throws -> T {
        let directory = tokenBlocksDirectory(owner)
        let lockPath = directory + "/.lock"
        // A few rounds at most: each retry means the directory was removed
        // (its upload ended) while this request waited.
        for _ in 0..<8 {
            try DataDirectory.create(directory)
            let fd = open(lockPath, O_RDWR | O_CREAT, 0o600)
            guard fd >= 0 else {
                if errno == ENOENT { continue }
                throw IOError("open", path: lockPath)
            }
            defer { close(fd) }
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else { throw IOError("flock", path: lockPath) }
            }
            // Still the lock file at that path, or removed while we waited?
            var held = stat(), current = stat()
            guard fstat(fd, &held) == 0, stat(lockPath, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev else {
                continue
            }
            return try body()
        }
        throw IOError("lock", path: lockPath, errno: EAGAIN)
    }

    /// Writes a small file in full, then renames it into place (replacing).
    private func writeSmallFile(_ data: Data, to path: String) throws {
        let temporary = newTemporaryPath()
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw IOError("create", path: temporary)
        }
        guard rename(temporary, path) == 0 else {
            let error = IOError("rename", path: path)
            unlink(temporary)
            throw error
        }
    }

    static func isBlockID(_ id: String) -> Bool {
        id.count == 32 && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    static func isOwner(_ owner: String) -> Bool {
        owner.utf8.count == 64 && owner.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Deletes the blocks of tokens whose deadline passed more than `grace` ms
    /// ago (their sessions are swept at the same time, so blocks never outlive
    /// the quota reservation by more than a sweep interval), and stale temporaries.
    @discardableResult
    public func removeAbandoned(now: Int64 = Millis.now(), grace: Int64 = 600_000) -> Int {
        var removed = 0
        let cutoff = Date().addingTimeInterval(-Double(grace) / 1000 - 86_400)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blocksDirectory)) ?? [] {
            let path = "\(blocksDirectory)/\(name)"
            if Self.isOwner(name) {
                if let text = try? String(contentsOfFile: path + "/deadline", encoding: .utf8), let deadline = Int64(text) {
                    guard deadline + grace < now else { continue }
                } else if let modified = Self.modified(path), modified >= cutoff {
                    continue  // being created (the deadline is written first thing), or unreadable for now
                }
                removeTokenBlocks(owner: name)
                removed += 1
            } else if let modified = Self.modified(path), modified < cutoff {
                // Blocks in the layout before issue #24 (`blocks/<id>.*`): long dead.
                FileOps.remove(path)
            }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)) ?? [] {
            let path = "\(temporaryDirectory)/\(name)"
            if let modified = Self.modified(path), modified < cutoff { FileOps.remove(path) }
        }
        return removed
    }

    private static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
