import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PanCore
import TextSupport

/// A stored object's bytes as a response, shared by every face that serves
/// them: the local endpoint's `/dl/` and `/objects/` (PanLocalWCS), share
/// downloads and zip names (PanAPI). Moved out of `DownloadController`.
package enum ObjectResponse {
    /// The object file at `path`, whole (200) or one `Range` (206), streamed a
    /// chunk at a time; `HEAD` gets the headers alone.
    package static func serve(path: String, size: Int64, headers: HTTPFields, request: Request, eventLoop: any EventLoop) -> Response {
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
    package static func parseRange(_ header: String, size: Int64) -> (Int64, Int64)? {
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
    package static func isActive(_ mime: String) -> Bool { MimeType.isActive(mime) }

    package static func servedType(_ mime: String) -> String {
        if mime.isEmpty || isActive(mime) { return MimeType.fallback }
        // A value that is not a plain `type/subtype[; params]` (a control character, say) is not echoed.
        guard mime.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), mime.contains("/") else { return MimeType.fallback }
        return mime
    }

    /// An ASCII fallback plus RFC 5987's UTF-8 form, so every browser gets the real name.
    package static func disposition(_ name: String) -> String {
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 && $0.value != 0x7F ? Character($0) : "_" })
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(DownloadLinks.queryEscape(name))"
    }
}
