import WCS
import Crypto
import Foundation
import PanCore

/// Signed, expiring download URLs for objects of the local endpoint, or plain
/// URLs on the configured download domain when the bytes live in WCS.
struct DownloadLinks: Sendable {
    let publicBaseURL: String
    /// With an external WCS: where it serves objects.
    let downloadDomain: String?
    let key: SymmetricKey
    var lifetime: TimeInterval = 6 * 3600

    struct Link: Sendable, Equatable {
        let objectKey: String
        /// The file node the link was made for: the link dies with it.
        let node: String
        let name: String
        let mime: String
        let expires: Int64
    }

    func address(objectKey: String, node: String, name: String, mime: String, now: Date = Date()) -> String {
        if let downloadDomain {
            var domain = downloadDomain
            while domain.hasSuffix("/") { domain.removeLast() }
            let path = objectKey.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? objectKey
            return "\(domain)/\(path)?filename=\(Self.queryEscape(name))"
        }
        let expires = Int64(now.timeIntervalSince1970 + lifetime)
        let encodedKey = Base64URL.encode(objectKey)
        let signature = sign(encodedKey: encodedKey, node: node, name: name, mime: mime, expires: expires)
        return "\(publicBaseURL)/dl/\(encodedKey)?e=\(expires)&u=\(Self.queryEscape(node))&n=\(Self.queryEscape(name))"
            + "&m=\(Self.queryEscape(mime))&s=\(signature)"
    }

    /// HMAC over the fields, each prefixed with its UTF-8 length. The first
    /// version joined them with `\n`, and a name holding `\n` could move the
    /// boundary: the same signature then vouched for another name and
    /// Content-Type (issue #14 item 9). With lengths, one byte string has
    /// exactly one reading. The `v2` tag keeps old-format links from verifying.
    func sign(encodedKey: String, node: String, name: String, mime: String, expires: Int64) -> String {
        var message = Data("pan-dl-v2".utf8)
        for field in [encodedKey, String(expires), node, name, mime] {
            let bytes = Data(field.utf8)
            message.append(contentsOf: "\(bytes.count):".utf8)
            message.append(bytes)
        }
        return Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: message, using: key)))
    }

    enum Refusal: Error { case malformed, badSignature, expired }

    func verify(
        encodedKey: String, expires: String?, node: String?, name: String?, mime: String?, signature: String?, now: Date = Date()
    ) -> Result<Link, Refusal> {
        guard let expiresText = expires, let expires = Int64(expiresText), let node, let name, let mime, let signature,
              let keyData = Base64URL.decode(encodedKey)
        else { return .failure(.malformed) }
        guard constantTimeEquals(sign(encodedKey: encodedKey, node: node, name: name, mime: mime, expires: expires), signature) else {
            return .failure(.badSignature)
        }
        guard Double(expires) >= now.timeIntervalSince1970 else { return .failure(.expired) }
        return .success(Link(objectKey: String(decoding: keyData, as: UTF8.self), node: node, name: name, mime: mime, expires: expires))
    }

    static func queryEscape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
