import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PanCore
import WCS

/// Class 2 of `/dav/`: LOCK, UNLOCK, and the `If` header and lock checks every
/// write goes through. Locks live in the database (`DAVLock`,
/// `DAVLockRepository`), so they hold across servers on PostgreSQL; a lock is
/// only ever looked up among its own user's, so another user's token is
/// simply unknown. Locks bind WebDAV clients only: the v1 API does not check
/// them (its own `locking` flag is another thing).
/// A request answered before it is done (412, 423 from the lock check): the
/// answer, thrown up to `DAVController.handle`.
struct DAVRefusal: Error {
    let response: Response
    init(_ response: Response) { self.response = response }
}

extension DAVController {
    static let ifHeader = HTTPField.Name("If")!
    static let lockTokenHeader = HTTPField.Name("Lock-Token")!
    static let timeoutHeader = HTTPField.Name("Timeout")!
    static let locked = HTTPResponse.Status(code: 423, reasonPhrase: "Locked")

    /// The `If` header's verdict and the lock check, before a write: 400 for a
    /// malformed header, 412 when its condition fails (RFC 4918 §10.4), 423
    /// with `lock-token-submitted` when a lock protecting what changes has no
    /// token in it — each thrown as a `DAVRefusal`. Returns `changes` with the
    /// submitted tokens, for the store to check again in the write's
    /// transaction (`guarded`).
    func checkLocks(_ request: Request, path: String, user: User, changes: DAVLockGuard) async throws -> DAVLockGuard {
        let header = try ifHeader(request)
        let locks = try await store.davLocks(userId: user.id)
        if let header {
            guard try await holds(header, path: path, user: user, locks: locks) else {
                throw DAVRefusal(Self.text(.preconditionFailed, "the If header's condition does not hold"))
            }
        }
        var lockGuard = changes
        lockGuard.tokens = header?.tokens ?? []
        let unheld = lockGuard.unheld(locks)
        guard unheld.isEmpty else { throw DAVRefusal(Self.lockTokenMissing(unheld)) }
        return lockGuard
    }

    /// A store write that checks `lockGuard` again in its transaction: a lock
    /// taken since `checkLocks` is answered as if it had been found there.
    func guarded<T: Sendable>(_ lockGuard: DAVLockGuard, user: User, _ write: () async throws -> T) async throws -> T {
        do {
            return try await write()
        } catch let error as PanError where error == .davLocked {
            throw DAVRefusal(Self.lockTokenMissing(lockGuard.unheld(try await store.davLocks(userId: user.id))))
        }
    }

    /// The request's `If` header, parsed; nil when there is none. Malformed: 400.
    func ifHeader(_ request: Request) throws -> DAVIfHeader? {
        guard let raw = request.headers[Self.ifHeader] else { return nil }
        do { return try DAVIfHeader.parse(raw) } catch {
            throw PanError(status: 400, code: "INVALID_IF_HEADER", "the If header is not RFC 4918 §10.4 syntax")
        }
    }

