import Crypto
import Foundation

/// An access key / secret key pair of the WCS account.
public struct Credentials: Sendable, Equatable {
    public let accessKey: String
    public let secretKey: String

    public init(accessKey: String, secretKey: String) {
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    /// WCS's signature encoding: the HMAC-SHA1 digest written as 40 lowercase
    /// hex characters, and those characters base64url-encoded (not the raw
    /// digest, which is Qiniu's way).
    public func sign(_ message: String) -> String {
        sign(Data(message.utf8))
    }

    public func sign(_ message: Data) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: Data(secretKey.utf8)))
        let hex = Hex.encode(mac)
        return Base64URL.encode(hex)
    }
}

/// Compares two strings in time independent of where they differ (their
/// lengths are not secret: signatures have a fixed length).
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<x.count { difference |= x[i] ^ y[i] }
    return difference == 0
}
