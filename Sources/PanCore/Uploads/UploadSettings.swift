import WCS

/// How Pan issues upload tokens: bucket, keys, where uploads and callbacks go.
public struct UploadSettings: Sendable {
    public var bucket: String
    /// The first pair signs tokens; every pair is accepted on callbacks.
    public var credentials: [Credentials]
    /// Where clients send bytes (WCS's upload host, or Pan's own endpoint).
    public var uploadURL: String
    /// The absolute URL WCS calls back (the public base URL + callback path).
    public var callbackURL: String
    /// Token lifetime for small uploads, milliseconds.
    public var tokenTTL: Int64
    /// Extra lifetime per declared byte: a slow uploader still finishes a large file.
    public var minimumUploadBytesPerSecond: Int64
    /// How long after its deadline a session still takes its callback (WCS may be mid-retry).
    public var callbackGrace: Int64
    /// Most pending (unexpired, uncompleted) upload sessions one user may hold.
    public var maxPendingSessions: Int64 = 256
    /// Most nodes one user may have (`PAN_MAX_NODES`, `NodeLimits`); 0: no cap.
    public var maxNodesPerUser: Int64 = NodeLimits.defaultPerUser
    /// `pan store gc` leaves an unreferenced object alone until it is this old
    /// (ms): the callback that stored it may not have committed its file yet.
    public var objectGrace: Int64 = 3_600_000
    /// Who gets stored content by naming its hash (`PAN_INSTANT_UPLOAD`, issue #24).
    public var instantUpload: InstantUploadPolicy = .proof
    /// A pending session lapses (expired by the sweeper, its reservation
    /// released) after this long with no bytes arriving for it, ms
    /// (`PAN_UPLOAD_IDLE`, 10 min; 0: never). Only on the local endpoint,
    /// where bytes reach Pan (`seesUploadBytes`).
    public var uploadIdle: Int64 = 600_000
    /// With an external WCS no byte reaches Pan: a session lapses this long
    /// after its grant, plus 1 s per 256 KiB declared, as the deadline grows
    /// (`PAN_UPLOAD_IDLE_EXTERNAL`, 30 min; 0: never).
    public var uploadIdleExternal: Int64 = 1_800_000
    /// Whether upload bytes arrive at Pan itself (its local endpoint).
    public var seesUploadBytes = true
    /// How much one step of emptying a recycle bin deletes (`RecycleBin`).
    public var binStep: RecycleBin.StepSize = .standard

    public init(
        bucket: String, credentials: [Credentials], uploadURL: String, callbackURL: String,
        tokenTTL: Int64 = 3_600_000, minimumUploadBytesPerSecond: Int64 = 256 * 1024, callbackGrace: Int64 = 600_000
    ) {
        self.bucket = bucket
        self.credentials = credentials
        self.uploadURL = uploadURL
        self.callbackURL = callbackURL
        self.tokenTTL = tokenTTL
        self.minimumUploadBytesPerSecond = minimumUploadBytesPerSecond
        self.callbackGrace = callbackGrace
    }

    func deadline(now: Int64, declaredSize: Int64?) -> Int64 {
        now + tokenTTL + transferAllowance(declaredSize)
    }

    /// Time for the declared bytes at the slowest rate planned for, ms.
    private func transferAllowance(_ declaredSize: Int64?) -> Int64 {
        (declaredSize ?? 0) / max(1, minimumUploadBytesPerSecond) * 1000
    }

    /// When a session granted `now` lapses if no bytes arrive for it; nil: never.
    func lapse(now: Int64, declaredSize: Int64?) -> Int64? {
        if seesUploadBytes { return uploadIdle > 0 ? now + uploadIdle : nil }
        return uploadIdleExternal > 0 ? now + uploadIdleExternal + transferAllowance(declaredSize) : nil
    }

    /// Bytes arriving push the lapse forward at most this often (ms), so an
    /// active upload costs a session write per interval, not per chunk:
    /// 30 s, or a quarter of a shorter `uploadIdle`.
    public var activityInterval: Int64 { min(30_000, max(1, uploadIdle / 4)) }

    /// The seed's callback body, carrying the user and the session: nothing
    /// secret, since an uploader can read the policy.
    ///
    /// WCS substitutes values without escaping them and encodes the body as a
    /// whole, so a value with `&k=v` in it would add fields. Every bare
    /// variable here is one the uploader cannot choose: `fsize`, `hash` and
    /// `ip` are WCS's, `key` is fixed by the scope, `bucket` by Pan. The
    /// uploader's file name and the object URL are marker-wrapped (taken
    /// verbatim by the parser); the seed's `mimeType` and `avinfo` (form field,
    /// media tags) are left out — Pan types a file by its name.
    static func callbackBody(userId: Int64, sessionId: String) -> String {
        "size=$(fsize)&hash=$(hash)&key=$(key)&ip=$(ip)&bucket=$(bucket)"
            + "&url=@qzyurlstart$(url)@qzyurlend&userId=\(userId)&session=\(sessionId)"
            + "&fileName=@qzyfilestart$(fname)@qzyfileend"
    }
}
