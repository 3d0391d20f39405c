import Foundation
import SQLCommon

/// The bytes a name sorts by (`nodes.name_key`, migration 0015 / PostgreSQL
/// 0010): natural, case-insensitive order — `_under, apple, Banana, File1,
/// file2, file10, Zebra` — compared bytewise, so SQLite (BLOB, memcmp) and
/// PostgreSQL (bytea) order it identically, with indexes and without any
/// custom collation (which the stock `sqlite3` shell and `PRAGMA
/// integrity_check` could not load).
///
/// Made here and nowhere else: the name is put in compatibility form and
/// case-folded (NFKC, full case folding, NFKC again: `ＡＢＣ１２` is `abc12`,
/// `Straße` is `strasse`), then each run of decimal digits (of any script:
/// `٣` counts as 3) becomes `digitMark`, the length of the number without
/// its leading zeros, and its ASCII digits — so `2` < `10` < `010`'s equal
/// `10`. Text between digit runs is its UTF-8 (code point order).
///
/// Equal keys are possible (`File1`, `file1`, `file01`): listings break the
/// tie by the name's bytes, then the node id, so every order is total.
public struct NameSortKey: Sendable, Hashable, Comparable, DatabaseBindable {
    public let bytes: [UInt8]

    /// Marks a digit run. ASCII `0`, where digits sat in the name: a number
    /// keeps its place among punctuation and letters (after `-` and `.`,
    /// before `:` and `a`). Text runs never hold it (ASCII digits are all in
    /// runs, and UTF-8 continuation bytes are ≥ 0x80), so two keys compared
    /// byte by byte meet a run at the same offset, and then compare its
    /// length before its digits.
    static let digitMark: UInt8 = 0x30
    /// Lengths up to 254 are one byte; longer ones `0xFF` and four bytes,
    /// big-endian, which still orders every longer number after every shorter.
    static let longLength: UInt8 = 0xFF

    public init(_ name: String) {
        let folded = name.precomposedStringWithCompatibilityMapping
            .folding(options: .caseInsensitive, locale: nil)
            .precomposedStringWithCompatibilityMapping
        var bytes: [UInt8] = []
        bytes.reserveCapacity(folded.utf8.count + 4)
        var digits: [UInt8] = []
        func endDigitRun() {
            guard !digits.isEmpty else { return }
            // Leading zeros don't change the number; "0" and "000" are 0.
            let significant = digits.drop { $0 == 0x30 }
            let number = significant.isEmpty ? [0x30] : Array(significant)
            bytes.append(Self.digitMark)
            if number.count < Int(Self.longLength) {
                bytes.append(UInt8(number.count))
            } else {
                bytes.append(Self.longLength)
                let count = UInt32(clamping: number.count)
                bytes.append(contentsOf: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: count >> $0) })
            }
            bytes.append(contentsOf: number)
            digits.removeAll(keepingCapacity: true)
        }
        for scalar in folded.unicodeScalars {
            if let digit = Self.decimalDigit(scalar) {
                digits.append(0x30 + digit)
            } else {
                endDigitRun()
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        endDigitRun()
        self.bytes = bytes
    }

    /// 0…9 for a decimal digit of any script (`Nd`), nil for anything else
    /// (`²` and `①` are not: NFKC has already made them `2` and `1`).
    static func decimalDigit(_ scalar: Unicode.Scalar) -> UInt8? {
        if scalar.isASCII { return (0x30...0x39).contains(scalar.value) ? UInt8(scalar.value - 0x30) : nil }
        guard scalar.properties.numericType == .decimal, let value = scalar.properties.numericValue,
              value >= 0, value <= 9, value == value.rounded() else { return nil }
        return UInt8(value)
    }

    public static func < (lhs: NameSortKey, rhs: NameSortKey) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    public var data: Data { Data(bytes) }

    public var databaseValue: DatabaseValue { .blob(data) }

    /// Whether `stored` (a `name_key` as read) is the key of `name`.
    public static func matches(_ stored: DatabaseValue, name: String) -> Bool {
        // A NULL is a key not made yet (a node from before migration 0015).
        guard case .blob(let data) = stored else { return false }
        return data.elementsEqual(NameSortKey(name).bytes)
    }
}
