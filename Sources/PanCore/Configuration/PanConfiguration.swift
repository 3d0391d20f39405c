import Foundation
import TextSupport
import WCS

/// Everything Pan is configured with. Defaults run with zero setup; the CLI
/// fills this from flags, then `PAN_*` environment variables.
public struct PanConfiguration: Sendable {
    public var dataDirectory = "./pan-data"
    /// `postgres://user:password@host:port/database`: every Pan server pointed
    /// at one PostgreSQL database. nil: SQLite in the data directory (the default).
    public var databaseURL: String?
    /// Connections (and transaction threads) each server keeps to PostgreSQL.
    public var databasePoolSize = 8
    /// Seconds a PostgreSQL transaction waits for a pooled connection (the
    /// database down or saturated) before the request gets 503 + Retry-After.
    public var databaseWait: Double = 5
    public var host = "127.0.0.1"
    public var port = 8080
    /// When set, `/healthz`, `/readyz` and `/metrics` are served only on this
    /// port (on `host`), not on the public one.
    public var adminPort: Int?
    /// How long `pan serve` lets in-flight requests finish after SIGTERM/SIGINT
    /// before cancelling them (the WAL is checkpointed either way).
    public var shutdownTimeout: TimeInterval = 60
    /// The URL clients and WCS reach Pan at (behind a proxy: the proxy's).
    /// Used for `callbackUrl`, the local `uploadUrl`, download links and callback
    /// signature checks — never rebuilt from request headers.
    public var publicBaseURL: String?
    public var bucket = "pan"
    /// WCS key pairs; empty: a local pair is generated and kept in the data directory.
    public var wcsKeys: [Credentials] = []
    /// An external WCS upload host; nil: Pan's own local upload endpoint.
    public var uploadURL: String?
    /// Who gets stored content by naming its hash (`PAN_INSTANT_UPLOAD`):
    /// own content always; someone else's only with a proof of possession
    /// (`proof`, the default), never (`owner`), or on the hash alone (`global`,
    /// the original server's behaviour: a hash is then a key to the file).
    public var instantUpload: InstantUploadPolicy = .proof
    /// What instant upload does here: with an external WCS and no download
    /// domain the stored bytes cannot be read to check a proof, so `proof` is `owner`.
    public var effectiveInstantUpload: InstantUploadPolicy {
        instantUpload == .proof && !usesLocalUploadEndpoint && downloadDomain == nil ? .owner : instantUpload
    }
    /// Where external WCS serves objects (`downloadAddress`); nil with the local endpoint.
    public var downloadDomain: String?
    /// HS256 secret for session tokens; nil: generated at first start, kept in the data directory.
    public var jwtSecret: String?
    public var sessionTokenLifetime: TimeInterval = 7 * 24 * 3600
    /// Most sign-in sessions one user may hold (`PAN_MAX_SESSIONS`); a login past it ends the least recently seen.
    public var maxSessionsPerUser = UserSession.defaultLimit
    /// Who may create an account through `POST /v1/user/register` (`PAN_REGISTRATION`):
    /// nobody (`closed`, the default), holders of an invite code (`invite`), anyone (`open`).
    public var registration: RegistrationMode = .closed
    /// Space capacity of an account registered without an invite (`PAN_REGISTRATION_QUOTA`; an invite carries its own).
    public var registrationQuota: Int64 = 10 << 30
    /// How often noted "last seen" times of sign-in sessions are written (`UserSessionActivity`).
    public var sessionActivityInterval: TimeInterval = 60
    public var callbackPath = "/v1/callback/ws/post"
    /// The local upload endpoint's callback to `callbackURL`, all attempts together
    /// (`PAN_CALLBACK_TIMEOUT`); past it the upload is answered `579`.
    public var callbackTimeout: TimeInterval = 30
    public var callbackCheck: CallbackCheck = .signature
    /// IPs or CIDR ranges callbacks may come from (with `.ip` or `.both`).
    public var callbackAllowlist: [String] = []
    /// Peers whose `X-Forwarded-For` / `X-Real-IP` are believed.
    public var trustedProxies: [String] = []
    public var uploadTokenTTL: TimeInterval = 3600
    /// A pending upload lapses (its reservation released) after this many
    /// seconds with no bytes arriving at the local endpoint (`PAN_UPLOAD_IDLE`); 0: never.
    public var uploadIdle: TimeInterval = 600
    /// With an external WCS, where no byte reaches Pan: seconds after the
    /// grant, plus 1 s per 256 KiB declared (`PAN_UPLOAD_IDLE_EXTERNAL`); 0: never.
    public var uploadIdleExternal: TimeInterval = 1800
    public var passwordRounds = 210_000
    public var readerCount = 4
    /// How many write transactions may share one commit (group commit); 1 turns it off.
    public var writeBatch = 64
    /// A connection with no request in progress — waiting for a request's head,
    /// or for body bytes that stopped coming — is closed after this long
    /// (nginx's `client_header_timeout`/`client_body_timeout`/`keepalive_timeout`
    /// in one). `nil` (`PAN_IDLE_TIMEOUT=0`): never.
    public var idleTimeout: TimeInterval? = 60
    /// Most open client connections; past it Pan stops accepting until one closes.
    public var maxConnections = 1024
    /// Most open connections from one peer address (`PAN_MAX_CONNECTIONS_PER_IP`);
    /// more are answered `429 TOO_MANY_CONNECTIONS` and closed. Peers in
    /// `trustedProxies` are exempt (behind nginx every connection is nginx's).
    /// nil: an eighth of `maxConnections`; 0: no cap.
    public var maxConnectionsPerIP: Int?
    public var effectiveMaxConnectionsPerIP: Int? {
        let cap = maxConnectionsPerIP ?? max(1, maxConnections / 8)
        return cap == 0 ? nil : cap
    }
    /// Bytes per second a request's head and body must average, after
    /// `requestGrace` seconds, counting only time Pan was waiting for them
    /// (Apache's `mod_reqtimeout` rule: the deadline is grace + bytes / rate).
    /// Slower requests are answered `408 REQUEST_TOO_SLOW` and closed. 0: no rule.
    public var minimumBodyRate = 1024
    public var requestGrace: TimeInterval = 20
    /// Bearer token that opens `/metrics` and `/readyz` on the public port to
    /// any address (without it: loopback and `trustedProxies` only).
    public var metricsToken: String?
    /// How often the database gauges of `/metrics` are recomputed in the background.
    public var metricsInterval: TimeInterval = 30
    /// How long `/readyz`'s database check may take before it counts as failed.
    public var readinessTimeout: TimeInterval = 1
    /// How often `/readyz`'s database check (a no-op write transaction) runs in the background.
    public var readinessInterval: TimeInterval = 5
    /// File bytes the local form endpoint accepts before it has seen the form's
    /// token (the Java SDK sends the file first), per request and in total.
    public var preauthUploadBytes = 8 << 20
    public var preauthUploadTotal = 128 << 20
    /// Most unfinished upload sessions (tokens not yet completed or expired) per user.
    public var maxPendingUploads = 256
    /// Most nodes (files and directories, live or in the bin) one user may have; 0: no cap (`NodeLimits`).
    public var maxNodesPerUser: Int64 = NodeLimits.defaultPerUser
    /// Failed sign-ins allowed per account from one client address, and per
    /// client address, in each window before that address is refused with 429;
    /// past `loginFailuresPerAccount` failures from all addresses together the
    /// account's sign-ins from unknown addresses are slowed (`LoginThrottle`).
    public var loginFailuresPerAccount = 10
    public var loginFailuresPerIP = 100
    public var loginWindow: TimeInterval = 900
    /// Password checks (every login that is hashed, right or wrong) one client address may start per minute.
    public var loginChecksPerIP = 30
    /// `PAN_DAV_ACCOUNT_PASSWORD`: whether `/dav/` takes the account's own
    /// password (`on`, the default) or only app passwords (`off`).
    public var davAccountPassword = true
    /// Origins browsers may call the API from (CORS). nil: the public URL's
    /// origin only. `["*"]`: any origin (explicitly).
    public var corsOrigins: [String]?
    /// The origins CORS answers for, after defaults.
    public var effectiveCORSOrigins: [String] {
        corsOrigins ?? [Self.origin(of: effectivePublicBaseURL)].compactMap { $0 }
    }

