import Hummingbird
import PanCore
import TextSupport

/// `POST /v1/store/token` — the seed's endpoint.
struct TokenController {
    let store: any PanStore
    let authenticator: Authenticator
    let metrics: PanMetrics
    let storage: StorageFloor

    func addRoutes(to router: Router<AppRequestContext>) {
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
            }
        }
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        // An upload that could not be stored is refused before its session is recorded.
        try storage.check()
        let tokenRequest = try Self.tokenRequest(from: body)
        switch try await store.requestToken(userId: session.user.id, tokenRequest) {
        case .instant(let node):
            metrics.instantUploads.increment()
            return try Reply.ok(node, token: session.refreshedToken)
        case .upload(let grant):
            metrics.tokensIssued.increment()
            let dto = GrantDTO(
                token: grant.token, uploadUrl: grant.uploadURL, name: grant.name, parent: grant.parent,
                path: grant.path, userId: session.user.id
            )
            return try Reply.ok(dto, token: session.refreshedToken)
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
        return request
    }
}
