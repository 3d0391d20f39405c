import Foundation
import HTTPTypes
import Hummingbird
import PanCore
import TextSupport

/// Finds the session token wherever a client put it, checks it, and loads
/// the user: the one gate of every authenticated endpoint.
struct Authenticator: Sendable {
    let tokens: SessionTokens
    let store: any PanStore

    /// The caller, and a fresh token for the reply.
    struct Session: Sendable {
        let user: User
        let refreshedToken: String
    }

    /// `api.md` §3, first found wins: `Authorization: Bearer`, `Token`,
    /// `Qingzhen-Token`, `?token=`, `?auth=`, body field `token`.
    static func carriedToken(_ request: Request, body: JSONBody?) -> String? {
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

    func authenticate(_ request: Request, body: JSONBody?) async throws -> Session {
        guard let token = Self.carriedToken(request, body: body) else { throw PanError.unauthorized }
        let claims = try await tokens.verify(token)
        guard let user = try await store.user(id: claims.uuid) else {
            throw PanError.tokenInvalid
        }
        // Logout, password changes and disabling bump the version: older tokens die.
        guard user.tokenVersion == claims.ver else { throw PanError.tokenInvalid }
        guard !user.isDisabled else { throw PanError.userDisabled }
        return Session(user: user, refreshedToken: try await tokens.issue(for: user))
    }
}
