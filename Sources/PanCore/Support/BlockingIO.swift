import Dispatch
import Foundation

/// Runs blocking file work (write, fsync, rename, read) on a dispatch queue,
/// so Swift's cooperative thread pool — which also serves every request — is
/// never held by the disk.
public enum BlockingIO {
    private static let queue = DispatchQueue(label: "pan.blocking-io", qos: .userInitiated, attributes: .concurrent)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

public struct IOError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let code: Int32
    public init(_ operation: String, path: String, errno code: Int32 = errno) {
        self.code = code
        description = "\(operation) \(path): \(String(cString: strerror(code)))"
    }

    /// Out of disk (or of the user's disk quota): answered 507, not 500.
    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
}

/// Free space where the data lives.
public enum DiskSpace {
    /// Bytes an unprivileged writer may still use on the filesystem holding `path`.
    public static func freeBytes(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}

/// An open file descriptor for appending; closed exactly once.
public final class FileSink: @unchecked Sendable {
    // Touched by one task at a time (the upload that owns it).
    public let path: String
    private var fd: Int32

    /// `existing`: the file must be there already (a slice-upload block being
    /// continued: one removed meanwhile is not made again).
    public init(creating path: String, truncateTo length: Int64? = nil, existing: Bool = false) throws {
        self.path = path
        fd = open(path, existing ? O_WRONLY : O_WRONLY | O_CREAT, 0o600)
        guard fd >= 0 else { throw IOError("open", path: path) }
        if let length {
            guard ftruncate(fd, off_t(length)) == 0 else { throw IOError("truncate", path: path) }
        }
        guard lseek(fd, 0, SEEK_END) >= 0 else { throw IOError("seek", path: path) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw IOError("write", path: path)
            }
            offset += written
        }
    }

    /// fsync and close: after this the bytes are on disk.
    public func finish() throws {
        defer { closeIfOpen() }
        guard fsync(fd) == 0 else { throw IOError("fsync", path: path) }
    }

    public func closeIfOpen() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    deinit { closeIfOpen() }
}

public enum FileOps {
    /// Atomic publish: rename, then fsync the directory so the rename survives a crash.
    public static func publish(_ temporary: String, as final: String) throws {
        guard rename(temporary, final) == 0 else { throw IOError("rename", path: final) }
        let directory = (final as NSString).deletingLastPathComponent
        let fd = open(directory, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    public static func size(of path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    public static func remove(_ path: String) { unlink(path) }
}

/// Collects small chunks (the network delivers a few KiB at a time) and writes
/// them in 1 MiB batches on the blocking pool: one thread hop per MiB instead
/// of one per chunk. Memory stays one batch. Owned by one task.
public final class BatchedFileWriter: @unchecked Sendable {
    public let sink: FileSink
    private var pending: [UInt8] = []
    private let batchSize: Int

    public init(_ sink: FileSink, batchSize: Int = 1 << 20) {
        self.sink = sink
        self.batchSize = batchSize
        pending.reserveCapacity(batchSize)
    }

    /// Copies the bytes in; call `flushIfFull()` after.
    public func stage(_ bytes: UnsafeRawBufferPointer) {
        pending.append(contentsOf: bytes)
    }

    public func flushIfFull() async throws {
        if pending.count >= batchSize { try await flush() }
    }

    public func flush() async throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        let sink = self.sink
        try await BlockingIO.run { try batch.withUnsafeBytes { try sink.write($0) } }
    }

    /// Writes what is left and fsyncs.
    public func finish() async throws {
        try await flush()
        let sink = self.sink
        try await BlockingIO.run { try sink.finish() }
    }
}
