import Foundation
import TextSupport
import WCS

/// Everything Pan keeps, behind one seam: one `async` method per transaction,
/// named for what the caller wants. HTTP controllers and CLI commands call
/// only this; they never open a transaction, see SQL, or catch a database
/// error — every failure arrives as a `PanError`.
///
/// Shaped like GRDB's `AppDatabase` (invariant-preserving transactions that
/// callers never open themselves) and the repository of Hummingbird's
/// `todos-postgres-tutorial`. `SQLitePanStore` is the embedded implementation.
public protocol PanStore: PanAccounts, PanAppPasswords, Sendable {
    // MARK: Users and sessions

    /// The account a login value (name or phone) names, with its stored
    /// password hash; `nil` when there is none. Verifying the password is the
    /// caller's (slow, deliberately) work, done outside the database.
    func credentials(forLogin value: String) async throws -> (User, passwordHash: String)?
    func user(id: Int64) async throws -> User?
    /// The user row and, in the same statement, whether sign-in `session`
    /// still exists (`User.sessionSeenAt`): every authenticated request's one read.
    func user(id: Int64, session: String?) async throws -> User?
    /// By id, name or phone.
    func user(reference: String) async throws -> User?
    func users() async throws -> [User]
    func createUser(_ new: NewUser) async throws -> User
    /// Sets the password hash and revokes every session token of the user.
    func setPasswordHash(_ hash: String, userId: Int64) async throws
    func setDisabled(_ disabled: Bool, userId: Int64) async throws
    func setQuota(_ bytes: Int64, userId: Int64) async throws
    /// Logout everywhere: every session token issued so far stops working, every sign-in session ends.
    func revokeTokens(userId: Int64) async throws
    /// A login: a new sign-in session; the least recently seen past `limit` end.
    func startUserSession(userId: Int64, device: String, address: String, limit: Int) async throws -> UserSession
    /// The user's sign-in sessions, most recently seen first (at most `limit`).
    func userSessions(userId: Int64, limit: Int) async throws -> [UserSession]
    /// Ends one of the user's sessions: its tokens are refused from now on. False when the user has no such session.
    func endUserSession(userId: Int64, id: String) async throws -> Bool
    /// Writes when sessions were last seen (batched by the caller; see `UserSessionActivity`).
    func recordSightings(_ sightings: [UserSessionSighting]) async throws
    /// Deletes up to `limit` sessions last seen before `cutoff`; returns how many.
    func sweepUserSessions(before cutoff: Int64, limit: Int) async throws -> Int
    /// Live nodes of the user (directories and files, the root included).
    func nodeCount(userId: Int64) async throws -> Int64

    // MARK: Uploads

    /// The token request, in one transaction that starts by locking (and
    /// reading) the user's row: with `credential`, the caller's session
    /// token is admitted there (`User.admit`, its sign-in session checked in
    /// the same statement), so authenticating costs no transaction of its
    /// own. Returns the user as read, for the reply's refreshed token.
    func requestToken(userId: Int64, credential: SessionCredential?, _ request: TokenRequest) async throws -> (outcome: TokenOutcome, user: User)
    /// Uses up a possession challenge (its nonce works once, right or wrong):
    /// the ranges to read and the object to read them from. Throws
    /// `proofInvalid` when the nonce is unknown, used, expired, or was issued
    /// for another user or hash.
    func claimChallenge(userId: Int64, _ proof: PossessionProof, hash: String) async throws -> ClaimedChallenge
    /// After the answer was checked against the stored bytes: the file, at the
    /// target the challenge was issued for (else `proofInvalid`); completes its session.
    func completeProvenUpload(userId: Int64, _ request: TokenRequest, _ claim: ClaimedChallenge) async throws -> FileNode
    func completeUpload(_ callback: CallbackBody) async throws -> CallbackOutcome
    /// Whether `key` holds the stored object of `hash` (else its bytes are unreferenced).
    func isStoredObject(hash: String, key: String) async throws -> Bool
    /// Whether a node (live or binned) still holds the object stored under `objectKey`,
    /// and that object is still referenced: a download link is good only while it is.
    func nodeHoldsObject(nodeUUID: String, objectKey: String) async throws -> Bool
    /// Marks sessions past deadline + grace, or past their lapse (no bytes
    /// for `PAN_UPLOAD_IDLE`), as expired; returns their ids.
    func expireSessions(before cutoff: Int64) async throws -> [String]
    func uploadSessions(state: UploadSession.State?, limit: Int) async throws -> [UploadSession]
    func uploadSession(id: String) async throws -> UploadSession?
    /// The user's own session by id; nil when the user has none of that id.
    func uploadSession(id: String, userId: Int64) async throws -> UploadSession?
    /// `POST /v1/store/cancel`: ends the user's session at once, in one
    /// transaction that locks it (a callback completing it meanwhile waits,
    /// then is refused; one that committed first makes this `uploadDone`).
    /// Pending or lapsed → `cancelled` (its reservation and pending slot
    /// released); otherwise nothing changes. Returns the state it is in now.
    /// Throws `uploadNotFound` (none of this user's) or `uploadDone`.
    func cancelUpload(userId: Int64, sessionId: String) async throws -> UploadSession.State
    /// Bytes arrived for a pending session: it lapses no earlier than `lapsesAt`.
    func noteUploadActivity(userId: Int64, sessionId: String, lapsesAt: Int64) async throws

