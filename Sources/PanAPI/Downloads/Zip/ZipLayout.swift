import Foundation
import NIOCore

/// The byte layout of a zip archive Pan streams (APPNOTE 6.3.x), planned
/// from the entries alone before a byte is sent, so the reply carries an
/// exact `Content-Length` (browsers show progress and time left).
///
/// - **STORE, no compression**: deflating costs a core for ~50–100 MB/s — a
///   2-core server would be CPU-bound by two downloads — and most large files
///   (photos, video, archives, office documents) are compressed already. With
///   STORE every entry's size is its object's size: the layout is known up front.
/// - **Data descriptors** (flag bit 3): each file's CRC-32 is computed while its
///   bytes stream and written after them, so nothing is read twice and
///   nothing is buffered. (Java's `ZipInputStream` refuses STORED entries with
///   descriptors; `ZipFile`, Python, Info-ZIP, 7-Zip, bsdtar, Windows and
///   macOS read the central directory and open them.)
/// - **UTF-8 names** (flag bit 11) on every entry; directories are entries
///   (`name/`), so empty folders survive; an extended-timestamp field keeps
///   each node's modification time.
/// - **ZIP64** for an entry of 4 GiB or more, or one starting past 4 GiB
///   (its central record then holds sizes and offset in a ZIP64 field), and
///   the ZIP64 end records when the central directory starts past 4 GiB or
///   there are 65,535 entries or more.
struct ZipLayout: Sendable {
    struct Item: Sendable {
        /// UTF-8, `/`-separated; directories end in `/`.
        let name: [UInt8]
        let isDirectory: Bool
        let size: Int64
        /// Unix seconds.
        let modified: Int64
        /// Where the bytes come from (nil: none, an empty file or a directory).
        let objectKey: String?
    }

    struct Placed: Sendable {
        let item: Item
        /// Offset of its local header in the archive.
        let offset: Int64
        /// Sizes and offset go in a ZIP64 extra field (and the descriptor has 8-byte sizes).
        let zip64: Bool
    }

    let entries: [Placed]
    let centralOffset: Int64
    let centralSize: Int64
    let zip64End: Bool
    /// The whole archive's length.
    let size: Int64

    static let max32: Int64 = 0xFFFF_FFFF
    static let localHeaderSize = 30
    static let centralHeaderSize = 46
    /// Extended timestamp (0x5455) with the modification time only: local and central alike.
    static let timestampExtraSize = 9
    static let zip64ExtraSize = 28
    static let endSize: Int64 = 22
    static let zip64EndSize: Int64 = 56 + 20

    init(_ items: [Item]) {
        var placed: [Placed] = []
        placed.reserveCapacity(items.count)
        var offset: Int64 = 0
        var central: Int64 = 0
        for item in items {
            let zip64 = item.size >= Self.max32 || offset >= Self.max32
            placed.append(Placed(item: item, offset: offset, zip64: zip64))
            offset += Int64(Self.localHeaderSize + item.name.count + Self.timestampExtraSize) + item.size
                + Self.descriptorSize(item, zip64: zip64)
            central += Int64(Self.centralHeaderSize + item.name.count + Self.timestampExtraSize + (zip64 ? Self.zip64ExtraSize : 0))
        }
        entries = placed
        centralOffset = offset
        centralSize = central
        zip64End = items.count >= 0xFFFF || offset >= Self.max32 || central >= Self.max32
        size = offset + central + (zip64End ? Self.zip64EndSize : 0) + Self.endSize
    }

    static func descriptorSize(_ item: Item, zip64: Bool) -> Int64 {
        item.isDirectory ? 0 : zip64 ? 24 : 16
    }

    // MARK: Records

    /// General purpose flags: UTF-8 names; files also a data descriptor.
    static func flags(_ item: Item) -> UInt16 { item.isDirectory ? 0x0800 : 0x0808 }

    static func writeLocalHeader(_ entry: Placed, to out: inout ByteBuffer) {
        let item = entry.item
        let (time, date) = dosTimeAndDate(item.modified)
        out.writeInteger(UInt32(0x0403_4B50), endianness: .little)
        out.writeInteger(UInt16(entry.zip64 ? 45 : 20), endianness: .little)
        out.writeInteger(flags(item), endianness: .little)
        out.writeInteger(UInt16(0), endianness: .little)  // STORE
        out.writeInteger(time, endianness: .little)
        out.writeInteger(date, endianness: .little)
        // CRC and sizes follow the data (descriptor); directories have none.
        out.writeInteger(UInt32(0), endianness: .little)
        out.writeInteger(UInt32(0), endianness: .little)
        out.writeInteger(UInt32(0), endianness: .little)
        out.writeInteger(UInt16(item.name.count), endianness: .little)
        out.writeInteger(UInt16(timestampExtraSize), endianness: .little)
        out.writeBytes(item.name)
        writeTimestamp(item.modified, to: &out)
    }

    static func writeDescriptor(_ entry: Placed, crc: UInt32, to out: inout ByteBuffer) {
        guard !entry.item.isDirectory else { return }
        out.writeInteger(UInt32(0x0807_4B50), endianness: .little)
        out.writeInteger(crc, endianness: .little)
        if entry.zip64 {
            out.writeInteger(UInt64(entry.item.size), endianness: .little)
            out.writeInteger(UInt64(entry.item.size), endianness: .little)
        } else {
            out.writeInteger(UInt32(entry.item.size), endianness: .little)
            out.writeInteger(UInt32(entry.item.size), endianness: .little)
        }
    }

