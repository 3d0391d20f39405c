import Foundation
import PanCore
import PanHTTPSupport
import Synchronization

/// An upload token is used once (issue #24 §2.1): one request at a time
/// completes its upload (a form upload, or `mkfile`), and nothing is taken
/// on it after its session ended. Two form uploads racing on one token would
/// otherwise both store their bytes at the token's key.
///
/// The claim is this process's; across servers sharing `storage/`, the atomic
/// publish (`LocalObjectStore.publishObject`) lets only the first store bytes,
/// and the session's state in the shared database refuses every later upload.
final class UploadTokenUse: Sendable {
    private let panStore: any PanStore
    private let store: LocalObjectStore
    private let settings: UploadSettings
    /// Tokens (`TokenCheck.Verified.owner`) whose upload a request is completing.
    private let completing = Mutex<Set<String>>([])

    init(panStore: any PanStore, store: LocalObjectStore, settings: UploadSettings) {
        self.panStore = panStore
        self.store = store
        self.settings = settings
    }

    static let inProgress = WCSError(code: 409, message: "an upload with this token is in progress; wait for its answer")

    static func ended(_ state: UploadSession.State) -> WCSError {
        WCSError(code: 409, message: "this token's upload session is \(state.rawValue); ask for a new token")
    }

    /// For blocks (`mkblk`, `bput`): the token's session still takes bytes,
    /// and no request is completing its upload. Returns what keeps the
    /// session from lapsing while the bytes arrive (nil: it never lapses).
    func ensureOpen(_ token: TokenCheck.Verified) async throws -> UploadActivity? {
        if completing.withLock({ $0.contains(token.owner) }) { throw Self.inProgress }
        return try await activity(of: try await ensureSessionPending(token))
    }

    /// Claims the token for the request that completes its upload; `release`
    /// it once that request is answered. Refused while another request holds
    /// it, after its session ended, and when its fixed key already holds bytes.
    @discardableResult
    func claim(_ token: TokenCheck.Verified) async throws -> UploadActivity? {
        guard completing.withLock({ $0.insert(token.owner).inserted }) else { throw Self.inProgress }
        do {
            let session = try await ensureSessionPending(token)
            // An upload on this key was stored (its callback may still be running
            // on another server): refused before any byte is read, as the publish would be.
            if token.policy.overwrite == 0, let key = token.policy.scopeKey, !key.isEmpty, store.objectExists(key: key) {
                throw WCSError.fileExists
            }
            return try await activity(of: session)
        } catch {
            release(token)
            throw error
        }
    }

    func release(_ token: TokenCheck.Verified) {
        _ = completing.withLock { $0.remove(token.owner) }
    }

    private func ensureSessionPending(_ token: TokenCheck.Verified) async throws -> UploadSession? {
        // A session unknown here (none named, or gone) is left to the callback to refuse.
        guard let id = token.sessionId, let session = try await panStore.uploadSession(id: id) else { return nil }
        guard session.state == .pending else { throw Self.ended(session.state) }
        return session
    }

    /// The request's bytes are the session's activity: counted from its start.
    private func activity(of session: UploadSession?) async -> UploadActivity? {
        guard let session, var activity = UploadActivity(session: session, panStore: panStore, settings: settings) else { return nil }
        await activity.bytesArrived()
        return activity
    }
}
