import Foundation
import SQLCommon
import TextSupport
import WCS

/// `POST /v1/store/token`: resolves the target by the seed's rules, then
/// either creates the file at once (instant upload) or opens an upload session
/// and signs a WCS token for it.
struct UploadService<Engine: SQLEngine>: Sendable {
    let engine: Engine
    let settings: UploadSettings

    func requestToken(userId: Int64, credential: SessionCredential?, _ request: TokenRequest) async throws -> (outcome: TokenOutcome, user: User) {
        let settings = self.settings
        guard let credentials = settings.credentials.first else { throw PanError.internalError("no WCS keys configured") }
        let (outcome, user): (TokenOutcome, User)
        do {
            (outcome, user) = try await engine.write(asUser: userId, session: credential?.sessionId) { db, user -> (TokenOutcome, User) in
                if let credential { try user.admit(credential) }
                return (try await tokenOutcome(user: user, request, settings: settings, on: db), user)
            }
        } catch let error as PanError where credential != nil && error.code == PanError.userNotFound.code {
            // A token of a user who is gone, as `Authenticator` answers it.
            throw PanError.tokenInvalid
        }
        // Signing is pure computation: done here, off the single writer.
        guard case .upload(var grant) = outcome else { return (outcome, user) }
        grant.token = UploadToken.make(policy: grant.policy, credentials: credentials)
        return (.upload(grant), user)
    }

    /// The token request's work, inside the user's transaction.
    private func tokenOutcome(user: User, _ request: TokenRequest, settings: UploadSettings, on db: any DatabaseConnection) async throws -> TokenOutcome {
        let userId = user.id
        let now = Millis.now()
        let (directory, name, rule4File, child) = try await resolve(userId: userId, request, on: db, now: now)
        // The file's own depth, whatever mix of `parent` and `path` got there (issue #14 item 7).
        try PanPath.requireDepth(PanPath.depth(of: directory.path) + 1)
        // And its path's length: refused now, not at the callback after the bytes were sent.
        try PanPath.requirePathLength(PanPath.join(directory.path, name).unicodeScalars.count)
        // Rule 4: `path` names an existing file holding this very content: nothing to create.
        if let rule4File, !request.hash.isEmpty, rule4File.storeId == request.hash {
            return .instant(rule4File, .own)
        }
        let target = try await FilePlacement.target(directory: directory, name: name, policy: request.conflict, existing: child, on: db)
        // Instant upload's rule (issue #24), in one statement: the object and whether one of this user's nodes holds it.
        var challengeFor: StoreObject?
        if !request.hash.isEmpty, let (stored, owned) = try await StoreObjectRepository.find(hash: request.hash, heldBy: userId, on: db),
           request.size == nil || request.size == stored.size {
            switch (owned, settings.instantUpload) {
            case (true, _): return .instant(try await FilePlacement.place(stored, at: target, user: user, nodeLimit: settings.maxNodesPerUser, on: db, now: now), .own)
            case (false, .global): return .instant(try await FilePlacement.place(stored, at: target, user: user, nodeLimit: settings.maxNodesPerUser, on: db, now: now), .global)
            case (false, .proof): challengeFor = stored
            case (false, .owner): break
            }
        }
        var grant = try await openSession(user: user, request, requestedName: name, target: target, settings: settings, on: db, now: now)
        if let stored = challengeFor {
            grant.challenge = try await PossessionChallengeRepository.issue(for: stored, sessionId: grant.sessionId, userId: userId, on: db, now: now)
        }
        return .upload(grant)
    }

    /// The first half of a proven instant upload: the nonce is used up here,
    /// in its own short transaction, before any byte is read, so it can be
    /// tried once however many requests carry it at the same time.
    func claimChallenge(userId: Int64, _ proof: PossessionProof, hash: String) async throws -> ClaimedChallenge {
        try await engine.write(lockingUser: userId) { db in
            try await PossessionChallengeRepository.claim(proof, hash: hash, userId: userId, on: db, now: Millis.now())
        }
    }

    /// The second half, once the answer matched the stored bytes: the file is
    /// placed like any instant upload, at the target the challenge was issued
    /// for, and the session the challenge rode on is done (its reserved bytes freed).
    func completeProvenUpload(userId: Int64, _ request: TokenRequest, _ claim: ClaimedChallenge) async throws -> FileNode {
        try await engine.write(asUser: userId) { db, user -> FileNode in
            let now = Millis.now()
            guard let session = try await UploadSessionRepository.lock(id: claim.sessionId, userId: userId, on: db), session.state == .pending
            else { throw PanError.proofInvalid }
            let (directory, name, rule4File, child) = try await resolve(userId: userId, request, on: db, now: now)
            // Bound to the target: a nonce issued for one path makes no file at another.
            guard directory.path == session.dirPath, name == session.name else { throw PanError.proofInvalid }
            let node: FileNode
            if let rule4File, rule4File.storeId == claim.object.hash {
                node = rule4File
            } else {
                let target = try await FilePlacement.target(directory: directory, name: name, policy: request.conflict, existing: child, on: db)
                node = try await FilePlacement.place(claim.object, at: target, user: user, nodeLimit: settings.maxNodesPerUser, on: db, now: now)
            }
            try await UploadSessionRepository.markDone(session, nodeId: node.id, on: db, now: now)
            return node
        }
    }

