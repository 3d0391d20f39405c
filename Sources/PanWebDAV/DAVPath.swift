import Foundation
import PanCore

/// The `/dav/` namespace: request paths to tree paths, tree paths to hrefs.
enum DAVPath {
    static let prefix = "/dav"

    /// The tree path a raw (still percent-encoded) request path names: each
    /// segment percent-decoded once and passed through `PanPath.name` (NFC, the
    /// same refusals as the API); `.` and `..` are refused, never resolved, so
    /// nothing escapes the user's tree. nil: not under `/dav`.
    static func treePath(fromRequestPath raw: String) throws(PanError) -> String? {
        guard raw == prefix || raw.hasPrefix(prefix + "/") else { return nil }
        let rest = raw.dropFirst(prefix.count)
        var names: [String] = []
        for segment in rest.split(separator: "/", omittingEmptySubsequences: true) {
            // Before any decoding: a 10,000-segment path costs one count, not 10,000 names.
            if names.count == PanPath.maximumDepth { throw .invalidPath("a path may not be deeper than \(PanPath.maximumDepth) levels") }
            guard let decoded = decode(segment) else {
                throw .invalidPath("a path segment is not valid percent-encoded UTF-8")
            }
            names.append(try PanPath.name(decoded))
        }
        let path = names.isEmpty ? PanPath.root : "/" + names.joined(separator: "/")
        try PanPath.requirePathLength(path.unicodeScalars.count)
        return path
    }

    /// Strict percent-decoding, once: `%` must be followed by two hex digits,
    /// and the bytes must be UTF-8.
    static func decode(_ segment: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segment.utf8.count)
        var iterator = segment.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The href of a tree path: `/dav` + each segment percent-encoded (only
    /// RFC 3986 unreserved characters kept), a collection ending in `/`.
    static func href(_ path: String, collection: Bool) -> String {
        let segments = PanPath.segments(of: path).map(encode)
        var href = prefix + "/" + segments.joined(separator: "/")
        if collection, !segments.isEmpty { href += "/" }
        return href
    }

    private static let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))

    static func encode(_ segment: String) -> String {
        var out = ""
        out.reserveCapacity(segment.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in segment.utf8 {
            if unreserved.contains(byte) {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(UnicodeScalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(UnicodeScalar(hex[Int(byte & 15)]))
            }
        }
        return out
    }
}
