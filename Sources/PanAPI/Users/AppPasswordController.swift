import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport

/// The signed-in user's app passwords for WebDAV (`api.md` §3):
/// `appPasswords` (list), `appPassword/create` (the secret, this once) and
/// `appPassword/revoke`. Session auth like every `/v1/user/*` endpoint; an
/// app password itself never signs in here (it is no account password).
package struct AppPasswordController {
    let store: any PanStore
    let authenticator: Authenticator
    let key: AppPasswordKey

    package init(store: any PanStore, authenticator: Authenticator, key: AppPasswordKey) {
        self.store = store
        self.authenticator = authenticator
        self.key = key
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/user/appPasswords", use: list)
        router.post("/v1/user/appPassword/create", use: create)
        router.post("/v1/user/appPassword/revoke", use: revoke)
    }

    /// `{}` → `{list: [{id, name, createdAt, lastUsedAt}]}`, newest first; never a secret.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let list = try await store.appPasswords(userId: session.user.id)
        return try Reply.ok(AppPasswordListDTO(list: list.map(AppPasswordDTO.init)), token: session.refreshedToken)
    }

    /// `{name}` → `{id, name, createdAt, lastUsedAt: null, password}`: the
    /// only time the secret is shown. 400 `INVALID_FIELD` for a bad name, 409
    /// `APP_PASSWORD_LIMIT` past `AppPassword.maxPerUser`.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let name = try AppPassword.checkedName(try body.string("name"))
        let secret = AppPasswordSecret.generate()
        let hash = key.hash(canonical: AppPasswordSecret.canonical(secret)!)  // a generated secret always is one
        let made = try await store.createAppPassword(userId: session.user.id, name: name, secretHash: hash)
        context.logger.info("app password created", metadata: ["user": "\(session.user.id)", "appPassword": "\(made.id)"])
        return try Reply.ok(CreatedAppPasswordDTO(made, password: secret), token: session.refreshedToken)
    }

    /// `{id}` → revoked at once, on every server; an unknown id or another
    /// user's is 404 `APP_PASSWORD_NOT_FOUND`.
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        guard let id = try body.string("id")?.trimmedSpaces(), !id.isEmpty else {
            throw PanError.invalidField("id", "the app password's id is required")
        }
        guard id.utf8.count <= 64, try await store.revokeAppPassword(userId: session.user.id, id: id) else {
            throw PanError.appPasswordNotFound
        }
        context.logger.info("app password revoked", metadata: ["user": "\(session.user.id)", "appPassword": "\(id)"])
        return try Reply.ok(NoResult(), token: session.refreshedToken)
    }
}

struct AppPasswordDTO: Encodable {
    let id: String
    let name: String
    /// Unix ms.
    let createdAt: Int64
    /// Unix ms, at most a minute behind; null: never used.
    let lastUsedAt: Int64?

    init(_ password: AppPassword) {
        id = password.id
        name = password.name
        createdAt = password.createdAt
        lastUsedAt = password.lastUsedAt
    }

    enum CodingKeys: String, CodingKey { case id, name, createdAt, lastUsedAt }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(createdAt, forKey: .createdAt)
        // An explicit null, so a client sees the field whether or not it was used.
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
    }
}

struct AppPasswordListDTO: Encodable {
    let list: [AppPasswordDTO]
}

struct CreatedAppPasswordDTO: Encodable {
    let item: AppPasswordDTO
    /// The secret, grouped (`abcde-fghij-…`): shown here only.
    let password: String

    init(_ made: AppPassword, password: String) {
        item = AppPasswordDTO(made)
        self.password = password
    }

    enum CodingKeys: String, CodingKey { case password }

    func encode(to encoder: any Encoder) throws {
        try item.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(password, forKey: .password)
    }
}
