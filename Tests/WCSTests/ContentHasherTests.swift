import Foundation
import Testing
@testable import WCS

/// `vectors.md`: byte[i] = (i*31 + 7) % 251.
enum VectorBytes {
    static let largest = 9_437_184
    static let all: [UInt8] = {
        var bytes = [UInt8](repeating: 0, count: largest)
        for i in 0..<largest { bytes[i] = UInt8((i &* 31 &+ 7) % 251) }
        return bytes
    }()
    static func prefix(_ n: Int) -> ArraySlice<UInt8> { all[0..<n] }
}

struct HashVector: Sendable, CustomTestStringConvertible {
    let name: String
    let size: Int
    let hash: String
    var testDescription: String { "\(name) (\(size) bytes)" }

    static let all: [HashVector] = [
        .init(name: "empty", size: 0, hash: "Fto5o-5ea0sNMlW_75VgGJCv2AcJ"),
        .init(name: "one", size: 1, hash: "Fl0b5-ndoe6Ilr5bfjSoXuFkUqe0"),
        .init(name: "4MiB", size: 4_194_304, hash: "FuzrG4jlHVyozcJGXVljVd4cQ3Op"),
        .init(name: "4MiB+1", size: 4_194_305, hash: "lgncbbZdKxcTzCACSLIvsek6wGWP"),
        .init(name: "9MiB", size: 9_437_184, hash: "lhUaW1QMJ9Hr8JXrKG61F1Yv4xDz"),
    ]
}

@Suite("ContentHasher against vectors.md (wcs.md §5)")
struct ContentHasherTests {
    /// Feeds `bytes` in chunks of `sizes[0]`, `sizes[1]`, … cycling.
    static func hash(_ bytes: ArraySlice<UInt8>, chunks sizes: [Int]) -> (String, Int64) {
        var hasher = ContentHasher()
        var offset = bytes.startIndex, turn = 0
        while offset < bytes.endIndex {
            let end = min(offset + sizes[turn % sizes.count], bytes.endIndex)
            hasher.update(bytes[offset..<end])
            offset = end
            turn += 1
        }
        return (hasher.finalize(), hasher.byteCount)
    }

    @Test("One-shot hash", arguments: HashVector.all)
    func oneShot(_ vector: HashVector) {
        let bytes = VectorBytes.prefix(vector.size)
        #expect(ContentHasher.hash(bytes) == vector.hash)
        #expect(ContentHasher.hash(Data(bytes)) == vector.hash)
        #expect(ContentHasher.hash(Array(bytes)) == vector.hash)
        #expect(vector.hash.count == 28)
        #expect(ContentHasher.isWellFormed(vector.hash))
    }

    @Test("Fed in odd chunk sizes", arguments: HashVector.all, [[4095], [524_288], [1_048_577], [1, 4095, 524_288, 1_048_577, 7, 4_194_303]])
    func chunked(_ vector: HashVector, _ sizes: [Int]) {
        let (hash, count) = Self.hash(VectorBytes.prefix(vector.size), chunks: sizes)
        #expect(hash == vector.hash)
        #expect(count == Int64(vector.size))
    }

    @Test("Fed one byte at a time around every block boundary", arguments: HashVector.all)
    func oneByteAtATime(_ vector: HashVector) {
        // One-byte updates near the start, the end and each 4 MiB boundary; big ones elsewhere.
        let block = ContentHasher.blockSize, zone = 3000
        let bytes = VectorBytes.prefix(vector.size)
        var hasher = ContentHasher()
        var offset = 0
        while offset < vector.size {
            let inBlock = offset % block
            let step: Int
            if inBlock < zone || inBlock >= block - zone || vector.size - offset <= zone {
                step = 1
            } else {
                step = min(block - zone - inBlock, vector.size - zone - offset)
            }
            hasher.update(bytes[offset..<offset + step])
            offset += step
        }
        #expect(hasher.finalize() == vector.hash)
        #expect(hasher.byteCount == Int64(vector.size))
    }

