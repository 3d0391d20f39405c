/// A tiny JSON writer that keeps key order, because WCS tokens and the test
/// vectors sign the policy's exact bytes (Foundation's encoder reorders keys
/// and escapes `/`).
public enum OrderedJSON {
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
    }

    public static func object(_ pairs: [(String, Value)]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(256)
        for (index, (key, value)) in pairs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            append(quoted: key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let s): append(quoted: s, to: &out)
            case .int(let i): appendDecimal(i, to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    public static func quote(_ string: String) -> String {
        var out: [UInt8] = []
        append(quoted: string, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// An integer's decimal digits, written straight into `out` (no String
    /// made and dropped for each number of a reply).
    public static func appendDecimal(_ value: some BinaryInteger, to out: inout [UInt8]) {
        guard let small = Int64(exactly: value) else {
            out.append(contentsOf: String(value).utf8)
            return
        }
        if small < 0 { out.append(UInt8(ascii: "-")) }
        // The magnitude as unsigned: Int64.min has no positive Int64.
        var magnitude = small.magnitude
        let start = out.count
        repeat {
            out.append(UInt8(truncatingIfNeeded: magnitude % 10) + UInt8(ascii: "0"))
            magnitude /= 10
        } while magnitude > 0
        out[start...].reverse()
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Byte-wise: only `"`, `\` and control characters are escaped; everything
    /// else, non-ASCII included, is copied as UTF-8 (as the vectors were signed).
    /// Also Pan's reply writer (`JSONWriter`): one JSON string escaper for both.
    public static func append(quoted string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let utf8 = string.utf8
        // Most names, paths, ids and policy values need no escaping: copied
        // whole. A native string's bytes are scanned in place (the closure
        // scan over the UTF-8 view was ~4% of a page reply, issue #18).
        let copied = utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        if copied == nil, !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
