import Crypto
import Foundation
import TextSupport
import WCS

/// Path and name rules of the file tree (`api.md` §4).
public enum PanPath {
    /// Root folders Pan keeps out of listings. The desktop app uploads the
    /// torrents of its offline downloads to `:torrent/<name>.torrent` (the
    /// original server answered with `parent: ":torrent"`): they are the app's
    /// working files, not the user's, so `/:torrent` exists and is reachable
    /// by path but is not listed in the root (docs/clients.md).
    public static let systemFolders = [":torrent"]

    public static let root = "/"

    /// Trim, `\` → `/`, drop empty segments, prefix `/`; nothing left is `/`.
    public static func normalize(_ raw: String) -> String {
        let segments = segments(of: raw)
        return segments.isEmpty ? root : "/" + segments.joined(separator: "/")
    }

    /// Splits on the Unicode scalars `/` and `\` (Windows clients send `\`),
    /// never on Swift `Character`s: `/` followed by a combining mark (U+0301)
    /// is one Character, so a Character split once left a `/` inside a name
    /// (`{path:"/a", name:"\u{301}x"}` made `a/́x` in the root, issue #24 §2.8).
    public static func segments(of raw: String) -> [String] {
        raw.trimmed().unicodeScalars
            .split(omittingEmptySubsequences: true) { $0 == "/" || $0 == "\\" }
            .map { String($0) }
    }

    /// The deepest path a client may name. It was 64 while each level of a new
    /// chain took 1/32 of its parent's interval, which made an N-deep chain cost
    /// O(N²) re-spreads (1,000 levels held the writer ~17 s). A directory's first
    /// subdirectory now takes nearly all of its free space (`IntervalAllocator`),
    /// so depth costs nothing; 1,000 levels of short names is what
    /// `maximumPathLength` leaves room for anyway.
    /// It bounds the depth of every node, not only of the path in a request:
    /// `parent` + `path`, `move` and `copy` are checked on the depth they produce.
    public static let maximumDepth = 1000

    /// The longest path a node may have, in Unicode scalars (what SQL's LENGTH
    /// counts); Linux's PATH_MAX. Every node stores its whole path, so without a
    /// bound a deep chain of 255-byte names would store O(depth²) bytes from a
    /// few requests. Checked on every node made (`TreeRepository.insert`) and on
    /// the subtrees that rename, move and copy give new paths
    /// (`TreeMutations.requirePathLength`).
    public static let maximumPathLength = 4096

    /// A path a request names, normalized, with every segment passed through
    /// `name(_:)`: what comes back is the canonical (NFC) path nodes are stored
    /// and looked up under.
    public static func validated(_ raw: String) throws(PanError) -> String {
        let segments = segments(of: raw)
        if segments.count > maximumDepth { throw .invalidPath("a path may not be deeper than \(maximumDepth) levels") }
        var canonical: [String] = []
        canonical.reserveCapacity(segments.count)
        for segment in segments { canonical.append(try name(segment)) }
        let path = canonical.isEmpty ? root : "/" + canonical.joined(separator: "/")
        try requirePathLength(path.unicodeScalars.count)
        return path
    }

