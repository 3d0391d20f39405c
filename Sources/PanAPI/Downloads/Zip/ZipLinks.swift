import Crypto
import Foundation
import PanCore
import WCS

/// Signed, short-lived URLs of zip downloads: `<public URL>/zip/<id>?u=<user>&e=<ms>&s=<sig>`.
///
/// `s` = b64url(HMAC-SHA256(download key, `"pan-zip-v1"` + for each of id, u, e:
/// `<utf-8 length>:` + bytes)) — the server's secret, so no one else can make
/// one (a hash of the fields anyone can compute would be a key to every
/// archive). The link names one `zip_links` row of one user, which holds the
/// selection and never changes: changing the user, the row or the deadline
/// breaks the signature.
package struct ZipLinks: Sendable {
    let publicBaseURL: String
    let key: SymmetricKey

    package init(publicBaseURL: String, key: SymmetricKey) {
        self.publicBaseURL = publicBaseURL
        self.key = key
    }

    struct Link: Sendable, Equatable {
        let id: String
        let userId: Int64
        let expiresAt: Int64
    }

    enum Refusal: Error { case malformed, badSignature, expired }

    func url(for link: ZipLink) -> String {
        let signature = sign(id: link.id, userId: link.userId, expiresAt: link.expiresAt)
        return "\(publicBaseURL)/zip/\(link.id)?u=\(link.userId)&e=\(link.expiresAt)&s=\(signature)"
    }

    func sign(id: String, userId: Int64, expiresAt: Int64) -> String {
        var message = Data("pan-zip-v1".utf8)
        for field in [id, String(userId), String(expiresAt)] {
            let bytes = Data(field.utf8)
            message.append(contentsOf: "\(bytes.count):".utf8)
            message.append(bytes)
        }
        return Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: message, using: key)))
    }

    /// Checked before any database work: a forged link costs one HMAC.
    func verify(id: String, userId: String?, expiresAt: String?, signature: String?, now: Int64 = Millis.now()) -> Result<Link, Refusal> {
        guard let userText = userId, let user = Int64(userText), let expiresText = expiresAt, let expires = Int64(expiresText),
              let signature, id.utf8.count == 32
        else { return .failure(.malformed) }
        guard constantTimeEquals(sign(id: id, userId: user, expiresAt: expires), signature) else { return .failure(.badSignature) }
        guard expires >= now else { return .failure(.expired) }
        return .success(Link(id: id, userId: user, expiresAt: expires))
    }
}