    // MARK: Files

    func node(userId: Int64, at address: NodeAddress) async throws -> NodeWithObject
    /// A directory and one window of its live children, with their total.
    func listing(userId: Int64, of address: NodeAddress, window: ListingWindow) async throws -> Listing
    func recycleBin(userId: Int64, limit: Int, offset: Int) async throws -> (nodes: [FileNode], total: Int64)
    /// The user's nodes whose name contains `search.text`, ignoring case
    /// (`NameSearch`), one page of them in `search.order`, and how many matched.
    func search(userId: Int64, _ search: NameSearch) async throws -> (nodes: [FileNode], total: Int64)
    /// Gives every node without a `name_key` (older than migration 0015) its
    /// key, in short write transactions (`NameKeys`); returns how many. Run
    /// when the store is opened; until it is done, names list by their bytes.
    func completeNameKeys() async throws -> Int
    /// `mkdir -p`: an existing directory is returned as it is.
    func createDirectory(userId: Int64, path: String) async throws -> FileNode
    func rename(userId: Int64, _ address: NodeAddress, to name: String, policy: ConflictPolicy) async throws -> FileNode
    /// Moves (or copies) each source into the destination directory, all in one transaction.
    func transfer(userId: Int64, _ sources: [NodeAddress], into destination: NodeAddress, policy: ConflictPolicy, copying: Bool) async throws -> TransferOutcome
    /// Deletes (or bins) each target; a uuid of a binned node deletes it from the bin.
    func remove(userId: Int64, _ targets: [NodeAddress], toRecycleBin: Bool) async throws -> Int
    /// Restores each binned node (by uuid, or the newest binned at a path) where it was, all in one transaction.
    func restore(userId: Int64, _ targets: [NodeAddress], policy: ConflictPolicy) async throws -> TransferOutcome
    /// Deletes for good every item binned by now, in bounded steps (`RecycleBin`),
    /// each its own transaction; returns how many items of the bin it removed.
    func emptyBin(userId: Int64) async throws -> Int
    /// One bounded step of the retention sweep: deletes for good the oldest
    /// items binned at or before `cutoff` (Unix ms) of one user, and finishes
    /// purges left half done. nil when another server is running it (PostgreSQL).
    func purgeBin(binnedBy cutoff: Int64) async throws -> RecycleBin.Step?
    /// Every live node under `path` (itself included), in tree order — for `pan file tree`.
    func subtree(userId: Int64, path: String) async throws -> [FileNode]

    // MARK: WebDAV