    /// THE name rule: every name that becomes a node — token `name`/`path`/
    /// `originalFilename`, createDirectory, rename, move/copy targets, restore,
    /// `pan file mkdir` — passes here, and what is stored is what this returns.
    ///
    /// - NFC: the NFC and NFD spellings of "café" are one name. SQLite compares
    ///   bytes (and `pathId` hashes them), so without this two visually equal
    ///   names coexist and one of them cannot be typed back.
    /// - No `/` and no `\`: in a path both separate segments (Windows clients
    ///   send `\`), so a name holding either could never be reached by path again.
    /// - No control characters (C0, DEL, C1): they rewrite an admin's terminal
    ///   (`pan file ls`), split log lines, and a `\n` once let a download link be
    ///   re-split (issue #14, items 8 and 9).
    /// - No bidi embedding/override/isolate controls (U+202A–U+202E,
    ///   U+2066–U+2069): `evil\u{202E}gpj.exe` displays as `evilexe.jpg`.
    /// - No other format characters (general category Cf: U+200B zero width
    ///   space, U+200D joiner, U+2060, U+FEFF, U+00AD…): invisible, they make
    ///   `rep\u{200B}ort` look like `report` beside it.
    /// - No edge that fuses with the separator around it: a leading combining
    ///   mark (U+0301) or a trailing prepended mark would make one grapheme of
    ///   the `/` and the name, so clients that split paths by grapheme
    ///   (Swift's `Character`) would see a `/` inside the name.
    /// - Not empty, `.` or `..`; at most 255 bytes of UTF-8 (after NFC).
    public static func name(_ raw: String) throws(PanError) -> String {
        // ASCII is already NFC: Foundation's normalization is skipped for it (it
        // cost ~1 µs a segment, the bulk of validating a 1,000-level path).
        let ascii = raw.utf8.allSatisfy { $0 < 0x80 }
        let name = ascii ? raw : raw.precomposedStringWithCanonicalMapping
        if name.isEmpty { throw .invalidName("a name may not be empty") }
        if name == "." || name == ".." { throw .invalidName("a name may not be . or ..") }
        for scalar in name.unicodeScalars {
            switch scalar.value {
            case 0x2F: throw .invalidName("a name may not contain /")
            case 0x5C: throw .invalidName("a name may not contain \\ (it separates path segments)")
            case 0x00...0x1F, 0x7F...0x9F:
                throw .invalidName("a name may not contain control characters (U+\(hex4(scalar.value)))")
            case 0x202A...0x202E, 0x2066...0x2069:
                throw .invalidName("a name may not contain bidirectional formatting characters (U+\(hex4(scalar.value)))")
            case 0x20...0x7E: continue
            default:
                if scalar.properties.generalCategory == .format {
                    throw .invalidName("a name may not contain invisible format characters (U+\(hex4(scalar.value)))")
                }
            }
        }
        // ASCII never joins a neighbour into one grapheme (CR LF is refused above).
        if !ascii {
            let framed = "/" + name + "/"
            if framed.first != "/" || framed.last != "/" {
                throw .invalidName("a name may not begin or end with a character that joins the / beside it (a combining mark)")
            }
        }
        if name.utf8.count > 255 { throw .invalidName("a name may not exceed 255 bytes of UTF-8") }
        return name
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Refuses a node whose path would be longer than `maximumPathLength`.
    public static func requirePathLength(_ length: Int) throws(PanError) {
        if length > maximumPathLength { throw .invalidPath("a path may not be longer than \(maximumPathLength) characters") }
    }

    /// Refuses a node that would sit deeper than `maximumDepth`.
    public static func requireDepth(_ depth: Int) throws(PanError) {
        if depth > maximumDepth { throw .invalidPath("a path may not be deeper than \(maximumDepth) levels") }
    }

    /// The depth of a normalized path: `/` is 0, `/a` is 1.
    public static func depth(of path: String) -> Int {
        path == root ? 0 : path.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) }
    }

    public static func join(_ directory: String, _ name: String) -> String {
        directory == root ? "/" + name : directory + "/" + name
    }

    public static func parent(of path: String) -> String {
        let segments = segments(of: path)
        return segments.count <= 1 ? root : "/" + segments.dropLast().joined(separator: "/")
    }

    public static func lastSegment(of path: String) -> String { segments(of: path).last ?? "" }

    /// `path` with its leading `oldPrefix` directory replaced by `newPrefix`
    /// (`/a/x` from `/a` to `/b` is `/b/x`), nil when `path` is not below
    /// `oldPrefix`. Compared as bytes: `String.hasPrefix` compares Characters,
    /// and `/` + a combining mark is one Character, not a separator.
    public static func rebase(_ path: String, from oldPrefix: String, to newPrefix: String) -> String? {
        let below = path.utf8.dropFirst(oldPrefix.utf8.count)
        guard path.utf8.starts(with: oldPrefix.utf8), below.first == UInt8(ascii: "/") else { return nil }
        return newPrefix + String(decoding: below, as: UTF8.self)
    }

    /// Lowercase hex MD5 of the UTF-8 path.
    public static func pathId(_ path: String) -> String {
        Hex.encode(Insecure.MD5.hash(data: Data(path.utf8)))
    }

    /// `1.txt` → `.txt`, `a.tar.gz` → `.gz`, `.txt` → `.txt`, `txt` → ``, `txt.` → ``.
    public static func ext(of name: String) -> String {
        guard let dot = name.lastIndex(of: ".") else { return "" }
        let suffix = String(name[dot...])
        return suffix == "." ? "" : suffix
    }

    /// `name.ext` → `name (n).ext`, for the `rename` conflict policy.
    public static func numbered(_ name: String, _ n: Int) -> String {
        let ext = ext(of: name)
        if ext.isEmpty || ext == name { return "\(name) (\(n))" }
        return "\(name.dropLast(ext.count)) (\(n))\(ext)"
    }
}

public enum MimeType {
    public static let directory = "application/x-directory"
    public static let fallback = "application/octet-stream"

    private static let byExtension: [String: String] = [
        ".txt": "text/plain", ".html": "text/html", ".htm": "text/html", ".css": "text/css",
        ".csv": "text/csv", ".md": "text/markdown", ".xml": "application/xml", ".json": "application/json",
        ".js": "application/javascript", ".pdf": "application/pdf", ".zip": "application/zip",
        ".gz": "application/gzip", ".tar": "application/x-tar", ".7z": "application/x-7z-compressed",
        ".rar": "application/vnd.rar", ".doc": "application/msword",
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".xls": "application/vnd.ms-excel",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".ppt": "application/vnd.ms-powerpoint",
        ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
        ".webp": "image/webp", ".svg": "image/svg+xml", ".bmp": "image/bmp", ".ico": "image/x-icon",
        ".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
        ".mp4": "video/mp4", ".mkv": "video/x-matroska", ".avi": "video/x-msvideo", ".mov": "video/quicktime",
        ".webm": "video/webm", ".torrent": "application/x-bittorrent", ".apk": "application/vnd.android.package-archive",
    ]

    public static func forName(_ name: String) -> String {
        byExtension[PanPath.ext(of: name).lowercased()] ?? fallback
    }
}
