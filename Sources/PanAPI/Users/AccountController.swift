import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport

/// People's own accounts (issue #28): `changePassword`, `changeName`,
/// `changeNameAndGet`, sign-up (`registration`, `register`), and clear
/// refusals for what Pan does not do — the SMS endpoints and `/v1/offline/*`
/// (`api.md` §3 and §8 of the clients' spec).
package struct AccountController {
    let store: any PanStore
    let authenticator: Authenticator
    let passwords: PasswordHasher
    /// The login throttle itself: a wrong old password and a refused sign-up
    /// count with failed logins, and every password hashed here takes a check
    /// from the address's budget, as a login does.
    let throttle: LoginThrottle
    let clientAddress: ClientAddress
    let hashPool: HashPool
    let maxSessions: Int
    let registration: RegistrationMode
    let registrationQuota: Int64

    package init(store: any PanStore, authenticator: Authenticator, passwords: PasswordHasher, throttle: LoginThrottle, clientAddress: ClientAddress, hashPool: HashPool, maxSessions: Int, registration: RegistrationMode, registrationQuota: Int64) {
        self.store = store
        self.authenticator = authenticator
        self.passwords = passwords
        self.throttle = throttle
        self.clientAddress = clientAddress
        self.hashPool = hashPool
        self.maxSessions = maxSessions
        self.registration = registration
        self.registrationQuota = registrationQuota
    }

    /// What the clients call for SMS: sign-up, sign-in and password reset by text message.
    static let smsRoutes = [
        "sendRegisterMessage", "sendLoginMessage", "loginByMessage", "sendChangePasswordMessage", "changePasswordByMessage",
        "sendRegisterMessage2", "sendLoginMessage2", "loginByMessage2", "sendChangePasswordMessage2", "changePasswordByMessage2",
    ]
    /// Offline (torrent, magnet, URL) download tasks.
    static let offlineRoutes = ["page", "parseUrl", "parseTorrent", "parseMagnet", "start", "remove"]

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/user/changePassword", use: changePassword)
        router.post("/v1/user/changeName", use: changeName)
        router.post("/v1/user/changeNameAndGet", use: changeName)
        router.post("/v1/user/registration", use: registrationMode)
        router.post("/v1/user/register", use: register)
        for name in Self.smsRoutes {
            router.post("/v1/user/\(name)") { _, _ -> Response in throw PanError.smsNotAvailable }
        }
        for name in Self.offlineRoutes {
            router.post("/v1/offline/\(name)") { _, _ -> Response in throw PanError.offlineNotSupported }
        }
    }

    private static let hashBusy = PanError(status: 503, code: "SERVICE_UNAVAILABLE", "too many sign-ins at once; try again shortly", retryAfter: 1)

    /// `{oldPassword, newPassword}`, each plain or MD5 hex as at login. The
    /// old one is checked under the login throttle for this account (a wrong
    /// one is a failed sign-in: 403 `OLD_PASSWORD_WRONG`, then 429), with
    /// the slow lane on — a stolen token must not make guessing cheaper
    /// than the login page does. On success every token of the user dies
    /// (the version is bumped) and every other session ends; the caller's
    /// session goes on with the token of the new version in this reply.
    @Sendable func changePassword(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        guard let old = try body.string("oldPassword"), !old.isEmpty else { throw PanError.passwordRequired }
        let new = try body.string("newPassword")
        do { try PasswordRule.check(new) } catch { throw PanError.invalidField("newPassword", error.message) }
        guard let new, let stored = try await store.passwordHash(userId: session.user.id) else { throw PanError.tokenInvalid }

        let address = clientAddress.address(of: request, peer: context.remoteAddress)?.limitKey ?? "-"
        let passwords = self.passwords
        let matches = try await throttle.check(
            address: address, account: LoginThrottle.accountKey(session.user.id), knownDevice: false, on: hashPool
        ) { passwords.verify(clientPassword: old, stored: stored) }
        guard matches else { throw PanError.oldPasswordWrong }
        let newHash = try await hash(new)

        var sessionId = session.sessionId
        var user = try await store.changePassword(userId: session.user.id, expected: stored, newHash: newHash, keep: sessionId)
        if sessionId == nil {
            // A token from before sessions: it died with the version; go on in a session of its own.
            let device = DeviceLabel.label(device: nil, userAgent: request.headers[.userAgent])
            let started = try await store.startUserSession(userId: user.id, device: device, address: ipText(request, context), limit: maxSessions)
            sessionId = started.id
            user = try await store.user(id: user.id) ?? user
        }
        context.logger.info("password changed", metadata: ["user": "\(user.id)"])
        return try Reply.ok(UserDTO(user: user), token: try await authenticator.tokens.issue(for: user, session: sessionId))
    }

    /// `{name}` (A: `changeName`; L: `changeNameAndGet`, which reads the
    /// reply) → the user object, with a token carrying the new name. The rules
    /// of `pan user add` (`UserNameRule`); surrounding spaces are trimmed, as
    /// at login. Taken by another account → 409 `NAME_TAKEN`.
    @Sendable func changeName(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let name = (try body.string("name") ?? "").trimmedSpaces()
        try UserNameRule.check(name)
        let user = try await store.changeName(userId: session.user.id, to: name)
        if user.name != session.user.name {
            context.logger.info("user renamed", metadata: ["user": "\(user.id)"])
        }
        return try Reply.ok(UserDTO(user: user), token: try await authenticator.tokens.issue(for: user, session: session.sessionId))
    }

    private struct RegistrationDTO: Encodable {
        let mode: String
        /// Whether `register` needs an invite code.
        let inviteRequired: Bool
    }

    /// Unauthenticated: whether this server takes sign-ups (`PAN_REGISTRATION`),
    /// so a client shows its sign-up page only when it does.
    @Sendable func registrationMode(_ request: Request, context: AppRequestContext) async throws -> Response {
        try Reply.ok(RegistrationDTO(mode: registration.rawValue, inviteRequired: registration == .invite), token: nil)
    }

    /// Unauthenticated sign-up, in every client's shape: W `{code, name,
    /// phoneInfo, password: md5}`, Q `{name, password: plain, code,
    /// phoneInfo}`, C `{name, password: md5, code, phoneInfo}`; L sends no
    /// name and is refused (400 `INVALID_NAME`): its sign-up is by phone,
    /// and without SMS there is nothing to sign in with but a name. The
    /// invite is `code` (its SMS code field); `phone`, `phoneInfo` and
    /// `countryCode` are ignored. Reply as login: the user object and a token
    /// of a new session. Every attempt takes a password check from the
    /// address's login budget; a refused invite or a taken name is a failure
    /// there (an address guessing codes or probing names is stopped with 429).
    @Sendable func register(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard registration != .closed else { throw PanError.registrationClosed }
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let name = (try body.string("name") ?? "").trimmedSpaces()
        if name.isEmpty {
            throw PanError.invalidName("a user name is required (this server sends no text messages, so an account is signed in to by its name)")
        }
        try UserNameRule.check(name)
        let password = try body.string("password")
        try PasswordRule.check(password)
        var inviteHash: String?
        if registration == .invite {
            guard let code = try body.string("code", "inviteCode")?.trimmedSpaces(), !code.isEmpty else { throw PanError.inviteRequired }
            // Anything longer than a code is not one; hashing it costs nothing either way.
            inviteHash = Invite.hash(code: String(code.prefix(256)))
        }

        let address = clientAddress.address(of: request, peer: context.remoteAddress)?.limitKey ?? "-"
        let attempt = try throttle.admitOrRefuse(address: address, account: LoginThrottle.registrationKey(address), knownDevice: false)
        let passwordHash: String
        do {
            if attempt.wait > 0 { try await Task.sleep(for: .milliseconds(Int64((attempt.wait * 1000).rounded(.up)))) }
            passwordHash = try await hash(password!)
        } catch {
            throttle.settle(attempt, .notChecked)
            throw error
        }
        let device = DeviceLabel.label(device: try? body.string("device"), userAgent: request.headers[.userAgent])
        let new = Registration(
            name: name, passwordHash: passwordHash, inviteHash: inviteHash, defaultQuota: registrationQuota,
            device: device, address: ipText(request, context), sessionLimit: maxSessions
        )
        let user: User, session: UserSession
        do {
            (user, session) = try await store.register(new)
        } catch let error as PanError where error == .inviteInvalid || error == .nameTaken {
            throttle.settle(attempt, .failed)
            throw error
        } catch {
            throttle.settle(attempt, .notChecked)
            throw error
        }
        throttle.settle(attempt, .succeeded)
        context.logger.info("user registered", metadata: ["user": "\(user.id)", "invite": "\(inviteHash != nil)"])
        return try Reply.ok(UserDTO(user: user), token: try await authenticator.tokens.issue(for: user, session: session.id))
    }

    /// A new password's stored form, hashed on the hash pool (503 when it is full).
    private func hash(_ password: String) async throws -> String {
        let passwords = self.passwords
        let result: String?
        do {
            result = try await hashPool.run { try? passwords.hash(clientPassword: password) }
        } catch is HashPool.Busy {
            throw Self.hashBusy
        }
        guard let result else { throw PanError.internalError("could not hash the password") }
        return result
    }

    private func ipText(_ request: Request, _ context: AppRequestContext) -> String {
        DeviceLabel.sanitized(clientAddress.ip(of: request, peer: context.remoteAddress) ?? "", limit: UserSession.maxAddressLength) ?? "-"
    }
}

extension LoginThrottle {
    /// Sign-ups from one address count as one account of their own.
    static func registrationKey(_ address: String) -> String { "r:\(address)" }
}
