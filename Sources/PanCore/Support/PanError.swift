/// Every refusal Pan gives, with a stable machine code and the HTTP status it
/// renders as. Legacy codes keep the original system's spelling
/// (`FILE_AREADY_EXISTS`), because clients test for them.
public struct PanError: Error, Sendable, Equatable, CustomStringConvertible {
    public let statusCode: Int
    public let code: String
    public let message: String
    /// Seconds for a `Retry-After` header (429, 503, 507): tells clients and
    /// proxies when asking again can succeed, instead of hammering.
    public let retryAfter: Int?

    public init(status: Int, code: String, _ message: String, retryAfter: Int? = nil) {
        self.statusCode = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code) (\(statusCode)): \(message)" }

    // MARK: 400
    public static func badRequest(_ message: String) -> PanError { .init(status: 400, code: "BAD_REQUEST", message) }
    public static func invalidJSON(_ message: String) -> PanError { .init(status: 400, code: "INVALID_JSON", message) }
    public static func invalidField(_ field: String, _ message: String) -> PanError {
        .init(status: 400, code: "INVALID_FIELD", "\(field): \(message)")
    }
    public static func invalidName(_ message: String) -> PanError { .init(status: 400, code: "INVALID_NAME", message) }
    public static func invalidPath(_ message: String) -> PanError { .init(status: 400, code: "INVALID_PATH", message) }
    public static let passwordRequired = PanError(status: 400, code: "PASSWORD_REQUIRED", "a password is required")
    public static let valueRequired = PanError(status: 400, code: "PHONE_REQUIRED", "a user name or phone number is required")
    public static func invalidCallback(_ message: String) -> PanError { .init(status: 400, code: "INVALID_CALLBACK", message) }

    // MARK: 401 / 403
    public static let unauthorized = PanError(status: 401, code: "UNAUTHORIZED", "sign in first")
    public static let tokenInvalid = PanError(status: 401, code: "TOKEN_INVALID", "the session token is invalid, expired or revoked")
    public static let loginFailed = PanError(status: 401, code: "USER_LOGIN_FAILED", "wrong user name or password")
    public static let userDisabled = PanError(status: 401, code: "USER_DISABLED", "this account is disabled")
    public static let quotaExceeded = PanError(status: 403, code: "QUOTA_EXCEEDED", "the file does not fit in the remaining space")
    public static let callbackSignatureInvalid = PanError(status: 401, code: "CALLBACK_SIGNATURE_INVALID", "the callback's signature does not verify")
    public static let callbackSourceForbidden = PanError(status: 403, code: "CALLBACK_SOURCE_FORBIDDEN", "callbacks are not accepted from this address")
    public static let sessionUserMismatch = PanError(status: 403, code: "UPLOAD_SESSION_MISMATCH", "the callback does not match its upload session")

    /// A proof of possession (instant upload of someone else's content) whose
    /// nonce is unknown, used, expired, or was issued for another user, hash or target.
    public static let proofInvalid = PanError(
        status: 403, code: "PROOF_INVALID", "the challenge is unknown, already answered, expired, or for another file: upload the bytes"
    )
    /// A well-formed proof whose answer does not match the stored bytes.
    public static let proofFailed = PanError(status: 403, code: "PROOF_FAILED", "the answer does not match the stored content: upload the bytes")

    /// `/metrics` or `/readyz` on the public port, from an address that is
    /// neither loopback nor a trusted proxy, without `PAN_METRICS_TOKEN`.
    public static let operationsForbidden = PanError(
        status: 403, code: "OPERATIONS_FORBIDDEN",
        "served to loopback and trusted proxies, or with the metrics bearer token (PAN_METRICS_TOKEN), or on PAN_ADMIN_PORT"
    )

