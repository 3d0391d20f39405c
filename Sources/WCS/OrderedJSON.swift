/// A tiny JSON writer that keeps key order, because WCS tokens and the test
/// vectors sign the policy's exact bytes (Foundation's encoder reorders keys
/// and escapes `/`).
public enum OrderedJSON {
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
    }

    public static func object(_ pairs: [(String, Value)]) -> String {
        var out = "{"
        for (index, (key, value)) in pairs.enumerated() {
            if index > 0 { out += "," }
            out += quote(key) + ":"
            switch value {
            case .string(let s): out += quote(s)
            case .int(let i): out += String(i)
            }
        }
        return out + "}"
    }

    public static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
