/// One sign-in: every `/v1/user/login` starts one, its session token carries
/// the id (`sid`), and it ends alone (logout, revoke) or with all of the
/// user's others (logout everywhere, a token-version bump). Rows live in
/// `sessions`, keyed `(user_id, id)`.
public struct UserSession: Sendable, Equatable {
    /// 32 hex characters from the system CSPRNG (`RandomID.hex32`). Shown to
    /// the owner: not a credential (a token is only good with its HMAC).
    public var id: String
    public var userId: Int64
    /// What the client calls itself (login's `device`), or a label derived from its User-Agent.
    public var device: String
    /// The client's address at sign-in.
    public var address: String
    /// Unix milliseconds, like every time in the API.
    public var createdAt: Int64
    /// Updated at most once per `touchInterval` (see `UserSessionActivity`), so it may lag that much.
    public var lastSeenAt: Int64

    /// Most live sign-ins per user by default (`PAN_MAX_SESSIONS`): one past it ends the least recently seen.
    public static let defaultLimit = 100
    /// `last_seen_at` is written at most this often per session (milliseconds).
    public static let touchInterval: Int64 = 5 * 60 * 1000
    /// A session not seen for the token lifetime plus this margin is swept:
    /// its last token has expired for sure (`last_seen_at` lags by up to
    /// `touchInterval` and a flush; a reused token is up to 30 s older).
    public static let sweepMargin: Int64 = 15 * 60 * 1000
    /// Longest device label and address kept, in characters.
    public static let maxDeviceLength = 64
    public static let maxAddressLength = 64

    public init(id: String, userId: Int64, device: String, address: String, createdAt: Int64, lastSeenAt: Int64) {
        self.id = id
        self.userId = userId
        self.device = device
        self.address = address
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }

    /// Whether a request that found the session last seen at `lastSeenAt` should record that it was seen again.
    public static func isStale(lastSeenAt: Int64, now: Int64) -> Bool {
        now - lastSeenAt >= touchInterval
    }
}

/// What a session token claims, checked against the user row on every
/// authenticated request (`User.admit`).
public struct SessionCredential: Sendable, Equatable {
    /// The user's token version when the token was signed.
    public var tokenVersion: Int64
    /// The sign-in the token belongs to; nil for a token signed before
    /// sessions existed (valid until it expires or the version is bumped).
    public var sessionId: String?

    public init(tokenVersion: Int64, sessionId: String?) {
        self.tokenVersion = tokenVersion
        self.sessionId = sessionId
    }
}

/// A session seen again at `at` (Unix ms), to be written to `last_seen_at`.
public struct UserSessionSighting: Sendable, Hashable {
    public var userId: Int64
    public var sessionId: String
    public var at: Int64

    public init(userId: Int64, sessionId: String, at: Int64) {
        self.userId = userId
        self.sessionId = sessionId
        self.at = at
    }
}
