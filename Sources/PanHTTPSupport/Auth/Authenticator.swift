import Foundation
import HTTPTypes
import Hummingbird
import PanCore
import TextSupport

/// Finds the session token wherever a client put it, checks it, and loads
/// the user: the one gate of every authenticated endpoint.
package struct Authenticator: Sendable {
    package let tokens: SessionTokens
    package let store: any PanStore
    package let activity: UserSessionActivity

    package init(tokens: SessionTokens, store: any PanStore, activity: UserSessionActivity) {
        self.tokens = tokens
        self.store = store
        self.activity = activity
    }

    /// The caller, and a fresh token for the reply.
    package struct Session: Sendable {
        package let user: User
        /// The caller's sign-in session; nil for a token from before sessions.
        package let sessionId: String?
        package let refreshedToken: String
    }

    /// `api.md` §3, first found wins: `Authorization: Bearer`, `Token`,
    /// `Qingzhen-Token`, `?token=`, `?auth=`, body field `token`.
    package static func carriedToken(_ request: Request, body: JSONBody?) -> String? {
        if let header = request.headers[.authorization] {
            let value = header.trimmedSpaces()
            if value.lowercased().hasPrefix("bearer ") {
                let token = value.dropFirst("bearer ".count).trimmedSpaces()
                if !token.isEmpty { return token }
            } else if !value.isEmpty, value.split(separator: ".").count == 3 {
                return value
            }
        }
        for name in [HTTPField.Name.token, .qingzhenToken] {
            if let value = request.headers[name]?.trimmedSpaces(), !value.isEmpty { return value }
        }
        for name in ["token", "auth"] {
            if let value = request.uri.queryParameters.get(name), !value.isEmpty { return value }
        }
        if let body, let value = try? body.string("token"), !value.isEmpty { return value }
        return nil
    }

    /// One statement: the user row and whether the token's session still exists.
    package func authenticate(_ request: Request, body: JSONBody?) async throws -> Session {
        let claims = try await verifiedClaims(request, body: body)
        guard let user = try await store.user(id: claims.uuid, session: claims.sid) else {
            throw PanError.tokenInvalid
        }
        try user.admit(claims.credential)
        return Session(user: user, sessionId: claims.sid, refreshedToken: try await refreshedToken(for: user, claims: claims))
    }

    /// The token's signature and expiry only: for an endpoint whose own
    /// transaction reads the user and admits the token there (`PanStore.requestToken`).
    package func verifiedClaims(_ request: Request, body: JSONBody?) async throws -> SessionClaims {
        guard let token = Self.carriedToken(request, body: body) else { throw PanError.unauthorized }
        return try await tokens.verify(token)
    }

    /// A fresh token for the reply, in the same session, once the user was
    /// admitted with `claims` (`user` read with its session); notes the
    /// session as seen (written later, off the request: `UserSessionActivity`).
    package func refreshedToken(for user: User, claims: SessionClaims) async throws -> String {
        if let sid = claims.sid, let lastSeenAt = user.sessionSeenAt {
            activity.saw(userId: user.id, sessionId: sid, lastSeenAt: lastSeenAt)
        }
        return try await tokens.issue(for: user, session: claims.sid)
    }
}