    /// WebDAV `PUT`: the content just stored (its bytes published at
    /// `object.objectKey`) at `path`, in one transaction that locks the user's
    /// row: a new file, or the file there given this content in place (same
    /// node, like the API's `overwrite`). The object is recorded if its hash is
    /// new; when it was already stored, the outcome's object is the earlier one
    /// (its key differs: the caller removes the bytes it published).
    /// `davParentMissing` when the parent is not there, `notADirectory` when it
    /// is a file, `directoryInTheWay` when `path` is a directory.
    /// `lockGuard` (every `dav` write takes one): `davLocked` when a WebDAV
    /// lock protects what changes and its token is not in it, checked in the
    /// write's transaction.
    func davPut(userId: Int64, path: String, object: DAVNewObject, lockGuard: DAVLockGuard?) async throws -> DAVPutOutcome
    /// WebDAV `MOVE`/`COPY` of the node at `source` to the path `destination`
    /// (its parent must exist), in one transaction. What stands at the
    /// destination goes to the recycle bin when `overwrite`, else
    /// `davDestinationExists`. `shallow`: a directory's copy without its
    /// contents (COPY with Depth 0). Returns the node made or moved and whether
    /// something was replaced.
    func davTransfer(
        userId: Int64, from source: String, to destination: String, overwrite: Bool, copying: Bool, shallow: Bool, lockGuard: DAVLockGuard?
    ) async throws -> (node: FileNode, replaced: Bool)
    /// WebDAV `DELETE`: the node at `path` to the recycle bin, its locks ended, in one transaction.
    func davRemove(userId: Int64, path: String, lockGuard: DAVLockGuard?) async throws
    /// The dead properties of the user's nodes `nodeIds` (a listing page at most), by node id.
    func davProperties(userId: Int64, nodeIds: [Int64]) async throws -> [Int64: [DAVDeadProperty]]
    /// PROPPATCH: applies the changes in order to the node at `path`, all or
    /// none (`davTooManyProperties` past `DAVLimits.maxPropertiesPerNode`).
    func davPatchProperties(userId: Int64, path: String, changes: [DAVPropertyChange], lockGuard: DAVLockGuard?) async throws
    /// The user's live WebDAV locks (at most `DAVLimits.maxLocksPerUser`).
    func davLocks(userId: Int64) async throws -> [DAVLock]
    /// LOCK: takes a lock at `path` in one transaction with the conflict check
    /// (`davLocked`) and the user's cap (`davTooManyLocks`). When nothing is at
    /// `path` and `creating` is given, an empty file is made there first with it
    /// (RFC 4918 §7.3); the outcome says so.
    func davLock(userId: Int64, path: String, request: DAVLockRequest, creating: DAVNewObject?) async throws -> (lock: DAVLock, created: DAVPutOutcome?)
    /// Gives the user's live locks `tokens` a new timeout (seconds); returns them as they are now.
    func davRefreshLocks(userId: Int64, tokens: [String], timeout: Int64) async throws -> [DAVLock]
    /// UNLOCK; false when the user holds no lock with that token.
    func davUnlock(userId: Int64, token: String) async throws -> Bool
    /// Deletes up to `limit` WebDAV locks expired by `cutoff`, any user's (the sweeper).
    func sweepDAVLocks(before cutoff: Int64, limit: Int) async throws -> Int

    // MARK: Zip downloads

    /// Records a selection for `POST /v1/files/zip` (`ZipSelectionRepository.create`): one write transaction.
    func createZipLink(userId: Int64, sources: [NodeAddress]) async throws -> ZipLink
    /// The entries of a live link, read in one read transaction; nil when the
    /// link is unknown, expired, or its user is gone or disabled.
    func zipSnapshot(userId: Int64, linkId: String) async throws -> ZipSnapshot?

    // MARK: Share links

