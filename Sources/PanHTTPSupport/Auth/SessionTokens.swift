import Crypto
import Foundation
import JWTKit
import PanCore
import Synchronization

/// The JWT the clients keep (`api.md` §3). The web app decodes it, so it
/// carries `uuid` (the user id), `name`, `phone` and `exp`; `ver` is the
/// user's token version, bumped to sign out everywhere; `sid` the sign-in
/// session (`UserSession`), ended alone by logout. Tokens signed before
/// sessions existed have no `sid` and are held to `ver` alone.
package struct SessionClaims: JWTPayload {
    package var uuid: Int64
    package var name: String
    package var phone: String?
    package var exp: ExpirationClaim
    package var ver: Int64
    package var sid: String?

    /// What the user row is checked against (`User.admit`).
    package var credential: SessionCredential { SessionCredential(tokenVersion: ver, sessionId: sid) }

    package func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }

    package enum CodingKeys: String, CodingKey { case uuid, name, phone, exp, ver, sid }

    // `phone` is always present (null allowed): the web app reads it.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(uuid, forKey: .uuid)
        try c.encode(name, forKey: .name)
        if let phone { try c.encode(phone, forKey: .phone) } else { try c.encodeNil(forKey: .phone) }
        try c.encode(exp, forKey: .exp)
        try c.encode(ver, forKey: .ver)
        try c.encodeIfPresent(sid, forKey: .sid)
    }
}

/// Signs and verifies session tokens (HS256 via jwt-kit).
///
/// Every authenticated request verifies the caller's token and replies with a
/// fresh one. Both ends are cached: a token already verified is not parsed
/// and HMAC-checked again (its expiry still is), and a token signed for the
/// same user and token version within `reuseWindow` is handed out again
/// instead of signing a new one. Revocation is unaffected: the caller's
/// `ver` and `sid` are still checked against the database on every request.
package struct SessionTokens: Sendable {
    private let keys: JWTKeyCollection
    package let lifetime: TimeInterval
    private let cache = TokenCache()
    /// A reused token expires at most this much earlier than a new one would.
    package static let reuseWindow: TimeInterval = 30

    package init(secret: String, lifetime: TimeInterval) async {
        let keys = JWTKeyCollection()
        // HS256 wants a key of at least 32 bytes; a shorter configured secret is stretched by SHA-256.
        let bytes = Array(secret.utf8)
        let key = bytes.count >= 32 ? HMACKey(from: bytes) : HMACKey(key: SymmetricKey(data: SHA256.hash(data: bytes)))
        await keys.add(hmac: key, digestAlgorithm: .sha256)
        self.keys = keys
        self.lifetime = lifetime
    }

    /// A token for `user` in sign-in `session` (nil: one without a session, as servers before sessions signed).
    package func issue(for user: User, session: String?) async throws -> String {
        let now = Date().timeIntervalSince1970
        let identity = TokenCache.Identity(userId: user.id, version: user.tokenVersion, session: session, name: user.name, phone: user.phone)
        if let token = cache.recentlyIssued(identity, notBefore: now - Self.reuseWindow) { return token }
        let claims = SessionClaims(
            uuid: user.id, name: user.name, phone: user.phone,
            exp: .init(value: Date(timeIntervalSince1970: (now + lifetime).rounded(.down))),
            ver: user.tokenVersion, sid: session
        )
        let token = try await keys.sign(claims)
        cache.remember(issued: token, for: identity, at: now, claims: claims)
        return token
    }

    /// Claims of a token this process signed or verified recently, without checking anything.
    package func knownClaims(_ token: String) -> SessionClaims? { cache.verified(token) }

    /// Any failure — malformed, forged, expired — is the same 401.
    package func verify(_ token: String) async throws(PanError) -> SessionClaims {
        if let claims = cache.verified(token) {
            guard claims.exp.value > Date() else { throw .tokenInvalid }
            return claims
        }
        do {
            let claims = try await keys.verify(token, as: SessionClaims.self)
            cache.remember(verified: token, claims: claims)
            return claims
        } catch {
            throw .tokenInvalid
        }
    }
}

/// Bounded memory of verified and recently signed tokens.
package final class TokenCache: Sendable {
    package struct Identity: Hashable {
        package let userId: Int64
        package let version: Int64
        package let session: String?
        package let name: String
        package let phone: String?
    }

    private struct State {
        var verified: [String: SessionClaims] = [:]
        var issued: [Identity: (token: String, at: TimeInterval)] = [:]

        mutating func insert(verified token: String, claims: SessionClaims) {
            if verified.count >= TokenCache.capacity { verified.removeAll(keepingCapacity: true) }
            verified[token] = claims
        }
    }

    /// Past this many entries a map is emptied: the next requests simply verify or sign again.
    package static let capacity = 50_000
    private let state = Mutex(State())

    package func verified(_ token: String) -> SessionClaims? {
        state.withLock { $0.verified[token] }
    }

    package func remember(verified token: String, claims: SessionClaims) {
        state.withLock { $0.insert(verified: token, claims: claims) }
    }

    package func recentlyIssued(_ identity: Identity, notBefore: TimeInterval) -> String? {
        state.withLock { state in
            guard let entry = state.issued[identity], entry.at >= notBefore else { return nil }
            return entry.token
        }
    }

    /// A token we signed is also one we know to be valid.
    package func remember(issued token: String, for identity: Identity, at time: TimeInterval, claims: SessionClaims) {
        state.withLock { state in
            if state.issued.count >= Self.capacity { state.issued.removeAll(keepingCapacity: true) }
            state.issued[identity] = (token, time)
            state.insert(verified: token, claims: claims)
        }
    }
}
