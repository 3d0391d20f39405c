import Foundation
import SQLCommon
import WCS

/// `PanStore` over a SQL engine: every method is one transaction, written
/// once for SQLite and PostgreSQL alike over the repositories, which nothing
/// outside this store calls. Engine errors become `PanError`s here
/// (`PanError(storeError:)`), so no caller ever sees one.
public struct SQLPanStore<Engine: SQLEngine>: PanStore {
    public let engine: Engine
    let uploads: UploadService<Engine>
    let callbacks: CallbackService<Engine>
    /// What pages of big directories learned, for the next page (TreeRepository.children).
    let listings = ListingCache()
    /// Whether names can be listed in natural order yet (`NameKeys`).
    let nameKeys = NameKeys()
    /// Most nodes one user may have (`PAN_MAX_NODES`; 0: no cap).
    let nodeLimit: Int64
    /// How much one step of emptying a bin deletes.
    let binStep: RecycleBin.StepSize

    public init(engine: Engine, settings: UploadSettings) {
        self.engine = engine
        nodeLimit = settings.maxNodesPerUser
        binStep = settings.binStep
        uploads = UploadService(engine: engine, settings: settings)
        callbacks = CallbackService(engine: engine, settings: settings)
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        do { return try await engine.read(body) } catch { throw PanError(storeError: error) }
    }

