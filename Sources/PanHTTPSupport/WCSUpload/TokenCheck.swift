import WCS
import Crypto
import Foundation
import PanCore
import TextSupport

/// Verifies upload tokens exactly as WCS does: signature with a configured
/// pair, bucket, deadline. Returns the policy and the token's identity.
package struct TokenCheck: Sendable {
    package let credentials: [Credentials]
    package let bucket: String

    package init(credentials: [Credentials], bucket: String) {
        self.credentials = credentials
        self.bucket = bucket
    }

    package struct Verified: Sendable {
        package let policy: PutPolicy
        /// SHA-256 of the encoded policy: ties blocks to the token that began them.
        package let owner: String

        /// The upload session a token of Pan's names in its callback body
        /// (`UploadSettings.callbackBody`: `…&session=<id>&…`); nil for a
        /// token without one (signed by an operator for a plain upload).
        package var sessionId: String? { Self.sessionId(inCallbackBody: policy.callbackBody ?? "") }

        package static func sessionId(inCallbackBody body: String) -> String? {
            for field in body.split(separator: "&") where field.hasPrefix("session=") {
                let id = field.dropFirst("session=".count)
                return id.isEmpty ? nil : String(id)
            }
            return nil
        }
    }

    package func verify(_ raw: String?) throws(WCSError) -> Verified {
        let verified = try identify(raw)
        guard Millis.now() <= verified.policy.deadline else { throw .tokenExpired }
        return verified
    }

    /// A token signed with a configured pair for this bucket, whatever its
    /// deadline: what it names (`store/cancel` ends an expired token's session too).
    package func identify(_ raw: String?) throws(WCSError) -> Verified {
        guard var token = raw?.trimmedSpaces(), !token.isEmpty else { throw .tokenMissing }
        if token.hasPrefix("UpToken ") { token = String(token.dropFirst(8)).trimmedSpaces() }
        guard case .success(let policy) = UploadToken.verify(token, credentials: credentials) else { throw .tokenInvalid }
        guard policy.bucket == bucket else { throw .bucketMismatch }
        let encodedPolicy = token.split(separator: ":", maxSplits: 2).last.map(String.init) ?? token
        let owner = Hex.encode(SHA256.hash(data: Data(encodedPolicy.utf8)))
        return Verified(policy: policy, owner: owner)
    }

    /// The object key, by WCS's precedence: the scope's fixed key, then the one
    /// the uploader named, then `saveKey`, then the content hash.
    ///
    /// A `bucket:key` scope "only allows the upload of that key": the bytes go
    /// there whatever `key` the form names. The Android app sends its file name
    /// as the form `key`; it is ignored, not refused (docs/clients.md).
    package static func objectKey(policy: PutPolicy, requested: String?, hash: String, values: [String: String]) -> String {
        if let fixed = policy.scopeKey, !fixed.isEmpty { return fixed }
        if let requested, !requested.isEmpty { return requested }
        if let saveKey = policy.saveKey, !saveKey.isEmpty { return MagicVariables.substitute(saveKey, values: values) }
        return hash
    }
}
