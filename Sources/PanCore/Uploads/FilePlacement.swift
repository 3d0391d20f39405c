import Foundation
import SQLCommon

/// Puts stored content at a name in a directory: the one place where the
/// conflict policy, quota, reference counts and `spaceUsed` meet. Used by
/// instant upload and by callbacks, always inside one write transaction.
enum FilePlacement {
    struct Target {
        var directory: FileNode
        var name: String
        /// The file to replace (`overwrite`), if any.
        var replacing: FileNode?
    }

    /// Applies the policy to what stands at `directory/name` now.
    static func target(directory: FileNode, name: String, policy: ConflictPolicy, on db: any DatabaseConnection) async throws -> Target {
        guard let existing = try await TreeRepository.child(of: directory, named: name, on: db) else {
            return Target(directory: directory, name: name, replacing: nil)
        }
        if policy == .rename {
            return Target(directory: directory, name: try await TreeRepository.freeName(in: directory, for: name, on: db), replacing: nil)
        }
        // A directory is never replaced by a file.
        if existing.isDirectory { throw PanError.directoryInTheWay }
        guard policy == .overwrite else { throw PanError.fileAlreadyExists }
        if existing.locking { throw PanError.fileLocked }
        return Target(directory: directory, name: name, replacing: existing)
    }

    /// Creates or replaces the file; checks the quota against the size change.
    /// `nodeLimit`: the user's node cap (`PAN_MAX_NODES`), checked by the insert.
    static func place(
        _ content: StoreObject, at target: Target, userId: Int64, nodeLimit: Int64 = NodeLimits.defaultPerUser,
        on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> FileNode {
        guard let user = try await UserRepository.find(id: userId, on: db) else { throw PanError.userNotFound }
        let delta = content.size - (target.replacing?.size ?? 0)
        // Exactly filling the quota is allowed.
        try user.ensureRoom(for: delta)
        let node: FileNode
        if let replacing = target.replacing {
            node = try await TreeRepository.replaceContent(
                of: replacing, storeHash: content.hash, size: content.size, mime: mime(for: target.name, stored: content.mime),
                on: db, now: now
            )
        } else {
            node = try await TreeRepository.insert(
                userId: userId, parent: target.directory, name: target.name, kind: .file, size: content.size,
                mime: mime(for: target.name, stored: content.mime), storeHash: content.hash, nodeLimit: nodeLimit, on: db, now: now
            )
        }
        try await UserRepository.addSpaceUsed(delta, userId: userId, on: db)
        return node
    }

    /// The stored object's type when WCS knew it, else the name's.
    static func mime(for name: String, stored: String) -> String {
        stored.isEmpty || stored == MimeType.fallback ? MimeType.forName(name) : stored
    }
}
