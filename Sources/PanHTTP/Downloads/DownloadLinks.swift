import Crypto
import Foundation
import PanCore
import WCS

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
        let name: String
        let mime: String
        let expires: Int64
    }

    func address(objectKey: String, name: String, mime: String, now: Date = Date()) -> String {
        if let downloadDomain {
            var domain = downloadDomain
            while domain.hasSuffix("/") { domain.removeLast() }
            let path = objectKey.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? objectKey
            return "\(domain)/\(path)?filename=\(Self.queryEscape(name))"
        }
        let expires = Int64(now.timeIntervalSince1970 + lifetime)
        let encodedKey = Base64URL.encode(objectKey)
        let signature = sign(encodedKey: encodedKey, name: name, mime: mime, expires: expires)
        return "\(publicBaseURL)/dl/\(encodedKey)?e=\(expires)&n=\(Self.queryEscape(name))&m=\(Self.queryEscape(mime))&s=\(signature)"
    }

    func sign(encodedKey: String, name: String, mime: String, expires: Int64) -> String {
        let message = "\(encodedKey)\n\(expires)\n\(name)\n\(mime)"
        return Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key)))
    }

    enum Refusal: Error { case malformed, badSignature, expired }

    func verify(encodedKey: String, expires: String?, name: String?, mime: String?, signature: String?, now: Date = Date()) -> Result<Link, Refusal> {
        guard let expiresText = expires, let expires = Int64(expiresText), let name, let mime, let signature,
              let keyData = Base64URL.decode(encodedKey)
        else { return .failure(.malformed) }
        guard constantTimeEquals(sign(encodedKey: encodedKey, name: name, mime: mime, expires: expires), signature) else {
            return .failure(.badSignature)
        }
        guard Double(expires) >= now.timeIntervalSince1970 else { return .failure(.expired) }
        return .success(Link(objectKey: String(decoding: keyData, as: UTF8.self), name: name, mime: mime, expires: expires))
    }

    static func queryEscape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
