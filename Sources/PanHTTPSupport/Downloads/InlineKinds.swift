import HTTPTypes
import PanCore

/// What a browser may be shown inline, and with which headers — for a share's
/// preview addresses (`/s/…?m=p`) and `/v1/preview/*`'s links (`/dl/…&i=1`)
/// alike. Which kinds: `PreviewKind.inlineType` (PanCore), the one rule.
package enum InlineKinds {
    package static func type(of file: FileNode) -> String? {
        file.isFile ? PreviewKind.inlineType(name: file.name, mime: file.mime) : nil
    }

    package static func type(name: String, mime: String) -> String? { PreviewKind.inlineType(name: name, mime: mime) }

    /// The headers of an inline reply of `type` (one `type(…)` gave).
    package static func headers(type: String, name: String) -> HTTPFields {
        [
            .contentType: type,
            .contentDisposition: "inline; filename*=UTF-8''\(DownloadLinks.queryEscape(name))",
            .xContentTypeOptions: "nosniff",
            // Chromium's PDF viewer refuses a sandboxed document.
            .contentSecurityPolicy: type == "application/pdf" ? "default-src 'none'; object-src 'self'" : "default-src 'none'; sandbox",
        ]
    }

    package static let notAllowed = PanError(
        status: 403, code: "PREVIEW_NOT_ALLOWED", "this kind of file is not shown in the browser: download it"
    )
}
