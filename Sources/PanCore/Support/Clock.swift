import Foundation

/// Unix milliseconds, the unit of every time in Pan's API and database.
public enum Millis {
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

public enum RandomID {
    /// 32 lowercase hex characters: node uuids, session ids, object keys.
    public static func hex32() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
