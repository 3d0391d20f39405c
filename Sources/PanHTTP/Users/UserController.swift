import Hummingbird
import PanCore
import TextSupport

/// `/v1/user/login`, `/v1/user/info`, `/v1/user/logout`.
struct UserController {
    let store: any PanStore
    let authenticator: Authenticator
    let passwords: PasswordHasher
    let throttle: LoginThrottle
    let clientAddress: ClientAddress
    let hashPool: HashPool

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
        // Only the lookup runs on a reader queue (microseconds); the hash never does.
        let found = try await store.credentials(forLogin: value)
        let ip = LoginThrottle.ipKey(clientAddress.ip(of: request, peer: context.remoteAddress) ?? "-")
        // Keyed by the account when it exists, so its name and phone share one count.
        let account = found.map { LoginThrottle.accountKey($0.0.id) } ?? LoginThrottle.loginKey(value)
        if let wait = throttle.begin([ip, account]) { throw PanError.tooManyAttempts(retryAfter: wait) }

        let passwords = self.passwords
        // Unknown users hash against a dummy, so timing does not reveal who exists.
        let stored = found?.passwordHash
            ?? "pbkdf2-sha256$\(passwords.rounds)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        let matches: Bool
        do {
            matches = try await hashPool.run { passwords.verify(clientPassword: password, stored: stored) }
        } catch is HashPool.Busy {
            throw PanError(status: 503, code: "SERVICE_UNAVAILABLE", "too many sign-ins at once; try again shortly", retryAfter: 1)
        }
        // A disabled account answers exactly like a wrong password, after the same
        // work: "disabled" only after a correct password would confirm the
        // password to a guesser, and "disabled" before it would confirm the account.
        guard matches, let user = found?.0, !user.isDisabled else { throw PanError.loginFailed }
        throttle.succeeded(account: [account], ip: ip)
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
