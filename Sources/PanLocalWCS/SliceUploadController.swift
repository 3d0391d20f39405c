import WCS
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PanCore
import PanHTTPSupport
import TextSupport

/// WCS's slice upload (`wcs.md` §4) on Pan's own server: `mkblk`, `bput`,
/// `mkfile`. Blocks stream to disk under `storage/blocks`; a `ctx` names a
/// block and how much of it has arrived, so an interrupted upload resumes
/// from its last `ctx`.
package struct SliceUploadController {
    let store: LocalObjectStore
    let tokens: TokenCheck
    let completion: UploadCompletion
    let clientAddress: ClientAddress
    let storage: StorageFloor

    package init(store: LocalObjectStore, tokens: TokenCheck, completion: UploadCompletion, clientAddress: ClientAddress, storage: StorageFloor) {
        self.store = store
        self.tokens = tokens
        self.completion = completion
        self.clientAddress = clientAddress
        self.storage = storage
    }

    static let blockSize: Int64 = 4 * 1024 * 1024

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/mkblk/:blockSize/:blockOrder", use: mkblk)
        router.post("/bput/:ctx/:offset", use: bput)
        router.post("/mkfile/:fileSize", use: mkfile)
        router.post("/mkfile/:fileSize/**", use: mkfile)
    }

    struct ChunkReply: Encodable {
        let ctx: String
        let checksum: String
        let crc32: UInt32
        let offset: Int64
    }

    static func ctx(id: String, offset: Int64) -> String { "\(id)_\(offset)" }

    static func parseCtx(_ ctx: String) -> (id: String, offset: Int64)? {
        let parts = ctx.split(separator: "_")
        guard parts.count == 2, let offset = Int64(parts[1]), offset >= 0 else { return nil }
        return (String(parts[0]), offset)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    @Sendable func mkblk(_ request: Request, context: AppRequestContext) async throws -> Response {
        let verified = try tokens.verify(request.headers[.authorization])
        try storage.check()
        guard let blockSize = Int64(context.parameters.get("blockSize") ?? ""), (0...Self.blockSize).contains(blockSize),
              let order = Int64(context.parameters.get("blockOrder") ?? ""), order >= 0
        else { throw WCSError.invalidBlockSize }
        let limit = verified.policy.fsizeLimit
        // `order` comes from the URL: compare before multiplying, or a huge one overflows (a trap).
        // With one block per order (`beginBlock`), this bounds all of a token's blocks by its fsizeLimit.
        if limit > 0, order > limit / Self.blockSize || order * Self.blockSize + blockSize > limit { throw WCSError.tooLarge }
        let activity = try await completion.tokenUse.ensureOpen(verified)
        let info = LocalObjectStore.BlockInfo(owner: verified.owner, size: blockSize, deadline: verified.policy.deadline, order: order)
        let store = self.store
        let id = try await BlockingIO.run { try store.beginBlock(info, session: verified.sessionId) }
        return try await receive(request.body, id: id, info: info, from: 0, activity: activity)
    }

    @Sendable func bput(_ request: Request, context: AppRequestContext) async throws -> Response {
        let verified = try tokens.verify(request.headers[.authorization])
        try storage.check()
        guard let (id, ctxOffset) = Self.parseCtx(context.parameters.get("ctx") ?? ""),
              let info = store.readInfo(id: id, owner: verified.owner)
        else { throw WCSError.invalidCtx }
        guard let offset = Int64(context.parameters.get("offset") ?? ""), offset == ctxOffset else { throw WCSError.invalidOffset }
        let activity = try await completion.tokenUse.ensureOpen(verified)
        // A finished block takes no more bytes; a partial one must hold at least what its ctx says.
        if FileOps.size(of: store.blockPath(id, owner: info.owner)) != nil { throw WCSError.invalidCtx }
        guard let have = FileOps.size(of: store.partPath(id, owner: info.owner)), have >= offset, offset < info.size else { throw WCSError.invalidOffset }
        return try await receive(request.body, id: id, info: info, from: offset, activity: activity)
    }

    /// Appends the body to the block at `offset` (dropping any bytes past it from
    /// an interrupted chunk); publishes the block once complete. A block removed
    /// meanwhile — replaced by a newer `mkblk` of its order, or its upload
    /// ended — is not made again: the request is refused with `blockGone`.
    ///
    /// `activity`: the bytes keep the token's session from lapsing (a 4 MiB
    /// block at a crawl can take minutes).
    private func receive(
        _ body: RequestBody, id: String, info: LocalObjectStore.BlockInfo, from offset: Int64, activity: UploadActivity?
    ) async throws -> Response {
        do {
            return try await receiveChunk(body, id: id, info: info, from: offset, activity: activity)
        } catch let error as PanCore.IOError where error.code == ENOENT {
            throw WCSError.blockGone
        }
    }

    private func receiveChunk(
        _ body: RequestBody, id: String, info: LocalObjectStore.BlockInfo, from offset: Int64, activity: UploadActivity?
    ) async throws -> Response {
        var activity = activity
        let partPath = store.partPath(id, owner: info.owner), blockPath = store.blockPath(id, owner: info.owner)
        // The part exists from `beginBlock` on: one removed since stays removed.
        let ingest = ObjectIngest(sink: try FileSink(creating: partPath, truncateTo: offset, existing: true), hashing: false)
        var md5 = Insecure.MD5()
        var crc = CRC32()
        var received: Int64 = 0
        do {
            for try await buffer in body {
                received += Int64(buffer.readableBytes)
                guard offset + received <= info.size else {
                    // Keep the block as it was before this chunk, so the client can retry from its ctx.
                    await ingest.discard()
                    try? FileSink(creating: partPath, truncateTo: offset, existing: true).finish()
                    throw WCSError.chunkTooLarge
                }
                buffer.withUnsafeReadableBytes { bytes in
                    md5.update(bufferPointer: bytes)
                    crc.update(bytes)
                    ingest.append(bytes)
                }
                try await ingest.waitForRoom()
                await activity?.bytesArrived()
            }
            _ = try await ingest.finish()
        } catch {
            // No write of this request lands after it has answered.
            await ingest.discard()
            throw error
        }
        let total = offset + received
        if total == info.size {
            try await BlockingIO.run { try FileOps.publish(partPath, as: blockPath) }
        }
        let checksum = Hex.encode(md5.finalize())
        return try Self.json(ChunkReply(ctx: Self.ctx(id: id, offset: total), checksum: checksum, crc32: crc.value, offset: total))
    }

    struct FileReply: Encodable {
        let hash: String
        let key: String
        let response: String?
    }

    @Sendable func mkfile(_ request: Request, context: AppRequestContext) async throws -> Response {
        let verified = try tokens.verify(request.headers[.authorization])
        try storage.check()
        guard let fileSize = Int64(context.parameters.get("fileSize") ?? ""), fileSize >= 0 else {
            throw WCSError.sizeMismatch
        }
        let limit = verified.policy.fsizeLimit
        if limit > 0, fileSize > limit { throw WCSError.tooLarge }
        // `/key/<b64>/mimeType/<b64>/x:name/<b64>…` after the size.
        var requestedKey: String? = request.headers[.key].flatMap { Base64URL.decode($0) }.map { String(decoding: $0, as: UTF8.self) }
        var variables: [String: String] = [:]
        var mimeType: String?
        var fileName: String?
        let rest = context.parameters.getCatchAll().map(String.init)
        guard rest.count % 2 == 0 else { throw WCSError.badRequest("mkfile parameters come in name/value pairs") }
        for index in stride(from: 0, to: rest.count, by: 2) {
            let name = rest[index].removingPercentEncoding ?? rest[index]
            guard let decoded = Base64URL.decode(rest[index + 1]).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw WCSError.badRequest("mkfile parameter \(name) is not base64")
            }
            switch name {
            case "key": requestedKey = decoded
            case "mimeType": mimeType = decoded
            case "fname": fileName = decoded
            case _ where name.hasPrefix("x:"): variables[name] = decoded
            default: break
            }
        }
        // This request completes the token's upload: no other may meanwhile, nor after.
        let tokenUse = completion.tokenUse
        try await tokenUse.claim(verified)
        defer { tokenUse.release(verified) }
        var request = request
        let list = String(buffer: try await request.collectBody(upTo: 1 << 20)).trimmed()
        let ctxs = list.isEmpty ? [] : list.split(separator: ",").map { $0.trimmedSpaces() }
        guard !ctxs.isEmpty else { throw WCSError.invalidCtx }
        var ids: [String] = []
        var total: Int64 = 0
        for (index, ctx) in ctxs.enumerated() {
            guard let (id, offset) = Self.parseCtx(ctx), let info = store.readInfo(id: id, owner: verified.owner),
                  offset == info.size, FileOps.size(of: store.blockPath(id, owner: verified.owner)) == info.size
            else { throw WCSError.invalidCtx }
            // Every block but the last is exactly 4 MiB, or the content hash would differ from WCS's.
            if index < ctxs.count - 1, info.size != Self.blockSize { throw WCSError.sizeMismatch }
            ids.append(id)
            total += info.size
        }
        guard total == fileSize else { throw WCSError.sizeMismatch }

        let store = self.store
        let temporary = store.newTemporaryPath()
        let blockPaths = ids.map { store.blockPath($0, owner: verified.owner) }
        let hash: String
        do {
            hash = try await Self.concatenate(blockPaths, into: temporary)
        } catch let error as PanCore.IOError where error.code == ENOENT {
            // A block removed since it was checked (its token's blocks swept, say).
            FileOps.remove(temporary)
            throw WCSError.blockGone
        } catch {
            FileOps.remove(temporary)
            throw error
        }
        let values = completion.magicValues(.init(
            policy: verified.policy, key: "", hash: hash, size: total, fileName: fileName ?? "", mimeType: mimeType ?? "",
            uploaderIP: "", customVariables: variables
        ))
        let key = TokenCheck.objectKey(policy: verified.policy, requested: requestedKey, hash: hash, values: values)
        let published: LocalObjectStore.PublishedObject
        do {
            // Check and publish in one step, as the form upload does.
            let put = try await BlockingIO.run {
                try store.publishObject(temporary, key: key, replacing: verified.policy.overwrite != 0)
            }
            guard let put else { throw WCSError.fileExists }
            published = put
        } catch {
            FileOps.remove(temporary)
            throw error
        }
        // The token's upload is made: all its blocks go, the unused ones too.
        try await BlockingIO.run { store.removeTokenBlocks(owner: verified.owner) }
        let stored = UploadCompletion.Stored(
            policy: verified.policy, key: key, hash: hash, size: total, fileName: fileName ?? PanPath.lastSegment(of: key),
            mimeType: mimeType ?? MimeType.forName(fileName ?? ""), uploaderIP: clientAddress.ip(of: request, peer: context.remoteAddress) ?? "",
            customVariables: variables, published: published
        )
        switch await completion.complete(stored, logger: context.logger) {
        case .callback(_, let body):
            return try Self.json(FileReply(hash: hash, key: key, response: String(decoding: body, as: UTF8.self)))
        case .callbackFailed(let reason):
            throw WCSError.callbackFailed(reason)
        case .returnBody(let encoded):
            return try Self.json(FileReply(hash: hash, key: key, response: encoded))
        case .redirect(let location):
            return Response(status: .seeOther, headers: [.location: location])
        }
    }

    /// Joins the blocks into one file (fsynced), computing the content hash on
    /// the way: each block is read on the blocking pool and goes through
    /// `ObjectIngest`, so blocks are hashed on every core while the next is read.
    static func concatenate(_ blocks: [String], into destination: String) async throws -> String {
        let ingest = ObjectIngest(sink: try FileSink(creating: destination, truncateTo: 0))
        do {
            for path in blocks {
                let bytes = try await BlockingIO.run { try Self.readBlock(path) }
                bytes.withUnsafeBytes { ingest.append($0) }
                try await ingest.waitForRoom()
            }
            return try await ingest.finish().hash!
        } catch {
            await ingest.discard()
            throw error
        }
    }

    /// A whole block file (`mkfile` checked each is at most 4 MiB).
    private static func readBlock(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw IOError("open", path: path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw IOError("stat", path: path) }
        let size = Int(info.st_size)
        guard Int64(size) <= blockSize else { throw IOError("read", path: path, errno: EFBIG) }
        return try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            while count < size {
                let got = read(fd, buffer.baseAddress! + count, size - count)
                if got < 0 { if errno == EINTR { continue }; throw IOError("read", path: path) }
                if got == 0 { break }
                count += got
            }
        }
    }
}