    @Test("update(raw:) and Data regions give the same hash")
    func rawAndRegions() {
        let vector = HashVector.all[3]
        let bytes = Array(VectorBytes.prefix(vector.size))
        var hasher = ContentHasher()
        bytes.withUnsafeBytes { raw in
            hasher.update(raw: UnsafeRawBufferPointer(rebasing: raw[0..<1_000_000]))
            hasher.update(raw: UnsafeRawBufferPointer(rebasing: raw[1_000_000..<1_000_000]))
            hasher.update(raw: UnsafeRawBufferPointer(rebasing: raw[1_000_000...]))
        }
        #expect(hasher.finalize() == vector.hash)
        // A DispatchData with several regions.
        var dispatchData = DispatchData.empty
        for start in stride(from: 0, to: bytes.count, by: 1_500_001) {
            bytes[start..<min(start + 1_500_001, bytes.count)].withUnsafeBytes { dispatchData.append($0) }
        }
        #expect(ContentHasher.hash(dispatchData) == vector.hash)
    }

    @Test("finalize() does not consume the hasher")
    func finalizeIsRepeatable() {
        var hasher = ContentHasher()
        hasher.update(VectorBytes.prefix(1))
        #expect(hasher.finalize() == HashVector.all[1].hash)
        #expect(hasher.finalize() == HashVector.all[1].hash)
        var empty = ContentHasher()
        #expect(empty.finalize() == HashVector.all[0].hash)
        empty.update(Data())
        #expect(empty.finalize() == HashVector.all[0].hash)
        #expect(empty.byteCount == 0)
    }

    @Test("One block has the 0x16 prefix, more blocks 0x96 (seed example lgYD…)")
    func prefixes() throws {
        for vector in HashVector.all {
            let raw = try #require(Base64URL.decode(vector.hash))
            #expect(raw.count == 21)
            #expect(raw.first == (vector.size <= ContentHasher.blockSize ? 0x16 : 0x96))
        }
        let seed = try #require(Base64URL.decode("lgYD1AjrK5Daxq-Dt0qemSPKdNbh"))
        #expect(seed.first == 0x96)
    }

    @Test("hash(fileAtPath:) on temp files", arguments: HashVector.all)
    func file(_ vector: HashVector) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wcs-hash-\(UUID().uuidString).bin")
        try Data(VectorBytes.prefix(vector.size)).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let (hash, size) = try ContentHasher.hash(fileAtPath: url.path)
        #expect(hash == vector.hash)
        #expect(size == Int64(vector.size))
    }

    @Test("hash(fileAtPath:) of a missing file throws")
    func missingFile() {
        #expect(throws: (any Error).self) {
            try ContentHasher.hash(fileAtPath: "/nonexistent/\(UUID().uuidString)")
        }
    }

    @Test("isWellFormed accepts 28 URL-safe base64 characters only")
    func wellFormed() {
        #expect(ContentHasher.isWellFormed("lgYD1AjrK5Daxq-Dt0qemSPKdNbh"))
        #expect(!ContentHasher.isWellFormed("lgYD1AjrK5Daxq-Dt0qemSPKdNb"))
        #expect(!ContentHasher.isWellFormed("lgYD1AjrK5Daxq-Dt0qemSPKdNbhh"))
        #expect(!ContentHasher.isWellFormed("lgYD1AjrK5Daxq+Dt0qemSPKdNbh"))
        #expect(!ContentHasher.isWellFormed("lgYD1AjrK5Daxq/Dt0qemSPKdNbh"))
        #expect(!ContentHasher.isWellFormed("lgYD1AjrK5Daxq Dt0qemSPKdNbh"))
        #expect(!ContentHasher.isWellFormed("../../etc/passwd/abcdefghijk"))
        #expect(!ContentHasher.isWellFormed(""))
    }
}
