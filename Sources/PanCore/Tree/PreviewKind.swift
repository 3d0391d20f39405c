import TextSupport

/// What a file can be previewed as — the one rule for `preview` codes on file
/// objects (`api.md` §8), for `/v1/preview/*`, and for what the shares' and
/// previews' links serve inline.
///
/// From the stored type, or the name's extension when the stored type says
/// nothing (empty or `application/octet-stream`). Inline only kinds a
/// browser shows without running anything: images other than SVG, audio,
/// video, PDF as they are; text of any kind (HTML and XML included) as
/// `text/plain; charset=utf-8`. Never HTML, SVG or script as themselves.
public enum PreviewKind: Int, Sendable, CaseIterable {
    case none = 0, video = 100, audio = 200, pdf = 300, image = 400, text = 1000

    /// Directories' `preview`, as the original server sent.
    public static let directoryCode = -1

    static let images: Set<String> = [
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon",
    ]
    static let textual: Set<String> = ["application/json", "application/x-yaml", "application/yaml", "application/toml", "application/x-sh"]

    /// The type the rule reads: the stored one without parameters, lowercased;
    /// the name's when the stored one says nothing.
    public static func effectiveType(name: String, mime: String) -> String {
        let stored = MimeType.essence(mime)
        if stored.isEmpty || stored == MimeType.fallback { return MimeType.forName(name) }
        return stored
    }

    public static func of(name: String, mime: String) -> PreviewKind {
        let type = effectiveType(name: name, mime: mime)
        if images.contains(type) { return .image }
        if type == "application/pdf" { return .pdf }
        if type.hasPrefix("audio/") || type.hasPrefix("video/") {
            // Only a plain `type/subtype` is echoed as a Content-Type.
            guard !MimeType.isActive(type), type.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .none }
            return type.hasPrefix("audio/") ? .audio : .video
        }
        if type.hasPrefix("text/") || textual.contains(type) { return .text }
        return .none
    }

    public static func of(_ node: FileNode) -> PreviewKind {
        node.isFile ? of(name: node.name, mime: node.mime) : .none
    }

    /// `preview` of a file object: −1 for directories.
    public static func code(name: String, mime: String, isDirectory: Bool) -> Int {
        isDirectory ? directoryCode : of(name: name, mime: mime).rawValue
    }

    /// The Content-Type a browser may be given with `Content-Disposition: inline`; nil: never inline.
    public static func inlineType(name: String, mime: String) -> String? {
        switch of(name: name, mime: mime) {
        case .none: nil
        case .text: "text/plain; charset=utf-8"
        case .image, .pdf, .audio, .video: effectiveType(name: name, mime: mime)
        }
    }
}

extension MimeType {
    /// `type/subtype` without parameters, trimmed and lowercased.
    public static func essence(_ mime: String) -> String {
        mime.split(separator: ";", maxSplits: 1).first.map { $0.trimmedSpaces().lowercased() } ?? ""
    }

    /// Types a browser would render or run as part of Pan's origin (script,
    /// markup, anything XML, which can carry script).
    public static func isActive(_ mime: String) -> Bool {
        let type = essence(mime)
        let active: Set<String> = [
            "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
            "application/javascript", "text/javascript", "application/ecmascript", "text/ecmascript",
            "application/x-javascript", "text/xsl", "application/x-shockwave-flash", "text/vtt",
        ]
        return active.contains(type) || type.hasSuffix("+xml") || type.hasPrefix("multipart/")
    }
}
