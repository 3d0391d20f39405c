import Hummingbird
import PanCore
import WCS

/// `/v1/user/login`, `/v1/user/info`, `/v1/user/logout`.
struct UserController {
    let store: any PanStore
    let authenticator: Authenticator
    let passwords: PasswordHasher

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/user/login", use: login)
        router.post("/v1/user/info", use: info)
        router.post("/v1/user/logout", use: logout)
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        guard let value = try body.string("value", "name", "phone")?.trimmedSpaces(), !value.isEmpty else {
            throw PanError.valueRequired
        }
        guard let password = try body.string("password"), !password.isEmpty else { throw PanError.passwordRequired }
        let passwords = self.passwords
        let found = try await store.credentials(forLogin: value)
        // The KDF is deliberately slow: it runs on the blocking-I/O queue, off the cooperative pool.
        let user = try await BlockingIO.run { () -> User? in
            guard let (user, hash) = found else {
                // Same work for unknown users, so timing does not reveal who exists.
                _ = passwords.verify(clientPassword: password, stored: "pbkdf2-sha256$\(passwords.rounds)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
                return nil
            }
            return passwords.verify(clientPassword: password, stored: hash) ? user : nil
        }
        guard let user else { throw PanError.loginFailed }
        guard !user.isDisabled else { throw PanError.userDisabled }
        return try Reply.ok(UserDTO(user: user), token: try await authenticator.tokens.issue(for: user))
    }

    @Sendable func info(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        return try Reply.ok(UserDTO(user: session.user), token: session.refreshedToken)
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let userId = session.user.id
        try await store.revokeTokens(userId: userId)
        return try Reply.ok(NoResult(), token: nil)
    }
}
