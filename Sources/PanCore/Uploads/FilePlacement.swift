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

    /// Applies the policy to what stands at `directory/name` now: `existing`
    /// when the caller already read it (`.some(nil)`: nothing), else looked up.
    static func target(
        directory: FileNode, name: String, policy: ConflictPolicy, existing known: FileNode?? = .none, on db: any DatabaseConnection
    ) async throws -> Target {
        let found: FileNode? = if let known { known } else { try await TreeRepository.child(of: directory, named: name, on: db) }
        guard let existing = found else {
            return Target(directory: directory, name: name, replacing: nil)
        }
        if policy == .rename {
            return Target(directory: directory, name: try await TreeRepository.freeName(in: directory, for: name, on: db), replacing: nil)
        }
        // A directory is never replaced by a file.
        if existing.isDirectory { throw PanError.directoryInTheWay }
        // `fail`, and `skip`: one upload names one file, so skipping it is refusing it.
        guard policy == .overwrite else { throw PanError.fileAlreadyExists }
        if existing.locking { throw PanError.fileLocked }
        return Target(directory: directory, name: name, replacing: existing)
    }

    /// Creates or replaces the file; checks the quota against the size change.
    /// `user`: the user's row as this transaction read it (`write(asUser:)`),
    /// nothing having changed it since. `nodeLimit`: the user's node cap
    /// (`PAN_MAX_NODES`), checked by the insert.
    static func place(
        _ content: StoreObject, at target: Target, user: User, nodeLimit: Int64 = NodeLimits.defaultPerUser,
        on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws -> FileNode {
        try check(size: content.size, at: target, user: user)
        let delta = content.size - (target.replacing?.size ?? 0)
        if let replacing = target.replacing {
            let node = try await TreeRepository.replaceContent(
                of: replacing, storeHash: content.hash, size: content.size, mime: mime(for: target.name, stored: content.mime),
                on: db, now: now
            )
            try await UserRepository.addSpaceUsed(delta, userId: user.id, on: db)
            return node
        }
        // The new node and its bytes are counted on the user's row in one UPDATE (the insert's).
        return try await TreeRepository.insert(
            userId: user.id, parent: target.directory, name: target.name, kind: .file, size: content.size,
            mime: mime(for: target.name, stored: content.mime), storeHash: content.hash, nodeLimit: nodeLimit, addingSpace: delta,
            on: db, now: now
        )
    }

    /// What `place` would refuse, before anything is written: the quota
    /// (exactly filling it is allowed) against the size change.
    static func check(size: Int64, at target: Target, user: User) throws(PanError) {
        try user.ensureRoom(for: size - (target.replacing?.size ?? 0))
    }

    /// The stored object's type when WCS knew it, else the name's.
    static func mime(for name: String, stored: String) -> String {
        stored.isEmpty || stored == MimeType.fallback ? MimeType.forName(name) : stored
    }
}