    /// `scheme://host[:port]` of a URL, lowercased, default ports dropped: what browsers send in `Origin`.
    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host?.lowercased(), !host.isEmpty else { return nil }
        let port = components.port.flatMap { (scheme == "http" && $0 == 80) || (scheme == "https" && $0 == 443) ? nil : $0 }
        return "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }
    /// Uploads are refused (507 STORAGE_FULL) and `/readyz` is 503 while the
    /// data directory's filesystem has less free space than this.
    public var minimumFreeBytes: Int64 = 64 << 20
    /// How often expired upload sessions are swept, and the recycle bin's retention applied.
    public var sweepInterval: TimeInterval = 60
    /// How long an item stays in the recycle bin before the sweeper deletes it
    /// for good (`PAN_BIN_RETENTION`); nil (`0`, `off`): kept until the user empties it.
    public var binRetention: TimeInterval? = 30 * 24 * 3600
    /// How much one step of emptying a bin deletes: not a setting (tests make it small).
    public var binStep: RecycleBin.StepSize = .standard
    /// Serve the web app from this folder (read on every request) instead of
    /// the copy embedded at build time: for working on `web/` without rebuilding.
    public var webDirectory: String?

    public enum CallbackCheck: String, Sendable, CaseIterable {
        case signature, ip, both
        /// Only by explicit configuration; logged as a warning at start.
        case off
    }

