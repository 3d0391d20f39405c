import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport

/// `/v1/user/login`, `/v1/user/info`, and the sign-in sessions: `logout`
/// (this one), `logoutAll` (every one), `sessions`, `sessions/revoke`.
package struct UserController {
    let store: any PanStore
    let authenticator: Authenticator
    let passwords: PasswordHasher
    let throttle: LoginThrottle
    let clientAddress: ClientAddress
    let hashPool: HashPool
    /// Most sign-in sessions per user (`PAN_MAX_SESSIONS`).
    let maxSessions: Int

    package init(store: any PanStore, authenticator: Authenticator, passwords: PasswordHasher, throttle: LoginThrottle, clientAddress: ClientAddress, hashPool: HashPool, maxSessions: Int) {
        self.store = store
        self.authenticator = authenticator
        self.passwords = passwords
        self.throttle = throttle
        self.clientAddress = clientAddress
        self.hashPool = hashPool
        self.maxSessions = maxSessions
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/user/login", use: login)
        router.post("/v1/user/info", use: info)
        router.post("/v1/user/logout", use: logout)
        router.post("/v1/user/logoutAll", use: logoutAll)
        router.post("/v1/user/sessions", use: sessions)
        router.post("/v1/user/sessions/revoke", use: revokeSession)
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
        // Every login is a sign-in session of its own, which logout ends alone.
        // `device` is whatever the client calls itself; an odd value is not refused.
        let device = DeviceLabel.label(device: try? body.string("device"), userAgent: request.headers[.userAgent])
        let from = DeviceLabel.sanitized(clientAddress.ip(of: request, peer: context.remoteAddress) ?? "", limit: UserSession.maxAddressLength) ?? "-"
        let session = try await store.startUserSession(userId: user.id, device: device, address: from, limit: maxSessions)
        return try Reply.ok(UserDTO(user: user), token: try await authenticator.tokens.issue(for: user, session: session.id))
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

    /// Ends the caller's sign-in session only: its tokens are refused from now
    /// on, by every server; the user's other sessions go on. A token from
    /// before sessions has none to end: its logout succeeds and ends nothing
    /// (ending everything was issue #26's bug 3; `logoutAll` does that).
    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        if let sessionId = session.sessionId {
            // False only if a revoke from elsewhere ended it meanwhile: ended either way.
            _ = try await store.endUserSession(userId: session.user.id, id: sessionId)
        }
        return try Reply.ok(NoResult(), token: nil)
    }

    /// Signs out everywhere: every session of the user, the caller's included,
    /// and every token from before sessions (the token version is bumped).
    @Sendable func logoutAll(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        try await store.revokeTokens(userId: session.user.id)
        return try Reply.ok(NoResult(), token: nil)
    }

    /// The caller's sign-in sessions, most recently seen first.
    @Sendable func sessions(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let list = try await store.userSessions(userId: session.user.id, limit: maxSessions)
        return try Reply.ok(UserSessionListDTO(sessions: list, current: session.sessionId), token: session.refreshedToken)
    }

    /// Ends one of the caller's sessions (`{id}`); another user's or an unknown id is 404 `SESSION_NOT_FOUND`.
    @Sendable func revokeSession(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        guard let id = try body.string("id")?.trimmedSpaces(), !id.isEmpty else { throw PanError.invalidField("id", "the session's id is required") }
        guard try await store.endUserSession(userId: session.user.id, id: id) else { throw PanError.userSessionNotFound }
        // Revoking the caller's own session is a logout: no token to hand back.
        return try Reply.ok(NoResult(), token: id == session.sessionId ? nil : session.refreshedToken)
    }
}
