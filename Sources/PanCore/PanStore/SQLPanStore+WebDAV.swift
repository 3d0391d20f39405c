import Foundation
import SQLCommon

/// The two WebDAV writes that are not the API's: a `PUT` that places stored
/// content at a path, and `MOVE`/`COPY` to a path (a new parent and a new name
/// at once). Each is one transaction, written once for both engines.
extension SQLPanStore {
    public func davPut(userId: Int64, path: String, object: DAVNewObject, lockGuard: DAVLockGuard?) async throws -> DAVPutOutcome {
        let path = try PanPath.validated(path)
        guard path != PanPath.root else { throw PanError.directoryInTheWay }
        let limit = nodeLimit
        do {
            return try await engine.write(asUser: userId) { db, user in
                try await DAVLockRepository.require(lockGuard, userId: userId, now: Millis.now(), on: db)
                return try await Self.placeFile(object, at: path, user: user, nodeLimit: limit, on: db, now: Millis.now())
            }
        } catch { throw PanError(storeError: error) }
    }

    /// Records `object` and puts it at `path`: a new file, or the file there
    /// given this content in place. In the caller's transaction (`asUser`).
    static func placeFile(
        _ object: DAVNewObject, at path: String, user: User, nodeLimit limit: Int64, on db: any DatabaseConnection, now: Int64
    ) async throws -> DAVPutOutcome {
        let name = PanPath.lastSegment(of: path)
        let (directory, child) = try await TreeRepository.nodeAndChild(
            userId: user.id, path: PanPath.parent(of: path), name: name, on: db
        )
        guard let directory else { throw PanError.davParentMissing }
        guard directory.isDirectory else { throw PanError.notADirectory }
        guard object.precondition.holds(for: child) else { throw DAVPrecondition.failed }
        let target = try await FilePlacement.target(directory: directory, name: name, policy: .overwrite, existing: .some(child), on: db)
        try FilePlacement.check(size: object.size, at: target, user: user)
        if target.replacing == nil, limit > 0, user.nodeCount + 1 > limit { throw NodeLimits.nodeCapReached(limit) }
        let stored = try await StoreObjectRepository.record(
            hash: object.hash, size: object.size, mime: object.mime, bucket: object.bucket, objectKey: object.objectKey, on: db, now: now
        )
        let node = try await FilePlacement.place(stored, at: target, user: user, nodeLimit: limit, on: db, now: now)
        return DAVPutOutcome(node: node, created: target.replacing == nil, object: stored)
    }

    public func davTransfer(
        userId: Int64, from source: String, to destination: String, overwrite: Bool, copying: Bool, shallow: Bool, lockGuard: DAVLockGuard?
    ) async throws -> (node: FileNode, replaced: Bool) {
        let (source, destination) = (try PanPath.validated(source), try PanPath.validated(destination))
        let limit = nodeLimit
        do {
            return try await engine.write(lockingUser: userId) { db in
                let now = Millis.now()
                try await DAVLockRepository.require(lockGuard, userId: userId, now: now, on: db)
                guard let node = try await TreeRepository.node(userId: userId, path: source, on: db) else { throw PanError.fileNotFound }
                guard node.parentId != nil, destination != PanPath.root else {
                    throw PanError(status: 403, code: "ROOT_NOT_MOVED", "the root is neither moved, copied nor replaced")
                }
                let name = PanPath.lastSegment(of: destination)
                let (parentFound, existing) = try await TreeRepository.nodeAndChild(
                    userId: userId, path: PanPath.parent(of: destination), name: name, on: db
                )
                guard var parent = parentFound else { throw PanError.davParentMissing }
                guard parent.isDirectory else { throw PanError.notADirectory }
                var replaced = false
                if let existing {
                    if existing.id == node.id {
                        throw PanError(status: 403, code: "SAME_RESOURCE", "the source and the destination are the same")
                    }
                    guard overwrite else { throw PanError.davDestinationExists }
                    // Replacing an ancestor of the source would bin the source with it.
                    if existing.lft <= node.lft, node.rgt <= existing.rgt {
                        throw PanError(status: 403, code: "DESTINATION_CONTAINS_SOURCE", "the destination contains the source")
                    }
                    try await TreeMutations.recycle(existing, on: db, now: now)
                    try await DAVLockRepository.removeWithin(existing, on: db)
                    replaced = true
                    // Binning renumbers nothing, but the parent is re-read for its current interval.
                    parent = try await TreeRepository.node(id: parent.id, userId: userId, on: db) ?? parent
                }
                if copying, shallow, node.isDirectory {
                    let made = try await TreeRepository.insert(
                        userId: userId, parent: parent, name: name, kind: .directory, size: 0, mime: MimeType.directory, storeHash: nil,
                        nodeLimit: limit, addingSpace: 0, on: db, now: now
                    )
                    try await DAVPropertyRepository.copy(userId: userId, from: node.id, to: made.id, on: db)
                    return (made, replaced)
                }
                // Locks stay where they were: a moved node leaves its locks behind (RFC 4918 §9.9.1).
                if !copying { try await DAVLockRepository.removeWithin(node, on: db) }
                // Into the parent under whatever name is free there, then named as asked
                // (free now: what held it went to the bin).
                let placed: FileNode? = if copying {
                    try await TreeMutations.copy(node, into: parent, policy: .rename, nodeLimit: limit, on: db, now: now)
                } else if node.parentId == parent.id {
                    node
                } else {
                    try await TreeMutations.move(node, into: parent, policy: .rename, on: db, now: now)
                }
                guard let placed else { throw PanError.internalError("a transfer with rename made nothing") }
                let result = placed.name == name ? placed : try await TreeMutations.rename(placed, to: name, policy: .fail, on: db, now: now)
                return (result, replaced)
            }
        } catch { throw PanError(storeError: error) }
    }

