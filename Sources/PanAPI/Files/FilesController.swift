import Foundation
import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport

/// The files API of `api.md` §7: page/list/list2/get, createDirectory,
/// rename/move/copy/remove, and the recycle bin. Every change is one
/// transaction; another user's nodes are simply not found.
package struct FilesController {
    let store: any PanStore
    let authenticator: Authenticator
    let links: DownloadLinks

    package init(store: any PanStore, authenticator: Authenticator, links: DownloadLinks) {
        self.store = store
        self.authenticator = authenticator
        self.links = links
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/files/get", use: get)
        router.post("/v1/files/page", use: page)
        router.post("/v1/files/list", use: list)
        router.post("/v1/files/search", use: search)
        router.post("/v1/files/list2", use: list2)
        router.post("/v1/files/createDirectory", use: createDirectory)
        router.post("/v1/files/rename", use: rename)
        router.post("/v1/files/move", use: move)
        router.post("/v1/files/copy", use: copy)
        router.post("/v1/files/remove", use: remove)
        router.post("/v1/files/recycle", use: recycle)
        router.post("/v1/files/emptyBin", use: emptyBin)
    }

    /// Authenticates and parses; every handler starts here.
    private func begin(_ request: Request, _ context: AppRequestContext) async throws -> (JSONBody, Authenticator.Session) {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        return (body, try await authenticator.authenticate(request, body: body))
    }

    // MARK: Reading

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        let address = try NodeAddress(body)
        let userId = session.user.id
        let found = try await store.node(userId: userId, at: address)
        let (node, object) = (found.node, found.object)
        let download = object.map { links.address(objectKey: $0.objectKey, node: node.uuid, name: node.name, mime: node.mime) }
        return try Reply.ok(NodeWithDownload(node: node, downloadAddress: download), token: session.refreshedToken)
    }

    struct PageDTO: JSONWritable {
        let list: [FileNode]
        let info: FileNode?
        let page: Int
        let pageSize: Int
        let totalCount: Int64
        let totalPage: Int64

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.key("list")
                list.write(to: &json)
                // As the synthesized encoding: no `info` key for the recycle bin.
                if let info {
                    json.key("info")
                    info.write(to: &json)
                }
                json.field("page", page)
                json.field("pageSize", pageSize)
                json.field("totalCount", totalCount)
                json.field("totalPage", totalPage)
            }
        }
    }

    @Sendable func page(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        // Lenient: page ≤ 0 is the first page, pageSize ≤ 0 the default 20.
        let pageNumber = max(1, Int(clamping: try body.int("page") ?? 1))
        let requestedSize = Int(clamping: try body.int("pageSize", "size") ?? 20)
        let pageSize = requestedSize <= 0 ? 20 : requestedSize
        // `(page - 1) * pageSize` below must not overflow (a trap) for a page sent as a huge string.
        guard pageNumber <= Int.max / 1_000 else { throw PanError.invalidField("page", "is too large") }
        guard (1...999).contains(pageSize) else { throw PanError.invalidField("pageSize", "must be 1 to 999") }
        let order = try Self.order(body)
        let type = Self.typeFilter(body)
        let userId = session.user.id
        let offset = (pageNumber - 1) * pageSize
        if try body.flag("recycle") == true {
            let (nodes, total) = try await store.recycleBin(userId: userId, limit: pageSize, offset: offset)
            let dto = PageDTO(list: nodes, info: nil, page: pageNumber, pageSize: pageSize, totalCount: total,
                              totalPage: (total + Int64(pageSize) - 1) / Int64(pageSize))
            return try Reply.ok(dto, token: session.refreshedToken)
        }
        let address = try NodeAddress(body)
        let listing = try await store.listing(
            userId: userId, of: address, window: ListingWindow(type: type, order: order, limit: pageSize, offset: offset)
        )
        let total = listing.total
        let dto = PageDTO(list: listing.children, info: listing.directory, page: pageNumber, pageSize: pageSize, totalCount: total,
                          totalPage: (total + Int64(pageSize) - 1) / Int64(pageSize))
        return try Reply.ok(dto, token: session.refreshedToken)
    }

    /// Search by name (issue #28): `{name, path|uuid?, type?, page, pageSize, orderBy, recycle?}`,
    /// paged as `page`, without `info`. `NameSearch` has the rules and bounds.
    @Sendable func search(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        guard let text = try body.string("name", "keyword") else { throw PanError.invalidField("name", "must be 1 to 255 characters") }
        let pageNumber = max(1, Int(clamping: try body.int("page") ?? 1))
        let requestedSize = Int(clamping: try body.int("pageSize", "size") ?? 20)
        let pageSize = requestedSize <= 0 ? 20 : requestedSize
        guard pageNumber <= Int.max / 1_000 else { throw PanError.invalidField("page", "is too large") }
        guard (1...999).contains(pageSize) else { throw PanError.invalidField("pageSize", "must be 1 to 999") }
        let recycled = try body.flag("recycle") == true
        // The folder searched: `uuid` or `path` as everywhere; none (or the root) is the whole tree.
        let address = recycled ? nil : try NodeAddress(body)
        let query = try NameSearch(
            text: text, under: address, type: Self.typeFilter(body), recycled: recycled,
            order: try Self.order(body), limit: pageSize, offset: (pageNumber - 1) * pageSize
        )
        let (nodes, total) = try await store.search(userId: session.user.id, query)
        let dto = PageDTO(list: nodes, info: nil, page: pageNumber, pageSize: pageSize, totalCount: total,
                          totalPage: (total + Int64(pageSize) - 1) / Int64(pageSize))
        return try Reply.ok(dto, token: session.refreshedToken)
    }

    /// `list` returns a bare array; `list2` `{info, list}`. Both take `start`/`size`.
    private func window(_ body: JSONBody, userId: Int64) async throws -> (FileNode, [FileNode]) {
        // As the original server: `start ≤ 0` is no offset (the desktop app always
        // sends −1), `size ≤ 0` no limit — up to `listLimit`, so one reply stays bounded.
        let start = max(0, Int(clamping: try body.int("start") ?? 0))
        let requested = Int(clamping: try body.int("size", "pageSize") ?? 100)
        let size = requested <= 0 ? Self.listLimit : min(requested, Self.listLimit)
        let order = try Self.order(body)
        let type = Self.typeFilter(body)
        var address = try NodeAddress(body)
        if address.uuid == nil, address.path == PanPath.root, let parent = try body.string("parent"), !parent.isEmpty {
            address = try NodeAddress(reference: parent)
        }
        let listing = try await store.listing(userId: userId, of: address, window: ListingWindow(type: type, order: order, limit: size, offset: start))
        return (listing.directory, listing.children)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        return try Reply.ok(try await window(body, userId: session.user.id).1, token: session.refreshedToken)
    }

    struct List2DTO: Encodable {
        let info: FileNode
        let list: [FileNode]
    }

    @Sendable func list2(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        let (info, list) = try await window(body, userId: session.user.id)
        return try Reply.ok(List2DTO(info: info, list: list), token: session.refreshedToken)
    }

    // MARK: Changing

    @Sendable func createDirectory(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        let parentPath = try PanPath.validated(try body.string("path", "parentPath") ?? "")
        var name = try body.string("name")?.trimmedSpaces() ?? ""
        if !name.isEmpty { name = try PanPath.name(name) }
        // Checked again once joined: what is created is what the joined path splits into.
        let path = name.isEmpty ? parentPath : try PanPath.validated(PanPath.join(parentPath, name))
        guard path != PanPath.root else { throw PanError.invalidName("a directory name is required") }
        let userId = session.user.id
        // An existing directory is returned as it is.
        let directory = try await store.createDirectory(userId: userId, path: path)
        return try Reply.ok(directory, token: session.refreshedToken)
    }

    @Sendable func rename(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        let address = try NodeAddress(body)
        guard let name = try body.string("name", "newName")?.trimmedSpaces(), !name.isEmpty else {
            throw PanError.invalidName("a new name is required")
        }
        let policy = try Self.policy(body)
        let userId = session.user.id
        let node = try await store.rename(userId: userId, address, to: name, policy: policy)
        return try Reply.ok(node, token: session.refreshedToken)
    }

    @Sendable func move(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await transfer(request, context, copying: false)
    }

    @Sendable func copy(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await transfer(request, context, copying: true)
    }

    private func transfer(_ request: Request, _ context: AppRequestContext, copying: Bool) async throws -> Response {
        let (body, session) = try await begin(request, context)
        let sources = try NodeAddress.many(body)
        guard !sources.isEmpty else { throw PanError.invalidField("path", "name at least one file") }
        let destination: NodeAddress
        if let uuid = try body.string("destUuid"), !uuid.isEmpty {
            destination = NodeAddress(uuid: uuid, path: nil)
        } else if let path = try body.string("destPath") {
            destination = NodeAddress(uuid: nil, path: try PanPath.validated(path))
        } else if let parent = try body.string("parent", "dest") {
            destination = try NodeAddress(reference: parent)
        } else {
            throw PanError.invalidField("destPath", "a destination is required")
        }
        let policy = try Self.policy(body)
        let userId = session.user.id
        let outcome = try await store.transfer(userId: userId, sources, into: destination, policy: policy, copying: copying)
        return try Self.reply(outcome.done.count, outcome, policy: policy, token: session.refreshedToken)
    }

    /// `result` as clients have always read it; with `conflict: "skip"`, also
    /// `skipped`: the sources left where they were.
    private static func reply(_ result: some JSONWritable, _ outcome: TransferOutcome, policy: ConflictPolicy, token: String?) throws -> Response {
        guard policy == .skip else { return try Reply.ok(result, token: token) }
        return Reply.ok(result, skipped: outcome.skipped, token: token)
    }

    @Sendable func remove(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        let targets = try NodeAddress.many(body)
        guard !targets.isEmpty else { throw PanError.invalidField("path", "name at least one file") }
        let toBin = try body.flag("recycle") == true
        let userId = session.user.id
        let count = try await store.remove(userId: userId, targets, toRecycleBin: toBin)
        return try Reply.ok(count, token: session.refreshedToken)
    }

    /// `{path|uuid, recycle: 0}` restores from the bin.
    @Sendable func recycle(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (body, session) = try await begin(request, context)
        if try body.flag("recycle") == true {
            // Some clients recycle through this endpoint too.
            let targets = try NodeAddress.many(body)
            let userId = session.user.id
            _ = try await store.remove(userId: userId, targets, toRecycleBin: true)
            return try Reply.ok(targets.count, token: session.refreshedToken)
        }
        let policy = try Self.policy(body)
        let userId = session.user.id
        if body.isArray("uuid") || body.isArray("path") || body.has("uuids") || body.has("paths") {
            // Many at once (Pan's own): one transaction, `result` the number restored.
            let targets = try NodeAddress.many(body)
            guard !targets.isEmpty else { throw PanError.invalidField("uuid", "name at least one file") }
            let outcome = try await store.restore(userId: userId, targets, policy: policy)
            return try Self.reply(outcome.done.count, outcome, policy: policy, token: session.refreshedToken)
        }
        let uuid = try body.string("uuid")?.trimmedSpaces()
        let path = try body.string("path").map { try PanPath.validated($0) }
        let target = NodeAddress(uuid: uuid?.isEmpty == false ? uuid : nil, path: path)
        let outcome = try await store.restore(userId: userId, [target], policy: policy)
        // One node: `result` is it as restored, or, skipped, as it still is in the bin.
        let node = outcome.done.first ?? outcome.skipped[0]
        return try Self.reply(node, outcome, policy: policy, token: session.refreshedToken)
    }

    /// Deletes for good everything binned so far; `result` is how many items of the bin went.
    @Sendable func emptyBin(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (_, session) = try await begin(request, context)
        let removed = try await store.emptyBin(userId: session.user.id)
        return try Reply.ok(removed, token: session.refreshedToken)
    }

    // MARK: Parameters

    /// Most entries one `list`/`list2` reply carries ("no limit" included).
    static let listLimit = 10_000

    static func order(_ body: JSONBody) throws(PanError) -> ListingOrder {
        // Lenient like the original server: unknown codes (the desktop app's 0) are the default.
        guard let raw = try? body.int("orderBy", "order"), let code = Int(exactly: raw) else { return .default }
        return ListingOrder(code: code)
    }

    /// `type`: 1 directories only, 0 files only; −1, absent or anything else: all
    /// (the original server filtered only on 0 and 1).
    static func typeFilter(_ body: JSONBody) -> Int? {
        guard let type = try? body.int("type"), type == 0 || type == 1 else { return nil }
        return Int(type)
    }

    static func policy(_ body: JSONBody) throws(PanError) -> ConflictPolicy { try body.conflictPolicy() }
}