    /// Whether `header` holds, its resources' entity tags read as they are now.
    func holds(_ header: DAVIfHeader, path: String, user: User, locks: [DAVLock]) async throws -> Bool {
        var etags: [String: String] = [:]
        for resource in header.taggedResources.union([path]) where !resource.isEmpty {
            if let node = try? await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: resource)).node {
                etags[resource] = DAVProperties.etag(of: node)
            }
        }
        return header.holds(requestPath: path) { resource in
            DAVIfHeader.State(etag: etags[resource], locks: resource.isEmpty ? [] : locks.filter { $0.covers(resource) })
        }
    }

    static func lockTokenMissing(_ locks: [DAVLock]) -> Response {
        var writer = DAVXMLWriter()
        writer.open("error", root: true)
        writer.open("lock-token-submitted")
        for root in Set(locks.map(\.rootPath)).sorted() { writer.element("href", DAVPath.href(root, collection: false)) }
        writer.close("lock-token-submitted")
        writer.close("error")
        return xml(Self.locked, writer)
    }

    /// `Timeout: Second-600, Infinite` (RFC 4918 §10.7): the first value
    /// understood, within `DAVLimits.maxLockTimeout`; none: the default.
    static func timeout(_ request: Request) -> Int64 {
        guard let raw = request.headers[timeoutHeader] else { return DAVLimits.defaultLockTimeout }
        for item in raw.split(separator: ",") {
            let value = item.trimmingCharacters(in: .whitespaces).lowercased()
            if value == "infinite" { return DAVLimits.maxLockTimeout }
            if value.hasPrefix("second-"), let seconds = Int64(value.dropFirst("second-".count)) {
                return min(max(seconds, 1), DAVLimits.maxLockTimeout)
            }
        }
        return DAVLimits.defaultLockTimeout
    }

    /// `<D:prop><D:lockdiscovery>…` with `locks`: LOCK's reply body.
    static func lockReply(_ status: HTTPResponse.Status, _ locks: [DAVLock], token: String?) -> Response {
        var writer = DAVXMLWriter()
        writer.open("prop", root: true)
        writer.open("lockdiscovery")
        let now = Millis.now()
        for lock in locks { writer.raw(DAVProperties.activeLock(lock, now: now)) }
        writer.close("lockdiscovery")
        writer.close("prop")
        var headers = HTTPFields()
        if let token { headers[lockTokenHeader] = "<\(token)>" }
        return xml(status, writer, headers: headers)
    }

    // MARK: LOCK

    func lock(_ request: Request, path: String, user: User) async throws -> Response {
        let body = try await Self.smallBody(request, limit: 64 << 10)
        let timeout = Self.timeout(request)
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return try await refresh(request, path: path, user: user, timeout: timeout)
        }
        let infinite: Bool
        switch Self.depth(request) {
        case .zero?: infinite = false
        case .infinity?: infinite = true
        default: return Self.text(.badRequest, "LOCK takes Depth 0 or infinity")
        }
        let info: LockInfo
        do { info = try DAVXMLReader.lockinfo(body) } catch { return Self.text(.badRequest, "the LOCK body is not a lockinfo document for a write lock") }
        guard info.owner.utf8.count <= DAVLimits.maxOwnerBytes else {
            return Self.text(.badRequest, "the lock's owner takes at most \(DAVLimits.maxOwnerBytes) bytes")
        }
        let asked = DAVLockRequest(infinite: infinite, exclusive: info.exclusive, owner: info.owner, timeout: timeout)
        let existing = try? await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path))
        let unmapped = path != PanPath.root && existing == nil
        // Locks on the path itself are conflicts (the store's answer); a new file is
        // also a new member of its folder, which a lock there may protect (RFC 4918 §7.5).
        _ = try await checkLocks(request, path: path, user: user, changes: unmapped ? DAVLockGuard(members: [PanPath.parent(of: path)]) : DAVLockGuard())
        // An unmapped URL is locked by making an empty file there (RFC 4918 §7.3).
        var empty: (object: DAVNewObject, published: LocalObjectStore.PublishedObject?)?
        if unmapped { empty = try await storeEmptyObject(named: PanPath.lastSegment(of: path)) }
        do {
            let (lock, created) = try await store.davLock(userId: user.id, path: path, request: asked, creating: empty?.object)
            // Not needed: something was there after all, or the empty content was already stored
            // (in WCS it stays: Pan has no delete right on the bucket, as for a PUT).
            if let published = empty?.published, let objects, created?.object.objectKey != empty?.object.objectKey {
                objects.removePublished(published)
            }
            return Self.lockReply(created == nil ? .ok : .created, [lock], token: lock.token)
        } catch let error as PanError {
            if let published = empty?.published, let objects { objects.removePublished(published) }
            if error == .davLocked { return Self.condition(Self.locked, "no-conflicting-lock") }
            throw error
        }
    }

    /// A refresh (an empty body): the locks of the `If` header's tokens that cover `path` get `timeout`.
    private func refresh(_ request: Request, path: String, user: User, timeout: Int64) async throws -> Response {
        guard let header = try ifHeader(request) else {
            return Self.text(.badRequest, "a LOCK without a body refreshes a lock: its token goes in the If header")
        }
        let locks = try await store.davLocks(userId: user.id)
        let tokens = locks.filter { header.tokens.contains($0.token) && $0.covers(path) }.map(\.token)
        guard !tokens.isEmpty, try await holds(header, path: path, user: user, locks: locks) else {
            return Self.text(.preconditionFailed, "the If header names no lock of this resource")
        }
        let refreshed = try await store.davRefreshLocks(userId: user.id, tokens: tokens, timeout: timeout)
        return Self.lockReply(.ok, refreshed, token: nil)
    }

    /// Empty content for a LOCK on an unmapped URL, stored where a PUT's bytes
    /// go: published in the local object store (`published`, for the caller to
    /// remove if it is not used), or uploaded to the external WCS.
    private func storeEmptyObject(named name: String) async throws -> (object: DAVNewObject, published: LocalObjectStore.PublishedObject?) {
        let key = "pan/" + RandomID.ordered32()
        let object = DAVNewObject(hash: ContentHasher.hash(Data()), size: 0, mime: MimeType.forName(name), bucket: bucket, objectKey: key)
        switch bytes {
        case .local(let objects):
            let temporary = objects.newTemporaryPath()
            do {
                let published = try await BlockingIO.run { () throws -> LocalObjectStore.PublishedObject? in
                    try FileSink(creating: temporary, truncateTo: 0).finish()
                    return try objects.publishObject(temporary, key: key, replacing: false)
                }
                guard let published else { throw PanError.internalError("a fresh object key was taken") }
                return (object, published)
            } catch {
                FileOps.remove(temporary)
                throw error
            }
        case .wcs(let uploader, _):
            var upload = uploader.begin(key: key, sizeLimit: 0)
            let stored = try await upload.finish()
            guard stored == object.hash else { throw PanError.wcsUploadFailed("WCS stored \(stored) for an empty file") }
            return (object, nil)
        }
    }

    // MARK: UNLOCK

    func unlock(_ request: Request, path: String, user: User) async throws -> Response {
        guard let raw = request.headers[Self.lockTokenHeader]?.trimmingCharacters(in: .whitespaces), raw.hasPrefix("<"), raw.hasSuffix(">"), raw.count > 2 else {
            return Self.text(.badRequest, "UNLOCK needs a Lock-Token header: <token>")
        }
        let token = String(raw.dropFirst().dropLast())
        // Only this user's locks are looked at: another user's token is no lock here.
        guard let lock = try await store.davLocks(userId: user.id).first(where: { $0.token == token }), lock.covers(path) else {
            return Self.condition(.conflict, "lock-token-matches-request-uri")
        }
        _ = try await store.davUnlock(userId: user.id, token: lock.token)
        return Response(status: .noContent)
    }
}
