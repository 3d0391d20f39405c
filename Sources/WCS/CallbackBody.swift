import Foundation

/// The callback body in the seed's format (`wcs.md` §2–3): `k=v&…`, with
/// `url` and `fileName` wrapped in markers because they may contain `&` and `=`.
public struct CallbackBody: Sendable, Equatable {
    public static let urlStart = "@qzyurlstart", urlEnd = "@qzyurlend"
    public static let fileStart = "@qzyfilestart", fileEnd = "@qzyfileend"

    /// Every field, as text (markers removed, `url` decoded).
    public var fields: [String: String]

    public var size: Int64? { fields["size"].flatMap { Int64($0) } }
    public var hash: String? { fields["hash"] }
    public var key: String? { fields["key"] }
    public var mimeType: String? { fields["mimeType"] }
    public var ip: String? { fields["ip"] }
    public var avinfo: String? { fields["avinfo"] }
    public var bucket: String? { fields["bucket"] }
    public var url: String? { fields["url"] }
    public var userId: Int64? { fields["userId"].flatMap { Int64($0) } }
    public var fileName: String? { fields["fileName"] }
    public subscript(_ name: String) -> String? { fields[name] }

    public enum ParseError: Error, Equatable, Sendable {
        case empty
        case unterminatedMarker(String)
        case notUTF8
        /// A field appears twice: a substituted value carried `&name=…` into
        /// the body (WCS does not escape values), so no occurrence can be trusted.
        case repeatedField(String)
    }

    /// Parses what arrives on the wire: a form with one `callbackBody` field
    /// (percent-encoded, trailing newline), or, tolerated, the bare template.
    public static func parse(wire body: Data) throws(ParseError) -> CallbackBody {
        guard let text = String(validating: body, as: UTF8.self) else { throw .notUTF8 }
        return try parse(template: unwrap(text))
    }

    /// The substituted template out of the form field, or the whole body decoded.
    /// On bytes: Character-wise scanning of every callback body showed in profiles.
    static func unwrap(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let prefix = Array("callbackBody=".utf8)
        var inner: [UInt8]
        // The `callbackBody` field wherever it is in the form (first, or after other fields).
        let fieldStart: Int? = bytes.starts(with: prefix) ? 0 : {
            let needle = [UInt8(ascii: "&")] + prefix
            guard bytes.count >= needle.count else { return nil }
            for i in 0...(bytes.count - needle.count) where bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                return i + 1
            }
            return nil
        }()
        if let fieldStart {
            var value = bytes[(fieldStart + prefix.count)...]
            // A form field ends at an unencoded `&`; the field itself encodes its own.
            if let amp = value.firstIndex(of: UInt8(ascii: "&")) { value = value[..<amp] }
            inner = FormDecoding.decode(bytes: value, plusAsSpace: true).map { Array($0.utf8) } ?? Array(value)
        } else {
            inner = FormDecoding.decode(bytes: bytes, plusAsSpace: false).map { Array($0.utf8) } ?? bytes
        }
        while let last = inner.last, last == 0x0A || last == 0x0D { inner.removeLast() }
        return String(decoding: inner, as: UTF8.self)
    }

    /// Parses the substituted template: markers first, then `&` and the first `=`.
    public static func parse(template: String) throws(ParseError) -> CallbackBody {
        var rest = template
        guard !rest.isEmpty else { throw .empty }
        var fields: [String: String] = [:]
        // A marker-wrapped value leaves its `name=` behind, empty: that one
        // occurrence belongs to the marker, any other repeats the field.
        var markerNames: Set<String> = []
        if let name = try cutMarked(&rest, start: fileStart, end: fileEnd) {
            fields["fileName"] = name
            markerNames.insert("fileName")
        }
        if let url = try cutMarked(&rest, start: urlStart, end: urlEnd) {
            fields["url"] = decodeURL(url)
            markerNames.insert("url")
        }
        for pair in rest.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(decoding: parts[0], as: UTF8.self)
            guard !key.isEmpty else { continue }
            let value = parts.count == 2 ? String(decoding: parts[1], as: UTF8.self) : ""
            if fields[key] != nil {
                guard value.isEmpty, markerNames.remove(key) != nil else { throw .repeatedField(key) }
                continue
            }
            fields[key] = key == "url" ? decodeURL(value) : value
        }
        return CallbackBody(fields: fields)
    }

    /// Removes `start…end` (up to the last `end`) from `text` and returns what
    /// was between, verbatim. The key before it (`fileName=`) stays, empty.
    private static func cutMarked(_ text: inout String, start: String, end: String) throws(ParseError) -> String? {
        // On UTF-8 bytes: the markers are ASCII, so a match always falls on scalar boundaries,
        // and Foundation's `range(of:)` bridged every callback through NSString.
        let bytes = Array(text.utf8)
        let startMarker = Array(start.utf8), endMarker = Array(end.utf8)
        guard let open = firstIndex(of: startMarker, in: bytes) else {
            if firstIndex(of: endMarker, in: bytes) != nil { throw .unterminatedMarker(end) }
            return nil
        }
        let valueStart = open + startMarker.count
        guard let close = lastIndex(of: endMarker, in: bytes, notBefore: valueStart) else {
            throw .unterminatedMarker(start)
        }
        let value = String(decoding: bytes[valueStart..<close], as: UTF8.self)
        text = String(decoding: bytes[..<open] + bytes[(close + endMarker.count)...], as: UTF8.self)
        return value
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    private static func lastIndex(of needle: [UInt8], in haystack: [UInt8], notBefore lower: Int) -> Int? {
        guard !needle.isEmpty, haystack.count - lower >= needle.count else { return nil }
        for i in stride(from: haystack.count - needle.count, through: lower, by: -1) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    /// The original server base64-decoded `url`; WCS sends it URL-safe base64.
    static func decodeURL(_ value: String) -> String {
        if value.contains("://") || value.isEmpty { return value }
        if let data = Base64URL.decode(value), let decoded = String(data: data, encoding: .utf8),
           decoded.contains("://") {
            return decoded
        }
        return value
    }
}

/// The magic variables WCS substitutes in `callbackBody`, `returnBody` and `saveKey`.
public enum MagicVariables {
    /// Replaces `$(name)` by `values[name]`; unknown variables become empty,
    /// as WCS does for variables it has no value for.
    public static func substitute(_ template: String, values: [String: String]) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "$(") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: ")") else {
                out += rest[open.lowerBound...]
                return out
            }
            let name = String(rest[open.upperBound..<close])
            out += values[name] ?? ""
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }

    /// The form body WCS posts: one field, the substituted template
    /// percent-encoded, with the trailing newline WCS adds.
    public static func wireBody(for substituted: String) -> Data {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = (substituted + "\n").addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return Data(("callbackBody=" + encoded).utf8)
    }
}
