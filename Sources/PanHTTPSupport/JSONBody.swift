import WCS
import Foundation
import Hummingbird
import NIOCore
import PanCore
import TextSupport

/// A request's fields, read leniently as the real clients need (`api.md` §1):
/// an empty body or `""` is `{}`, flags arrive as `true`/`1`/`"yes"`/`"flase"`,
/// numbers as strings. Types that can't mean the field (an object where a
/// name goes) are a 400 with `INVALID_FIELD`.
package struct JSONBody {
    private(set) var fields: [String: Any]

    package init(fields: [String: Any]) { self.fields = fields }

    package static func read(_ request: inout Request, context: some RequestContext) async throws -> JSONBody {
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        let data = Data(buffer: buffer)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        // curl and some clients label JSON as a form: the bytes decide.
        let firstByte = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if contentType.hasPrefix("application/x-www-form-urlencoded"), firstByte != UInt8(ascii: "{"), firstByte != UInt8(ascii: "\"") {
            return JSONBody(fields: FormFields.parse(data))
        }
        return try parse(data)
    }

    package static func parse(_ data: Data) throws(PanError) -> JSONBody {
        // JSON whitespace only: anything else is the parser's to judge.
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
        guard let first = data.firstIndex(where: { !isSpace($0) }), let last = data.lastIndex(where: { !isSpace($0) }) else {
            return JSONBody(fields: [:])
        }
        let trimmed = data[first...last]
        if trimmed.elementsEqual(#""""#.utf8) || trimmed.elementsEqual("null".utf8) { return JSONBody(fields: [:]) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: trimmed, options: [.fragmentsAllowed])
        } catch {
            throw .invalidJSON("the body is not valid JSON")
        }
        if let string = object as? String, string.isEmpty { return JSONBody(fields: [:]) }
        guard let dictionary = object as? [String: Any] else { throw .invalidJSON("the body must be a JSON object") }
        return JSONBody(fields: dictionary)
    }

    private func first(_ keys: [String]) -> (String, Any)? {
        for key in keys {
            if let value = fields[key], !(value is NSNull) { return (key, value) }
        }
        return nil
    }

    package func has(_ key: String) -> Bool { fields[key] != nil && !(fields[key] is NSNull) }

    /// Whether the field is a JSON array (restore: many at once, rather than one).
    package func isArray(_ key: String) -> Bool { fields[key] is [Any] }

    /// A nested object's fields (`proof: {nonce, answer}`), read by the same rules.
    package func object(_ key: String) throws(PanError) -> JSONBody? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        guard let dictionary = value as? [String: Any] else { throw .invalidField(key, "expected an object") }
        return JSONBody(fields: dictionary)
    }

    /// A string field (numbers are taken as their text).
    package func string(_ keys: String...) throws(PanError) -> String? {
        guard let (key, value) = first(keys) else { return nil }
        switch value {
        case let s as String: return s
        case let n as NSNumber where !Self.isBool(n): return n.stringValue
        default: throw .invalidField(key, "expected a string")
        }
    }

    /// A flag: true/1/"1"/"true"/"yes"/"on" or false/0/"0"/"false"/"no"/"off"/""
    /// (and the string "flase" one client sends for false).
    package func flag(_ keys: String...) throws(PanError) -> Bool? {
        guard let (key, value) = first(keys) else { return nil }
        switch value {
        case let n as NSNumber: return n.intValue != 0
        case let s as String:
            switch s.trimmedSpaces().lowercased() {
            case "1", "true", "yes", "on", "y": return true
            case "0", "false", "no", "off", "n", "", "flase", "null": return false
            default: throw .invalidField(key, "expected a flag")
            }
        default: throw .invalidField(key, "expected a flag")
        }
    }

    /// What to do with a taken name, the same for every endpoint: `conflict`
    /// (`fail`, `overwrite`, `rename`, `skip`), else any of the clients' flags
    /// `overwrite`/`override`/`rewrite` set → overwrite, else fail.
    package func conflictPolicy() throws(PanError) -> ConflictPolicy {
        if let conflict = try string("conflict"), !conflict.isEmpty {
            guard let policy = ConflictPolicy(rawValue: conflict.lowercased()) else {
                throw .invalidField("conflict", "must be fail, overwrite, rename or skip")
            }
            return policy
        }
        return try flag("overwrite", "override", "rewrite") == true ? .overwrite : .fail
    }

    package func int(_ keys: String...) throws(PanError) -> Int64? {
        guard let (key, value) = first(keys) else { return nil }
        switch value {
        case let n as NSNumber where !Self.isBool(n):
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 9.0e15 else { throw .invalidField(key, "expected an integer") }
            return n.int64Value
        case let s as String:
            let t = s.trimmedSpaces()
            if t.isEmpty { return nil }
            guard let v = Int64(t) else { throw .invalidField(key, "expected an integer") }
            return v
        default: throw .invalidField(key, "expected an integer")
        }
    }

    /// A string or an array of strings (`remove`, `move`, `copy`).
    package func strings(_ keys: String...) throws(PanError) -> [String]? {
        guard let (key, value) = first(keys) else { return nil }
        switch value {
        case let s as String: return [s]
        case let a as [Any]:
            var out: [String] = []
            for item in a {
                guard let s = item as? String else { throw .invalidField(key, "expected strings") }
                out.append(s)
            }
            return out
        default: throw .invalidField(key, "expected a string or an array of strings")
        }
    }

    private static func isBool(_ n: NSNumber) -> Bool {
        #if canImport(Darwin)
        return CFGetTypeID(n) == CFBooleanGetTypeID()
        #else
        // JSON booleans come back as char-typed numbers; JSON integers never do.
        return String(cString: n.objCType) == "c"
        #endif
    }
}

/// `application/x-www-form-urlencoded` fields (`+` is a space).
package enum FormFields {
    package static func parse(_ data: Data) -> [String: Any] {
        var fields: [String: Any] = [:]
        for pair in String(decoding: data, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = decode(parts[0])
            guard !key.isEmpty else { continue }
            fields[key] = parts.count == 2 ? decode(parts[1]) : ""
        }
        return fields
    }

    package static func decode(_ text: Substring) -> String {
        FormDecoding.decode(text, plusAsSpace: true) ?? text.replacingOccurrences(of: "+", with: " ")
    }
}
