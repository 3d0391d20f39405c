import Foundation
import SQLCommon
import WCS

/// Turns an authenticated WCS callback into a file record, exactly once.
struct CallbackService<Engine: SQLEngine>: Sendable {
    let engine: Engine
    let settings: UploadSettings


    /// Unknown or mismatched sessions throw (401/403/404: nothing to relay);
    /// permanent refusals come back as `.refused`, recorded on the session.
    ///
    /// One transaction, the user's: the content object is recorded in it too.
    /// That is safe on PostgreSQL as well: two users' callbacks for the same
    /// new content meet on the object's row for as long as the shorter of
    /// their transactions (one user's callback, a few ms) and never in a cycle
    /// (one object per callback).
    ///
    /// Every refusal is decided before the first write, so the path that
    /// writes cannot fail halfway and needs no savepoint — except when the
    /// directory must be made again (removed since the token was issued):
    /// that is undone if the file is then refused.
    func handle(_ body: CallbackBody) async throws -> CallbackOutcome {
        guard let sessionId = body["session"], !sessionId.isEmpty else {
            throw PanError.invalidCallback("the callback names no upload session")
        }
        guard let userId = body.userId else { throw PanError.invalidCallback("the callback names no user") }
        let settings = self.settings
        let bucket = body.bucket.flatMap { $0.isEmpty ? nil : $0 } ?? settings.bucket
        return try await engine.write(asUser: userId) { db, user in
            let now = Millis.now()
            guard let session = try await UploadSessionRepository.lock(id: sessionId, userId: userId, on: db) else {
                // Someone else's session (a forged or misrouted callback) is told apart from none at all.
                if try await UploadSessionRepository.find(id: sessionId, on: db) != nil { throw PanError.sessionUserMismatch }
                throw PanError.sessionNotFound
            }
            // The key is required and must be the session's: the scope fixes it,
            // so anything else did not come from this session's upload.
            guard body.key == session.objectKey else { throw PanError.sessionUserMismatch }

            switch session.state {
            case .done:
                // WCS retries the same callback: answer with the file it made, as it is now.
                guard let nodeId = session.resultNodeId, let node = try await TreeRepository.node(id: nodeId, userId: userId, on: db) else {
                    // The file was deleted for good since: nothing to relay but that.
                    return .refused(.fileNotFound, replayed: true)
                }
                return .accepted(node, replayed: true)
            case .failed:
                return .refused(session.recordedFailure ?? .sessionFailed, replayed: true)
            case .cancelled:
                // Its user cancelled it first: the bytes stay unrecorded (the local endpoint deletes them).
                return .refused(.uploadCancelled, replayed: true)
            case .expired where now <= session.deadline + settings.callbackGrace:
                // Lapsed (no bytes seen for PAN_UPLOAD_IDLE; with an external WCS none ever
                // are) but the upload finished in time: its bytes are stored, so the file
                // is made if the quota allows now — the reservation was released.
                break
            case .expired:
                return .refused(.sessionExpired, replayed: true)
            case .pending:
                break
            }
            if now > session.deadline + settings.callbackGrace {
                try await UploadSessionRepository.markExpired(session, on: db, now: now)
                return .refused(.sessionExpired, replayed: false)
            }
            // Malformed fields from an authentic sender are a permanent refusal too.
            guard let hash = body.hash, ContentHasher.isWellFormed(hash) else {
                return try await refuse(session, .invalidCallback("the callback carries no valid content hash"), on: db, now: now)
            }
            guard let size = body.size, size >= 0 else {
                return try await refuse(session, .invalidCallback("the callback carries no valid size"), on: db, now: now)
            }
            if size > session.sizeLimit {
                return try await refuse(session, .fileTooLarge, on: db, now: now)
            }
            let limit = settings.maxNodesPerUser
            let place = { (directory: FileNode, child: FileNode??) async throws -> CallbackOutcome in
                let target = try await FilePlacement.target(directory: directory, name: session.name, policy: session.conflict, existing: child, on: db)
                // `size`: what this upload stored; an earlier object of the same hash has the same bytes.
                try FilePlacement.check(size: size, at: target, user: user)
                if target.replacing == nil, limit > 0, user.nodeCount + 1 > limit { throw NodeLimits.nodeCapReached(limit) }
                let stored = try await StoreObjectRepository.record(
                    hash: hash, size: size, mime: MimeType.forName(session.name), bucket: bucket, objectKey: session.objectKey, on: db, now: now
                )
                let node = try await FilePlacement.place(stored, at: target, user: user, nodeLimit: limit, on: db, now: now)
                // Cannot find the session ended: its row is locked (`lock`).
                try await UploadSessionRepository.markDone(session, nodeId: node.id, on: db, now: now)
                return .accepted(node, replayed: false)
            }
            do {
                // The usual case: the directory is there (the token request made it).
                let (directory, child) = try await TreeRepository.nodeAndChild(userId: userId, path: session.dirPath, name: session.name, on: db)
                if let directory {
                    guard directory.isDirectory else { throw PanError.notADirectory }
                    return try await place(directory, .some(child))
                }
                // Made again if removed since: undone with the file if that is refused.
                return try await db.savepoint {
                    let made = try await TreeRepository.directory(userId: userId, path: session.dirPath, nodeLimit: limit, on: db, now: now)
                    return try await place(made, .none)
                }
            } catch let error as PanError where error.statusCode < 500 {
                return try await refuse(session, error, on: db, now: now)
            }
        }
    }

    private func refuse(_ session: UploadSession, _ error: PanError, on db: any DatabaseConnection, now: Int64) async throws -> CallbackOutcome {
        try await UploadSessionRepository.markFailed(session, error: error, on: db, now: now)
        return .refused(error, replayed: false)
    }
}
