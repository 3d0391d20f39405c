import Crypto
import Foundation
import JWTKit
import PanCore

/// The JWT the clients keep (`api.md` §3). The web app decodes it, so it
/// carries `uuid` (the user id), `name`, `phone` and `exp`; `ver` is the
/// user's token version, bumped by logout to revoke.
struct SessionClaims: JWTPayload {
    var uuid: Int64
    var name: String
    var phone: String?
    var exp: ExpirationClaim
    var ver: Int64

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }

    enum CodingKeys: String, CodingKey { case uuid, name, phone, exp, ver }

    // `phone` is always present (null allowed): the web app reads it.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(uuid, forKey: .uuid)
        try c.encode(name, forKey: .name)
        if let phone { try c.encode(phone, forKey: .phone) } else { try c.encodeNil(forKey: .phone) }
        try c.encode(exp, forKey: .exp)
        try c.encode(ver, forKey: .ver)
    }
}

/// Signs and verifies session tokens (HS256 via jwt-kit).
struct SessionTokens: Sendable {
    private let keys: JWTKeyCollection
    let lifetime: TimeInterval

    init(secret: String, lifetime: TimeInterval) async {
        let keys = JWTKeyCollection()
        // HS256 wants a key of at least 32 bytes; a shorter configured secret is stretched by SHA-256.
        let bytes = Array(secret.utf8)
        let key = bytes.count >= 32 ? HMACKey(from: bytes) : HMACKey(key: SymmetricKey(data: SHA256.hash(data: bytes)))
        await keys.add(hmac: key, digestAlgorithm: .sha256)
        self.keys = keys
        self.lifetime = lifetime
    }

    func issue(for user: User) async throws -> String {
        let claims = SessionClaims(
            uuid: user.id, name: user.name, phone: user.phone,
            exp: .init(value: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + lifetime).rounded(.down))),
            ver: user.tokenVersion
        )
        return try await keys.sign(claims)
    }

    /// Any failure — malformed, forged, expired — is the same 401.
    func verify(_ token: String) async throws(PanError) -> SessionClaims {
        do {
            return try await keys.verify(token, as: SessionClaims.self)
        } catch {
            throw .tokenInvalid
        }
    }
}
