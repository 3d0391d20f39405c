import CVips
import Crypto
import Foundation
import PanCore
import WCS

/// Image previews' renditions (`/v1/preview/image`'s `preview` entries): WebP
/// pictures of at most 256 and 1280 px a side, made with libvips.
///
/// - **Lazily**, on the first request of a rendition, then served from disk.
/// - **Cached by content hash** (`<data>/storage/thumbnails/…`), not by node:
///   every file with the same bytes (an instant upload, a copy) reuses them.
/// - **Off the request threads**: on a pool of their own (`HashPool`'s threads,
///   lower priority, a bounded queue: beyond it a request is refused with 503
///   rather than answered minutes late), never inside a database transaction.
/// - **Bounded**: the pixel count is read from the header before anything is
///   decoded, and more than `maxPixels` is refused (a 30,000 × 30,000 PNG is a
///   few KB that decodes to 3.6 GB); loaders are limited to the browser formats
///   (`pan_vips_allowed_loader`); truncated or damaged input fails
///   (`fail_on = error`) rather than rendering grey. With at most 100 MP and
///   shrink-on-load, one rendition takes about a second at most (a 24 MP
///   JPEG's 256 px one 0.1–0.2 s, BENCHMARKS.md), and a deadline (20 s)
///   stops libvips if it ever runs longer.
///   A refusal is remembered beside the renditions, so a bad file is examined
///   once.
package final class Thumbnails: Sendable {
    /// The renditions' longest sides, and the labels clients show (`clear`).
    package static let sizes: [Int] = [256, 1280]
    package static func label(_ size: Int) -> String { size <= 256 ? "标清" : "高清" }
    package static let maxPixels: Int64 = 100_000_000
    package static let quality: Int32 = 80

    package let directory: String
    package let pool: HashPool
    /// Longest a rendition may compute before libvips is told to stop
    /// (`pan_vips_eval`): with the pixel bound, a rendition is bounded in time
    /// as well — a slow format at the limit, or a machine under load, gets a
    /// 503 instead of holding the pool's thread.
    package let timeoutMilliseconds: Int32

    package enum Failure: Error, Equatable {
        case tooLarge(width: Int, height: Int)
        case unreadable
        case busy
        case timedOut
        case writeFailed
    }

    package init(directory: String, threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount / 2), timeoutMilliseconds: Int32 = 20_000) {
        self.directory = directory
        self.timeoutMilliseconds = timeoutMilliseconds
        // A rendition holds tens of MB at most; a few queued per thread is plenty.
        pool = HashPool(threads: threads, maximumQueued: 16 * threads, name: "pan-thumb")
        _ = Self.libvips
    }

    /// libvips, set up once per process.
    /// - `vips_concurrency_set(1)`: one thread per rendition. Parallelism comes
    ///   from our pool (one job per thread); libvips' default (one worker per
    ///   core, per image) would multiply the threads and the memory of every
    ///   concurrent rendition and compete with request threads for the cores.
    /// - The operation cache is off (`vips_cache_set_max(0)`, no open files,
    ///   no memory): each rendition is made once and then served from disk, so
    ///   cached operations would only pin decoded pixels and keep deleted
    ///   objects' files open.
    private static let libvips: Bool = {
        guard vips_init("pan") == 0 else { return false }
        vips_concurrency_set(1)
        vips_cache_set_max(0)
        vips_cache_set_max_mem(0)
        vips_cache_set_max_files(0)
        return true
    }()

    /// The rendition's cache file: by content hash, one folder per leading byte.
    package func path(hash: String, size: Int) -> String { Self.path(in: directory, hash: hash, size: size) }

    package static func path(in directory: String, hash: String, size: Int) -> String {
        let digest = Hex.encode(SHA256.hash(data: Data(hash.utf8)))
        return "\(directory)/\(digest.prefix(2))/\(digest)-\(size).webp"
    }

    /// The original's width and height, from its header only (nothing decoded).
    /// A few KB read and no pixels: on the blocking-I/O threads, not the
    /// renditions' pool, so a page of images asked for at once (a grid) is not
    /// refused as busy behind renditions being made.
    package func dimensions(of source: String) async throws -> (width: Int, height: Int) {
        guard Self.libvips else { throw Failure.unreadable }
        let result: (Int, Int)? = try await BlockingIO.run {
            var width: Int32 = 0
            var height: Int32 = 0
            let status = pan_vips_header(source, &width, &height)
            Self.clearError()
            return status == PAN_VIPS_OK ? (Int(width), Int(height)) : nil
        }
        guard let result else { throw Failure.unreadable }
        return result
    }

    /// Where a rendition would come out at, for the `resolution` label: the
    /// longest side `size` (never enlarged), the other in proportion.
    package static func fitted(width: Int, height: Int, size: Int) -> (Int, Int) {
        let longest = max(width, height)
        guard longest > size, longest > 0 else { return (width, height) }
        let scale = Double(size) / Double(longest)
        return (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
    }

    /// The rendition of `source` (whose content hash is `hash`): from the cache, or made now.
    package func rendition(source: String, hash: String, size: Int) async throws -> String {
        let target = path(hash: hash, size: size)
        if FileOps.size(of: target) != nil { return target }
        let refusal = target + ".refused"
        if let reason = try? String(contentsOfFile: refusal, encoding: .utf8) { throw Self.failure(recorded: reason) }
        guard Self.libvips else { throw Failure.unreadable }
        let timeout = timeoutMilliseconds
        let made: Result<String, Failure> = try await run {
            let folder = (target as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // Written aside, then renamed into place: a reader never sees half a file,
            // and two requests making the same rendition at once both end with a whole one.
            let temporary = "\(target).\(RandomID.hex32()).tmp"
            var (width, height, sourceWidth, sourceHeight): (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
            let status = pan_vips_thumbnail(
                source, temporary, Int32(size), Self.maxPixels, Self.quality, timeout, &width, &height, &sourceWidth, &sourceHeight
            )
            Self.clearError()
            switch status {
            case PAN_VIPS_OK:
                guard rename(temporary, target) == 0 else {
                    unlink(temporary)
                    return .failure(.writeFailed)
                }
                return .success(target)
            case PAN_VIPS_TIMED_OUT:
                // Not remembered: the machine may only have been busy.
                unlink(temporary)
                return .failure(.timedOut)
            case PAN_VIPS_TOO_LARGE:
                try? "too-large \(sourceWidth) \(sourceHeight)".write(toFile: refusal, atomically: true, encoding: .utf8)
                return .failure(.tooLarge(width: Int(sourceWidth), height: Int(sourceHeight)))
            default:
                unlink(temporary)
                try? "unreadable".write(toFile: refusal, atomically: true, encoding: .utf8)
                return .failure(.unreadable)
            }
        }
        return try made.get()
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        do { return try await pool.run(body) } catch is HashPool.Busy { throw Failure.busy }
    }

    private static func failure(recorded reason: String) -> Failure {
        let words = reason.split(separator: " ")
        guard words.first == "too-large", words.count == 3, let width = Int(words[1]), let height = Int(words[2]) else { return .unreadable }
        return .tooLarge(width: width, height: height)
    }

    /// libvips keeps one error text per process; it is not needed (the status says what failed).
    private static func clearError() { vips_error_clear() }

    package static func error(_ failure: Failure) -> PanError {
        switch failure {
        case .tooLarge(let width, let height):
            PanError(status: 422, code: "IMAGE_TOO_LARGE", "the image is \(width) × \(height) pixels: more than \(maxPixels / 1_000_000) megapixels are not previewed")
        case .unreadable:
            PanError(status: 422, code: "IMAGE_UNREADABLE", "the image could not be read: it is damaged, truncated or not a supported format")
        case .busy:
            PanError(status: 503, code: "PREVIEW_BUSY", "too many previews are being made: try again shortly", retryAfter: 2)
        case .timedOut:
            PanError(status: 503, code: "PREVIEW_TIMEOUT", "the preview took too long to make: try again later", retryAfter: 10)
        case .writeFailed:
            PanError(status: 500, code: "PREVIEW_FAILED", "the preview could not be stored")
        }
    }
}

/// Where a deployment's renditions are, and their removal with their
/// content: `pan store gc` deletes an object's renditions after its bytes.
public enum PreviewRenditions {
    public static func directory(of objects: LocalObjectStore) -> String { objects.root + "/thumbnails" }

    /// Removes every rendition of content `hash` (and a remembered refusal); returns how many files went.
    @discardableResult
    public static func remove(hash: String, objects: LocalObjectStore) -> Int {
        var removed = 0
        for size in Thumbnails.sizes {
            let path = Thumbnails.path(in: directory(of: objects), hash: hash, size: size)
            for file in [path, path + ".refused"] where unlink(file) == 0 { removed += 1 }
        }
        return removed
    }
}

/// `pan-bench thumbnail`: one rendition through the server's own path (the
/// pool, the header check, libvips as configured here), for BENCHMARKS.md.
public enum ThumbnailBench {
    /// Makes the `size` rendition of `source` in a scratch cache, copies it to `output`; returns the seconds it took.
    public static func render(source: String, size: Int, output: String) async throws -> Double {
        let scratch = NSTemporaryDirectory() + "pan-thumb-bench-\(RandomID.hex32())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let thumbnails = Thumbnails(directory: scratch, threads: 1)
        let start = ContinuousClock.now
        let made = try await thumbnails.rendition(source: source, hash: "bench", size: size)
        let elapsed = ContinuousClock.now - start
        try? FileManager.default.removeItem(atPath: output)
        try FileManager.default.copyItem(atPath: made, toPath: output)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
