import Crypto
import Foundation
import PanCore
import WCS

/// The signed parts of a share link (issue #27), all HMAC-SHA256 under the
/// download key — the server's secret, so no one can make one:
///
/// - a **grant** (`<expires ms>.<sig>`) answers a successful `open` and lets
///   its holder browse (`/v1/share/page`) until it expires;
/// - a **file address** `/s/<id>/f/<uuid>?m&t&e&s` downloads (`m=d`) or
///   previews (`m=p`) one file of the share; `t` is a random ticket that
///   tells a resumed download from a new one (`ShareDownloadController`).
///
/// Both sign the share's `epoch`, which a password change moves: what was
/// handed out before stops. Fields are length-prefixed as in `DownloadLinks`,
/// so one byte string has one reading. Checked before any database work: a
/// forged one costs one HMAC. Neither replaces the check against the share
/// itself, which every request makes (a removed share ends them at once).
package struct ShareLinks: Sendable {
    let publicBaseURL: String
    let key: SymmetricKey
    /// How long a grant (and the addresses handed out with it) lasts.
    var grantLifetime: Int64 = 3_600_000

    package init(publicBaseURL: String, key: SymmetricKey, grantLifetime: Int64 = 3_600_000) {
        self.publicBaseURL = publicBaseURL
        self.key = key
        self.grantLifetime = grantLifetime
    }

    enum Mode: String, Sendable {
        /// An attachment, counted against `maxDownloads`.
        case download = "d"
        /// Inline, for the kinds a browser shows safely; never counted.
        case preview = "p"
    }

    struct Grant: Sendable, Equatable {
        let expiresAt: Int64
        let token: String
    }

    struct FileAddress: Sendable, Equatable {
        let shareId: String
        let uuid: String
        let mode: Mode
        let ticket: String
        let expiresAt: Int64
    }

    enum Refusal: Error { case malformed, badSignature, expired }

    func pageURL(_ shareId: String) -> String { "\(publicBaseURL)/s/\(shareId)" }

    func grant(for share: Share, now: Int64 = Millis.now()) -> Grant {
        let expires = now + grantLifetime
        return Grant(expiresAt: expires, token: "\(expires).\(sign("pan-share-grant-v1", [share.id, String(share.epoch), String(expires)]))")
    }

    /// Whether `token` is a live grant of this share as it is now (its epoch).
    func verifyGrant(_ token: String, for share: Share, now: Int64 = Millis.now()) -> Result<Grant, Refusal> {
        let parts = token.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count <= 19, let expires = Int64(parts[0]) else { return .failure(.malformed) }
        let expected = sign("pan-share-grant-v1", [share.id, String(share.epoch), String(expires)])
        guard constantTimeEquals(expected, String(parts[1])) else { return .failure(.badSignature) }
        guard expires >= now else { return .failure(.expired) }
        return .success(Grant(expiresAt: expires, token: token))
    }

    /// The address of `node` in `share`, lasting until `expiresAt` (the grant's).
    func fileURL(share: Share, node: FileNode, mode: Mode, expiresAt: Int64) -> String {
        let ticket = RandomID.hex32()
        let signature = sign("pan-share-file-v1", [share.id, node.uuid, mode.rawValue, ticket, String(expiresAt), String(share.epoch)])
        return "\(publicBaseURL)/s/\(share.id)/f/\(node.uuid)?m=\(mode.rawValue)&t=\(ticket)&e=\(expiresAt)&s=\(signature)"
    }

    /// The parts of a file address, if they are well formed (the signature is checked against the share: `verify`).
    func parse(shareId: String, uuid: String, mode: String?, ticket: String?, expires: String?) -> FileAddress? {
        guard let mode = mode.flatMap(Mode.init(rawValue:)), let ticket, ticket.utf8.count == 32,
              ticket.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
              let expiresText = expires, expiresText.utf8.count <= 19, let expires = Int64(expiresText),
              uuid.utf8.count == 32, uuid.allSatisfy(\.isHexDigit)
        else { return nil }
        return FileAddress(shareId: shareId, uuid: uuid.lowercased(), mode: mode, ticket: ticket, expiresAt: expires)
    }

    /// Whether `signature` is this share's (at its current epoch) for `address`, and it has not expired.
    func verify(_ address: FileAddress, signature: String?, share: Share, now: Int64 = Millis.now()) -> Result<FileAddress, Refusal> {
        guard let signature else { return .failure(.malformed) }
        let expected = sign("pan-share-file-v1", [
            address.shareId, address.uuid, address.mode.rawValue, address.ticket, String(address.expiresAt), String(share.epoch),
        ])
        guard constantTimeEquals(expected, signature) else { return .failure(.badSignature) }
        guard address.expiresAt >= now else { return .failure(.expired) }
        return .success(address)
    }

    private func sign(_ tag: String, _ fields: [String]) -> String {
        var message = Data(tag.utf8)
        for field in fields {
            let bytes = Data(field.utf8)
            message.append(contentsOf: "\(bytes.count):".utf8)
            message.append(bytes)
        }
        // Unpadded: `=` has no business in a query value or a grant.
        var signature = Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: message, using: key)))
        while signature.hasSuffix("=") { signature.removeLast() }
        return signature
    }
}
