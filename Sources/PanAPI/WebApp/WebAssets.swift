import Crypto
import Foundation
import NIOCore

/// The web app's static files: `web/` embedded at build time
/// (`Plugins/EmbedWebApp`), or, with `PAN_WEB_DIR`, read from that folder on
/// every request (for working on the app without rebuilding Pan).
package struct WebAssets: Sendable {
    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
        /// A strong validator: the first 128 bits of the bytes' SHA-256, quoted.
        let etag: String

        init(bytes: Data, path: String) {
            body = ByteBuffer(bytes: bytes)
            contentType = WebAssets.contentType(of: path)
            etag = "\"" + SHA256.hash(data: bytes).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
        }
    }

    private let files: [String: Asset]
    private let directory: String?

    /// The files compiled into this binary; hashed once, here.
    package static let embedded: WebAssets = {
        var files: [String: Asset] = [:]
        for (path, base64) in embeddedWebAppFiles {
            guard let bytes = Data(base64Encoded: base64) else { continue }
            files[path] = Asset(bytes: bytes, path: path)
        }
        return WebAssets(files: files, directory: nil)
    }()

    package static func folder(_ directory: String) -> WebAssets { WebAssets(files: [:], directory: directory) }

    /// `path` is relative to `web/` (`index.html`, `app/main.js`); nil when there is no such file.
    func asset(_ path: String) -> Asset? {
        guard let directory else { return files[path] }
        // Only plain relative names: no `..`, no hidden files, no absolute paths.
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.isEmpty, segments.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") }) else { return nil }
        let url = URL(fileURLWithPath: directory).appendingPathComponent(path)
        guard let bytes = try? Data(contentsOf: url) else { return nil }
        return Asset(bytes: bytes, path: path)
    }

    var paths: [String] { files.keys.sorted() }

    static func contentType(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "json": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "woff2": "font/woff2"
        case "txt": "text/plain; charset=utf-8"
        default: "application/octet-stream"
        }
    }
}