    static func writeCentralHeader(_ entry: Placed, crc: UInt32, to out: inout ByteBuffer) {
        let item = entry.item
        let (time, date) = dosTimeAndDate(item.modified)
        let size32 = entry.zip64 ? UInt32(max32) : UInt32(item.size)
        out.writeInteger(UInt32(0x0201_4B50), endianness: .little)
        out.writeInteger(UInt16(3 << 8 | 45), endianness: .little)  // made by: Unix, 4.5
        out.writeInteger(UInt16(entry.zip64 ? 45 : 20), endianness: .little)
        out.writeInteger(flags(item), endianness: .little)
        out.writeInteger(UInt16(0), endianness: .little)
        out.writeInteger(time, endianness: .little)
        out.writeInteger(date, endianness: .little)
        out.writeInteger(crc, endianness: .little)
        out.writeInteger(size32, endianness: .little)
        out.writeInteger(size32, endianness: .little)
        out.writeInteger(UInt16(item.name.count), endianness: .little)
        out.writeInteger(UInt16(timestampExtraSize + (entry.zip64 ? zip64ExtraSize : 0)), endianness: .little)
        out.writeInteger(UInt16(0), endianness: .little)  // comment
        out.writeInteger(UInt16(0), endianness: .little)  // disk
        out.writeInteger(UInt16(0), endianness: .little)  // internal attributes
        // Unix mode in the high half (drwxr-xr-x / -rw-r--r--), MS-DOS directory bit in the low.
        let attributes: UInt32 = item.isDirectory ? (0o040755 << 16) | 0x10 : 0o100644 << 16
        out.writeInteger(attributes, endianness: .little)
        out.writeInteger(entry.zip64 ? UInt32(max32) : UInt32(entry.offset), endianness: .little)
        out.writeBytes(item.name)
        if entry.zip64 {
            out.writeInteger(UInt16(0x0001), endianness: .little)
            out.writeInteger(UInt16(24), endianness: .little)
            out.writeInteger(UInt64(item.size), endianness: .little)
            out.writeInteger(UInt64(item.size), endianness: .little)
            out.writeInteger(UInt64(entry.offset), endianness: .little)
        }
        writeTimestamp(item.modified, to: &out)
    }

    func writeEnd(to out: inout ByteBuffer) {
        let count = Int64(entries.count)
        if zip64End {
            let recordOffset = centralOffset + centralSize
            out.writeInteger(UInt32(0x0606_4B50), endianness: .little)
            out.writeInteger(UInt64(44), endianness: .little)
            out.writeInteger(UInt16(3 << 8 | 45), endianness: .little)
            out.writeInteger(UInt16(45), endianness: .little)
            out.writeInteger(UInt32(0), endianness: .little)
            out.writeInteger(UInt32(0), endianness: .little)
            out.writeInteger(UInt64(count), endianness: .little)
            out.writeInteger(UInt64(count), endianness: .little)
            out.writeInteger(UInt64(centralSize), endianness: .little)
            out.writeInteger(UInt64(centralOffset), endianness: .little)
            // Locator.
            out.writeInteger(UInt32(0x0706_4B50), endianness: .little)
            out.writeInteger(UInt32(0), endianness: .little)
            out.writeInteger(UInt64(recordOffset), endianness: .little)
            out.writeInteger(UInt32(1), endianness: .little)
        }
        out.writeInteger(UInt32(0x0605_4B50), endianness: .little)
        out.writeInteger(UInt16(0), endianness: .little)
        out.writeInteger(UInt16(0), endianness: .little)
        out.writeInteger(UInt16(min(count, 0xFFFF)), endianness: .little)
        out.writeInteger(UInt16(min(count, 0xFFFF)), endianness: .little)
        out.writeInteger(UInt32(min(centralSize, Self.max32)), endianness: .little)
        out.writeInteger(UInt32(min(centralOffset, Self.max32)), endianness: .little)
        out.writeInteger(UInt16(0), endianness: .little)  // comment
    }

    private static func writeTimestamp(_ modified: Int64, to out: inout ByteBuffer) {
        out.writeInteger(UInt16(0x5455), endianness: .little)
        out.writeInteger(UInt16(5), endianness: .little)
        out.writeInteger(UInt8(1), endianness: .little)  // modification time present
        out.writeInteger(UInt32(clamping: max(0, modified)), endianness: .little)
    }

    /// MS-DOS time and date (UTC; 2-second steps; clamped to 1980–2107).
    /// Civil date from days by Howard Hinnant's algorithm: no `Calendar` per entry.
    static func dosTimeAndDate(_ unixSeconds: Int64) -> (UInt16, UInt16) {
        let seconds = min(max(unixSeconds, 315_532_800), 4_354_819_198)  // 1980-01-01 00:00:00 … 2107-12-31 23:59:58
        let (days, second) = (seconds / 86_400, seconds % 86_400)
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let time = UInt16((second / 3_600) << 11 | (second % 3_600 / 60) << 5 | (second % 60) / 2)
        let date = UInt16((year - 1980) << 9 | month << 5 | day)
        return (time, date)
    }
}
