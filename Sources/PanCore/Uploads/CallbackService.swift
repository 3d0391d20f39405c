import Foundation
import SQLiteKit
import WCS

/// Turns an authenticated WCS callback into a file record, exactly once.
public struct CallbackService: Sendable {
    public let database: DatabasePool
    public let settings: UploadSettings

    public init(database: DatabasePool, settings: UploadSettings) {
        self.database = database
        self.settings = settings
    }

    public enum Outcome: Sendable, Equatable {
        /// The file now exists; `replayed` when an earlier delivery made it.
        case accepted(FileNode, replayed: Bool)
        /// Authentic but permanently refused: answered 200 `success:false`, so WCS stops retrying.
        case refused(PanError, replayed: Bool)
    }

    /// Unknown or mismatched sessions throw (401/403/404: nothing to relay);
    /// permanent refusals come back as `.refused`, recorded on the session.
    public func handle(_ body: CallbackBody) async throws -> Outcome {
        guard let sessionId = body["session"], !sessionId.isEmpty else {
            throw PanError.invalidCallback("the callback names no upload session")
        }
        guard let userId = body.userId else { throw PanError.invalidCallback("the callback names no user") }
        let settings = self.settings
        return try await database.write { db in
            let now = Millis.now()
            guard let session = try UploadSessionRepository.find(id: sessionId, on: db) else {
                throw PanError.sessionNotFound
            }
            guard session.userId == userId else { throw PanError.sessionUserMismatch }
            // The key is required and must be the session's: the scope fixes it,
            // so anything else did not come from this session's upload.
            guard body.key == session.objectKey else { throw PanError.sessionUserMismatch }

            switch session.state {
            case .done:
                // WCS retries the same callback: answer with the file it made, as it is now.
                guard let nodeId = session.resultNodeId, let node = try TreeRepository.node(id: nodeId, on: db) else {
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
                try db.run("UPDATE upload_sessions SET state = 'expired', completed = ? WHERE id = ?", now, session.id)
                return .refused(.sessionExpired, replayed: false)
            }
            // Malformed fields from an authentic sender are a permanent refusal too.
            guard let hash = body.hash, ContentHasher.isWellFormed(hash) else {
                return try refuse(session, .invalidCallback("the callback carries no valid content hash"), on: db, now: now)
            }
            guard let size = body.size, size >= 0 else {
                return try refuse(session, .invalidCallback("the callback carries no valid size"), on: db, now: now)
            }
            if size > session.sizeLimit {
                return try refuse(session, .fileTooLarge, on: db, now: now)
            }
            do {
                return try db.savepoint {
                    let stored = try StoreObjectRepository.upsert(
                        hash: hash, size: size, mime: MimeType.forName(session.name),
                        bucket: body.bucket.flatMap { $0.isEmpty ? nil : $0 } ?? session.bucket,
                        objectKey: session.objectKey, on: db, now: now
                    )
                    // Re-created by path if it was removed since the token was issued.
                    let directory = try TreeRepository.directory(userId: userId, path: session.dirPath, on: db, now: now)
                    let target = try FilePlacement.target(directory: directory, name: session.name, policy: session.conflict, on: db)
                    let node = try FilePlacement.place(stored, at: target, userId: userId, on: db, now: now)
                    try UploadSessionRepository.markDone(id: session.id, nodeId: node.id, on: db, now: now)
                    return .accepted(node, replayed: false)
                }
            } catch let error as PanError where error.statusCode < 500 {
                return try refuse(session, error, on: db, now: now)
            }
        }
    }

    private func refuse(_ session: UploadSession, _ error: PanError, on db: Connection, now: Int64) throws -> Outcome {
        try UploadSessionRepository.markFailed(id: session.id, error: error, on: db, now: now)
        return .refused(error, replayed: false)
    }

    /// Marks sessions past deadline + grace as expired; returns how many.
    public func sweep(now: Int64 = Millis.now()) async throws -> Int {
        let cutoff = now - settings.callbackGrace
        return try await database.write { db in try UploadSessionRepository.expire(before: cutoff, on: db, now: now) }
    }
}