    /// One statement, no transaction around it on PostgreSQL (`SQLEngine.readStatement`).
    private func readStatement<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        do { return try await engine.readStatement(body) } catch { throw PanError(storeError: error) }
    }

    private func readLong<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        do { return try await engine.readLong(body) } catch { throw PanError(storeError: error) }
    }

    /// A write that changes one user's data: on PostgreSQL it holds that user's lock.
    private func writeExclusively<T: Sendable>(
        _ job: ExclusiveJob, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T? {
        do { return try await engine.writeExclusively(job: job, body) } catch { throw PanError(storeError: error) }
    }

    private func write<T: Sendable>(
        user userId: Int64?, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T {
        do { return try await engine.write(lockingUser: userId, body) } catch { throw PanError(storeError: error) }
    }

    // MARK: Users

    public func credentials(forLogin value: String) async throws -> (User, passwordHash: String)? {
        try await read { db in try await UserRepository.find(login: value, on: db) }
    }

    public func user(id: Int64) async throws -> User? {
        try await readStatement { db in try await UserRepository.find(id: id, on: db) }
    }

    public func user(id: Int64, session: String?) async throws -> User? {
        try await readStatement { db in try await UserRepository.find(id: id, session: session, on: db) }
    }

    public func user(reference: String) async throws -> User? {
        try await read { db in try await UserRepository.find(reference: reference, on: db) }
    }

    public func users() async throws -> [User] {
        try await read { db in try await UserRepository.list(on: db) }
    }

    public func createUser(_ new: NewUser) async throws -> User {
        try await write(user: nil) { db in try await UserRepository.create(new, on: db) }
    }

    public func setPasswordHash(_ hash: String, userId: Int64) async throws {
        try await write(user: userId) { db in try await UserRepository.setPasswordHash(hash, userId: userId, on: db) }
    }

    public func setDisabled(_ disabled: Bool, userId: Int64) async throws {
        try await write(user: userId) { db in try await UserRepository.setStatus(disabled ? .disabled : .active, userId: userId, on: db) }
    }

    public func setQuota(_ bytes: Int64, userId: Int64) async throws {
        try await write(user: userId) { db in try await UserRepository.setCapacity(bytes, userId: userId, on: db) }
    }

    public func revokeTokens(userId: Int64) async throws {
        try await write(user: userId) { db in try await UserRepository.revokeTokens(userId: userId, on: db) }
    }

    public func startUserSession(userId: Int64, device: String, address: String, limit: Int) async throws -> UserSession {
        try await write(user: userId) { db in
            try await UserSessionRepository.start(userId: userId, device: device, address: address, limit: limit, on: db)
        }
    }

    public func userSessions(userId: Int64, limit: Int) async throws -> [UserSession] {
        try await readStatement { db in try await UserSessionRepository.list(userId: userId, limit: limit, on: db) }
    }

    public func endUserSession(userId: Int64, id: String) async throws -> Bool {
        try await write(user: userId) { db in try await UserSessionRepository.end(userId: userId, id: id, on: db) }
    }

    public func recordSightings(_ sightings: [UserSessionSighting]) async throws {
        guard !sightings.isEmpty else { return }
        // No user lock: each UPDATE names one row and only moves a time forward.
        try await write(user: nil) { db in try await UserSessionRepository.touch(sightings, on: db) }
    }

    public func sweepUserSessions(before cutoff: Int64, limit: Int) async throws -> Int {
        try await writeExclusively(.sweepUserSessions) { db in
            try await UserSessionRepository.sweep(before: cutoff, limit: limit, on: db)
        } ?? 0
    }

    public func nodeCount(userId: Int64) async throws -> Int64 {
        try await read { db in try await TreeRepository.count(userId: userId, on: db) }
    }

    // MARK: Uploads

    public func requestToken(userId: Int64, credential: SessionCredential?, _ request: TokenRequest) async throws -> (outcome: TokenOutcome, user: User) {
        do { return try await uploads.requestToken(userId: userId, credential: credential, request) } catch { throw PanError(storeError: error) }
    }

    public func claimChallenge(userId: Int64, _ proof: PossessionProof, hash: String) async throws -> ClaimedChallenge {
        do { return try await uploads.claimChallenge(userId: userId, proof, hash: hash) } catch { throw PanError(storeError: error) }
    }

    public func completeProvenUpload(userId: Int64, _ request: TokenRequest, _ claim: ClaimedChallenge) async throws -> FileNode {
        do { return try await uploads.completeProvenUpload(userId: userId, request, claim) } catch { throw PanError(storeError: error) }
    }

    public func completeUpload(_ callback: CallbackBody) async throws -> CallbackOutcome {
        do { return try await callbacks.handle(callback) } catch { throw PanError(storeError: error) }
    }

    public func isStoredObject(hash: String, key: String) async throws -> Bool {
        try await readStatement { db in try await StoreObjectRepository.find(hash: hash, on: db)?.objectKey == key }
    }

    public func nodeHoldsObject(nodeUUID: String, objectKey: String) async throws -> Bool {
        try await read { db in
            try await db.scalar(
                """
                SELECT COUNT(*) FROM nodes n JOIN store_objects o ON o.hash = n.store_hash
                WHERE n.uuid = ? AND o.object_key = ?
                """,
                nodeUUID, objectKey
            ) ?? 0 > 0
        }
    }

    public func expireSessions(before cutoff: Int64) async throws -> [String] {
        try await writeExclusively(.sweepSessions) { db in try await UploadSessionRepository.expire(before: cutoff, on: db) } ?? []
    }

    public func uploadSession(id: String, userId: Int64) async throws -> UploadSession? {
        try await readStatement { db in try await UploadSessionRepository.find(id: id, userId: userId, on: db) }
    }

    public func cancelUpload(userId: Int64, sessionId: String) async throws -> UploadSession.State {
        let grace = uploads.settings.callbackGrace
        return try await write(user: userId) { db in
            let now = Millis.now()
            guard let session = try await UploadSessionRepository.lock(id: sessionId, userId: userId, on: db) else {
                throw PanError.uploadNotFound
            }
            switch session.state {
            case .done:
                throw PanError.uploadDone
            case .pending:
                try await UploadSessionRepository.markCancelled(session, on: db, now: now)
                return .cancelled
            case .expired where now <= session.deadline + grace:
                // Lapsed, but a late callback could still make its file (CallbackService): not now.
                try await UploadSessionRepository.markCancelled(session, on: db, now: now)
                return .cancelled
            case .expired, .failed, .cancelled:
                return session.state
            }
        }
    }

    public func noteUploadActivity(userId: Int64, sessionId: String, lapsesAt: Int64) async throws {
        try await write(user: nil) { db in try await UploadSessionRepository.pushLapse(userId: userId, id: sessionId, to: lapsesAt, on: db) }
    }

    public func uploadSessions(state: UploadSession.State?, limit: Int) async throws -> [UploadSession] {
        try await read { db in try await UploadSessionRepository.list(state: state, limit: limit, on: db) }
    }

    public func uploadSession(id: String) async throws -> UploadSession? {
        try await readStatement { db in try await UploadSessionRepository.find(id: id, on: db) }
    }

    // MARK: Zip downloads

    public func createZipLink(userId: Int64, sources: [NodeAddress]) async throws -> ZipLink {
        let now = Millis.now()
        return try await write(user: userId) { db in try await ZipSelectionRepository.create(userId: userId, sources: sources, now: now, on: db) }
    }

    public func zipSnapshot(userId: Int64, linkId: String) async throws -> ZipSnapshot? {
        let now = Millis.now()
        // Up to 10,000 nodes and 1,000 source lookups: off the calling task's thread.
        return try await readLong { db in try await ZipSelectionRepository.snapshot(userId: userId, linkId: linkId, now: now, on: db) }
    }

    // MARK: Files

    static func resolve(_ address: NodeAddress, userId: Int64, on db: any DatabaseConnection) async throws -> FileNode {
        try await TreeRepository.node(userId: userId, at: address, on: db)
    }

    public func node(userId: Int64, at address: NodeAddress) async throws -> NodeWithObject {
        try await read { db in
            let node = try await Self.resolve(address, userId: userId, on: db)
            let object: StoreObject? = if let hash = node.storeId { try await StoreObjectRepository.find(hash: hash, on: db) } else { nil }
            return NodeWithObject(node: node, object: object)
        }
    }

    public func listing(userId: Int64, of address: NodeAddress, window: ListingWindow) async throws -> Listing {
        let (listings, nameKeys) = (self.listings, self.nameKeys)
        let (listing, versioned) = try await read { db -> (Listing, Bool) in
            let directory = try await Self.resolve(address, userId: userId, on: db)
            guard directory.isDirectory else { throw PanError.notADirectory }
            let version = try await TreeRepository.listingVersion(of: directory, on: db)
            let order = try await nameKeys.servable(window.order, on: db)
            let (children, total) = try await TreeRepository.children(
                of: directory, type: window.type, order: order, limit: window.limit, offset: window.offset,
                hidingSystemFolders: directory.path == PanPath.root, cache: listings, version: version, on: db
            )
            return (Listing(directory: directory, children: children, total: total), version != nil)
        }
        if !versioned, listing.total > ListingCache.keysetThreshold {
            // A big directory, paged for the first time: keep its version from now
            // on, so the next pages come from the cache. Best effort: this page
            // is already answered, and a later one will try await again.
            let directory = listing.directory
            _ = try? await write(user: userId) { db in try await TreeRepository.versionListing(of: directory, on: db) }
        }
        return listing
    }

    public func recycleBin(userId: Int64, limit: Int, offset: Int) async throws -> (nodes: [FileNode], total: Int64) {
        try await read { db in try await RecycleBin.items(userId: userId, limit: limit, offset: offset, on: db) }
    }

    public func search(userId: Int64, _ search: NameSearch) async throws -> (nodes: [FileNode], total: Int64) {
        let nameKeys = self.nameKeys
        return try await read { db in
            var search = search
            search.order = try await nameKeys.servable(search.order, on: db)
            return try await search.run(userId: userId, on: db)
        }
    }

    public func createDirectory(userId: Int64, path: String) async throws -> FileNode {
        let nodeLimit = self.nodeLimit
        return try await write(user: userId) { db in try await TreeRepository.directory(userId: userId, path: path, nodeLimit: nodeLimit, on: db) }
    }

    public func rename(userId: Int64, _ address: NodeAddress, to name: String, policy: ConflictPolicy) async throws -> FileNode {
        try await write(user: userId) { db in
            try await TreeMutations.rename(try await Self.resolve(address, userId: userId, on: db), to: name, policy: policy, on: db)
        }
    }

    public func transfer(userId: Int64, _ sources: [NodeAddress], into destination: NodeAddress, policy: ConflictPolicy, copying: Bool) async throws -> TransferOutcome {
        try NodeLimits.requireSources(sources.count)
        let nodeLimit = self.nodeLimit
        return try await write(user: userId) { db -> TransferOutcome in
            let target = try await Self.resolve(destination, userId: userId, on: db)
            if copying {
                // The whole request is weighed before its first insert: refused, not cut off at the cap
                // (sources `skip` will leave out are weighed too: an upper bound).
                var total = 0
                for source in sources {
                    total += try await TreeMutations.copySize(of: try await Self.resolve(source, userId: userId, on: db), on: db)
                    try NodeLimits.requireNewNodes(total)
                }
                try await NodeLimits.requireRoom(for: total, userId: userId, limit: nodeLimit, on: db)
            }
            var outcome = TransferOutcome()
            for source in sources {
                let node = try await Self.resolve(source, userId: userId, on: db)
                // Re-read the destination: an earlier item may have renumbered its interval.
                let current = try await TreeRepository.node(id: target.id, userId: userId, on: db) ?? target
                let done = if copying {
                    try await TreeMutations.copy(node, into: current, policy: policy, nodeLimit: nodeLimit, on: db)
                } else {
                    try await TreeMutations.move(node, into: current, policy: policy, on: db)
                }
                outcome.record(done, source: node)
            }
            return outcome
        }
    }

    public func remove(userId: Int64, _ targets: [NodeAddress], toRecycleBin: Bool) async throws -> Int {
        try NodeLimits.requireSources(targets.count)
        return try await write(user: userId) { db -> Int in
            for target in targets {
                // A uuid of something already in the bin deletes it from there.
                if !toRecycleBin, let uuid = target.uuid,
                   let binned = try await TreeRepository.recycledNode(userId: userId, uuid: uuid, path: nil, on: db) {
                    try await TreeMutations.delete(binned, on: db)
                    continue
                }
                let node = try await Self.resolve(target, userId: userId, on: db)
                if toRecycleBin { try await TreeMutations.recycle(node, on: db) } else { try await TreeMutations.delete(node, on: db) }
            }
            return targets.count
        }
    }

    public func restore(userId: Int64, _ targets: [NodeAddress], policy: ConflictPolicy) async throws -> TransferOutcome {
        try NodeLimits.requireSources(targets.count)
        let nodeLimit = self.nodeLimit
        return try await write(user: userId) { db in
            var outcome = TransferOutcome()
            for target in targets {
                guard let binned = try await TreeRepository.recycledNode(userId: userId, uuid: target.uuid, path: target.path, on: db) else {
                    throw PanError.fileNotFound
                }
                outcome.record(try await TreeMutations.restore(binned, policy: policy, nodeLimit: nodeLimit, on: db), source: binned)
            }
            return outcome
        }
    }

    public func emptyBin(userId: Int64) async throws -> Int {
        // What was binned by now: an item binned while this runs stays in the bin.
        let (cutoff, size) = (Millis.now(), binStep)
        var removed = 0
        while true {
            let step = try await write(user: userId) { db in
                try await RecycleBin.purgeStep(userId: userId, binnedBy: cutoff, size: size, on: db)
            }
            removed += step.items
            if !step.more { return removed }
        }
    }

    public func purgeBin(binnedBy cutoff: Int64) async throws -> RecycleBin.Step? {
        let size = binStep
        return try await writeExclusively(.purgeBin) { db -> RecycleBin.Step in
            guard let userId = try await RecycleBin.oldestOwner(binnedBy: cutoff, on: db) else { return RecycleBin.Step() }
            // That user's writers wait (PostgreSQL; SQLite has one writer anyway).
            _ = try await UserRepository.lock(id: userId, on: db)
            return try await RecycleBin.purgeStep(userId: userId, binnedBy: cutoff, size: size, on: db)
        }
    }

    public func subtree(userId: Int64, path: String) async throws -> [FileNode] {
        try await read { db in
            guard let top = try await TreeRepository.node(userId: userId, path: path, on: db) else { throw PanError.fileNotFound }
            return try await TreeRepository.subtree(of: top, on: db)
        }
    }

    // MARK: Stored objects

    // MARK: Share links

    public func createShare(userId: Int64, at address: NodeAddress, settings: ShareSettings) async throws -> Share {
        try await write(user: userId) { db in
            try await ShareRepository.create(userId: userId, at: address, settings: settings, now: Millis.now(), on: db)
        }
    }

    public func shares(userId: Int64, of node: NodeAddress?, limit: Int, offset: Int) async throws -> (shares: [Share], total: Int64) {
        try await read { db in
            var nodeId: Int64?
            if let node { nodeId = try await Self.resolve(node, userId: userId, on: db).id }
            return try await ShareRepository.list(userId: userId, nodeId: nodeId, limit: limit, offset: offset, on: db)
        }
    }

    public func updateShare(userId: Int64, id: String, settings: ShareSettings) async throws -> Share {
        try await write(user: userId) { db in
            guard let share = try await ShareRepository.update(userId: userId, id: id, settings: settings, on: db) else { throw PanError.shareNotFound }
            return share
        }
    }

    public func removeShares(userId: Int64, ids: [String]) async throws -> Int {
        try await write(user: userId) { db in try await ShareRepository.remove(userId: userId, ids: ids, on: db) }
    }

    public func share(id: String) async throws -> Share? {
        try await readStatement { db in try await ShareRepository.find(id: id, on: db) }
    }

    public func allShares(userId: Int64?, limit: Int) async throws -> [Share] {
        try await read { db in try await ShareRepository.all(userId: userId, limit: limit, on: db) }
    }

    // The share counters below change one row each, atomically: no user lock.

    public func recordShareView(userId: Int64, id: String) async throws {
        try await write(user: nil) { db in try await ShareRepository.recordView(userId: userId, id: id, now: Millis.now(), on: db) }
    }

    public func countShareDownload(userId: Int64, id: String, ticket: String, served: Int64, ticketExpiresAt: Int64) async throws -> Bool {
        try await write(user: nil) { db in
            try await ShareRepository.countDownload(
                userId: userId, id: id, ticket: ticket, served: served, ticketExpiresAt: ticketExpiresAt, now: Millis.now(), on: db
            )
        }
    }

    public func continueShareDownload(userId: Int64, id: String, ticket: String, bytes: Int64, allowance: Int64) async throws -> Bool {
        try await write(user: nil) { db in
            try await ShareRepository.continueDownload(userId: userId, id: id, ticket: ticket, bytes: bytes, allowance: allowance, on: db)
        }
    }

    public func sharedFile(userId: Int64, uuid: String) async throws -> (node: FileNode, objectKey: String?, objectSize: Int64?)? {
        try await readStatement { db in
            try await ShareRepository.file(userId: userId, uuid: uuid, on: db).map { (node: $0.0, objectKey: $0.objectKey, objectSize: $0.objectSize) }
        }
    }

    public func sweepShareTickets(before cutoff: Int64, limit: Int) async throws -> Int {
        try await write(user: nil) { db in try await ShareRepository.sweepTickets(before: cutoff, limit: limit, on: db) }
    }

    public func setDisplayName(_ name: String?, userId: Int64) async throws -> User {
        try await write(user: userId) { db in
            try await UserRepository.setDisplayName(name, userId: userId, on: db)
            guard let user = try await UserRepository.find(id: userId, on: db) else { throw PanError.userNotFound }
            return user
        }
    }

    public func storedObjects(limit: Int) async throws -> [StoreObject] {
        try await read { db in try await StoreObjectRepository.list(limit: limit, on: db) }
    }

    public func storedObject(hash: String) async throws -> (StoreObject, [(userId: Int64, path: String)])? {
        try await read { db in
            guard let object = try await StoreObjectRepository.findCounted(hash: hash, on: db) else { return nil }
            return (object, try await StoreObjectRepository.users(of: hash, limit: 100, on: db))
        }
    }

    public func collectUnusedObjects(dryRun: Bool) async throws -> [StoreObject] {
        // Mark and sweep in one transaction (see `collectUnused`); the caller deletes the bytes after it commits.
        let grace = uploads.settings.objectGrace
        return try await writeExclusively(.collectObjects) { db in
            try await StoreObjectRepository.collectUnused(dryRun: dryRun, olderThan: Millis.now() - grace, on: db)
        } ?? []
    }

    public func objectKeys() async throws -> Set<String> {
        try await read { db in try await StoreObjectRepository.allKeys(on: db) }
    }

    // MARK: Operations

    public func stats() async throws -> DatabaseStats {
        let engine = self.engine
        return try await readLong { db in try await DatabaseStats.collect(schemaVersion: try await engine.schemaVersion(on: db), on: db) }
    }

    public func checkWritable() async throws -> Int {
        // SQLite: BEGIN IMMEDIATE is the write lock itself; the SELECT keeps it a no-op.
        let engine = self.engine
        return try await write(user: nil) { db in
            _ = try await db.scalar("SELECT 1")
            return try await engine.schemaVersion(on: db)
        }
    }

    public var latestSchemaVersion: Int { engine.latestSchemaVersion }

    public var databaseProblem: String? { engine.databaseProblem }

    public func completeNameKeys() async throws -> Int {
        // Usually nothing is missing: a read says so, with no write transaction
        // (a read-only database, or a full disk, opens as before).
        guard try await read({ db in try await NameKeys.anyMissing(on: db) }) else { return 0 }
        var (filled, cursor): (Int, NameKeys.Cursor?) = (0, nil)
        repeat {
            let after = cursor
            let batch = try await write(user: nil) { db in try await NameKeys.fill(after: after, limit: NameKeys.batchSize, on: db) }
            filled += batch.filled
            cursor = batch.next
        } while cursor != nil
        return filled
    }

    public func fsck(repair: Bool) async throws -> FsckReport {
        let repairs = repair ? try await write(user: nil) { db in try await TreeChecker.repair(on: db) } : []
        let findings = try await readLong { db in try await TreeChecker.check(on: db) }
        return FsckReport(findings: findings, repairs: repairs)
    }

    public func checkpoint() async throws {
        do { try await engine.checkpoint() } catch { throw PanError(storeError: error) }
    }

    public func close() async {
        await engine.close()
    }
}

extension PanError {
    /// Database failures as the domain names them: what a caller can act on
    /// (a name taken by a concurrent writer, a busy database) keeps its meaning.
    init(storeError error: any Error) {
        switch error {
        case let error as PanError:
            self = error
        case let error as any DatabaseFailure where error.isUniqueViolation:
            // Two writers raced for one name; the loser sees the usual conflict.
            self = .fileAlreadyExists
        case let error as any DatabaseFailure where error.isFull:
            // The disk is full: the operator's to fix, the client's to retry.
            self = .storageFull
        case let error as any DatabaseFailure where error.isForeignKeyViolation:
            // A content object collected (`pan store gc`) under an upload that was
            // about to use it: nothing was written; the client's retry uploads anew.
            self = .unavailable
        case let error as any DatabaseFailure where error.isBusy || error.isRetryable:
            // Busy past the timeout, or still conflicting after the engine's bounded retries.
            self = .unavailable
        default:
            self = .internalError("storage: \(error)")
        }
    }
}
