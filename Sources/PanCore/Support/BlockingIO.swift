import Dispatch
import Foundation

/// Runs blocking file work (write, fsync, rename, read) on a dispatch queue,
/// so Swift's cooperative thread pool — which also serves every request — is
/// never held by the disk.
public enum BlockingIO {
    static let queue = DispatchQueue(label: "pan.blocking-io", qos: .userInitiated, attributes: .concurrent)

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
    /// Where appending began: the length the file had (or was truncated to) when opened.
    public let startOffset: Int64

    /// `existing`: the file must be there already (a slice-upload block being
    /// continued: one removed meanwhile is not made again).
    public init(creating path: String, truncateTo length: Int64? = nil, existing: Bool = false) throws {
        self.path = path
        fd = open(path, existing ? O_WRONLY : O_WRONLY | O_CREAT, 0o600)
        guard fd >= 0 else { throw IOError("open", path: path) }
        if let length {
            guard ftruncate(fd, off_t(length)) == 0 else { throw IOError("truncate", path: path) }
        }
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else { throw IOError("seek", path: path) }
        startOffset = Int64(end)
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

    /// Writes at `offset`, whatever the file position (`ObjectIngest`'s batches).
    ///
    /// At most 64 KiB per pwrite: a 1 MiB write makes the kernel (6.18, ext4)
    /// put it in one large page-cache folio, and on this VM filling fresh large
    /// folios cost up to 8× the CPU of small ones (1 GiB in 1 MiB pwrites:
    /// 0.3 s, then 2.0–2.6 s once the first GiB was written; in 64 KiB ones
    /// 0.3–0.8 s; in a server profile `copy_folio_from_iter_atomic` went from
    /// 5 % to 54 % of an upload's samples).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let piece = min(bytes.count - done, Self.maxWritePiece)
            let written = pwrite(fd, bytes.baseAddress! + done, piece, off_t(offset) + off_t(done))
            if written < 0 {
                if errno == EINTR { continue }
                throw IOError("write", path: path)
            }
            done += written
        }
    }

    /// Starts writing these bytes to the disk now, without waiting (Linux's
    /// sync_file_range, SYNC_FILE_RANGE_WRITE): an upload's closing fsync then
    /// has little left to do, instead of the whole file (1.3 s for 1 GiB here).
    /// Only a hint; elsewhere, and on failure, nothing happens.
    public func startWriteback(offset: Int64, count: Int) {
        #if os(Linux)
        _ = Self.syncFileRange?(fd, offset, Int64(count), 2 /* SYNC_FILE_RANGE_WRITE */)
        #endif
    }

    #if os(Linux)
    /// Glibc's module map leaves sync_file_range out (it is _GNU_SOURCE).
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let syncFileRange: SyncFileRange? = dlsym(nil, "sync_file_range").map { unsafeBitCast($0, to: SyncFileRange.self) }
    #endif

    static let maxWritePiece = 64 * 1024

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
