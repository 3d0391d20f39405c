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
/// The writer lives on its own serial dispatch queue: a write waits for its
/// batch's fsync, and blocking Swift's cooperative thread pool on that would
/// stall the whole server. Writes are serialized by the writer's queue, so two
/// of our own writers never meet SQLITE_BUSY; `busy_timeout` covers other
/// processes (the CLI). Reads run on the caller's thread (`ReaderPool`).
public final class DatabasePool: Sendable {
    public let path: String
    private let writer: WriteQueue
    private let readers: ReaderPool

    /// `maxBatch` bounds how many transactions share one commit (1: a commit each).
    public init(path: String, readerCount: Int = 4, maxBatch: Int = 64, options: Connection.Options = .init()) throws {
        self.path = path
        let writerConnection = try Connection(path: path, readOnly: false, options: options)
        self.writer = WriteQueue(writerConnection, label: "pan.sqlite.writer", maxBatch: maxBatch)
        self.readers = ReaderPool(try (0..<max(1, readerCount)).map { _ in try Connection(path: path, readOnly: true, options: options) })
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the writer (shared
    /// with concurrent writes, see above): all of it commits, or none of it.
    /// The body must not suspend (it holds the writer): one that does is
    /// rolled back with `TransactionSuspended`.
    public func write<T: Sendable>(_ body: @escaping @Sendable (Connection) async throws -> T) async throws -> T {
        try await writer.write(body)
    }

    /// Runs `body` on the writer outside any transaction (schema changes, VACUUM, checkpoints).
    public func writeWithoutTransaction<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await writer.run(body)
    }

    /// Runs `body` on a reader inside one read transaction, so it sees one snapshot.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Connection) async throws -> T) async throws -> T {
        try await readers.read { connection in try await connection.transaction(.deferred) { try await body(connection) } }
    }

    /// `read`, with the body on a thread of its own rather than the caller's:
    /// for reads that scan whole tables (statistics, fsck).
    public func readDetached<T: Sendable>(_ body: @escaping @Sendable (Connection) async throws -> T) async throws -> T {
        try await readers.readDetached { connection in
            try connection.transaction(.deferred) { try NonSuspending.run { try await body(connection) } }
        }
    }

    /// Checkpoints the WAL into the main file (used at shutdown and before backups).
    public func checkpoint() async throws {
        try await writer.run { try $0.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}

/// Read-only connections, each used by one read at a time, on the reading
/// task's own thread. A read is CPU work on pages already in memory (WAL
/// readers never wait for the writer), mostly a few µs: handing it to a
/// reader's queue and resuming the task afterwards cost two thread hops,
/// more than the read itself (issue #18). When every connection is busy, a
/// read waits for the next one to come back, without blocking its thread.
final class ReaderPool: Sendable {
    /// A connection handed from one task to another; used by one task at a time.
    private final class Lease: @unchecked Sendable {
        let connection: Connection
        init(_ connection: Connection) { self.connection = connection }
    }

    private struct State {
        var idle: [Lease]
        var waiting: [CheckedContinuation<Lease, Never>] = []
    }

    private let state: Mutex<State>

    init(_ connections: [Connection]) {
        state = Mutex(State(idle: connections.map(Lease.init)))
    }

    func read<T>(_ body: (Connection) async throws -> T) async throws -> T {
        let lease = await checkOut()
        defer { checkIn(lease) }
        return try await body(lease.connection)
    }

    /// `read`, but the body runs on a dispatch thread while the task waits.
    func readDetached<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let lease = await checkOut()
        defer { checkIn(lease) }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body(lease.connection) }) }
        }
    }

    private func checkOut() async -> Lease {
        if let lease = state.withLock({ $0.idle.popLast() }) { return lease }
        return await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Lease? in
                if let lease = state.idle.popLast() { return lease }
                state.waiting.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func checkIn(_ lease: Lease) {
        let next = state.withLock { state -> CheckedContinuation<Lease, Never>? in
            guard !state.waiting.isEmpty else {
                state.idle.append(lease)
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: lease)
    }
}
