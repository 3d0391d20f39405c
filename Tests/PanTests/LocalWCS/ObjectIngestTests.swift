import Foundation
import NIOCore
import Testing
@testable import PanCore
@testable import PanLocalWCS
import WCS

/// The upload byte path (issue #29, Performance): `ObjectIngest` writes and
/// hashes 4 MiB blocks on several threads; its hash must be `ContentHasher`'s
/// for every size, its file the bytes sent, and its failures must stop the upload.
/// The multipart parser hands a file part on in runs, not a piece per CR.
@Suite("Upload byte path: parallel block hashing equals ContentHasher; multipart body in runs")
struct ObjectIngestTests {
    static let block = ContentHasher.blockSize
    static let batch = ObjectIngest.batchSize

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    func temporaryPath() -> String {
        NSTemporaryDirectory() + "pan-ingest-\(UUID().uuidString)"
    }

    /// Feeds `bytes` in `chunk`-sized pieces, as the network would.
    func ingest(_ bytes: [UInt8], chunk: Int, into path: String, hashing: Bool = true, truncateTo: Int64? = 0, existing: Bool = false) async throws -> ObjectIngest.Stored {
        let ingest = ObjectIngest(sink: try FileSink(creating: path, truncateTo: truncateTo, existing: existing), hashing: hashing)
        var at = 0
        while at < bytes.count {
            let end = min(bytes.count, at + chunk)
            bytes[at..<end].withUnsafeBytes { ingest.append($0) }
            try await ingest.waitForRoom()
            at = end
        }
        return try await ingest.finish()
    }

    @Test("the hash is ContentHasher's and the file the bytes, at and around every block and batch boundary", arguments: [
        0, 1, batch - 1, batch, batch + 1, block - 1, block, block + 1, block + batch, 2 * block, 2 * block + 7, 9 * batch + 3,
    ])
    func matchesContentHasher(size: Int) async throws {
        let bytes = Self.randomBytes(size, seed: UInt64(size) + 1)
        let expected = ContentHasher.hash(bytes)
        // Network-sized odd chunks, and everything in one piece (several batches at once).
        for chunk in [65_537, max(size, 1)] {
            let path = temporaryPath()
            defer { FileOps.remove(path) }
            let stored = try await ingest(bytes, chunk: chunk, into: path)
            #expect(stored.hash == expected, "size \(size), chunks of \(chunk)")
            #expect(stored.size == Int64(size))
            #expect(FileManager.default.contents(atPath: path) == Data(bytes))
        }
    }

    @Test("the known hashes: the empty file, and one block exactly")
    func knownHashes() async throws {
        let path = temporaryPath()
        defer { FileOps.remove(path) }
        // WCS's hash of the empty file: 0x16 || sha1("").
        #expect(try await ingest([], chunk: 1, into: path).hash == "Fto5o-5ea0sNMlW_75VgGJCv2AcJ")
        let zeros = [UInt8](repeating: 0, count: Self.block)
        #expect(try await ingest(zeros, chunk: 100_000, into: path).hash == ContentHasher.hash(zeros))
    }

    @Test("a slice-upload block resumed mid-way is written after the bytes it keeps")
    func resumesAtTheFileOffset() async throws {
        let path = temporaryPath()
        defer { FileOps.remove(path) }
        let first = Self.randomBytes(3 * Self.batch + 5, seed: 7), second = Self.randomBytes(Self.batch + 11, seed: 8)
        _ = try await ingest(first, chunk: 70_000, into: path, hashing: false)
        // The client resumes from offset 1,000,003: what lay past it is replaced.
        let stored = try await ingest(second, chunk: 70_000, into: path, hashing: false, truncateTo: 1_000_003, existing: true)
        #expect(stored.hash == nil)
        #expect(FileManager.default.contents(atPath: path) == Data(first[0..<1_000_003] + second))
    }

    @Test("a failed write stops the upload with its error, and finish() reports it")
    func failedWriteStops() async throws {
        // Every write to /dev/full fails (ENOSPC).
        let ingest = ObjectIngest(sink: try FileSink(creating: "/dev/full", existing: true))
        let chunk = [UInt8](repeating: 1, count: Self.batch)
        await #expect(throws: PanCore.IOError.self) {
            for _ in 0..<64 {
                chunk.withUnsafeBytes { ingest.append($0) }
                try await ingest.waitForRoom()
            }
            _ = try await ingest.finish()
        }
        await ingest.discard()
    }

    // MARK: The multipart parser

    static func parse(_ body: [UInt8], boundary: String, chunk: Int) throws -> (parts: [[UInt8]], bodyEvents: Int) {
        let parser = MultipartStreamParser(boundary: boundary)
        var parts: [[UInt8]] = [], current: [UInt8] = [], events = 0
        parser.onBody = { buffer in
            events += 1
            current += buffer.readableBytesView
        }
        parser.onPartComplete = { parts.append(current); current = [] }
        var at = 0
        while at < body.count {
            let end = min(body.count, at + chunk)
            try parser.execute(Array(body[at..<end]))
            at = end
        }
        return (parts, events)
    }

    @Test("a file part with CRs, near-boundaries and a boundary split across chunks comes through whole, in runs")
    func multipartBodyInRuns() throws {
        let boundary = "----PanBoundary7MA4YWxkTrZu0gW"
        let size = 256 * 1024
        var file = Self.randomBytes(size, seed: 3)
        // Near misses of the delimiter inside the file: they are data.
        for (offset, text) in [(1000, "\r\n--"), (5000, "\r\n--" + boundary.dropLast()), (9000, "\r\r\n--\r\n-"), (size - 3, "\r\n-")] {
            file.replaceSubrange(offset..<(offset + text.utf8.count), with: Array(text.utf8))
        }
        let field = Array("token-value".utf8)
        let body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n".utf8) + field
            + Array("\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n".utf8) + file
            + Array("\r\n--\(boundary)--\r\n".utf8)
        for chunk in [7, 4096, 65_536, body.count] {
            let (parts, events) = try Self.parse(body, boundary: boundary, chunk: chunk)
            #expect(parts.count == 2)
            #expect(parts.first == field)
            #expect(parts.last == file, "chunks of \(chunk)")
            // A run per chunk (plus the near misses), not a piece per CR (~1,000 in these random bytes).
            #expect(events <= 2 * (body.count / chunk) + 16, "chunks of \(chunk): \(events) body events")
        }
    }
}
