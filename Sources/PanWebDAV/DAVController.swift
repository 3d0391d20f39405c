import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PanCore
import PanHTTPSupport
import TextSupport
import WCS

/// WebDAV (RFC 4918) at `/dav/`: each user's tree at its root.
///
/// Class 2 (`DAV: 1, 2`): write locks with LOCK/UNLOCK and the `If` header
/// (DAVLocks.swift), dead properties stored per node by PROPPATCH. Bytes are
/// served and stored with the local object store; with an external WCS, a PUT
/// is uploaded to WCS by Pan itself and a GET is redirected to a short-lived
/// signed bucket URL (DAVController+Bytes).
package struct DAVController: Sendable {
    let store: any PanStore
    let auth: DAVAuthenticator
    /// Where the bytes are: one case or the other, never neither.
    let bytes: DAVByteStore
    let bucket: String
    let storage: StorageFloor
    /// The local object store; nil with an external WCS.
    var objects: LocalObjectStore? {
        if case .local(let objects) = bytes { objects } else { nil }
    }

    package init(
        store: any PanStore, passwords: PasswordHasher, throttle: LoginThrottle, hashPool: HashPool, clientAddress: ClientAddress,
        bytes: DAVByteStore, bucket: String, storage: StorageFloor, appPasswords: AppPasswordKey, acceptsAccountPassword: Bool
    ) {
        self.store = store
        self.auth = DAVAuthenticator(store: store, passwords: passwords, throttle: throttle, hashPool: hashPool, clientAddress: clientAddress, appPasswords: appPasswords, acceptsAccountPassword: acceptsAccountPassword)
        self.bytes = bytes
        self.bucket = bucket
        self.storage = storage
    }

    static let methods = ["OPTIONS", "PROPFIND", "PROPPATCH", "GET", "HEAD", "PUT", "DELETE", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "POST"]
    static let allow = "OPTIONS, PROPFIND, PROPPATCH, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, LOCK, UNLOCK"
    /// The most a PROPFIND/PROPPATCH body may hold.
    static let maxXMLBody = 1 << 20

    package func addRoutes(to router: Router<AppRequestContext>) {
        for name in Self.methods {
            guard let method = HTTPRequest.Method(name) else { continue }
            router.on("/dav", method: method, use: handle)
            router.on("/dav/**", method: method, use: handle)
        }
    }

    @Sendable func handle(_ request: Request, context: AppRequestContext) async throws -> Response {
        do {
            return try await dispatch(request, context: context)
        } catch let refusal as DAVRefusal {
            return refusal.response
        } catch let failure as DAVAuthenticator.Failure {
            return Self.failure(failure.error)
        } catch let error as PanError {
            return Self.failure(error)
        }
    }

    private func dispatch(_ request: Request, context: AppRequestContext) async throws -> Response {
        let method = request.method.rawValue
        // Windows probes OPTIONS before it sends credentials.
        if method == "OPTIONS" { return Self.options() }
        let user = try await auth.authenticate(request, context: context)
        context.signedInUser.userId = user.id
        guard let path = try DAVPath.treePath(fromRequestPath: request.uri.path) else { throw PanError.routeNotFound }
        switch method {
        case "PROPFIND": return try await propfind(request, path: path, user: user)
        case "PROPPATCH": return try await proppatch(request, path: path, user: user)
        case "GET", "HEAD": return try await get(request, context: context, path: path, user: user)
        case "PUT": return try await put(request, path: path, user: user)
        case "DELETE": return try await delete(request, path: path, user: user)
        case "MKCOL": return try await mkcol(request, path: path, user: user)
        case "COPY", "MOVE": return try await transfer(request, path: path, user: user, copying: method == "COPY")
        case "LOCK": return try await lock(request, path: path, user: user)
        case "UNLOCK": return try await unlock(request, path: path, user: user)
        default:
            return Self.text(.methodNotAllowed, "\(method) is not supported here", headers: [.allow: Self.allow])
        }
    }

    // MARK: Replies

    static func options() -> Response {
        var headers = HTTPFields()
        // Class 2: Finder mounts read-write only with it, Explorer saves only with it.
        headers[.init("DAV")!] = "1, 2"
        headers[.init("MS-Author-Via")!] = "DAV"
        headers[.allow] = allow
        headers[.contentLength] = "0"
        return Response(status: .ok, headers: headers)
    }

    static func text(_ status: HTTPResponse.Status, _ message: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    static func xml(_ status: HTTPResponse.Status, _ writer: DAVXMLWriter, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/xml; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: writer.text)))
    }

    /// `<D:error><D:condition/></D:error>` (RFC 4918 §16).
    static func condition(_ status: HTTPResponse.Status, _ condition: String) -> Response {
        var writer = DAVXMLWriter()
        writer.open("error", root: true)
        writer.raw("<D:\(condition)/>")
        writer.close("error")
        return xml(status, writer)
    }

    /// A PanError as WebDAV status codes go.
    static func failure(_ error: PanError) -> Response {
        var headers = HTTPFields()
        let status: Int
        switch (error.statusCode, error.code) {
        case (401, _):
            status = 401
            headers[.wwwAuthenticate] = "Basic realm=\"Pan\", charset=\"UTF-8\""
        case (_, "QUOTA_EXCEEDED"), (_, "STORAGE_FULL"), (_, "TOO_MANY_LOCKS"): status = 507
        case (_, "MOVE_INTO_ITSELF"), (_, "COPY_INTO_ITSELF"), (_, "NODE_LIMIT"): status = 403
        case (_, "NOT_FOUND"): status = 404
        default: status = error.statusCode
        }
        if let retry = error.retryAfter { headers[.retryAfter] = String(retry) }
        return text(HTTPResponse.Status(code: status), "\(error.code): \(error.message)", headers: headers)
    }

    // MARK: Headers

    private static let depthHeader = HTTPField.Name("Depth")!
    private static let destinationHeader = HTTPField.Name("Destination")!
    private static let overwriteHeader = HTTPField.Name("Overwrite")!

    enum Depth { case zero, one, infinity }

    /// `host[:port]` or `[v6]:port` → the host, lowercased, IPv6 without brackets (as URLComponents gives it).
    static func hostname(of authority: String) -> String {
        let lowered = authority.lowercased()
        if lowered.hasPrefix("["), let end = lowered.firstIndex(of: "]") {
            return String(lowered[lowered.index(after: lowered.startIndex)..<end])
        }
        return String(lowered.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// `Depth`; a missing header is `infinity` (RFC 4918 §10.2). nil: not a valid value.
    static func depth(_ request: Request) -> Depth? {
        guard let value = request.headers[depthHeader]?.trimmingCharacters(in: .whitespaces).lowercased() else { return .infinity }
        switch value {
        case "0": return .zero
        case "1": return .one
        case "infinity": return .infinity
        default: return nil
        }
    }

    /// A request body of a few KB at most, whole.
    static func smallBody(_ request: Request, limit: Int = maxXMLBody) async throws -> Data {
        var data = Data()
        for try await chunk in request.body {
            guard data.count + chunk.readableBytes <= limit else { throw PanError.bodyTooLarge }
            data.append(contentsOf: chunk.readableBytesView)
        }
        return data
    }

    // MARK: PROPFIND

    func propfind(_ request: Request, path: String, user: User) async throws -> Response {
        guard let depth = Self.depth(request) else { return Self.text(.badRequest, "Depth must be 0, 1 or infinity") }
        if depth == .infinity { return Self.condition(.forbidden, "propfind-finite-depth") }
        let body = try await Self.smallBody(request)
        let asked: PropfindRequest
        do { asked = try DAVXMLReader.propfind(body) } catch { return Self.text(.badRequest, "the PROPFIND body is not a propfind document") }
        let found = try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path))
        let status = HTTPResponse.Status(code: 207, reasonPhrase: "Multi-Status")
        // Locks and dead properties are read only when the answer shows them.
        let locks = DAVProperties.needsLocks(asked) ? try await store.davLocks(userId: user.id) : []
        let needsDead = DAVProperties.needsDead(asked)
        guard depth == .one, found.node.isDirectory else {
            var properties = DAVProperties(user: user, locks: locks)
            if needsDead { properties.dead = try await store.davProperties(userId: user.id, nodeIds: [found.node.id]) }
            var writer = DAVXMLWriter()
            writer.open("multistatus", root: true)
            properties.response(for: found.node, asked: asked, into: &writer)
            writer.close("multistatus")
            return Self.xml(status, writer)
        }
        // A folder's members are read a page at a time and each page written as it
        // comes: a folder of any size costs one page of memory.
        let (store, directory) = (self.store, found.node)
        let stream = ResponseBody { output in
            var properties = DAVProperties(user: user, locks: locks)
            var writer = DAVXMLWriter()
            writer.open("multistatus", root: true)
            if needsDead { properties.dead = try await store.davProperties(userId: user.id, nodeIds: [directory.id]) }
            properties.response(for: directory, asked: asked, into: &writer)
            var offset = 0
            let page = 1000
            while true {
                let listing = try await store.listing(
                    userId: user.id, of: NodeAddress(uuid: directory.uuid, path: nil),
                    window: ListingWindow(type: nil, order: .nameAscending, limit: page, offset: offset)
                )
                if needsDead { properties.dead = try await store.davProperties(userId: user.id, nodeIds: listing.children.map(\.id)) }
                for child in listing.children { properties.response(for: child, asked: asked, into: &writer) }
                try await output.write(ByteBuffer(string: writer.take()))
                offset += listing.children.count
                if listing.children.count < page || Int64(offset) >= listing.total { break }
            }
            writer.close("multistatus")
            try await output.write(ByteBuffer(string: writer.take()))
            try await output.finish(nil)
        }
        return Response(status: status, headers: [.contentType: "application/xml; charset=utf-8"], body: stream)
    }

    // MARK: PROPPATCH

    func proppatch(_ request: Request, path: String, user: User) async throws -> Response {
        let body = try await Self.smallBody(request)
        let patch: ProppatchRequest
        do { patch = try DAVXMLReader.proppatch(body) } catch { return Self.text(.badRequest, "the PROPPATCH body is not a propertyupdate document") }
        guard patch.operations.count <= DAVLimits.maxPropertyChanges else {
            return Self.text(.badRequest, "a PROPPATCH sets or removes at most \(DAVLimits.maxPropertyChanges) properties")
        }
        let node = try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path)).node
        let lockGuard = try await checkLocks(request, path: path, user: user, changes: DAVLockGuard(at: [path]))
        let changes: [DAVPropertyChange] = patch.operations.map { operation in
            operation.set
                ? .set(DAVDeadProperty(namespace: operation.name.namespace, name: operation.name.name, xml: operation.element.serialized))
                : .remove(namespace: operation.name.namespace, name: operation.name.name)
        }
        // All or nothing (RFC 4918 §9.2): one refused property fails the others with 424.
        var refused: [Int: PropertyOutcome] = [:]
        for (index, change) in changes.enumerated() {
            if DAVProperties.isProtected(patch.operations[index].name) {
                refused[index] = PropertyOutcome(status: "403 Forbidden", condition: "cannot-modify-protected-property")
            } else if case .set(let property) = change, property.xml.utf8.count > DAVLimits.maxPropertyBytes {
                refused[index] = .insufficientStorage
            }
        }
        if refused.isEmpty {
            do {
                try await guarded(lockGuard, user: user) {
                    try await store.davPatchProperties(userId: user.id, path: path, changes: changes, lockGuard: lockGuard)
                }
            } catch let error as PanError where error == .davTooManyProperties {
                for (index, operation) in patch.operations.enumerated() where operation.set { refused[index] = .insufficientStorage }
            }
        }
        let outcomes = patch.operations.indices.map { refused.isEmpty ? .ok : refused[$0] ?? .failedDependency }
        return Self.proppatchReply(node, names: patch.operations.map(\.name), outcomes: outcomes)
    }

    /// How one property of a PROPPATCH fared.
    struct PropertyOutcome: Equatable {
        var status: String
        var condition: String?
        static let ok = PropertyOutcome(status: "200 OK")
        static let failedDependency = PropertyOutcome(status: "424 Failed Dependency")
        static let insufficientStorage = PropertyOutcome(status: "507 Insufficient Storage")
    }

    /// PROPPATCH's multistatus: one propstat per outcome, each name once in it.
    static func proppatchReply(_ node: FileNode, names: [DAVPropertyName], outcomes: [PropertyOutcome]) -> Response {
        var groups: [(outcome: PropertyOutcome, names: [DAVPropertyName])] = []
        for (name, outcome) in zip(names, outcomes) {
            if let at = groups.firstIndex(where: { $0.outcome == outcome }) {
                if !groups[at].names.contains(name) { groups[at].names.append(name) }
            } else {
                groups.append((outcome, [name]))
            }
        }
        var writer = DAVXMLWriter()
        writer.open("multistatus", root: true)
        writer.open("response")
        writer.element("href", DAVPath.href(node.path, collection: node.isDirectory))
        for group in groups {
            writer.open("propstat")
            writer.open("prop")
            for name in group.names { writer.property(name) }
            writer.close("prop")
            writer.element("status", "HTTP/1.1 " + group.outcome.status)
            if let condition = group.outcome.condition { writer.raw("<D:error><D:\(condition)/></D:error>") }
            writer.close("propstat")
        }
        writer.close("response")
        writer.close("multistatus")
        return xml(HTTPResponse.Status(code: 207, reasonPhrase: "Multi-Status"), writer)
    }

    // MARK: GET / HEAD

    func get(_ request: Request, context: AppRequestContext, path: String, user: User) async throws -> Response {
        let found = try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path))
        let node = found.node
        if node.isDirectory {
            return Self.text(.methodNotAllowed, "a collection has no content; list it with PROPFIND", headers: [.allow: Self.allow])
        }
        guard let object = found.object else { throw PanError.fileNotFound }
        let etag = DAVProperties.etag(of: node)
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.lastModified] = DAVProperties.httpDate(node.mtime)
        if let match = request.headers[.ifNoneMatch], Self.matches(match, etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = ObjectResponse.servedType(node.mime)
        guard case .local(let objects) = bytes else { return try bucketResponse(request, node: node, object: object, headers: headers) }
        let path = objects.objectPath(forKey: object.objectKey)
        return ObjectResponse.serve(path: path, size: object.size, headers: headers, request: request, eventLoop: context.eventLoop)
    }

    static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { item in
            let tag = item.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }

    // MARK: PUT

    func put(_ request: Request, path: String, user: User) async throws -> Response {
        guard path != PanPath.root else { return Self.text(.methodNotAllowed, "the root is a collection", headers: [.allow: Self.allow]) }
        // A partial PUT would replace the whole file by the fragment (RFC 9110 §14.5: refuse it).
        if request.headers[.contentRange] != nil {
            return Self.text(.badRequest, "a partial PUT (Content-Range) is not supported: send the whole file")
        }
        // Checked here, and again in the write's transaction (`record`): a lock taken meanwhile is honoured.
        let lockGuard = try await checkLocks(request, path: path, user: user, changes: try await putChanges(path, user: user))
        // What can be refused is refused before a byte is read.
        do {
            let parent = try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: PanPath.parent(of: path))).node
            guard parent.isDirectory else { throw PanError.davParentMissing }
        } catch let error as PanError where error == .fileNotFound {
            throw PanError.davParentMissing
        }
        let existing = try? await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path)).node
        if let existing, existing.isDirectory {
            return Self.text(.methodNotAllowed, "a collection stands at this path", headers: [.allow: Self.allow])
        }
        // Checked here to spare the bytes, and again in the write's transaction.
        guard Self.precondition(of: request).holds(for: existing) else { throw DAVPrecondition.failed }
        try storage.check()
        let fresh = try await store.user(id: user.id) ?? user
        let existingSize = existing?.size ?? 0
        // The most this file may hold: what is left, plus what it replaces.
        let room = fresh.remainingSpace + existingSize
        if let declared = request.headers[.contentLength].flatMap({ Int64($0) }), declared > room { throw PanError.quotaExceeded }
        let objects: LocalObjectStore
        switch bytes {
        case .local(let local): objects = local
        case .wcs(let uploader, _): return try await putToWCS(request, path: path, user: user, room: room, lockGuard: lockGuard, uploader: uploader)
        }

        let temporary = objects.newTemporaryPath()
        var published: LocalObjectStore.PublishedObject?
        do {
            // While streaming too: a missing or false Content-Length does not get past the quota.
            let stored = try await ObjectIngest.store(request.body, creating: temporary, limit: room, overLimit: PanError.quotaExceeded)
            let (hash, size) = (stored.hash!, stored.size)
            let key = "pan/" + RandomID.ordered32()
            published = try await BlockingIO.run { try objects.publishObject(temporary, key: key, replacing: false) }
            guard let published else { throw PanError.internalError("a fresh object key was taken") }
            let outcome = try await record(request, path: path, user: user, hash: hash, size: size, key: key, lockGuard: lockGuard)
            // The content was already stored (instant upload): these bytes are not needed.
            if outcome.object.objectKey != key { objects.removePublished(published) }
            return Self.stored(outcome)
        } catch {
            FileOps.remove(temporary)
            if let published { objects.removePublished(published) }
            throw error
        }
    }

    // MARK: DELETE

    func delete(_ request: Request, path: String, user: User) async throws -> Response {
        guard path != PanPath.root else { return Self.text(.forbidden, "the root cannot be removed") }
        _ = try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path))
        let changes = DAVLockGuard(tree: [path], members: [PanPath.parent(of: path)])
        let lockGuard = try await checkLocks(request, path: path, user: user, changes: changes)
        // To the recycle bin, as the API does; its locks end.
        try await guarded(lockGuard, user: user) { try await store.davRemove(userId: user.id, path: path, lockGuard: lockGuard) }
        return Response(status: .noContent)
    }

    // MARK: MKCOL

    func mkcol(_ request: Request, path: String, user: User) async throws -> Response {
        let body = try await Self.smallBody(request, limit: 64 << 10)
        if !body.isEmpty { return Self.text(.unsupportedMediaType, "MKCOL with a body is not supported") }
        guard path != PanPath.root else { return Self.text(.methodNotAllowed, "the root exists", headers: [.allow: Self.allow]) }
        if (try? await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path))) != nil {
            return Self.text(.methodNotAllowed, "something already exists at this path", headers: [.allow: Self.allow])
        }
        do {
            let parent = try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: PanPath.parent(of: path))).node
            guard parent.isDirectory else { throw PanError.davParentMissing }
        } catch let error as PanError where error == .fileNotFound {
            throw PanError.davParentMissing
        }
        _ = try await checkLocks(request, path: path, user: user, changes: .placing(path, replacing: false))
        _ = try await store.createDirectory(userId: user.id, path: path)
        return Response(status: .created, headers: [.contentLength: "0"])
    }

    // MARK: COPY / MOVE

    func transfer(_ request: Request, path: String, user: User, copying: Bool) async throws -> Response {
        guard let raw = request.headers[Self.destinationHeader]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else {
            return Self.text(.badRequest, "a Destination header is required")
        }
        let destinationPath: String
        if raw.hasPrefix("/") {
            destinationPath = String(raw.prefix { $0 != "?" && $0 != "#" })
        } else {
            guard let url = URLComponents(string: raw), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  let host = url.host else {
                return Self.text(.badRequest, "the Destination header is not a URI")
            }
            // The host alone: a proxy in front may pass `Host` without the port the
            // client used. Nothing is ever fetched from the Destination; its path
            // names a place in the same user's tree, whoever the host.
            let own = Self.hostname(of: request.head.authority ?? "")
            guard host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased() == own else {
                return Self.text(.badGateway, "the Destination is on another server")
            }
            destinationPath = url.percentEncodedPath
        }
        guard let destination = try DAVPath.treePath(fromRequestPath: destinationPath) else {
            return Self.text(.badGateway, "the Destination is outside /dav/")
        }
        let overwrite: Bool
        switch request.headers[Self.overwriteHeader]?.trimmingCharacters(in: .whitespaces).uppercased() {
        case nil, "T": overwrite = true
        case "F": overwrite = false
        default: return Self.text(.badRequest, "Overwrite must be T or F")
        }
        guard let depth = Self.depth(request) else { return Self.text(.badRequest, "Depth must be 0 or infinity") }
        if depth == .one || (!copying && depth != .infinity) {
            return Self.text(.badRequest, copying ? "COPY takes Depth 0 or infinity" : "MOVE takes Depth infinity")
        }
        if destination == path { return Self.text(.forbidden, "the source and the destination are the same") }
        _ = try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path))
        let destinationExists = (try? await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: destination))) != nil
        var changes = DAVLockGuard.placing(destination, replacing: destinationExists && overwrite)
        if !copying { changes.add(DAVLockGuard(tree: [path], members: [PanPath.parent(of: path)])) }
        let lockGuard = try await checkLocks(request, path: path, user: user, changes: changes)
        let (_, replaced) = try await guarded(lockGuard, user: user) {
            try await store.davTransfer(
                userId: user.id, from: path, to: destination, overwrite: overwrite, copying: copying, shallow: depth == .zero, lockGuard: lockGuard
            )
        }
        return Response(status: replaced ? .noContent : .created, headers: [.contentLength: "0"])
    }

    /// What a PUT at `path` changes: the file there, or a new member of its collection.
    func putChanges(_ path: String, user: User) async throws -> DAVLockGuard {
        let exists = (try? await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path))) != nil
        return exists ? DAVLockGuard(at: [path]) : .placing(path, replacing: false)
    }
}
