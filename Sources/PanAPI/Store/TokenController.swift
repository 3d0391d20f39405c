import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport

/// `POST /v1/store/token` — the seed's endpoint.
package struct TokenController {
    let store: any PanStore
    let authenticator: Authenticator
    let metrics: PanMetrics
    let storage: StorageFloor
    let possession: PossessionCheck
    let clientAddress: ClientAddress

    package init(store: any PanStore, authenticator: Authenticator, metrics: PanMetrics, storage: StorageFloor, possession: PossessionCheck, clientAddress: ClientAddress) {
        self.store = store
        self.authenticator = authenticator
        self.metrics = metrics
        self.storage = storage
        self.possession = possession
        self.clientAddress = clientAddress
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/store/token", use: token)
    }

    /// The token reply: deliberately without `uuid` and `storeId`, which is how
    /// clients tell it from an instant upload (`api.md` §4).
    struct GrantDTO: JSONWritable {
        let token: String
        let uploadUrl: String
        let type = 0
        let version = 1
        let name: String
        let parent: String
        let path: String
        let userId: Int64
        let challenge: PossessionChallenge?

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.field("token", token)
                json.field("uploadUrl", uploadUrl)
                json.field("type", type)
                json.field("version", version)
                json.field("name", name)
                json.field("parent", parent)
                json.field("path", path)
                json.field("userId", userId)
                if let challenge {
                    // The content is stored, but not this user's: prove possession, or upload (docs/api.md).
                    json.key("challenge")
                    challenge.write(to: &json)
                }
            }
        }
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        // Signature and expiry here; the user is read and the token admitted
        // in the request's own transaction (`requestToken`), not in one of its own.
        let claims = try await authenticator.verifiedClaims(request, body: body)
        // An upload that could not be stored is refused before its session is recorded.
        try storage.check()
        let tokenRequest = try Self.tokenRequest(from: body)
        if let proof = tokenRequest.proof {
            let session = try await authenticator.authenticate(request, body: body)
            let address = clientAddress.ip(of: request, peer: context.remoteAddress) ?? "-"
            do {
                let node = try await possession.instantUpload(userId: session.user.id, address: address, tokenRequest, proof)
                metrics.instantUpload(.proof)
                return try Reply.ok(node, token: session.refreshedToken)
            } catch let error as PanError where error.code == PanError.proofInvalid.code || error.code == PanError.proofFailed.code {
                metrics.failedProofs.increment()
                throw error
            }
        }
        let (outcome, user) = try await store.requestToken(userId: claims.uuid, credential: claims.credential, tokenRequest)
        let refreshed = try await authenticator.refreshedToken(for: user, claims: claims)
        switch outcome {
        case .instant(let node, let kind):
            metrics.instantUpload(kind)
            return try Reply.ok(node, token: refreshed)
        case .upload(let grant):
            metrics.tokensIssued.increment()
            if grant.challenge != nil { metrics.challengesIssued.increment() }
            let dto = GrantDTO(
                token: grant.token, uploadUrl: grant.uploadURL, name: grant.name, parent: grant.parent,
                path: grant.path, userId: user.id, challenge: grant.challenge
            )
            return try Reply.ok(dto, token: refreshed)
        }
    }

    /// Every client's shape (`api.md` §5): `hash`/`fileHash`, the conflict flags (`JSONBody.conflictPolicy`),
    /// plus Pan's `size`.
    static func tokenRequest(from body: JSONBody) throws(PanError) -> TokenRequest {
        var request = TokenRequest()
        request.name = try body.string("name") ?? ""
        request.hash = (try body.string("hash", "fileHash") ?? "").trimmedSpaces()
        request.parent = try body.string("parent", "parentUuid") ?? ""
        request.path = try body.string("path") ?? ""
        request.originalFilename = try body.string("originalFilename", "filename") ?? ""
        request.size = try body.int("size", "fileSize")
        if let size = request.size, size < 0 { throw .invalidField("size", "must not be negative") }
        request.conflict = try body.conflictPolicy()
        if let proof = try body.object("proof") {
            guard let nonce = try proof.string("nonce"), let answer = try proof.string("answer") else {
                throw .invalidField("proof", "expected {nonce, answer}")
            }
            // A proof is about stored content: without its hash there is nothing to prove.
            guard !request.hash.isEmpty else { throw .invalidField("hash", "a proof needs the content's hash") }
            request.proof = PossessionProof(nonce: nonce.trimmedSpaces(), answer: answer.trimmedSpaces())
        }
        return request
    }
}
