import Foundation
import SQLCommon

/// The two WebDAV writes that are not the API's: a `PUT` that places stored
/// content at a path, and `MOVE`/`COPY` to a path (a new parent and a new name
/// at once). Each is one transaction, written once for both engines.
extension SQLPanStore {
    public func davPut(userId: Int64, path: String, object: DAVNewObject) async throws -> DAVPutOutcome {
        let path = try PanPath.validated(path)
        guard path != PanPath.root else { throw PanError.directoryInTheWay }
        let limit = nodeLimit
        do {
            return try await engine.write(asUser: userId) { db, user in
                let now = Millis.now()
                let name = PanPath.lastSegment(of: path)
                let (directory, child) = try await TreeRepository.nodeAndChild(
                    userId: userId, path: PanPath.parent(of: path), name: name, on: db
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
        } catch { throw PanError(storeError: error) }
    }

    public func davTransfer(
        userId: Int64, from source: String, to destination: String, overwrite: Bool, copying: Bool, shallow: Bool
    ) async throws -> (node: FileNode, replaced: Bool) {
        let (source, destination) = (try PanPath.validated(source), try PanPath.validated(destination))
        let limit = nodeLimit
        do {
            return try await engine.write(lockingUser: userId) { db in
                let now = Millis.now()
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
                    replaced = true
                    // Binning renumbers nothing, but the parent is re-read for its current interval.
                    parent = try await TreeRepository.node(id: parent.id, userId: userId, on: db) ?? parent
                }
                if copying, shallow, node.isDirectory {
                    let made = try await TreeRepository.insert(
                        userId: userId, parent: parent, name: name, kind: .directory, size: 0, mime: MimeType.directory, storeHash: nil,
                        nodeLimit: limit, addingSpace: 0, on: db, now: now
                    )
                    return (made, replaced)
                }
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
}
