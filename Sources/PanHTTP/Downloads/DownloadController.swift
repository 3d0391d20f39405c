import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PanCore
import TextSupport

/// `GET /dl/<key>?e&n&m&s`: serves a stored object of the local endpoint with
/// its type, length, a UTF-8 `Content-Disposition`, and single `Range`s (206).
/// Previews' links (`/v1/preview/*`) are variants, signed as such:
/// `&i=1` serves the file inline (`InlineKinds`: safe kinds only), `&t=<size>&h=<hash>`
/// an image rendition of it (`Thumbnails`).
struct DownloadController {
    let store: LocalObjectStore
    let links: DownloadLinks
    let panStore: any PanStore
    let thumbnails: Thumbnails?

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/dl/:key", use: download)
        router.head("/dl/:key", use: download)
    }

    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let verdict = links.verify(
            encodedKey: context.parameters.get("key") ?? "", expires: query.get("e"), node: query.get("u"), name: query.get("n"),
            mime: query.get("m"), signature: query.get("s"), inline: query.get("i"), thumbnail: query.get("t"), hash: query.get("h")
        )
        let link: DownloadLinks.Link
        switch verdict {
        case .success(let valid): link = valid
        case .failure(.expired): throw PanError(status: 410, code: "LINK_EXPIRED", "the download link has expired")
        case .failure: throw PanError(status: 403, code: "LINK_INVALID", "the download link is not valid")
        }
        // A signature proves Pan made the link, not that the file is still there: a
        // link outlived a permanent delete for hours (its object waits for `pan
        // store gc`). The node must still exist (live or in the bin) and hold
        // this object, which must still be referenced.
        let (objectKey, node) = (link.objectKey, link.node)
        let current = try await panStore.nodeHoldsObject(nodeUUID: node, objectKey: objectKey)
        guard current else { throw PanError.fileNotFound }
        let path = store.objectPath(forKey: link.objectKey)
        guard let size = FileOps.size(of: path) else { throw PanError.fileNotFound }

        switch link.variant {
        case .download: break
        case .inline:
            guard let type = InlineKinds.type(name: link.name, mime: link.mime) else { throw InlineKinds.notAllowed }
            var headers = InlineKinds.headers(type: type, name: link.name)
            headers[.cacheControl] = "private, max-age=3600"
            return Self.serve(path: path, size: size, headers: headers, request: request, eventLoop: context.eventLoop)
        case .thumbnail(let side, let hash):
            guard PreviewKind.of(name: link.name, mime: link.mime) == .image, let thumbnails else { throw InlineKinds.notAllowed }
            let rendition: String
            do { rendition = try await thumbnails.rendition(source: path, hash: hash, size: side) } catch let failure as Thumbnails.Failure {
                throw Thumbnails.error(failure)
            }
            guard let renditionSize = FileOps.size(of: rendition) else { throw PanError.fileNotFound }
            var headers = InlineKinds.headers(type: "image/webp", name: link.name)
            // The same bytes for every link to this content.
            headers[.cacheControl] = "private, max-age=86400"
            return Self.serve(path: rendition, size: renditionSize, headers: headers, request: request, eventLoop: context.eventLoop)
        }
        let headers: HTTPFields = [
            .contentType: Self.servedType(link.mime),
            .contentDisposition: Self.disposition(link.name),
            // The uploader chose the stored type. Never let a browser sniff or
            // run it as a page of this origin, whatever it claims to be.
            .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: "default-src 'none'; sandbox",
        ]
        return Self.serve(path: path, size: size, headers: headers, request: request, eventLoop: context.eventLoop)
    }

    /// The object file at `path`, whole (200) or one `Range` (206), streamed a
    /// chunk at a time; `HEAD` gets the headers alone.
    static func serve(path: String, size: Int64, headers: HTTPFields, request: Request, eventLoop: any EventLoop) -> Response {
        var headers = headers
        headers[.acceptRanges] = "bytes"
        var start: Int64 = 0
        var length = size
        var status = HTTPResponse.Status.ok
        if let range = request.headers[.range] {
            guard let (first, last) = Self.parseRange(range, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            start = first
            length = last - first + 1
            status = .partialContent
            headers[.contentRange] = "bytes \(first)-\(last)/\(size)"
        }
        headers[.contentLength] = String(length)
        if request.method == .head { return Response(status: status, headers: headers) }
        let (first, end) = (start, start + length)
        let body = ResponseBody(contentLength: Int(length)) { writer in
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw IOError("open", path: path) }
            defer { close(fd) }
            var offset = first
            while offset < end {
                let want = Int(min(Int64(256 * 1024), end - offset))
                let at = offset
                // pread on the blocking pool, one chunk at a time: memory stays one chunk.
                let chunk: ByteBuffer = try await BlockingIO.run {
                    var buffer = ByteBufferAllocator().buffer(capacity: want)
                    let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                        let n = pread(fd, raw.baseAddress, want, off_t(at))
                        if n < 0 { throw IOError("read", path: path) }
                        return n
                    }
                    if count == 0 { throw IOError("short read", path: path, errno: EIO) }
                    return buffer
                }
                offset += Int64(chunk.readableBytes)
                try await writer.write(chunk, pacedBy: eventLoop)
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range); nil when unsatisfiable.
    static func parseRange(_ header: String, size: Int64) -> (Int64, Int64)? {
        let value = header.trimmedSpaces()
        guard value.lowercased().hasPrefix("bytes="), size > 0 else { return nil }
        let spec = value.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let left = spec[..<dash].trimmedSpaces()
        let right = spec[spec.index(after: dash)...].trimmedSpaces()
        if left.isEmpty {
            guard let suffix = Int64(right), suffix > 0 else { return nil }
            return (max(0, size - suffix), size - 1)
        }
        guard let first = Int64(left), first < size else { return nil }
        if right.isEmpty { return (first, size - 1) }
        guard let last = Int64(right), last >= first else { return nil }
        return (first, min(last, size - 1))
    }

    /// Types a browser would render or run as part of Pan's origin (script,
    /// markup, anything XML, which can carry script); they are served as
    /// `application/octet-stream`. The link keeps the recorded type for clients.
    static func isActive(_ mime: String) -> Bool { MimeType.isActive(mime) }

    static func servedType(_ mime: String) -> String {
        if mime.isEmpty || isActive(mime) { return MimeType.fallback }
        // A value that is not a plain `type/subtype[; params]` (a control character, say) is not echoed.
        guard mime.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), mime.contains("/") else { return MimeType.fallback }
        return mime
    }

    /// An ASCII fallback plus RFC 5987's UTF-8 form, so every browser gets the real name.
    static func disposition(_ name: String) -> String {
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 && $0.value != 0x7F ? Character($0) : "_" })
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(DownloadLinks.queryEscape(name))"
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
