import WCS
import Crypto
import Foundation
import PanCore

/// Signed, expiring download URLs for objects of the local endpoint, or plain
/// URLs on the configured download domain when the bytes live in WCS.
package struct DownloadLinks: Sendable {
    package let publicBaseURL: String
    /// With an external WCS: where it serves objects.
    package let downloadDomain: String?
    package let key: SymmetricKey
    package var lifetime: TimeInterval = 6 * 3600
    /// Previews' links (`/v1/preview/*`): short-lived, yet long enough to watch a film with seeking.
    package var previewLifetime: TimeInterval = 3 * 3600

    package init(publicBaseURL: String, downloadDomain: String?, key: SymmetricKey, lifetime: TimeInterval = 6 * 3600, previewLifetime: TimeInterval = 3 * 3600) {
        self.publicBaseURL = publicBaseURL
        self.downloadDomain = downloadDomain
        self.key = key
        self.lifetime = lifetime
        self.previewLifetime = previewLifetime
    }

    /// What a link serves: the file as a download, the file inline (a
    /// preview, only for `InlineKinds`), or an image rendition of it
    /// (`Thumbnails`; `hash` names the content, the rendition's cache key).
    package enum Variant: Sendable, Equatable {
        case download
        case inline
        case thumbnail(size: Int, hash: String)
    }

    package struct Link: Sendable, Equatable {
        package let objectKey: String
        /// The file node the link was made for: the link dies with it.
        package let node: String
        package let name: String
        package let mime: String
        package let expires: Int64
        package var variant: Variant = .download
    }

    package func address(objectKey: String, node: String, name: String, mime: String, variant: Variant = .download, now: Date = Date()) -> String {
        if let downloadDomain {
            var domain = downloadDomain
            while domain.hasSuffix("/") { domain.removeLast() }
            let path = objectKey.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? objectKey
            return "\(domain)/\(path)?filename=\(Self.queryEscape(name))"
        }
        let expires = Int64(now.timeIntervalSince1970 + (variant == .download ? lifetime : previewLifetime))
        let encodedKey = Base64URL.encode(objectKey)
        let signature = sign(encodedKey: encodedKey, node: node, name: name, mime: mime, expires: expires, variant: variant)
        let extra = switch variant {
        case .download: ""
        case .inline: "&i=1"
        case .thumbnail(let size, let hash): "&t=\(size)&h=\(Self.queryEscape(hash))"
        }
        return "\(publicBaseURL)/dl/\(encodedKey)?e=\(expires)&u=\(Self.queryEscape(node))&n=\(Self.queryEscape(name))"
            + "&m=\(Self.queryEscape(mime))\(extra)&s=\(signature)"
    }

    /// HMAC over the fields, each prefixed with its UTF-8 length. The first
    /// version joined them with `\n`, and a name holding `\n` could move the
    /// boundary: the same signature then vouched for another name and
    /// Content-Type (issue #14 item 9). With lengths, one byte string has
    /// exactly one reading. The `v2` tag keeps old-format links from verifying.
    /// Each variant has its own tag (and its own fields), so a download link
    /// can't be turned into an inline one by adding `i=1`, nor the reverse.
    package func sign(encodedKey: String, node: String, name: String, mime: String, expires: Int64, variant: Variant = .download) -> String {
        let (tag, extra): (String, [String]) = switch variant {
        case .download: ("pan-dl-v2", [])
        case .inline: ("pan-dl-inline-v1", [])
        case .thumbnail(let size, let hash): ("pan-dl-thumb-v1", [String(size), hash])
        }
        var message = Data(tag.utf8)
        for field in [encodedKey, String(expires), node, name, mime] + extra {
            let bytes = Data(field.utf8)
            message.append(contentsOf: "\(bytes.count):".utf8)
            message.append(bytes)
        }
        return Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: message, using: key)))
    }

    package enum Refusal: Error { case malformed, badSignature, expired }

    package func verify(
        encodedKey: String, expires: String?, node: String?, name: String?, mime: String?, signature: String?,
        inline: String? = nil, thumbnail: String? = nil, hash: String? = nil, now: Date = Date()
    ) -> Result<Link, Refusal> {
        guard let expiresText = expires, let expires = Int64(expiresText), let node, let name, let mime, var signature,
              let keyData = Base64URL.decode(encodedKey)
        else { return .failure(.malformed) }
        // A, C and L play a preview's `url + "?token=" + <session>`: a second
        // `?` after Pan's query, which lands in the last field, `s`. A
        // signature is Base64URL and never holds `?`, so what follows it is
        // the client's addition, not part of the signature.
        if let mark = signature.firstIndex(of: "?") { signature = String(signature[..<mark]) }
        let variant: Variant
        switch (inline, thumbnail, hash) {
        case (nil, nil, nil): variant = .download
        case ("1", nil, nil): variant = .inline
        case (nil, let size?, let hash?):
            guard let size = Int(size), Thumbnails.sizes.contains(size) else { return .failure(.malformed) }
            variant = .thumbnail(size: size, hash: hash)
        default: return .failure(.malformed)
        }
        let expected = sign(encodedKey: encodedKey, node: node, name: name, mime: mime, expires: expires, variant: variant)
        guard constantTimeEquals(expected, signature) else { return .failure(.badSignature) }
        guard Double(expires) >= now.timeIntervalSince1970 else { return .failure(.expired) }
        return .success(Link(
            objectKey: String(decoding: keyData, as: UTF8.self), node: node, name: name, mime: mime, expires: expires, variant: variant
        ))
    }

    package static func queryEscape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
