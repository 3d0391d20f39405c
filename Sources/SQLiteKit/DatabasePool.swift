import Dispatch
import Foundation
import Synchronization

/// One writer connection and a few read-only readers over one SQLite file,
/// in WAL mode so readers never wait for the writer.
///
/// Every connection lives on its own serial dispatch queue: SQLite calls block,
/// and blocking Swift's cooperative thread pool would stall the whole server.
/// Writes are serialized by the writer's queue, so two of our own writers never
/// meet SQLITE_BUSY; `busy_timeout` covers other processes (the CLI).
public final class DatabasePool: Sendable {
    public let path: String
    private let writer: ConfinedConnection
    private let readers: [ConfinedConnection]
    private let nextReader = Atomic<Int>(0)

    public init(path: String, readerCount: Int = 4, options: Connection.Options = .init()) throws {
        self.path = path
        let writerConnection = try Connection(path: path, readOnly: false, options: options)
        self.writer = ConfinedConnection(writerConnection, label: "pan.sqlite.writer")
        var readers: [ConfinedConnection] = []
        for index in 0..<max(1, readerCount) {
            let connection = try Connection(path: path, readOnly: true, options: options)
            readers.append(ConfinedConnection(connection, label: "pan.sqlite.reader\(index)"))
        }
        self.readers = readers
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the writer.
    public func write<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await writer.run { connection in
            try connection.transaction(.immediate) { try body(connection) }
        }
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
