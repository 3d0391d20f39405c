import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport

/// `POST /v1/store/cancel` and `POST /v1/store/status` (issue #26): what the
/// user can do with an upload session it was granted, named by the upload
/// token `store/token` gave it.
package struct UploadSessionController {
    let store: any PanStore
    let authenticator: Authenticator
    /// Reads the upload token: signature and bucket, never its deadline (an
    /// expired token's session can still be asked about, or cancelled).
    let tokens: TokenCheck
    /// The local endpoint's blocks (nil with an external WCS: its bytes are not Pan's to delete).
    let blocks: LocalObjectStore?

    package init(store: any PanStore, authenticator: Authenticator, tokens: TokenCheck, blocks: LocalObjectStore?) {
        self.store = store
        self.authenticator = authenticator
        self.tokens = tokens
        self.blocks = blocks
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/store/cancel", use: cancel)
        router.post("/v1/store/status", use: status)
    }

    struct StateDTO: Encodable {
        let state: String
        /// The bytes the local endpoint holds for a pending session's blocks.
        let bytesReceived: Int64?
    }

    /// Ends the session at once: its reservation and pending slot are
    /// released, and its slice blocks deleted. Idempotent; refused for an
    /// upload already done (`UPLOAD_DONE`).
    @Sendable func cancel(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let upload = try uploadNamed(in: body)
        let state = try await store.cancelUpload(userId: session.user.id, sessionId: upload.sessionId)
        // Whatever it was (cancelled now or before, lapsed, failed): none of its blocks will be used.
        if let blocks { try await BlockingIO.run { blocks.removeTokenBlocks(owner: upload.owner) } }
        return try Reply.ok(StateDTO(state: state.rawValue, bytesReceived: nil), token: session.refreshedToken)
    }

    /// Where the session is; with the local endpoint, how many bytes its blocks hold.
    @Sendable func status(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let upload = try uploadNamed(in: body)
        guard let found = try await store.uploadSession(id: upload.sessionId, userId: session.user.id) else { throw PanError.uploadNotFound }
        var received: Int64?
        if let blocks, found.state == .pending { received = try await BlockingIO.run { blocks.receivedBytes(owner: upload.owner) } }
        return try Reply.ok(StateDTO(state: found.state.rawValue, bytesReceived: received), token: session.refreshedToken)
    }

    /// The session an upload token names, and the owner of its blocks. Forged,
    /// malformed or foreign tokens are all `UPLOAD_NOT_FOUND`, like another
    /// user's session: nothing tells them apart.
    private func uploadNamed(in body: JSONBody) throws -> (sessionId: String, owner: String) {
        guard let raw = try body.string("token"), !raw.trimmedSpaces().isEmpty else {
            throw PanError.invalidField("token", "the upload token store/token granted is required")
        }
        guard let verified = try? tokens.identify(raw), let sessionId = verified.sessionId else { throw PanError.uploadNotFound }
        return (sessionId, verified.owner)
    }
}
