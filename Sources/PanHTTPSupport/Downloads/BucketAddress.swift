import Foundation
import WCS

/// An object of an external WCS bucket, as a short-lived signed URL
/// (`DownloadToken`, 5 minutes): where a share's download or a WebDAV GET
/// redirects after its checks. A private bucket refuses it once it expires,
/// so a revoked share's redirect is not a lasting link; a public bucket
/// serves its objects to anyone who has the key anyway (README).
package struct BucketAddress: Sendable {
    let domain: String
    let credentials: Credentials
    /// How long a signed address lasts.
    package static let lifetime: Int64 = 300

    package init(domain: String, credentials: Credentials) {
        self.domain = domain
        self.credentials = credentials
    }

    package func address(of key: String, name: String, now: Date = Date()) -> String {
        var domain = self.domain
        while domain.hasSuffix("/") { domain.removeLast() }
        let path = key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? key
        let signed = DownloadToken.sign(url: "\(domain)/\(path)", deadline: Int64(now.timeIntervalSince1970) + Self.lifetime, credentials: credentials)
        return signed + "&filename=" + DownloadLinks.queryEscape(name)
    }
}
