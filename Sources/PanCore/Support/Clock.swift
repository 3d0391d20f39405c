import Foundation
import WCS

/// Unix milliseconds, the unit of every time in Pan's API and database.
public enum Millis {
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

public enum RandomID {
    /// 32 lowercase hex characters: node uuids, session ids, object keys.
    public static func hex32() -> String {
        // Two 64-bit draws: one getrandom each, not one per byte.
        var generator = SystemRandomNumberGenerator()
        let a = generator.next(), b = generator.next()
        return Hex.encode((0..<8).map { UInt8(truncatingIfNeeded: a >> ($0 * 8)) } + (0..<8).map { UInt8(truncatingIfNeeded: b >> ($0 * 8)) })
    }
}