    private func openSession(
        user: User, _ request: TokenRequest, requestedName: String, target: FilePlacement.Target, settings: UploadSettings,
        on db: any DatabaseConnection, now: Int64
    ) async throws -> UploadGrant {
        let userId = user.id
        let freed = target.replacing?.size ?? 0
        // Pending uploads are bounded per user, and the sizes they declared are
        // reserved: bytes in flight cannot add up past the quota.
        let pending = try await UploadSessionRepository.pendingLoad(user: user, now: now, cap: settings.maxPendingSessions, on: db)
        guard pending.count < settings.maxPendingSessions else { throw PanError.tooManyPendingUploads }
        let remaining = user.room(reserved: pending.reservedBytes, freed: freed)
        if let size = request.size { try user.ensureRoom(for: size, reserved: pending.reservedBytes, freed: freed) }
        // Without a declared size, the session's limit is what is left: nothing left, no session.
        else if remaining <= 0 { throw PanError.quotaExceeded }
        let sizeLimit = request.size ?? remaining
        let sessionId = RandomID.ordered32(now: now)
        // Opaque: never derived from the user's path or name.
        let objectKey = "pan/" + RandomID.ordered32(now: now)
        let deadline = settings.deadline(now: now, declaredSize: request.size)
        try await UploadSessionRepository.create(
            id: sessionId, userId: userId, dirPath: target.directory.path, // `rename` picks its free name again when the callback lands.
            name: request.conflict == .rename ? requestedName : target.name,
            // `skip` names one file here: it was refused like `fail` (FilePlacement), and is kept as that.
            conflict: request.conflict == .skip ? .fail : request.conflict, declaredSize: request.size, declaredHash: request.hash.isEmpty ? nil : request.hash,
            sizeLimit: sizeLimit, bucket: settings.bucket, objectKey: objectKey, deadline: deadline,
            lapsesAt: settings.lapse(now: now, declaredSize: request.size), on: db, now: now
        )
        let policy = PutPolicy(
            // `bucket:key` fixes the object key: a form `key` (the Android app
            // sends the file name) cannot put the bytes anywhere else, so
            // `$(key)` in the callback is Pan's own value (docs/clients.md).
            scope: settings.bucket + ":" + objectKey,
            deadline: deadline,
            // Never replace an existing object: objects are shared by hash across users.
            overwrite: 0,
            // fsizeLimit 0 means "no limit" to WCS: a zero-byte upload gets 1.
            fsizeLimit: max(1, sizeLimit),
            callbackUrl: settings.callbackURL,
            callbackBody: UploadSettings.callbackBody(userId: userId, sessionId: sessionId)
        )
        return UploadGrant(
            token: "", // signed by the caller, outside the transaction
            uploadURL: settings.uploadURL,
            name: target.name,
            parent: target.directory.uuid,
            path: PanPath.join(target.directory.path, target.name),
            sessionId: sessionId,
            policy: policy,
            challenge: nil
        )
    }

    /// The seed's four rules (`api.md` §5), plus `parent` uuid addressing.
    /// Returns the directory (created if missing), the file name, for rule 4
    /// on an existing file that file, and what stands at the name now when
    /// that was read on the way (`.some(nil)`: nothing) — the directory and
    /// the name are looked up in one statement where the rules allow.
    func resolve(userId: Int64, _ request: TokenRequest, on db: any DatabaseConnection, now: Int64) async throws
        -> (FileNode, String, FileNode?, FileNode??)
    {
        var name = request.name.trimmed()
        var original = request.originalFilename.trimmed()
        if !name.isEmpty { name = try PanPath.name(name) }
        if !original.isEmpty, name.isEmpty { original = try PanPath.name(original) }

        // `parent` names the base directory; `path`, when also given, is taken inside it.
        var base = PanPath.root
        let parentRef = request.parent.trimmed()
        if !parentRef.isEmpty, parentRef != "/" {
            guard let parent = try await TreeRepository.node(userId: userId, uuid: parentRef, on: db), parent.isDirectory else {
                throw PanError.fileNotFound
            }
            base = parent.path
        }
        let relative = try PanPath.validated(request.path)
        let path = relative == PanPath.root ? base : PanPath.normalize(base + relative)
        let pathGiven = path != PanPath.root

        if !name.isEmpty {
            // Rule 1 (and `name` alone: the base directory).
            return try await directoryAndChild(userId: userId, path: path, name: name, on: db, now: now)
        }
        if !pathGiven {
            // Rules 2 and 3.
            let fileName = original.isEmpty ? "qzy-upload-noname.\(now).tmp" : original
            return try await directoryAndChild(userId: userId, path: PanPath.root, name: fileName, on: db, now: now)
        }
        // Rule 4.
        if let existing = try await TreeRepository.node(userId: userId, path: path, on: db) {
            if existing.isDirectory {
                let fileName = original.isEmpty ? "qzy-upload-noname.\(now).tmp" : original
                return (existing, fileName, nil, nil)
            }
            let directory = try await TreeRepository.directory(userId: userId, path: PanPath.parent(of: path), nodeLimit: settings.maxNodesPerUser, on: db, now: now)
            return (directory, existing.name, existing, .some(existing))
        }
        let directory = try await TreeRepository.directory(userId: userId, path: PanPath.parent(of: path), nodeLimit: settings.maxNodesPerUser, on: db, now: now)
        return (directory, PanPath.lastSegment(of: path), nil, .some(nil))
    }

    /// The directory at `path` (created if missing) and its live child `name`, read together.
    private func directoryAndChild(userId: Int64, path: String, name: String, on db: any DatabaseConnection, now: Int64) async throws
        -> (FileNode, String, FileNode?, FileNode??)
    {
        let (directory, child) = try await TreeRepository.nodeAndChild(userId: userId, path: path, name: name, on: db)
        if let directory {
            guard directory.isDirectory else { throw PanError.notADirectory }
            return (directory, name, nil, .some(child))
        }
        let made = try await TreeRepository.directory(userId: userId, path: path, nodeLimit: settings.maxNodesPerUser, on: db, now: now)
        return (made, name, nil, nil)
    }
}
