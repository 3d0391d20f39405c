import Foundation

/// URL-safe base64 (`-` and `_`), as every WCS format uses it.
public enum Base64URL {
    /// Encodes with `=` padding, as Wangsu's SDKs do.
    public static func encode<D: DataProtocol>(_ data: D) -> String {
        // Byte-wise swap of the two letters: cheaper than Foundation's string search.
        var bytes = Array(Data(data).base64EncodedString().utf8)
        for i in bytes.indices {
            if bytes[i] == UInt8(ascii: "+") { bytes[i] = UInt8(ascii: "-") } else if bytes[i] == UInt8(ascii: "/") { bytes[i] = UInt8(ascii: "_") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func encode(_ string: String) -> String { encode(Data(string.utf8)) }

    /// Decodes with or without padding, and also the standard alphabet.
    public static func decode(_ string: some StringProtocol) -> Data? {
        var bytes = Array(string.utf8)
        for i in bytes.indices {
            if bytes[i] == UInt8(ascii: "-") { bytes[i] = UInt8(ascii: "+") } else if bytes[i] == UInt8(ascii: "_") { bytes[i] = UInt8(ascii: "/") }
        }
        while bytes.last == UInt8(ascii: "=") { bytes.removeLast() }
        let remainder = bytes.count % 4
        if remainder == 1 { return nil }
        if remainder > 0 { bytes += Array(repeating: UInt8(ascii: "="), count: 4 - remainder) }
        let text = Data(bytes)
        return Data(base64Encoded: text)
    }
}
