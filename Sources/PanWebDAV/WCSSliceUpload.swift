import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PanCore
import WCS

/// Pan as a client of WCS's slice upload (`wcs.md` §4), for the bytes of a
/// WebDAV PUT when the store is an external WCS (`PAN_UPLOAD_URL`).
///
/// The token is Pan's own, for one fixed key (`bucket:key`), never
/// overwriting, its size limit the room the user has, and without a callback:
/// Pan is the uploader here and learns the outcome from `mkfile`'s reply, so it
/// records the file itself (`PanStore.davPut`), in one transaction, as for the
/// local store.
package struct WCSUploader: Sendable {
    let uploadURL: String
    let bucket: String
    let credentials: Credentials
    let httpClient: HTTPClient
    /// Each request to WCS (a 4 MiB block at most).
    static let requestTimeout: TimeAmount = .seconds(60)
    /// How long Pan's own token lasts: the longest a PUT may take.
    static let tokenLifetimeMillis: Int64 = 6 * 3600 * 1000

    package init(uploadURL: String, bucket: String, credentials: Credentials, httpClient: HTTPClient) {
        var url = uploadURL
        while url.hasSuffix("/") { url.removeLast() }
        self.uploadURL = url
        self.bucket = bucket
        self.credentials = credentials
        self.httpClient = httpClient
    }

    /// A new upload of one object at `key`, of at most `sizeLimit` bytes.
    func begin(key: String, sizeLimit: Int64) -> WCSSliceUpload {
        let policy = PutPolicy(
            scope: bucket + ":" + key, deadline: Millis.now() + Self.tokenLifetimeMillis, overwrite: 0, fsizeLimit: max(1, sizeLimit)
        )
        return WCSSliceUpload(uploader: self, key: key, token: UploadToken.make(policy: policy, credentials: credentials))
    }
}

/// One object on its way to WCS. Bytes gather into a 4 MiB block, sent with
/// one `mkblk` as soon as it is full — so a PUT holds one block in memory
/// whatever its size — and `finish` names the blocks in order with `mkfile`.
/// An upload that never finishes leaves only blocks no `mkfile` named, which
/// WCS discards itself.
struct WCSSliceUpload {
    let uploader: WCSUploader
    let key: String
    let token: String
    private var block = ByteBuffer()
    private var contexts: [String] = []
    private(set) var size: Int64 = 0

    init(uploader: WCSUploader, key: String, token: String) {
        self.uploader = uploader
        self.key = key
        self.token = token
        block.reserveCapacity(ContentHasher.blockSize)
    }

    mutating func append(_ chunk: ByteBuffer) async throws {
        var chunk = chunk
        while chunk.readableBytes > 0 {
            var piece = chunk.readSlice(length: min(chunk.readableBytes, ContentHasher.blockSize - block.readableBytes))!
            size += Int64(piece.readableBytes)
            block.writeBuffer(&piece)
            if block.readableBytes == ContentHasher.blockSize { try await sendBlock() }
        }
    }

    /// Sends the last block and `mkfile`; WCS's content hash of what it stored.
    mutating func finish() async throws -> String {
        // A zero-byte file is one empty block (`mkblk/0/0`), as the SDKs send it.
        if block.readableBytes > 0 || contexts.isEmpty { try await sendBlock() }
        let reply = try await post(
            "/mkfile/\(size)/key/\(Base64URL.encode(key))", body: ByteBuffer(string: contexts.joined(separator: ",")), contentType: "text/plain"
        )
        guard let hash = reply["hash"] as? String, reply["key"] as? String == key else {
            throw PanError.wcsUploadFailed("mkfile's reply has no hash or another key")
        }
        return hash
    }

    private mutating func sendBlock() async throws {
        let length = block.readableBytes
        let reply = try await post("/mkblk/\(length)/\(contexts.count)", body: block, contentType: "application/octet-stream")
        // The block is whole when WCS says it holds all of it.
        guard let context = reply["ctx"] as? String, (reply["offset"] as? NSNumber)?.intValue == length else {
            throw PanError.wcsUploadFailed("mkblk's reply has no ctx or a short offset")
        }
        contexts.append(context)
        block.clear()
    }

    private func post(_ path: String, body: ByteBuffer, contentType: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: uploader.uploadURL + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "UpToken " + token)
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(body)
        let response: HTTPClientResponse
        do {
            response = try await uploader.httpClient.execute(request, timeout: WCSUploader.requestTimeout)
        } catch {
            throw PanError.wcsUploadFailed("\(path.split(separator: "/").first ?? "") could not reach \(uploader.uploadURL): \(error)")
        }
        let data = try await response.body.collect(upTo: 64 << 10)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: data))) as? [String: Any] ?? [:]
        guard response.status == .ok else {
            throw PanError.wcsUploadFailed("\(response.status.code) \(json["message"] as? String ?? "")")
        }
        return json
    }
}
