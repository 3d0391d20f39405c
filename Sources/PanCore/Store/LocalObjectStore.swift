import Crypto
import Foundation
import WCS

/// The bytes of Pan's own WCS-compatible endpoint, under `<data>/storage`:
/// - `objects/ab/<sha256(key)>` — stored objects, addressed by opaque keys;
/// - `blocks/<id>.part|.blk|.json` — slice-upload blocks in progress or done;
/// - `tmp/` — files being written, published by fsync + rename.
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

    // MARK: Blocks of slice uploads

    /// Who may continue a block, and until when.
    public struct BlockInfo: Codable, Sendable, Equatable {
        /// SHA-256 of the upload token's policy: only the same token continues a block.
        public var owner: String
        public var size: Int64
        /// The token's deadline (ms); after it the block is garbage.
        public var deadline: Int64

        public init(owner: String, size: Int64, deadline: Int64) {
            self.owner = owner
            self.size = size
            self.deadline = deadline
        }
    }

    public func partPath(_ id: String) -> String { "\(blocksDirectory)/\(id).part" }
    public func blockPath(_ id: String) -> String { "\(blocksDirectory)/\(id).blk" }
    func infoPath(_ id: String) -> String { "\(blocksDirectory)/\(id).json" }

    public func writeInfo(_ info: BlockInfo, id: String) throws {
        let temporary = newTemporaryPath()
        let data = try JSONEncoder().encode(info)
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw IOError("create", path: temporary)
        }
        try FileOps.publish(temporary, as: infoPath(id))
    }

    public func readInfo(id: String) -> BlockInfo? {
        guard Self.isBlockID(id), let data = FileManager.default.contents(atPath: infoPath(id)) else { return nil }
        return try? JSONDecoder().decode(BlockInfo.self, from: data)
    }

    public func removeBlock(id: String) {
        for path in [partPath(id), blockPath(id), infoPath(id)] { FileOps.remove(path) }
    }

    static func isBlockID(_ id: String) -> Bool {
        id.count == 32 && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Deletes blocks whose token expired more than `grace` ms ago, and stale temporaries.
    @discardableResult
    public func removeAbandoned(now: Int64 = Millis.now(), grace: Int64 = 600_000) -> Int {
        var removed = 0
        let names = (try? FileManager.default.contentsOfDirectory(atPath: blocksDirectory)) ?? []
        for name in names where name.hasSuffix(".json") {
            let id = String(name.dropLast(5))
            if let info = readInfo(id: id), info.deadline + grace < now {
                removeBlock(id: id)
                removed += 1
            }
        }
        let cutoff = Date().addingTimeInterval(-Double(grace) / 1000 - 86_400)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)) ?? [] {
            let path = "\(temporaryDirectory)/\(name)"
            if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < cutoff {
                FileOps.remove(path)
            }
        }
        return removed
    }
}