    /// Shares the user's live file or folder at `address` (`ShareRepository.create`).
    func createShare(userId: Int64, at address: NodeAddress, settings: ShareSettings) async throws -> Share
    /// The user's shares, newest first (only those of the node at `node` when given), and their total.
    func shares(userId: Int64, of node: NodeAddress?, limit: Int, offset: Int) async throws -> (shares: [Share], total: Int64)
    /// Changes one of the user's shares; `shareNotFound` when it is not theirs.
    func updateShare(userId: Int64, id: String, settings: ShareSettings) async throws -> Share
    /// Removes those of `ids` that are the user's; returns how many.
    func removeShares(userId: Int64, ids: [String]) async throws -> Int
    /// A share by id alone, whoever owns it, in any state: the public lookup.
    func share(id: String) async throws -> Share?
    /// Every share, or one user's, newest first (`pan share list`).
    func allShares(userId: Int64?, limit: Int) async throws -> [Share]
    /// An open of the share: one more view.
    func recordShareView(userId: Int64, id: String) async throws
    /// Counts a new download of the share, exactly up to its limit; false past it.
    func countShareDownload(userId: Int64, id: String, ticket: String, served: Int64, ticketExpiresAt: Int64) async throws -> Bool
    /// A Range continuation of a counted download: false when it must be counted anew.
    func continueShareDownload(userId: Int64, id: String, ticket: String, bytes: Int64, allowance: Int64) async throws -> Bool
    /// A live file of the user and its object's key and size, in one statement (a share download's read).
    func sharedFile(userId: Int64, uuid: String) async throws -> (node: FileNode, objectKey: String?, objectSize: Int64?)?
    /// Deletes up to `limit` download tickets past their address's expiry; returns how many.
    func sweepShareTickets(before cutoff: Int64, limit: Int) async throws -> Int
    /// Sets (or with nil clears) the name shown on the user's share pages.
    func setDisplayName(_ name: String?, userId: Int64) async throws -> User

    // MARK: Stored objects

    func storedObjects(limit: Int) async throws -> [StoreObject]
    /// The object and up to 100 `(userId, path)` of the files that use it.
    func storedObject(hash: String) async throws -> (StoreObject, [(userId: Int64, path: String)])?
    /// Forgets objects no file uses any more; returns them (their bytes are the caller's to delete).
    func collectUnusedObjects(dryRun: Bool) async throws -> [StoreObject]
    /// Every object key the store knows (to find orphaned bytes).
    func objectKeys() async throws -> Set<String>

    // MARK: Operations

    func stats() async throws -> DatabaseStats
    /// Answers only when the store can take a write; returns the schema version.
    func checkWritable() async throws -> Int
    /// Why the database cannot be reached right now (`SQLEngine.databaseProblem`); nil when it answers.
    var databaseProblem: String? { get }
    /// The schema version this build migrates to.
    var latestSchemaVersion: Int { get }
    /// The deployment's id (`StorageMarker`); with `candidate`, first made it
    /// that unless it has one. nil: none yet.
    func deploymentID(claiming candidate: String?) async throws -> String?
    func fsck(repair: Bool) async throws -> FsckReport
    /// Makes the on-disk state self-contained (SQLite: a WAL checkpoint), e.g. at shutdown.
    func checkpoint() async throws
    /// Releases the store's connections at shutdown; nothing may be called after.
    func close() async
}

/// How a request names a node: `uuid`, or `path` (absolute; `/` is the root).
public struct NodeAddress: Sendable, Equatable {
    public var uuid: String?
    public var path: String?

    public init(uuid: String?, path: String?) {
        self.uuid = uuid
        self.path = path
    }

    /// A 32-hex uuid, or a path.
    public init(reference: String) throws {
        let trimmed = reference.trimmedSpaces()
        if trimmed.count == 32, trimmed.allSatisfy(\.isHexDigit) {
            uuid = trimmed
        } else {
            path = try PanPath.validated(trimmed)
        }
    }
}

/// What a move, copy or restore of several sources did.
public struct TransferOutcome: Sendable {
    /// Each source acted on, as it is now (a copy: the copy), in request order.
    public var done: [FileNode] = []
    /// Sources `skip` left where they were (their name was taken), as they are.
    public var skipped: [FileNode] = []

    public init() {}

    /// One source's result: the node made or moved, or nil when it was skipped.
    mutating func record(_ result: FileNode?, source: FileNode) {
        if let result { done.append(result) } else { skipped.append(source) }
    }
}

