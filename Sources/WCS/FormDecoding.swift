/// `application/x-www-form-urlencoded` component decoding on bytes (Foundation's
/// `replacingOccurrences` + `removingPercentEncoding` bridge through NSString).
public enum FormDecoding {
    /// Percent-decodes `text`; with `plusAsSpace`, `+` is a space (form fields).
    /// `nil` when a `%` escape is malformed or the bytes are not UTF-8,
    /// as `removingPercentEncoding` answers.
    public static func decode(_ text: some StringProtocol, plusAsSpace: Bool) -> String? {
        decode(bytes: text.utf8, plusAsSpace: plusAsSpace)
    }

    public static func decode(bytes utf8: some Collection<UInt8>, plusAsSpace: Bool) -> String? {
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(validating: utf8, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+") where plusAsSpace:
                out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                out.append(high << 4 | low)
            default:
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
