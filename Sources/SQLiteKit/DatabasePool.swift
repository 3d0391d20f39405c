import Dispatch
import Foundation
import Synchronization

/// One writer connection and a few read-only readers over one SQLite file,
/// in WAL mode so readers never wait for the writer.
///
/// Writes are group-committed: transactions that arrive while the writer is
/// busy run together in one `BEGIN IMMEDIATE … COMMIT`, each inside its own
/// savepoint, so one that throws is undone alone, and none is reported done
/// before the shared COMMIT succeeded.
///
/// Every connection lives on its own serial dispatch queue: SQLite calls block,
/// and blocking Swift's cooperative thread pool would stall the whole server.
/// Writes are serialized by the writer's queue, so two of our own writers never
/// meet SQLITE_BUSY; `busy_timeout` covers other processes (the CLI).
public final class DatabasePool: Sendable {
    public let path: String
    private let writer: WriteQueue
    private let readers: [ConfinedConnection]
    private let nextReader = Atomic<Int>(0)

    /// `maxBatch` bounds how many transactions share one commit (1: a commit each).
    public init(path: String, readerCount: Int = 4, maxBatch: Int = 64, options: Connection.Options = .init()) throws {
        self.path = path
        let writerConnection = try Connection(path: path, readOnly: false, options: options)
        self.writer = WriteQueue(writerConnection, label: "pan.sqlite.writer", maxBatch: maxBatch)
        var readers: [ConfinedConnection] = []
        for index in 0..<max(1, readerCount) {
            let connection = try Connection(path: path, readOnly: true, options: options)
            readers.append(ConfinedConnection(connection, label: "pan.sqlite.reader\(index)"))
        }
        self.readers = readers
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the writer (shared
    /// with concurrent writes, see above): all of it commits, or none of it.
    public func write<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await writer.write(body)
    }

    /// Runs `body` on the writer outside any transaction (schema changes, VACUUM, checkpoints).
    public func writeWithoutTransaction<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await writer.run(body)
    }

    /// Runs `body` on a reader inside one read transaction, so it sees one snapshot.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count
        return try await readers[index].run { connection in
            try connection.transaction(.deferred) { try body(connection) }
        }
    }

    /// Checkpoints the WAL into the main file (used at shutdown and before backups).
    public func checkpoint() async throws {
        try await writer.run { try $0.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}

/// A connection and the one serial queue allowed to touch it.
final class ConfinedConnection: @unchecked Sendable {
    // Touched only on `queue`.
    private let connection: Connection
    private let queue: DispatchQueue

    init(_ connection: Connection, label: String) {
        self.connection = connection
        self.queue = DispatchQueue(label: label)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }
}
