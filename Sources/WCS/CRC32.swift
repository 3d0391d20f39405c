import CZlib

/// CRC-32/IEEE (the zlib polynomial), reported by WCS's `mkblk`/`bput` replies
/// and written into every zip entry Pan streams.
///
/// zlib's `crc32` (braided, several GB/s): the table loop this replaced ran a
/// byte at a time, ~0.4 GB/s optimized and far slower in a debug build, and a
/// zip download checksums every byte it sends.
public struct CRC32: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return }
        var remaining = bytes.count
        var crc = uLong(value)
        // zlib takes a 32-bit length: feed it at most 1 GiB at a time.
        while remaining > 0 {
            let step = min(remaining, 1 << 30)
            crc = crc32(crc, base, uInt(step))
            base += step
            remaining -= step
        }
        value = UInt32(truncatingIfNeeded: crc)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32()
        bytes.withUnsafeBytes { crc.update($0) }
        return crc.value
    }
}
