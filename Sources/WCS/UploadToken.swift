import Foundation
import TextSupport

/// `AK:urlsafe_b64(hex(HMAC-SHA1(SK, encodedPolicy))):encodedPolicy` (`wcs.md` §1).
public enum UploadToken {
    public static func make(policy: PutPolicy, credentials: Credentials) -> String {
        let encodedPolicy = Base64URL.encode(policy.json())
        return credentials.accessKey + ":" + credentials.sign(encodedPolicy) + ":" + encodedPolicy
    }

    public enum VerificationError: Error, Equatable, Sendable {
        case malformed
        case unknownAccessKey
        case badSignature
        case badPolicy
    }

    /// Checks the signature against the configured pairs and decodes the policy.
    /// Accepts `UpToken <token>` (the Java SDK) as well as the bare token.
    public static func verify(_ raw: String, credentials: [Credentials]) -> Result<PutPolicy, VerificationError> {
        var token = raw.trimmedSpaces()
        if token.hasPrefix("UpToken ") { token = String(token.dropFirst("UpToken ".count)).trimmedSpaces() }
        let parts = token.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[2].isEmpty else { return .failure(.malformed) }
        guard let pair = credentials.first(where: { $0.accessKey == parts[0] }) else { return .failure(.unknownAccessKey) }
        // The HMAC is over the encoded policy exactly as sent, padded or not.
        guard constantTimeEquals(pair.sign(String(parts[2])), String(parts[1])) else { return .failure(.badSignature) }
        guard let json = Base64URL.decode(parts[2]), let policy = PutPolicy.decode(json: json) else {
            return .failure(.badPolicy)
        }
        return .success(policy)
    }
}
