import Crypto
import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import PanCore
import PanHTTPSupport

/// HTTP Basic for `/dav/`: the account's login (name or phone) and either one
/// of its app passwords (`AppPassword`) or — unless `PAN_DAV_ACCOUNT_PASSWORD=off`
/// — its own password (plain or its MD5 hex, as `/v1/user/login` takes), each
/// under the login throttle: a wrong one is a failed sign-in wherever it was tried.
///
/// An app password is one HMAC and one indexed read, on every request, never
/// cached: a revoke, or the account being disabled, takes effect at the next
/// request on every server.
///
/// A WebDAV client sends the password with every request (rclone: hundreds a
/// sync), and each check is a PBKDF2: a success is remembered for
/// `cacheLifetime`, keyed by an HMAC — under a key made at startup and never
/// stored — of the login, the stored hash and the password, never the password
/// itself. A password change changes the stored hash: the entry no longer matches.
final class DAVAuthenticator: Sendable {
    struct Failure: Error {
        let error: PanError
    }

    let store: any PanStore
    let passwords: PasswordHasher
    let throttle: LoginThrottle
    let hashPool: HashPool
    let clientAddress: ClientAddress
    /// Hashes an app password's secret as its row keeps it.
    let appPasswords: AppPasswordKey
    /// `PAN_DAV_ACCOUNT_PASSWORD`: false, app passwords only.
    let acceptsAccountPassword: Bool
    static let cacheLifetime: TimeInterval = 300
    static let cacheLimit = 10_000
    private let key = SymmetricKey(size: .bits256)
    private let verified = NIOLockedValueBox<[Data: TimeInterval]>([:])

    init(
        store: any PanStore, passwords: PasswordHasher, throttle: LoginThrottle, hashPool: HashPool, clientAddress: ClientAddress,
        appPasswords: AppPasswordKey, acceptsAccountPassword: Bool
    ) {
        self.appPasswords = appPasswords
        self.acceptsAccountPassword = acceptsAccountPassword
        self.store = store
        self.passwords = passwords
        self.throttle = throttle
        self.hashPool = hashPool
        self.clientAddress = clientAddress
    }

    /// The login and password of an `Authorization: Basic` header; nil when there is none or it is malformed.
    static func basicCredentials(_ header: String?) -> (login: String, password: String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The signed-in user, or `Failure` (401 unless throttled: 429, or 503 when the hash pool is full).
    func authenticate(_ request: Request, context: AppRequestContext) async throws -> User {
        guard let (rawLogin, password) = Self.basicCredentials(request.headers[.authorization]) else {
            throw Failure(error: .unauthorized)
        }
        let login = rawLogin.trimmingCharacters(in: .whitespaces)
        guard !login.isEmpty, !password.isEmpty, login.utf8.count <= 256, password.utf8.count <= 1024 else {
            throw Failure(error: .loginFailed)
        }
        let found = try await store.credentials(forLogin: login)
        let address = clientAddress.address(of: request, peer: context.remoteAddress)?.limitKey ?? "-"
        let account = found.map { LoginThrottle.accountKey($0.0.id) } ?? LoginThrottle.loginKey(login)
        if let canonical = AppPasswordSecret.canonical(password) {
            if let user = try await appPasswordUser(found?.0, canonical: canonical, address: address, account: account) { return user }
        } else if !acceptsAccountPassword {
            // Nothing an app password could be: a failed sign-in all the same, without a hash.
            throttle.settle(try admit(address: address, account: account), .failed)
        }
        guard acceptsAccountPassword else { throw Failure(error: .loginFailed) }
        if let (user, stored) = found, !user.isDisabled {
            let entry = cacheKey(login: login, stored: stored, password: password)
            let now = Date().timeIntervalSince1970
            if let until = verified.withLockedValue({ $0[entry] }), until > now { return user }
        }
        let passwords = self.passwords
        // Unknown users hash against a dummy, so timing does not reveal who exists.
        let stored = found?.passwordHash
            ?? "pbkdf2-sha256$\(passwords.rounds)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        let enabled = found.map { !$0.0.isDisabled } ?? false
        let matches: Bool
        do {
            matches = try await throttle.check(address: address, account: account, knownDevice: false, on: hashPool) {
                passwords.verify(clientPassword: password, stored: stored) && enabled
            }
        } catch let error as PanError {
            throw Failure(error: error)
        }
        guard matches, let user = found?.0 else { throw Failure(error: .loginFailed) }
        let entry = cacheKey(login: login, stored: stored, password: password)
        let until = Date().timeIntervalSince1970 + Self.cacheLifetime
        verified.withLockedValue { cache in
            if cache.count >= Self.cacheLimit {
                let now = Date().timeIntervalSince1970
                cache = cache.filter { $0.value > now }
                if cache.count >= Self.cacheLimit { cache.removeAll() }
            }
            cache[entry] = until
        }
        return user
    }

    /// The user `canonical` is an app password of, or nil: then, when the
    /// account's password is tried next, that check counts the attempt;
    /// otherwise it is a failed sign-in here. Under the throttle like any
    /// password (a refused address stays refused), but without the hash pool.
    private func appPasswordUser(_ user: User?, canonical: String, address: String, account: String) async throws -> User? {
        let attempt = try admit(address: address, account: account)
        let found: AppPassword?
        do {
            if attempt.wait > 0 { try await Task.sleep(for: .milliseconds(Int64((attempt.wait * 1000).rounded(.up)))) }
            // An unknown login is looked up under an id no user has: the same work, so timing does not tell who exists.
            found = try await store.verifyAppPassword(userId: user?.id ?? -1, secretHash: appPasswords.hash(canonical: canonical))
        } catch {
            throttle.settle(attempt, .notChecked)
            throw error
        }
        guard let found, let user, !user.isDisabled else {
            throttle.settle(attempt, acceptsAccountPassword ? .notChecked : .failed)
            return nil
        }
        throttle.settle(attempt, .succeededWithoutHash)
        let now = Millis.now()
        if found.needsTouch(now: now) {
            // "Last used" is for the owner's list; a failed write of it must not fail the request.
            try? await store.touchAppPassword(userId: user.id, id: found.id, at: now)
        }
        return user
    }

    /// An attempt admitted by the throttle, or its refusal (429) as the `Failure` a client sees.
    private func admit(address: String, account: String) throws -> LoginThrottle.Attempt {
        switch throttle.admit(address: address, account: account, knownDevice: false) {
        case .admitted(let attempt): return attempt
        case .refused(let seconds, let reason): throw Failure(error: LoginThrottle.refusal(retryAfter: seconds, reason: reason))
        }
    }

    private func cacheKey(login: String, stored: String, password: String) -> Data {
        var mac = HMAC<SHA256>(key: key)
        for part in [login, stored, password] {
            mac.update(data: Data(part.utf8))
            mac.update(data: [0])
        }
        return Data(mac.finalize())
    }
}