    // MARK: 404 / 408 / 409 / 413 / 423
    /// A request whose bytes arrived slower than `PAN_MIN_BODY_RATE` after the
    /// grace (`RequestPaceRule`); its connection is closed.
    public static let requestTooSlow = PanError(
        status: 408, code: "REQUEST_TOO_SLOW", "the request arrived too slowly (PAN_MIN_BODY_RATE); its connection is closed"
    )
    public static let fileNotFound = PanError(status: 404, code: "FILE_NOT_FOUND", "no such file or directory")
    public static let userNotFound = PanError(status: 404, code: "USER_NOT_FOUND", "no such user")
    public static let sessionNotFound = PanError(status: 404, code: "UPLOAD_SESSION_NOT_FOUND", "no such upload session")
    /// `/v1/user/sessions/revoke` with an id that is not one of the caller's sign-in sessions.
    public static let userSessionNotFound = PanError(status: 404, code: "SESSION_NOT_FOUND", "no such sign-in session")
    public static let routeNotFound = PanError(status: 404, code: "NOT_FOUND", "no such endpoint")
    public static let fileAlreadyExists = PanError(status: 409, code: "FILE_AREADY_EXISTS", "a file of that name already exists")
    public static let directoryInTheWay = PanError(status: 409, code: "FILE_AREADY_EXISTS", "a directory of that name already exists and is never replaced by a file")
    /// `conflict: overwrite` where the taken name or the source is a directory:
    /// only a file replaces a file (keep both or skip instead).
    public static let directoryNotReplaced = PanError(
        status: 409, code: "DIRECTORY_NOT_REPLACED", "only a file replaces a file: a folder is never replaced, nor replaces a file (keep both, or skip)"
    )
    public static let notADirectory = PanError(status: 409, code: "NOT_A_DIRECTORY", "a file stands where a directory is needed")
    /// WebDAV: the parent collection of the target does not exist (RFC 4918: 409).
    public static let davParentMissing = PanError(status: 409, code: "PARENT_NOT_FOUND", "the parent collection does not exist")
    /// An external WCS without `PAN_DOWNLOAD_DOMAIN`: Pan knows no address of its objects to send a client to.
    public static let downloadDomainNotSet = PanError(
        status: 503, code: "DOWNLOAD_DOMAIN_NOT_SET", "this server has no PAN_DOWNLOAD_DOMAIN: it cannot send clients to the bucket's bytes"
    )
    /// WCS refused or did not answer an upload Pan made itself (a WebDAV PUT with an external WCS).
    public static func wcsUploadFailed(_ reason: String) -> PanError {
        PanError(status: 502, code: "WCS_UPLOAD_FAILED", "the upload to WCS failed: \(reason)")
    }
    /// WebDAV: `Overwrite: F` and the destination exists (RFC 4918: 412).
    public static let davDestinationExists = PanError(status: 412, code: "DESTINATION_EXISTS", "the destination exists and Overwrite is F")
    public static let userExists = PanError(status: 409, code: "USER_EXISTS", "a user with that name or phone already exists")
    public static let sessionExpired = PanError(status: 410, code: "UPLOAD_SESSION_EXPIRED", "the upload session has expired")
    public static let sessionFailed = PanError(status: 409, code: "UPLOAD_SESSION_FAILED", "the upload session already failed")
    /// `POST /v1/store/cancel`: the token names no upload session of this user (someone else's is not told apart).
    public static let uploadNotFound = PanError(status: 404, code: "UPLOAD_NOT_FOUND", "no such upload")
    /// `POST /v1/store/cancel` on an upload whose file was already made.
    public static let uploadDone = PanError(status: 409, code: "UPLOAD_DONE", "the upload has already completed; remove its file instead")
    /// A callback (or the local endpoint) for an upload its user cancelled.
    public static let uploadCancelled = PanError(status: 409, code: "UPLOAD_CANCELLED", "the upload was cancelled")
    public static let tooManyPendingUploads = PanError(status: 429, code: "TOO_MANY_PENDING_UPLOADS", "too many unfinished uploads: finish some, or wait for their tokens to expire")
    public static let fileTooLarge = PanError(status: 413, code: "FILE_TOO_LARGE", "the file is larger than this upload allows")
    public static let bodyTooLarge = PanError(status: 413, code: "BODY_TOO_LARGE", "the request body is too large")
    public static let fileLocked = PanError(status: 423, code: "FILE_LOCKED", "the file is locked")

    // MARK: 429
    public static func tooManyAttempts(retryAfter seconds: Int) -> PanError {
        .init(status: 429, code: "TOO_MANY_ATTEMPTS", "too many failed sign-ins; try again in \(seconds) s", retryAfter: seconds)
    }

    public static func tooManyProofs(retryAfter seconds: Int) -> PanError {
        .init(status: 429, code: "TOO_MANY_ATTEMPTS", "too many failed proofs; try again in \(seconds) s, or upload the bytes", retryAfter: seconds)
    }

    /// More open connections from one address than `PAN_MAX_CONNECTIONS_PER_IP`.
    public static let tooManyConnections = PanError(
        status: 429, code: "TOO_MANY_CONNECTIONS", "too many open connections from this address", retryAfter: 5
    )

    // MARK: 5xx
    public static func internalError(_ message: String = "internal error") -> PanError {
        .init(status: 500, code: "INTERNAL_ERROR", message)
    }
    /// The database is busy past its timeouts, or unreachable (PostgreSQL:
    /// no connection within `PAN_DATABASE_WAIT`): nothing was done; retry.
    public static let unavailable = PanError(status: 503, code: "SERVICE_UNAVAILABLE", "try again shortly", retryAfter: 5)
    /// The data directory's disk is full, or below `PAN_MIN_FREE_BYTES`. 507
    /// (Insufficient Storage) rather than 500: nothing is broken, nothing
    /// acknowledged was lost, and the same request succeeds once space is freed.
    public static let storageFull = PanError(
        status: 507, code: "STORAGE_FULL", "the server's storage is full; try again later", retryAfter: 60
    )
}
