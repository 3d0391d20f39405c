import Foundation
import TextSupport

/// The `Authorization` header of WCS callbacks (`wcs.md` §3):
/// `AK:urlsafe_b64(hex(HMAC-SHA1(SK, callbackUrl + "\n" + urlsafe_b64(body))))`.
public enum CallbackSignature {
    public static func signingString(url: String, body: Data) -> String {
        url + "\n" + Base64URL.encode(body)
    }

    public static func authorization(url: String, body: Data, credentials: Credentials) -> String {
        credentials.accessKey + ":" + credentials.sign(signingString(url: url, body: body))
    }

    /// True when the header was made by any of the pairs. Every pair is tried
    /// and compared in constant time, so timing tells nothing about which failed.
    public static func verify(header: String, url: String, body: Data, credentials: [Credentials]) -> Bool {
        var value = header.trimmedSpaces()
        for prefix in ["WCS ", "Wcs ", "QBox "] where value.hasPrefix(prefix) {
            value = String(value.dropFirst(prefix.count))
        }
        let signingString = signingString(url: url, body: body)
        var matched = false
        for pair in credentials {
            let expected = pair.accessKey + ":" + pair.sign(signingString)
            if constantTimeEquals(expected, value) { matched = true }
        }
        return matched
    }
}
