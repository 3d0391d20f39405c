import Foundation

/// Is this server's object store the deployment's shared storage?
///
/// With Pan's own upload endpoint the bytes of every upload go to the
/// `storage/` directory of the server that received it, and every server
/// must see them (downloads, slice uploads' `blocks/`, proofs of
/// possession). A server on another machine with a data directory of its own
/// acknowledges uploads the others cannot serve, and nothing else notices:
/// the database is consistent. So the deployment has an id (a random 128-bit
/// one, kept in the database's `deployment` table) and its storage a marker
/// file, `storage/pan-deployment`, holding the same id. At start:
///
/// - neither exists (a new deployment, or one from before the marker): the
///   marker is written first (exclusively: `link(2)`, so servers starting at
///   once on one storage agree on one), then the database takes its id
///   unless another server's claim won — then this storage is not that
///   server's, the marker is taken back and the start refused;
/// - both, equal: this is the shared storage;
/// - both, different: the storage belongs to another deployment — refused;
/// - the database has an id, the storage no marker: this storage is not the
///   one the deployment's first server used (another machine's own data
///   directory, or the shared mount missing) — refused, even when it is
///   empty, since that is what a fresh per-machine directory looks like;
/// - a marker but no id in the database: the database is another one (or
///   restored from before the marker) — refused.
///
/// The two mixed cases are what a start racing with another server's first
/// start on the same storage sees for a moment, so they are re-read for a
/// few seconds before the refusal. Only `pan serve` with the local endpoint
/// checks; with real WCS (`PAN_UPLOAD_URL`) the bytes never reach Pan.
public enum StorageMarker {
    public static let fileName = "pan-deployment"

    public static func path(in store: LocalObjectStore) -> String { store.root + "/" + fileName }

    /// The storage is not the deployment's: the server must not start.
    public struct Mismatch: Error, CustomStringConvertible {
        public let description: String
    }

    public enum Outcome: Sendable, Equatable {
        /// A new deployment: the id now in both places.
        case created(String)
        case matched(String)
    }

    /// The id in the marker, nil when there is none. Throws when it cannot be read.
    public static func read(_ store: LocalObjectStore) throws -> String? {
        let path = path(in: store)
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw IOError("read", path: path, errno: EACCES) }
            return nil
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw Mismatch(description: "the storage marker \(path) is empty; it should hold the deployment's id") }
        return text
    }

    /// Writes `id` as the marker unless there is one; returns the marker's id afterwards.
    static func writeExclusively(_ id: String, in store: LocalObjectStore) throws -> String {
        let path = path(in: store)
        let temporary = store.newTemporaryPath()
        guard FileManager.default.createFile(atPath: temporary, contents: Data((id + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw IOError("create", path: temporary)
        }
        defer { unlink(temporary) }
        let fd = open(temporary, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        if link(temporary, path) == 0 {
            LocalObjectStore.syncDirectory(of: path)
            return id
        }
        guard errno == EEXIST else { throw IOError("link", path: path) }
        return try read(store) ?? id
    }

    /// The check `pan serve` runs before it listens (see the type's comment).
    /// `settle` is how long the mixed cases are re-read before the refusal.
    public static func verify(
        store: any PanStore, objectStore: LocalObjectStore, settle: Duration = .seconds(10)
    ) async throws -> Outcome {
        let path = path(in: objectStore)
        let started = ContinuousClock.now
        while true {
            let marker = try read(objectStore)
            let recorded = try await store.deploymentID(claiming: nil)
            switch (marker, recorded) {
            case let (marker?, recorded?):
                guard marker == recorded else { throw otherDeployment(path, marker: marker, recorded: recorded) }
                return .matched(recorded)
            case (nil, nil):
                let candidate = RandomID.hex32()
                let written = try writeExclusively(candidate, in: objectStore)
                let claimed = try await store.deploymentID(claiming: written)
                if claimed == written { return written == candidate ? .created(written) : .matched(written) }
                // Another server made the deployment at the same time, with a storage that is not this one.
                if written == candidate, (try? read(objectStore)) == candidate { unlink(path) }
                throw missing(path, recorded: claimed ?? "?")
            case (nil, let recorded?):
                if ContinuousClock.now - started >= settle { throw missing(path, recorded: recorded) }
            case (let marker?, nil):
                if ContinuousClock.now - started >= settle { throw unknownToDatabase(path, marker: marker) }
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// What `pan fsck` says of the marker: nothing when it matches or neither exists yet.
    public static func findings(store: any PanStore, objectStore: LocalObjectStore) async throws -> [TreeChecker.Finding] {
        let path = path(in: objectStore)
        let marker: String?
        do { marker = try read(objectStore) } catch {
            return [.init(check: "storage-marker", detail: "\(error)")]
        }
        let recorded = try await store.deploymentID(claiming: nil)
        let problem: Mismatch? = switch (marker, recorded) {
        case let (marker?, recorded?) where marker != recorded: otherDeployment(path, marker: marker, recorded: recorded)
        case (nil, let recorded?): missing(path, recorded: recorded)
        case (let marker?, nil): unknownToDatabase(path, marker: marker)
        default: nil
        }
        return problem.map { [.init(check: "storage-marker", detail: $0.description)] } ?? []
    }

    // MARK: Messages

    static func otherDeployment(_ path: String, marker: String, recorded: String) -> Mismatch {
        Mismatch(description: """
            the storage at \((path as NSString).deletingLastPathComponent) belongs to another Pan deployment: \
            its marker \(path) holds \(marker), the database's deployment is \(recorded). Every server of a \
            deployment needs the same shared storage (one filesystem mounted on every server, or real WCS \
            with PAN_UPLOAD_URL): point PAN_DATA_DIR at it, or PAN_DATABASE_URL at this storage's database
            """)
    }

    static func missing(_ path: String, recorded: String) -> Mismatch {
        Mismatch(description: """
            the storage at \((path as NSString).deletingLastPathComponent) is not this deployment's shared storage: \
            it has no marker \(path), and the database's deployment \(recorded) was started on another storage. \
            With several servers and Pan's own upload endpoint, every server's PAN_DATA_DIR/storage must be the \
            same filesystem (e.g. one NFS export mounted on each), or use real WCS (PAN_UPLOAD_URL); a data \
            directory of its own on each machine loses uploads. If this really is the deployment's storage \
            (moved or restored without its marker), write it: printf '%s\\n' \(recorded) > \(path)
            """)
    }

    static func unknownToDatabase(_ path: String, marker: String) -> Mismatch {
        Mismatch(description: """
            the storage at \((path as NSString).deletingLastPathComponent) belongs to Pan deployment \(marker) \
            (its marker \(path)), but the database has no deployment id: it is another database. Point \
            PAN_DATABASE_URL at that deployment's database, or use an empty storage directory. If the \
            database was restored from before its deployment had an id, remove the marker (rm \(path)) and start again
            """)
    }
}
