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
}

/// Signs and verifies session tokens (HS256 via jwt-kit).
struct SessionTokens: Sendable {
    private let keys: JWTKeyCollection
    let lifetime: TimeInterval

    init(secret: String, lifetime: TimeInterval) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.lifetime = lifetime
    }

    func issue(for user: User) async throws -> String {
        let claims = SessionClaims(
            uuid: user.id, name: user.name, phone: user.phone,
            exp: .init(value: Date().addingTimeInterval(lifetime)), ver: user.tokenVersion
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
