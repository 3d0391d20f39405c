import Hummingbird
import NIOCore
import PanCore

extension ObjectIngest {
    /// Stores a whole request body as a new file at `path` (written, hashed,
    /// fsynced: `ObjectIngest`), refusing it with `overLimit` as soon as more
    /// than `limit` bytes have come — a missing or false Content-Length does
    /// not get past it. A body that fails leaves no file behind.
    package static func store(_ body: RequestBody, creating path: String, limit: Int64, overLimit: some Error) async throws -> Stored {
        let ingest = ObjectIngest(sink: try FileSink(creating: path, truncateTo: 0))
        do {
            for try await chunk in body {
                guard ingest.byteCount + Int64(chunk.readableBytes) <= limit else { throw overLimit }
                chunk.withUnsafeReadableBytes { ingest.append($0) }
                try await ingest.waitForRoom()
            }
            return try await ingest.finish()
        } catch {
            await ingest.discard()
            FileOps.remove(path)
            throw error
        }
    }
}