    // MARK: Dead properties

    public func davProperties(userId: Int64, nodeIds: [Int64]) async throws -> [Int64: [DAVDeadProperty]] {
        if nodeIds.isEmpty { return [:] }
        do { return try await engine.read { db in try await DAVPropertyRepository.properties(userId: userId, nodeIds: nodeIds, on: db) } }
        catch { throw PanError(storeError: error) }
    }

    public func davPatchProperties(userId: Int64, path: String, changes: [DAVPropertyChange], lockGuard: DAVLockGuard?) async throws {
        let path = try PanPath.validated(path)
        do {
            try await engine.write(lockingUser: userId) { db in
                try await DAVLockRepository.require(lockGuard, userId: userId, now: Millis.now(), on: db)
                guard let node = try await TreeRepository.node(userId: userId, path: path, on: db) else { throw PanError.fileNotFound }
                try await DAVPropertyRepository.apply(changes, userId: userId, nodeId: node.id, on: db)
            }
        } catch { throw PanError(storeError: error) }
    }

    // MARK: Locks

    public func davLocks(userId: Int64) async throws -> [DAVLock] {
        do { return try await engine.read { db in try await DAVLockRepository.active(userId: userId, now: Millis.now(), on: db) } }
        catch { throw PanError(storeError: error) }
    }

    public func davLock(userId: Int64, path: String, request: DAVLockRequest, creating object: DAVNewObject?) async throws -> (lock: DAVLock, created: DAVPutOutcome?) {
        let path = try PanPath.validated(path)
        let limit = nodeLimit
        do {
            return try await engine.write(asUser: userId) { db, user in
                let now = Millis.now()
                var created: DAVPutOutcome?
                var node = try await TreeRepository.node(userId: userId, path: path, on: db)
                if node == nil, let object, path != PanPath.root {
                    // An unmapped URL: locking it makes an empty file there (RFC 4918 §7.3).
                    created = try await Self.placeFile(object, at: path, user: user, nodeLimit: limit, on: db, now: now)
                    node = created?.node
                }
                guard let node else { throw PanError.fileNotFound }
                return (try await DAVLockRepository.take(request, on: node, now: now, on: db), created)
            }
        } catch { throw PanError(storeError: error) }
    }

    public func davRefreshLocks(userId: Int64, tokens: [String], timeout: Int64) async throws -> [DAVLock] {
        do {
            return try await engine.write(lockingUser: userId) { db in
                try await DAVLockRepository.refresh(userId: userId, tokens: tokens, timeout: timeout, now: Millis.now(), on: db)
            }
        } catch { throw PanError(storeError: error) }
    }

    public func davUnlock(userId: Int64, token: String) async throws -> Bool {
        do { return try await engine.write(lockingUser: userId) { db in try await DAVLockRepository.remove(userId: userId, token: token, on: db) } }
        catch { throw PanError(storeError: error) }
    }

    public func davRemove(userId: Int64, path: String, lockGuard: DAVLockGuard?) async throws {
        let path = try PanPath.validated(path)
        do {
            try await engine.write(lockingUser: userId) { db in
                try await DAVLockRepository.require(lockGuard, userId: userId, now: Millis.now(), on: db)
                guard let node = try await TreeRepository.node(userId: userId, path: path, on: db) else { throw PanError.fileNotFound }
                // Its locks end with it (RFC 4918 §9.6.1), also for when it comes back from the bin.
                try await DAVLockRepository.removeWithin(node, on: db)
                try await TreeMutations.recycle(node, on: db)
            }
        } catch { throw PanError(storeError: error) }
    }

    public func sweepDAVLocks(before cutoff: Int64, limit: Int) async throws -> Int {
        do { return try await engine.write(lockingUser: nil) { db in try await DAVLockRepository.sweep(before: cutoff, limit: limit, on: db) } }
        catch { throw PanError(storeError: error) }
    }
}
