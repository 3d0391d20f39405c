import Foundation
import TextSupport

/// A private object's download URL: `<url>?e=<deadline>&token=AK:<sign>`,
/// where `sign` is WCS's signature encoding (`Credentials.sign`, as upload
/// tokens use) over the URL up to and including `e` (`wcs.md` §6). Pan reads
/// ranges of stored objects this way to check proofs of possession; the
/// local endpoint answers such URLs under `/objects/<key>` as WCS would.
public enum DownloadToken {
    /// `url` must not already carry a query.
    public static func sign(url: String, deadline: Int64, credentials: Credentials) -> String {
        let unsigned = "\(url)?e=\(deadline)"
        return unsigned + "&token=" + credentials.accessKey + ":" + credentials.sign(unsigned)
    }

    public enum VerificationError: Error, Equatable, Sendable { case malformed, unknownAccessKey, badSignature, expired }

    /// Checks a request for `url` (scheme, host and path as the signer wrote
    /// them) with its `e` and `token` query values.
    public static func verify(
        url: String, e: String?, token: String?, credentials: [Credentials], now: Int64
    ) -> Result<Void, VerificationError> {
        guard let e, let deadline = Int64(e), let token else { return .failure(.malformed) }
        let parts = token.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.malformed) }
        guard let pair = credentials.first(where: { $0.accessKey == parts[0] }) else { return .failure(.unknownAccessKey) }
        guard constantTimeEquals(pair.sign("\(url)?e=\(e)"), String(parts[1])) else { return .failure(.badSignature) }
        guard deadline >= now else { return .failure(.expired) }
        return .success(())
    }
}
