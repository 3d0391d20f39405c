import Foundation
import Hummingbird
import NIOCore
import PanCore
import WCS

/// Writes a planned archive (`ZipLayout`) to a response as it is built: no
/// temporary file, and memory flat whatever its size — one 256 KiB chunk of
/// an object in flight, headers gathered up to 64 KiB, and a CRC per entry
/// (the central directory needs them). Each write waits for the client
/// (the channel's back-pressure), so a slow reader holds a file descriptor
/// and this task, never a database connection: the snapshot was read before.
///
/// If an object's bytes vanish mid-stream (only `pan store gc` removes them,
/// after the last node using them is gone), the stream stops there: the
/// connection closes short of `Content-Length`, which every client reports as
/// a failed download — never a corrupt archive that looks whole.
struct ZipStreamer: Sendable {
    let layout: ZipLayout
    let store: LocalObjectStore
    /// The connection's event loop (`send`).
    let eventLoop: any EventLoop

    static let chunkSize = 256 * 1024
    static let flushSize = 64 * 1024

    func write(to writer: inout any ResponseBodyWriter) async throws {
        var out = ByteBufferAllocator().buffer(capacity: Self.flushSize + 1024)
        var checksums: [UInt32] = []
        checksums.reserveCapacity(layout.entries.count)
        for entry in layout.entries {
            ZipLayout.writeLocalHeader(entry, to: &out)
            var crc = CRC32()
            if let key = entry.item.objectKey, entry.item.size > 0 {
                try await send(out, to: &writer)
                out.clear()
                crc = try await stream(objectKey: key, size: entry.item.size, to: &writer)
            }
            ZipLayout.writeDescriptor(entry, crc: crc.value, to: &out)
            checksums.append(crc.value)
            if out.readableBytes >= Self.flushSize {
                try await send(out, to: &writer)
                out.clear()
            }
        }
        for (entry, crc) in zip(layout.entries, checksums) {
            ZipLayout.writeCentralHeader(entry, crc: crc, to: &out)
            if out.readableBytes >= Self.flushSize {
                try await send(out, to: &writer)
                out.clear()
            }
        }
        layout.writeEnd(to: &out)
        try await send(out, to: &writer)
        try await writer.finish(nil)
    }

    /// Paced by the event loop: see `ResponseBodyWriter.write(_:pacedBy:)`.
    private func send(_ chunk: ByteBuffer, to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(chunk, pacedBy: eventLoop)
    }

    /// One object's bytes, a chunk at a time, read and checksummed on the
    /// blocking pool (the CRC of 256 KiB is work too).
    private func stream(objectKey: String, size: Int64, to writer: inout any ResponseBodyWriter) async throws -> CRC32 {
        let path = store.objectPath(forKey: objectKey)
        let fd = try await BlockingIO.run { () throws -> Int32 in
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw IOError("open", path: path) }
            return fd
        }
        defer { close(fd) }
        var crc = CRC32()
        var offset: Int64 = 0
        while offset < size {
            let want = Int(min(Int64(Self.chunkSize), size - offset))
            let (at, before) = (offset, crc)
            let (chunk, after): (ByteBuffer, CRC32) = try await BlockingIO.run {
                var buffer = ByteBufferAllocator().buffer(capacity: want)
                var crc = before
                let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                    let n = pread(fd, raw.baseAddress, want, off_t(at))
                    if n < 0 { throw IOError("read", path: path) }
                    crc.update(UnsafeRawBufferPointer(rebasing: raw[..<n]))
                    return n
                }
                // Shorter than recorded: the archive promised `size` bytes and cannot keep its word.
                if count == 0 { throw IOError("short read", path: path, errno: EIO) }
                return (buffer, crc)
            }
            crc = after
            offset += Int64(chunk.readableBytes)
            try await send(chunk, to: &writer)
        }
        return crc
    }
}
