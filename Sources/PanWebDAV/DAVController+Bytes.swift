import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PanCore
import PanHTTPSupport
import WCS

/// What PUT shares between the two stores, and GET and PUT when the bytes
/// live in an external WCS (`PAN_UPLOAD_URL`).
extension DAVController {
    /// The type a PUT declares, when it is a real one; else the name's.
    static func mime(of request: Request, path: String) -> String {
        let declared = request.headers[.contentType].map { $0.split(separator: ";").first.map(String.init) ?? $0 }?
            .trimmingCharacters(in: .whitespaces)
        return declared.flatMap { $0.isEmpty || $0 == MimeType.fallback || !$0.contains("/") || $0.utf8.count > 100 ? nil : $0 }
            ?? MimeType.forName(PanPath.lastSegment(of: path))
    }

    /// A PUT's `If-Match` / `If-None-Match`.
    static func precondition(of request: Request) -> DAVPrecondition {
        DAVPrecondition(ifMatch: DAVPrecondition.tags(request.headers[.ifMatch]), ifNoneMatch: DAVPrecondition.tags(request.headers[.ifNoneMatch]))
    }

    /// The stored bytes of a PUT as the file at `path`, in one transaction that
    /// checks the PUT's preconditions and locks again.
    func record(
        _ request: Request, path: String, user: User, hash: String, size: Int64, key: String, lockGuard: DAVLockGuard
    ) async throws -> DAVPutOutcome {
        let object = DAVNewObject(
            hash: hash, size: size, mime: Self.mime(of: request, path: path), bucket: bucket, objectKey: key, precondition: Self.precondition(of: request)
        )
        return try await guarded(lockGuard, user: user) {
            try await store.davPut(userId: user.id, path: path, object: object, lockGuard: lockGuard)
        }
    }

    /// A PUT's reply: 201 for a new file, 204 for a replaced one, with the new ETag.
    static func stored(_ outcome: DAVPutOutcome) -> Response {
        var headers = HTTPFields()
        headers[.eTag] = DAVProperties.etag(of: outcome.node)
        headers[.contentLength] = "0"
        return Response(status: outcome.created ? .created : .noContent, headers: headers)
    }

    /// A file's bytes in the bucket: a 302 to a signed address that lasts
    /// `BucketAddress.lifetime` (rclone, davfs2 and curl -L follow it; so do
    /// Finder and Explorer). HEAD is answered here, from what Pan knows.
    func bucketResponse(_ request: Request, node: FileNode, object: StoreObject, headers: HTTPFields) throws -> Response {
        var headers = headers
        if request.method == .head {
            headers[.contentLength] = String(object.size)
            headers[.acceptRanges] = "bytes"
            return Response(status: .ok, headers: headers)
        }
        // Without a download domain Pan has no address of the bucket's bytes to give
        // (the API's download links have none either): a setting to add, said plainly.
        guard case .wcs(_, let bucketAddress?) = bytes else { throw PanError.downloadDomainNotSet }
        headers[.location] = bucketAddress.address(of: object.objectKey, name: node.name)
        headers[.cacheControl] = "no-store"
        headers[.contentLength] = "0"
        return Response(status: .found, headers: headers)
    }

    /// The body of a PUT uploaded to WCS by Pan, a block at a time (`WCSSliceUpload`),
    /// hashed and held to the quota on the way; WCS's hash must be Pan's, then the
    /// file is recorded in one transaction. Nothing is recorded when any step fails.
    func putToWCS(
        _ request: Request, path: String, user: User, room: Int64, lockGuard: DAVLockGuard, uploader: WCSUploader
    ) async throws -> Response {
        let key = "pan/" + RandomID.ordered32()
        var upload = uploader.begin(key: key, sizeLimit: room)
        var hasher = ContentHasher()
        for try await chunk in request.body {
            chunk.withUnsafeReadableBytes { hasher.update(raw: $0) }
            if hasher.byteCount > room { throw PanError.quotaExceeded }
            try await upload.append(chunk)
        }
        let hash = hasher.finalize()
        let stored = try await upload.finish()
        guard stored == hash else { throw PanError.wcsUploadFailed("WCS stored \(stored), Pan hashed \(hash)") }
        let outcome = try await record(request, path: path, user: user, hash: hash, size: hasher.byteCount, key: key, lockGuard: lockGuard)
        // Content already stored under another key (instant upload): the new copy is not
        // referenced, and Pan has no delete right on the bucket — WCS keeps it (README).
        return Self.stored(outcome)
    }
}

/// Where WebDAV's bytes are: Pan's local object store, or an external WCS that
/// Pan uploads to (`WCSUploader`) and whose objects it redirects GETs to
/// (`BucketAddress`; nil without `PAN_DOWNLOAD_DOMAIN`).
package enum DAVByteStore: Sendable {
    case local(LocalObjectStore)
    case wcs(WCSUploader, downloads: BucketAddress?)
}
