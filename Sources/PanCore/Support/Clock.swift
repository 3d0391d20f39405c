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

    /// 32 lowercase hex characters that sort by creation time: 48 bits of Unix
    /// milliseconds, then 80 random bits. Used for keys of B-tree indexes written
    /// on every upload (node uuids, session ids, object keys): new keys land on
    /// the index's last page instead of a random one, so a group commit writes
    /// that page once for the whole batch. Still unguessable: 80 bits per millisecond.
    public static func ordered32(now: Int64 = Millis.now()) -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next(), b = generator.next()
        let time = UInt64(max(0, now)) & 0xFFFF_FFFF_FFFF
        let timeBytes = (0..<6).map { UInt8(truncatingIfNeeded: time >> ((5 - $0) * 8)) }
        let randomBytes = (0..<8).map { UInt8(truncatingIfNeeded: a >> ($0 * 8)) } + (0..<2).map { UInt8(truncatingIfNeeded: b >> ($0 * 8)) }
        return Hex.encode(timeBytes + randomBytes)
    }
}