/// A node and, for a file, the stored object holding its bytes.
public struct NodeWithObject: Sendable {
    public var node: FileNode
    public var object: StoreObject?
}

/// Which children of a directory, in which order.
public struct ListingWindow: Sendable {
    /// 0 files only, 1 directories only, nil all.
    public var type: Int?
    public var order: ListingOrder
    public var limit: Int
    public var offset: Int

    public init(type: Int?, order: ListingOrder, limit: Int, offset: Int) {
        self.type = type
        self.order = order
        self.limit = limit
        self.offset = offset
    }
}

public struct Listing: Sendable {
    public var directory: FileNode
    public var children: [FileNode]
    public var total: Int64
}

/// `POST /v1/store/token`'s request, parsed.
public struct TokenRequest: Sendable {
    public var name = ""
    public var hash = ""
    /// uuid of the target directory; `""` and `"/"` are the root.
    public var parent = ""
    public var path = ""
    public var originalFilename = ""
    public var conflict: ConflictPolicy = .fail
    public var size: Int64?
    /// The answer to a possession challenge an earlier request got (issue #24).
    public var proof: PossessionProof?
    public init() {}
}

/// An upload session opened for a token request: the signed token and where the file will go.
public struct UploadGrant: Sendable, Equatable {
    public var token: String
    public var uploadURL: String
    public var name: String
    /// uuid of the directory the file goes to.
    public var parent: String
    public var path: String
    public var sessionId: String
    public var policy: PutPolicy
    /// Set when the content is stored but not the user's: answering it (a
    /// second token request with `proof`) makes the file without the upload.
    public var challenge: PossessionChallenge?
}

/// Instant upload (the content is already stored), or an upload to make.
public enum TokenOutcome: Sendable {
    case instant(FileNode, InstantKind)
    case upload(UploadGrant)
}


/// What a callback did.
public enum CallbackOutcome: Sendable, Equatable {
    /// The file now exists; `replayed` when an earlier delivery made it.
    case accepted(FileNode, replayed: Bool)
    /// Authentic but permanently refused: answered 200 `success:false`, so WCS stops retrying.
    case refused(PanError, replayed: Bool)
}

extension PanStore {
    /// `expireSessions`, counted (`pan session sweep`, tests).
    public func sweepSessions(before cutoff: Int64) async throws -> Int {
        try await expireSessions(before: cutoff).count
    }

    /// `requestToken` for a caller already authenticated (the CLI, tests).
    public func requestToken(userId: Int64, _ request: TokenRequest) async throws -> TokenOutcome {
        try await requestToken(userId: userId, credential: nil, request).outcome
    }
}

extension PanStore {
    /// A PUT with no lock check in its transaction (the check before it only).
    public func davPut(userId: Int64, path: String, object: DAVNewObject) async throws -> DAVPutOutcome {
        try await davPut(userId: userId, path: path, object: object, lockGuard: nil)
    }
}

public typealias NewUser = UserRepository.NewUser
public typealias ListingOrder = TreeRepository.Order

/// What `pan fsck` found, and with `repair`, what it changed.
public struct FsckReport: Sendable {
    public var findings: [TreeChecker.Finding]
    public var repairs: [String]
}

/// The object a WebDAV `PUT` stored, to be recorded (`davPut`).
public struct DAVNewObject: Sendable {
    public var hash: String
    public var size: Int64
    public var mime: String
    public var bucket: String
    public var objectKey: String
    /// What the path must hold for the PUT to go ahead (checked in its transaction).
    public var precondition: DAVPrecondition
    public init(hash: String, size: Int64, mime: String, bucket: String, objectKey: String, precondition: DAVPrecondition = .none) {
        (self.hash, self.size, self.mime, self.bucket, self.objectKey) = (hash, size, mime, bucket, objectKey)
        self.precondition = precondition
    }
}

/// What a WebDAV `PUT` did.
public struct DAVPutOutcome: Sendable {
    public var node: FileNode
    /// A new file (else an existing one was given the content).
    public var created: Bool
    /// The object as recorded: an earlier one of the same hash when there was one.
    public var object: StoreObject
}
