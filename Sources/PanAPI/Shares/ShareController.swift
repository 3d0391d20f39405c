import Foundation
import Hummingbird
import Logging
import PanCore
import PanHTTPSupport
import TextSupport

/// Share links (issue #27, `api.md` §8). The owner's routes
/// (`create|list|update|remove`) are authenticated like every `/v1` route;
/// the public ones (`open`, `page`) take the share id as their credential,
/// and a grant from `open` for `page`. Every public request checks the share
/// as it is now (`Share.state`), and every unusable share answers alike:
/// 404 `SHARE_NOT_FOUND`.
package struct ShareController {
    let store: any PanStore
    let authenticator: Authenticator
    let links: ShareLinks
    let passwords: PasswordHasher
    let hashPool: HashPool
    let throttle: SharePasswordThrottle
    let clientAddress: ClientAddress
    let metrics: PanMetrics

    package init(store: any PanStore, authenticator: Authenticator, links: ShareLinks, passwords: PasswordHasher, hashPool: HashPool, throttle: SharePasswordThrottle, clientAddress: ClientAddress, metrics: PanMetrics) {
        self.store = store
        self.authenticator = authenticator
        self.links = links
        self.passwords = passwords
        self.hashPool = hashPool
        self.throttle = throttle
        self.clientAddress = clientAddress
        self.metrics = metrics
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/share/create", use: create)
        router.post("/v1/share/list", use: list)
        router.post("/v1/share/update", use: update)
        router.post("/v1/share/remove", use: remove)
        router.post("/v1/share/open", use: open)
        router.post("/v1/share/page", use: page)
        router.post("/v1/user/displayName", use: displayName)
    }

    // MARK: The owner's

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let address = try NodeAddress(body)
        let settings = try await settings(body, creating: true)
        let share = try await store.createShare(userId: session.user.id, at: address, settings: settings)
        context.logger.info("share created", metadata: ["share": "\(share.id)", "user": "\(session.user.id)"])
        return try Reply.ok(ShareDTO(share: share, url: links.pageURL(share.id), now: Millis.now()), token: session.refreshedToken)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let (page, pageSize) = try Self.window(body, defaultSize: 20)
        let node: NodeAddress? = if try body.string("uuid")?.trimmedSpaces().isEmpty == false || body.has("path") {
            try NodeAddress(body)
        } else {
            nil
        }
        let (shares, total) = try await store.shares(userId: session.user.id, of: node, limit: pageSize, offset: (page - 1) * pageSize)
        let now = Millis.now()
        let dto = ShareListDTO(
            list: shares.map { ShareDTO(share: $0, url: links.pageURL($0.id), now: now) }, total: total, page: page, pageSize: pageSize
        )
        return try Reply.ok(dto, token: session.refreshedToken)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let id = try Self.id(body)
        let share = try await store.updateShare(userId: session.user.id, id: id, settings: try await settings(body, creating: false))
        return try Reply.ok(ShareDTO(share: share, url: links.pageURL(share.id), now: Millis.now()), token: session.refreshedToken)
    }

    struct RemovedDTO: Encodable { let removed: Int }

    @Sendable func remove(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let ids = try body.strings("id", "ids") ?? []
        guard !ids.isEmpty else { throw PanError.invalidField("id", "name at least one share") }
        guard ids.count <= ShareLimits.idsPerRequest else {
            throw PanError.invalidField("ids", "at most \(ShareLimits.idsPerRequest) in one request")
        }
        let removed = try await store.removeShares(userId: session.user.id, ids: ids.map { $0.trimmedSpaces() }.filter(ShareID.isPlausible))
        guard removed > 0 else { throw PanError.shareNotFound }
        context.logger.info("shares removed", metadata: ["count": "\(removed)", "user": "\(session.user.id)"])
        return try Reply.ok(RemovedDTO(removed: removed), token: session.refreshedToken)
    }

    @Sendable func displayName(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        guard body.has("displayName") else { throw PanError.invalidField("displayName", "is required (\"\" clears it)") }
        let raw = (try body.string("displayName") ?? "").trimmedSpaces()
        if raw.unicodeScalars.count > 64 { throw PanError.invalidField("displayName", "at most 64 characters") }
        if raw.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }) {
            throw PanError.invalidField("displayName", "no control or formatting characters")
        }
        let user = try await store.setDisplayName(raw.isEmpty ? nil : raw, userId: session.user.id)
        return try Reply.ok(UserDTO(user: user), token: session.refreshedToken)
    }

    // MARK: Public

    @Sendable func open(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let share = try await activeShare(try Self.id(body))
        if let stored = share.passwordHash {
            guard let password = try body.string("password"), !password.isEmpty else {
                throw PanError(status: 403, code: "SHARE_PASSWORD", "password required")
            }
            let address = clientAddress.address(of: request, peer: context.remoteAddress)?.limitKey ?? "-"
            if let wait = throttle.admit(share: share.id, address: address) {
                metrics.shareThrottled.increment()
                throw PanError(status: 429, code: "TOO_MANY_ATTEMPTS", "too many wrong passwords; try again in \(wait) s", retryAfter: wait)
            }
            let passwords = self.passwords
            let matches: Bool
            do {
                matches = try await hashPool.run { passwords.verify(clientPassword: password, stored: stored) }
            } catch {
                throttle.refund(share: share.id, address: address)
                if error is HashPool.Busy {
                    throw PanError(status: 503, code: "SERVICE_UNAVAILABLE", "too many password checks at once; try again shortly", retryAfter: 1)
                }
                throw error
            }
            guard matches else {
                metrics.sharePasswordRefusals.increment()
                context.logger.info("share password refused", metadata: ["share": "\(share.id)"])
                throw PanError(status: 403, code: "SHARE_PASSWORD", "wrong password")
            }
            throttle.refund(share: share.id, address: address)
        }
        try await store.recordShareView(userId: share.userId, id: share.id)
        metrics.shareOpens.increment()
        context.logger.info("share opened", metadata: ["share": "\(share.id)"])
        let grant = links.grant(for: share)
        let node = share.node!  // active: the node is live
        let shared = ShareOpenDTO.Shared(
            id: share.id, name: node.name, type: node.type.rawValue, size: node.isDirectory ? 0 : node.size,
            mime: node.isDirectory ? MimeType.directory : node.mime, modified: node.mtime, owner: share.ownerDisplayName,
            expiresAt: share.expiresAt, allowDownload: share.allowDownload, hasPassword: share.hasPassword, downloadsLeft: share.downloadsLeft
        )
        let (download, preview) = node.isFile ? addresses(of: node, in: share, until: grant.expiresAt) : (nil, nil)
        return try Reply.ok(
            ShareOpenDTO(share: shared, grant: grant.token, grantExpiresAt: grant.expiresAt, downloadAddress: download, previewAddress: preview),
            token: nil
        )
    }

    @Sendable func page(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let share = try await activeShare(try Self.id(body))
        let grant: ShareLinks.Grant
        switch links.verifyGrant(try body.string("grant") ?? "", for: share) {
        case .success(let valid): grant = valid
        case .failure: throw Self.grantInvalid
        }
        let top = share.node!  // active: the node is live
        guard top.isDirectory else { throw PanError.notADirectory }
        // Relative to the shared folder, by the API's one path rule: `..` is
        // refused there, and the result is joined below the folder's own path.
        let relative = try PanPath.validated(try body.string("path") ?? "/")
        let absolute = relative == PanPath.root ? top.path : top.path + relative
        let (page, pageSize) = try Self.window(body, defaultSize: 50)
        let listing = try await store.listing(
            userId: share.userId, of: NodeAddress(uuid: nil, path: absolute),
            window: ListingWindow(type: FilesController.typeFilter(body), order: try FilesController.order(body), limit: pageSize, offset: (page - 1) * pageSize)
        )
        // The path rule keeps `absolute` below the folder; the interval makes sure.
        guard share.contains(listing.directory) else { throw PanError.fileNotFound }
        let entries = listing.children.map { child in
            let (download, preview) = child.isFile ? addresses(of: child, in: share, until: grant.expiresAt) : (nil, nil)
            return PublicEntryDTO(
                name: child.name, path: Self.relativePath(of: child, below: top), type: child.type.rawValue,
                size: child.isDirectory ? 0 : child.size, mime: child.isDirectory ? MimeType.directory : child.mime,
                modified: child.mtime, downloadAddress: download, previewAddress: preview
            )
        }
        let directory = SharePageDTO.Directory(
            name: listing.directory.name, path: Self.relativePath(of: listing.directory, below: top)
        )
        return try Reply.ok(SharePageDTO(directory: directory, list: entries, total: listing.total, page: page, pageSize: pageSize), token: nil)
    }

    static let grantInvalid = PanError(status: 403, code: "SHARE_GRANT_INVALID", "this page of the share has expired: open the share again")

    // MARK: Parts

    /// The share named by `id` if it answers now; `SHARE_NOT_FOUND` otherwise, whatever the reason.
    private func activeShare(_ id: String) async throws -> Share {
        guard ShareID.isPlausible(id), let share = try await store.share(id: id), share.state() == .active else {
            throw PanError.shareNotFound
        }
        return share
    }

    /// A file's download address (when the share allows downloads) and preview address (when its kind is safe inline).
    private func addresses(of file: FileNode, in share: Share, until expiresAt: Int64) -> (download: String?, preview: String?) {
        let download = share.allowDownload ? links.fileURL(share: share, node: file, mode: .download, expiresAt: expiresAt) : nil
        let preview = InlineKinds.type(of: file) != nil
            ? links.fileURL(share: share, node: file, mode: .preview, expiresAt: expiresAt) : nil
        return (download, preview)
    }

    /// `node`'s path below the shared folder `top`: `/` for `top` itself.
    static func relativePath(of node: FileNode, below top: FileNode) -> String {
        node.id == top.id ? PanPath.root : String(node.path.dropFirst(top.path.count))
    }

    static func id(_ body: JSONBody) throws -> String {
        let id = try body.string("id")?.trimmedSpaces() ?? ""
        guard ShareID.isPlausible(id) else { throw PanError.shareNotFound }
        return id
    }

    /// `page` from 1 and `pageSize` 1–100, leniently: ≤ 0 means the first page
    /// and the default size, more than 100 is 100.
    static func window(_ body: JSONBody, defaultSize: Int) throws -> (page: Int, pageSize: Int) {
        let page = max(1, Int(clamping: try body.int("page") ?? 1))
        guard page <= 10_000_000 else { throw PanError.invalidField("page", "is too large") }
        let requested = Int(clamping: try body.int("pageSize", "size") ?? Int64(defaultSize))
        return (page, requested <= 0 ? defaultSize : min(requested, 100))
    }

    /// The settings a create or update names. On update an absent field is
    /// left as it is; `""`/`0` clear. Bounds: `ShareLimits`.
    private func settings(_ body: JSONBody, creating: Bool) async throws -> ShareSettings {
        var settings = ShareSettings()
        let now = Millis.now()
        if body.has("password") {
            let password = try body.string("password") ?? ""
            if password.isEmpty {
                if !creating { settings.passwordHash = .some(nil) }
            } else {
                guard ShareLimits.passwordLength.contains(password.count) else {
                    throw PanError.invalidField("password", "1 to \(ShareLimits.passwordLength.upperBound) characters")
                }
                let passwords = self.passwords
                do {
                    settings.passwordHash = .some(try await hashPool.run { try? passwords.hash(plainPassword: password) })
                } catch {
                    throw PanError(status: 503, code: "SERVICE_UNAVAILABLE", "too many password checks at once; try again shortly", retryAfter: 1)
                }
                guard settings.passwordHash != nil, settings.passwordHash! != nil else { throw PanError.internalError("the password could not be hashed") }
            }
        }
        if let expiresAt = try body.int("expiresAt") {
            if expiresAt == 0 {
                if !creating { settings.expiresAt = .some(nil) }
            } else {
                guard expiresAt > now, expiresAt <= now + ShareLimits.longestLifetime else {
                    throw PanError.invalidField("expiresAt", "must be in the future and at most 10 years ahead (Unix ms)")
                }
                settings.expiresAt = .some(expiresAt)
            }
        } else if let expiresIn = try body.int("expiresIn") {
            if expiresIn == 0 {
                if !creating { settings.expiresAt = .some(nil) }
            } else {
                guard expiresIn > 0, expiresIn <= ShareLimits.longestLifetime / 1000 else {
                    throw PanError.invalidField("expiresIn", "must be 1 s to 10 years (seconds)")
                }
                settings.expiresAt = .some(now + expiresIn * 1000)
            }
        }
        if let max = try body.int("maxDownloads") {
            guard (0...ShareLimits.maxDownloads).contains(max) else {
                throw PanError.invalidField("maxDownloads", "must be 1 to \(ShareLimits.maxDownloads), or 0 for no limit")
            }
            if max == 0 {
                if !creating { settings.maxDownloads = .some(nil) }
            } else {
                settings.maxDownloads = .some(max)
            }
        }
        settings.allowDownload = try body.flag("allowDownload")
        return settings
    }
}
