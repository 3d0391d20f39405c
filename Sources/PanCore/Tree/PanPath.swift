import Crypto
import Foundation
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

    public static func segments(of raw: String) -> [String] {
        // `\` separates like `/` (Windows clients).
        raw.trimmed()
            .split(omittingEmptySubsequences: true) { $0 == "/" || $0 == "\\" }
            .map(String.init)
    }

    /// Normalizes and validates every segment; `.`/`..` are refused, not resolved.
    /// The deepest path a client may name. Each level of a new chain takes a share
    /// of its parent's interval, so creating an N-deep chain costs the single
    /// writer O(N²) re-spreads: 1,000 levels held it for ~17 s (found by the fuzz
    /// suite). 64 levels is far beyond what people nest and costs milliseconds.
    public static let maximumDepth = 64

    public static func validated(_ raw: String) throws(PanError) -> String {
        let segments = segments(of: raw)
        if segments.count > maximumDepth { throw .invalidPath("a path may not be deeper than \(maximumDepth) levels") }
        for segment in segments { try validateName(segment) }
        return segments.isEmpty ? root : "/" + segments.joined(separator: "/")
    }

    public static func validateName(_ name: String) throws(PanError) {
        if name.isEmpty { throw .invalidName("a name may not be empty") }
        if name == "." || name == ".." { throw .invalidName("a name may not be . or ..") }
        if name.contains("/") { throw .invalidName("a name may not contain /") }
        if name.unicodeScalars.contains("\0") { throw .invalidName("a name may not contain NUL") }
        if name.utf8.count > 255 { throw .invalidName("a name may not exceed 255 bytes of UTF-8") }
    }

    public static func join(_ directory: String, _ name: String) -> String {
        directory == root ? "/" + name : directory + "/" + name
    }

    public static func parent(of path: String) -> String {
        let segments = segments(of: path)
        return segments.count <= 1 ? root : "/" + segments.dropLast().joined(separator: "/")
    }

    public static func lastSegment(of path: String) -> String { segments(of: path).last ?? "" }

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
