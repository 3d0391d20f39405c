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
        // Limits count per address, an IPv6 client per /64 (`IPAddress.limitKey`).
        let address = clientAddress.address(of: request, peer: context.remoteAddress)?.limitKey ?? "-"
        // Keyed by the account when it exists, so its name and phone share one count.
        let account = found.map { LoginThrottle.accountKey($0.0.id) } ?? LoginThrottle.loginKey(value)

        let passwords = self.passwords
        // Unknown users hash against a dummy, so timing does not reveal who exists.
        let stored = found?.passwordHash
            ?? "pbkdf2-sha256$\(passwords.rounds)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        // A disabled account answers exactly like a wrong password, after the same
        // work: "disabled" only after a correct password would confirm the
        // password to a guesser, and "disabled" before it would confirm the account.
        let enabled = found.map { !$0.0.isDisabled } ?? false
        let matches = try await throttle.check(
            address: address, account: account, knownDevice: await carriesSession(request, body: body, of: found?.0), on: hashPool
        ) { passwords.verify(clientPassword: password, stored: stored) && enabled }
        guard matches, let user = found?.0 else { throw PanError.loginFailed }
        return try Reply.ok(UserDTO(user: user), token: try await authenticator.tokens.issue(for: user))
    }

    /// A valid, unrevoked session token of this very account in the request:
    /// a device the owner signed in on, which the throttle's slow lane lets
    /// through (failures from elsewhere must not lock the owner out). The
    /// password is still checked; a client that only wants to stay signed in
    /// needs no login at all — `user/info` with its token is the cheap path.
    private func carriesSession(_ request: Request, body: JSONBody, of user: User?) async -> Bool {
        guard let user, let token = Authenticator.carriedToken(request, body: body),
              let claims = try? await authenticator.tokens.verify(token) else { return false }
        return claims.uuid == user.id && claims.ver == user.tokenVersion
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
