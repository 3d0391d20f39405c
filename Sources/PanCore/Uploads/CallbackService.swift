import Foundation
import SQLCommon
import WCS

/// Turns an authenticated WCS callback into a file record, exactly once.
struct CallbackService<Engine: SQLEngine>: Sendable {
    let engine: Engine
    let settings: UploadSettings


    /// Unknown or mismatched sessions throw (401/403/404: nothing to relay);
    /// permanent refusals come back as `.refused`, recorded on the session.
    func handle(_ body: CallbackBody) async throws -> CallbackOutcome {
        guard let sessionId = body["session"], !sessionId.isEmpty else {
            throw PanError.invalidCallback("the callback names no upload session")
        }
        guard let userId = body.userId else { throw PanError.invalidCallback("the callback names no user") }
        let settings = self.settings
        // The content object first, in a transaction of its own: objects are
        // shared by every user, so the user's transaction below must not hold
        // one (two users storing the same bytes would wait on each other). It
        // is immutable once there; if the user's transaction then refuses the
        // file, the object is unreferenced and `pan store gc` takes it after
        // its grace period.
        let bucket = body.bucket.flatMap { $0.isEmpty ? nil : $0 } ?? settings.bucket
        if engine.runsUsersInParallel, let hash = body.hash, ContentHasher.isWellFormed(hash), let size = body.size, size >= 0,
           let key = body.key, !key.isEmpty {
            _ = try await engine.write(lockingUser: nil) { db in
                // Only for a pending session of this user holding exactly this key.
                guard let session = try await UploadSessionRepository.find(id: sessionId, userId: userId, on: db),
                      session.state == .pending, session.objectKey == key, size <= session.sizeLimit else { return false }
                try await StoreObjectRepository.insertIfMissing(
                    hash: hash, size: size, mime: MimeType.forName(session.name), bucket: bucket, objectKey: key, on: db, now: Millis.now()
                )
                return true
            }
        }
        let storedApart = engine.runsUsersInParallel
        return try await engine.write(lockingUser: userId) { db in
            let now = Millis.now()
            guard let session = try await UploadSessionRepository.find(id: sessionId, userId: userId, on: db) else {
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
            do {
                return try await db.savepoint {
                    // Stored above (or earlier, by another upload of the same bytes); with one
                    // serial writer, here (the checks above are the same as there).
                    if !storedApart {
                        try await StoreObjectRepository.insertIfMissing(
                            hash: hash, size: size, mime: MimeType.forName(session.name), bucket: bucket, objectKey: session.objectKey,
                            on: db, now: now
                        )
                    }
                    guard let stored = try await StoreObjectRepository.find(hash: hash, on: db) else {
                        throw PanError.internalError("the content object of \(hash) is missing")
                    }
                    // Re-created by path if it was removed since the token was issued.
                    let limit = settings.maxNodesPerUser
                    let directory = try await TreeRepository.directory(userId: userId, path: session.dirPath, nodeLimit: limit, on: db, now: now)
                    let target = try await FilePlacement.target(directory: directory, name: session.name, policy: session.conflict, on: db)
                    let node = try await FilePlacement.place(stored, at: target, userId: userId, nodeLimit: limit, on: db, now: now)
                    try await UploadSessionRepository.markDone(session, nodeId: node.id, on: db, now: now)
                    return .accepted(node, replayed: false)
                }
            } catch let error as PanError where error.statusCode < 500 {
                // The object stored for this upload alone goes too, so its bytes are
                // deleted now (the local endpoint checks), not after gc's grace period.
                try await StoreObjectRepository.forgetIfUnused(hash: hash, objectKey: session.objectKey, on: db)
                return try await refuse(session, error, on: db, now: now)
            }
        }
    }

    private func refuse(_ session: UploadSession, _ error: PanError, on db: any DatabaseConnection, now: Int64) async throws -> CallbackOutcome {
        try await UploadSessionRepository.markFailed(session, error: error, on: db, now: now)
        return .refused(error, replayed: false)
    }
}