    public init() {}

    public var effectivePublicBaseURL: String {
        var base = publicBaseURL ?? "http://\(host):\(port)"
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    public var callbackURL: String { effectivePublicBaseURL + callbackPath }
    public var usesLocalUploadEndpoint: Bool { uploadURL == nil }
    public var effectiveUploadURL: String { uploadURL ?? effectivePublicBaseURL }

    /// Applies `PAN_*` variables over the current values.
    public mutating func apply(environment: [String: String]) throws {
        if let v = environment["PAN_DATA_DIR"] { dataDirectory = v }
        if let v = environment["PAN_HOST"] { host = v }
        if let v = environment["PAN_DATABASE_URL"], !v.isEmpty { databaseURL = v }
        if let value: Int = try Self.number(environment, "PAN_DATABASE_POOL_SIZE", { (1...1024).contains($0) }, "1 to 1024") { databasePoolSize = value }
        if let value: Double = try Self.number(environment, "PAN_DATABASE_WAIT", { (0.1...600).contains($0) }, "0.1 to 600 seconds") { databaseWait = value }
        if let value: Int = try Self.number(environment, "PAN_PORT", { (0...65535).contains($0) }, "a port number") { port = value }
        if let v = environment["PAN_ADMIN_PORT"], !v.isEmpty {
            guard let port = Int(v), (0...65535).contains(port) else { throw ConfigurationError("PAN_ADMIN_PORT must be a port number") }
            adminPort = port
        }
        if let value: TimeInterval = try Self.number(environment, "PAN_SHUTDOWN_TIMEOUT", { $0 > 0 }, "seconds") { shutdownTimeout = value }
        if let v = environment["PAN_PUBLIC_URL"] { publicBaseURL = v }
        if let v = environment["PAN_BUCKET"] { bucket = v }
        if let v = environment["PAN_WCS_KEYS"] { wcsKeys = try Self.parseKeys(v) }
        if let v = environment["PAN_UPLOAD_URL"], !v.isEmpty { uploadURL = v }
        if let v = environment["PAN_DOWNLOAD_DOMAIN"], !v.isEmpty { downloadDomain = v }
        if let v = environment["PAN_JWT_SECRET"], !v.isEmpty { jwtSecret = v }
        if let v = environment["PAN_CALLBACK_PATH"] { callbackPath = v }
        if let value: TimeInterval = try Self.number(environment, "PAN_CALLBACK_TIMEOUT", { $0 > 0 && $0 <= 3600 }, "seconds (up to 3600)") { callbackTimeout = value }
        if let v = environment["PAN_CALLBACK_CHECK"] {
            guard let check = CallbackCheck(rawValue: v) else {
                throw ConfigurationError("PAN_CALLBACK_CHECK must be one of signature, ip, both, off")
            }
            callbackCheck = check
        }
        if let v = environment["PAN_INSTANT_UPLOAD"], !v.isEmpty {
            guard let policy = InstantUploadPolicy(rawValue: v.lowercased()) else {
                throw ConfigurationError("PAN_INSTANT_UPLOAD must be one of proof, owner, global")
            }
            instantUpload = policy
        }
        if let v = environment["PAN_CALLBACK_ALLOW"] { callbackAllowlist = Self.list(v) }
        if let v = environment["PAN_TRUSTED_PROXIES"] { trustedProxies = Self.list(v) }
        if let value: Int = try Self.number(environment, "PAN_WRITE_BATCH", { (1...4096).contains($0) }, "1 to 4096") { writeBatch = value }
        if let value: TimeInterval = try Self.number(environment, "PAN_IDLE_TIMEOUT", { $0 >= 0 }, "seconds (0: never)") { idleTimeout = value == 0 ? nil : value }
        if let value: Int = try Self.number(environment, "PAN_MAX_CONNECTIONS", { $0 > 0 }, "a positive number") { maxConnections = value }
        if let value: Int = try Self.number(environment, "PAN_MAX_CONNECTIONS_PER_IP", { $0 >= 0 }, "a count (0: no cap)") { maxConnectionsPerIP = value }
        if let value: Int = try Self.number(environment, "PAN_MIN_BODY_RATE", { $0 >= 0 }, "bytes per second (0: no minimum)") { minimumBodyRate = value }
        if let value: TimeInterval = try Self.number(environment, "PAN_REQUEST_GRACE", { $0 > 0 }, "seconds") { requestGrace = value }
        if let v = environment["PAN_METRICS_TOKEN"], !v.isEmpty { metricsToken = v }
        if let value: TimeInterval = try Self.number(environment, "PAN_METRICS_INTERVAL", { $0 > 0 }, "seconds") { metricsInterval = value }
        if let value: TimeInterval = try Self.number(environment, "PAN_READY_INTERVAL", { $0 > 0 }, "seconds") { readinessInterval = value }
        if let value: TimeInterval = try Self.number(environment, "PAN_READY_TIMEOUT", { $0 > 0 }, "seconds") { readinessTimeout = value }
        if let value: Int = try Self.number(environment, "PAN_PREAUTH_UPLOAD_BYTES", { $0 >= 0 }, "bytes") { preauthUploadBytes = value }
        if let value: Int = try Self.number(environment, "PAN_PREAUTH_UPLOAD_TOTAL", { $0 >= 0 }, "bytes") { preauthUploadTotal = value }
        if let value: Int = try Self.number(environment, "PAN_MAX_PENDING_UPLOADS", { $0 > 0 }, "a positive number") { maxPendingUploads = value }
        if let value: Int = try Self.number(environment, "PAN_MAX_SESSIONS", { $0 > 0 }, "a positive number") { maxSessionsPerUser = value }
        if let value: Int64 = try Self.number(environment, "PAN_MAX_NODES", { $0 >= 0 }, "a count (0: no cap)") { maxNodesPerUser = value }
        if let value: Int64 = try Self.number(environment, "PAN_MIN_FREE_BYTES", { $0 >= 0 }, "a byte count (0: no floor)") { minimumFreeBytes = value }
        if let v = environment["PAN_CORS_ORIGINS"] {
            corsOrigins = Self.list(v).map { $0 == "*" ? $0 : (Self.origin(of: $0) ?? $0) }
        }
        if let value: Int = try Self.number(environment, "PAN_LOGIN_MAX_FAILURES", { $0 >= 0 }, "a count (0: no limit)") { loginFailuresPerAccount = value }
        if let value: Int = try Self.number(environment, "PAN_LOGIN_MAX_FAILURES_IP", { $0 >= 0 }, "a count (0: no limit)") { loginFailuresPerIP = value }
        if let value: TimeInterval = try Self.number(environment, "PAN_LOGIN_WINDOW", { $0 > 0 }, "seconds") { loginWindow = value }
        if let value: Int = try Self.number(environment, "PAN_LOGIN_RATE_IP", { $0 >= 0 }, "a count per minute (0: no limit)") { loginChecksPerIP = value }
        if let v = environment["PAN_DAV_ACCOUNT_PASSWORD"], !v.isEmpty {
            switch v.trimmedSpaces().lowercased() {
            case "on": davAccountPassword = true
            case "off": davAccountPassword = false
            default: throw ConfigurationError("PAN_DAV_ACCOUNT_PASSWORD must be on or off")
            }
        }
        if let v = environment["PAN_WEB_DIR"], !v.isEmpty { webDirectory = v }
        if let v = environment["PAN_REGISTRATION"], !v.isEmpty {
            guard let mode = RegistrationMode(rawValue: v.trimmedSpaces().lowercased()) else {
                throw ConfigurationError("PAN_REGISTRATION must be one of closed, invite, open")
            }
            registration = mode
        }
        if let v = environment["PAN_REGISTRATION_QUOTA"], !v.isEmpty {
            guard let bytes = Self.byteCount(v) else { throw ConfigurationError("PAN_REGISTRATION_QUOTA must be a size: bytes, or a number with K, M, G or T (10G)") }
            registrationQuota = bytes
        }
        if let value: TimeInterval = try Self.number(environment, "PAN_UPLOAD_TOKEN_TTL", { $0 > 0 }, "seconds") { uploadTokenTTL = value }
        if let value: TimeInterval = try Self.number(environment, "PAN_UPLOAD_IDLE", { $0 >= 0 }, "seconds (0: never)") { uploadIdle = value }
        if let value: TimeInterval = try Self.number(environment, "PAN_UPLOAD_IDLE_EXTERNAL", { $0 >= 0 }, "seconds (0: never)") { uploadIdleExternal = value }
        if let v = environment["PAN_BIN_RETENTION"] { binRetention = try Self.retention(v, "PAN_BIN_RETENTION") }
    }

    /// A retention: seconds like every other Pan duration, or a number with a
    /// unit (`90s`, `45m`, `12h`, `30d`); `0` or `off`: nil, keep forever.
    static func retention(_ text: String, _ name: String) throws -> TimeInterval? {
        let value = text.trimmedSpaces().lowercased()
        if value == "off" { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = Substring(value), unit = 1.0
        if let last = value.last, let scale = units[last] { number = number.dropLast(); unit = scale }
        guard let amount = Double(number), amount.isFinite, amount >= 0, amount * unit <= 100 * 365 * 86400 else {
            throw ConfigurationError("\(name) must be seconds, or a number with s, m, h or d (30d), or 0 or off")
        }
        return amount == 0 ? nil : amount * unit
    }

    /// A size: bytes, or a number with K, M, G or T (powers of 1024; `10G`, `1.5T`).
    public static func byteCount(_ text: String) -> Int64? {
        let t = text.trimmedSpaces().uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        if let last = t.last, let unit = units[last] {
            guard let number = Double(t.dropLast()), number.isFinite, number >= 0, number * unit < 9e18 else { return nil }
            return Int64((number * unit).rounded(.down))
        }
        guard let value = Int64(t), value >= 0 else { return nil }
        return value
    }

    /// A numeric variable, when set: parsed and checked, or refused with
    /// "NAME must be <what>".
    static func number<T: LosslessStringConvertible>(
        _ environment: [String: String], _ name: String, _ valid: (T) -> Bool, _ what: String
    ) throws -> T? {
        guard let text = environment[name] else { return nil }
        guard let value = T(text), valid(value) else { throw ConfigurationError("\(name) must be \(what)") }
        return value
    }

    /// `AK:SK[,AK:SK…]`.
    public static func parseKeys(_ text: String) throws -> [Credentials] {
        try list(text).map { pair in
            let parts = pair.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ConfigurationError("WCS keys must be AK:SK pairs separated by commas")
            }
            return Credentials(accessKey: String(parts[0]), secretKey: String(parts[1]))
        }
    }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmedSpaces() }.filter { !$0.isEmpty }
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
