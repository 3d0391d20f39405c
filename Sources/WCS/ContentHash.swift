import Crypto
import Foundation

/// WCS's content hash (`$(hash)`, Pan's `storeId`): SHA-1 per 4 MiB block,
/// `0x16 || sha1(block)` for one block, `0x96 || sha1(sha1(b0) || sha1(b1) …)`
/// for more, URL-safe base64 of the 21 bytes.
///
/// Streaming: feed any chunk sizes; memory stays one SHA-1 state plus the list
/// of 20-byte block digests.
public struct ContentHasher: Sendable {
    public static let blockSize = 4 * 1024 * 1024

    private var current = Insecure.SHA1()
    private var inCurrentBlock = 0
    private var blockDigests: [UInt8] = []
    public private(set) var byteCount: Int64 = 0

    public init() {}

    public mutating func update<D: DataProtocol>(_ bytes: D) {
        for region in bytes.regions {
            region.withUnsafeBytes { update(raw: $0) }
        }
    }

    public mutating func update(raw: UnsafeRawBufferPointer) {
        var rest = raw[...]
        while !rest.isEmpty {
            let take = min(rest.count, Self.blockSize - inCurrentBlock)
            current.update(bufferPointer: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            inCurrentBlock += take
            byteCount += Int64(take)
            rest = rest.dropFirst(take)
            if inCurrentBlock == Self.blockSize { closeBlock() }
        }
    }

    private mutating func closeBlock() {
        blockDigests.append(contentsOf: current.finalize())
        current = Insecure.SHA1()
        inCurrentBlock = 0
    }

    public func finalize() -> String {
        var copy = self
        // The empty file is one empty block; a partial last block is a block.
        if copy.inCurrentBlock > 0 || copy.blockDigests.isEmpty { copy.closeBlock() }
        return Self.combine(blockDigests: copy.blockDigests)
    }

    /// The hash from its blocks' SHA-1 digests, concatenated in the file's
    /// order (20 bytes each; none: the empty file). Blocks are independent, so
    /// they may be hashed at once on several threads and combined here
    /// (`ObjectIngest`); the result is `finalize()`'s for the same bytes.
    public static func combine(blockDigests: [UInt8]) -> String {
        let blocks = blockDigests.count / Insecure.SHA1.byteCount
        precondition(blocks * Insecure.SHA1.byteCount == blockDigests.count, "block digests are 20 bytes each")
        let output: [UInt8]
        switch blocks {
        case 0: output = [0x16] + Array(Insecure.SHA1.hash(data: [UInt8]()))
        case 1: output = [0x16] + blockDigests
        default: output = [0x96] + Array(Insecure.SHA1.hash(data: blockDigests))
        }
        return Base64URL.encode(output)
    }

    public static func hash<D: DataProtocol>(_ data: D) -> String {
        var hasher = ContentHasher()
        hasher.update(data)
        return hasher.finalize()
    }

    /// Hashes a file with a fixed 4 MiB buffer, whatever its size.
    public static func hash(fileAtPath path: String) throws -> (hash: String, size: Int64) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }
        #if os(Linux)
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        var hasher = ContentHasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(fd, buffer.baseAddress, blockSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            if count == 0 { break }
            hasher.update(raw: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return (hasher.finalize(), hasher.byteCount)
    }

    /// True for a string shaped like a WCS content hash (28 URL-safe base64 chars).
    public static func isWellFormed(_ hash: String) -> Bool {
        hash.utf8.count == 28 && hash.utf8.allSatisfy {
            ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 || $0 == 61
        }
    }
}
