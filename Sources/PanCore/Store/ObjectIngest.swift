import Crypto
import Dispatch
import Foundation
import Synchronization
import WCS

/// An upload's bytes on their way into the local object store: one type for
/// every face that receives a file (the form and slice uploads, the WebDAV PUT,
/// the joining of slice blocks).
///
/// Why not hash and write as the bytes come: one core then receives, hashes
/// and waits for the disk in turn (a 1 GiB form upload took 3.5× nginx's PUT +
/// fsync). Here the receiving task only copies each chunk into a 1 MiB batch.
/// A full batch goes to the blocking pool twice: to the upload's writer, which
/// writes batches one after another (pwrite at the batch's offset) and starts
/// their writeback (so the closing fsync has little left), and to its 4 MiB
/// block's SHA-1 lane. A block's batches are hashed in order on its serial
/// lane; different blocks' lanes run at once, so the content hash
/// (`ContentHasher`: one SHA-1 per 4 MiB block, then combined) uses every
/// core while the next bytes are received and written.
///
/// Bounded: at most `window` batches are in flight. `waitForRoom()` holds the
/// receiver until there is room again, so the socket stops being read
/// (backpressure) and an upload holds `window + 1` batches whatever its size.
///
/// Owned by one task, which ends it with `finish()` or `discard()`: both wait
/// for every batch in flight, so the file is never closed under a write.
public final class ObjectIngest: @unchecked Sendable {
    public static let batchSize = 1 << 20
    /// Batches written and hashed at once: enough to keep two cores busy
    /// (a block's SHA-1 takes ~2 ms) without holding much memory.
    public static let window = 8

    public struct Stored: Sendable {
        /// The WCS content hash (`ContentHasher`); nil when not hashing.
        public let hash: String?
        public let size: Int64
    }

    private let sink: FileSink
    private let hashing: Bool
    /// Where in the file the first byte goes (a slice-upload block resumed mid-way).
    private let base: Int64
    /// Bytes appended so far.
    public private(set) var byteCount: Int64 = 0
    /// The batch being filled, and how much of it is.
    private var filling: Batch?
    private var filled = 0
    /// The lane of the block being received (hashing only).
    private var lane: Lane?
    private var ended = false

    private struct State {
        var inFlight = 0
        var error: (any Error)?
        var spare: [Batch] = []
        /// Per batch in flight (by address): its write and its hashing, until done.
        var unfinishedParts: [UnsafeMutableRawPointer: Int] = [:]
        /// Each block's SHA-1, 20 bytes at its index, set as its lane closes it.
        var digests: [UInt8] = []
        /// The receiver, waiting until at most `limit` batches are in flight.
        var waiter: (limit: Int, continuation: CheckedContinuation<Void, Never>)?
    }
    private let state = Mutex(State())
    /// Writes go out one at a time, in order: pwrites to one file from several
    /// threads queue on its inode lock, and the waiters spin (a fifth of the
    /// upload's CPU in a profile). Hashing is what runs in parallel.
    private let writer = DispatchQueue(label: "pan.ingest.write", target: BlockingIO.queue)

    /// `hashing`: compute the content hash (a slice-upload chunk does not).
    public init(sink: FileSink, hashing: Bool = true) {
        self.sink = sink
        self.hashing = hashing
        base = sink.startOffset
    }

    deinit {
        filling?.release()
        for batch in state.withLock({ $0.spare }) { batch.release() }
    }

    /// Copies the bytes in; every batch they fill is sent off. Call
    /// `waitForRoom()` after, before reading more.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(!ended, "append after the ingest ended")
        var rest = bytes[...]
        while !rest.isEmpty {
            if filling == nil { filling = takeBatch() }
            let take = min(rest.count, Self.batchSize - filled)
            UnsafeMutableRawBufferPointer(rebasing: filling!.memory[filled..<(filled + take)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            filled += take
            byteCount += Int64(take)
            rest = rest.dropFirst(take)
            if filled == Self.batchSize { sendFilling() }
        }
    }

    /// Returns once at most `window` batches are in flight; throws the error a
    /// write met (out of space, say), so the upload stops at once.
    public func waitForRoom() async throws {
        await wait(untilInFlightAtMost: Self.window)
        if let error = state.withLock({ $0.error }) { throw error }
    }

    /// Sends what is left, waits for every batch, fsyncs and closes the file.
    public func finish() async throws -> Stored {
        precondition(!ended, "finish after the ingest ended")
        if filled > 0 || (hashing && byteCount % Int64(ContentHasher.blockSize) != 0) { sendFilling(last: true) }
        ended = true
        await wait(untilInFlightAtMost: 0)
        if let error = state.withLock({ $0.error }) {
            sink.closeIfOpen()
            throw error
        }
        let sink = self.sink
        try await BlockingIO.run { try sink.finish() }
        let hash = hashing ? ContentHasher.combine(blockDigests: state.withLock { $0.digests }) : nil
        return Stored(hash: hash, size: byteCount)
    }

    /// Gives up: waits for the batches in flight, then closes the file (the
    /// caller removes it, or truncates it back). Any number of times, after `finish()` too.
    public func discard() async {
        ended = true
        await wait(untilInFlightAtMost: 0)
        sink.closeIfOpen()
    }

    // MARK: The pipeline

    /// 1 MiB of memory that travels to a blocking thread and back.
    ///
    /// Mapped, not malloc'ed: glibc keeps freed 1 MiB chunks in the arena of
    /// the thread that freed them, and with batches allocated on one thread
    /// and released on others the server's RSS crept up by tens of MiB over a
    /// few uploads. Unmapped, they go back to the system when the upload ends.
    private struct Batch: @unchecked Sendable {
        let memory: UnsafeMutableRawBufferPointer
        let mapped: Bool

        static func make() -> Batch {
            let failed = UnsafeMutableRawPointer(bitPattern: -1)  // MAP_FAILED
            if let pointer = mmap(nil, ObjectIngest.batchSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), pointer != failed {
                return Batch(memory: UnsafeMutableRawBufferPointer(start: pointer, count: ObjectIngest.batchSize), mapped: true)
            }
            return Batch(memory: .allocate(byteCount: ObjectIngest.batchSize, alignment: 64), mapped: false)
        }

        func release() {
            if mapped { munmap(memory.baseAddress, memory.count) } else { memory.deallocate() }
        }
    }

    /// One 4 MiB block's SHA-1, fed by its batches in order on a serial queue.
    private final class Lane: @unchecked Sendable {
        let index: Int
        let queue: DispatchQueue
        // Touched only on `queue`.
        var sha = Insecure.SHA1()
        init(index: Int) {
            self.index = index
            queue = DispatchQueue(label: "pan.ingest.block", target: BlockingIO.queue)
        }
    }

    private func takeBatch() -> Batch {
        state.withLock { $0.spare.popLast() } ?? Batch.make()
    }

    /// Sends the batch being filled (possibly empty when `last`: it then only
    /// closes the last block's SHA-1).
    private func sendFilling(last: Bool = false) {
        let batch = filling ?? takeBatch()
        let count = filled
        let end = byteCount
        let offset = base + end - Int64(count)
        filling = nil
        filled = 0
        state.withLock {
            $0.inFlight += 1
            $0.unfinishedParts[batch.memory.baseAddress!] = hashing ? 2 : 1
        }
        let sink = self.sink
        writer.async { self.complete(batch, failure: Self.write(batch, count, to: sink, at: offset)) }
        guard hashing else { return }
        // A batch never straddles blocks: 1 MiB divides 4 MiB.
        let blockIndex = Int((end - Int64(count)) / Int64(ContentHasher.blockSize))
        if lane?.index != blockIndex {
            lane = Lane(index: blockIndex)
            state.withLock { $0.digests.append(contentsOf: repeatElement(0, count: Insecure.SHA1.byteCount)) }
        }
        let lane = self.lane!
        let closes = last || end % Int64(ContentHasher.blockSize) == 0
        if closes { self.lane = nil }
        lane.queue.async {
            lane.sha.update(bufferPointer: UnsafeRawBufferPointer(rebasing: batch.memory[..<count]))
            if closes {
                let digest = Array(lane.sha.finalize())
                self.state.withLock { state in
                    let at = lane.index * Insecure.SHA1.byteCount
                    state.digests.replaceSubrange(at..<(at + digest.count), with: digest)
                }
            }
            self.complete(batch, failure: nil)
        }
    }

    private static func write(_ batch: Batch, _ count: Int, to sink: FileSink, at offset: Int64) -> (any Error)? {
        guard count > 0 else { return nil }
        do {
            try sink.write(UnsafeRawBufferPointer(rebasing: batch.memory[..<count]), at: offset)
            sink.startWriteback(offset: offset, count: count)
            return nil
        } catch {
            return error
        }
    }

    /// One part of a batch's work done (its write, or its hashing); the
    /// batch is back for reuse once both are.
    private func complete(_ batch: Batch, failure: (any Error)?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let failure, state.error == nil { state.error = failure }
            let key = batch.memory.baseAddress!
            state.unfinishedParts[key]! -= 1
            guard state.unfinishedParts[key] == 0 else { return nil }
            state.unfinishedParts[key] = nil
            state.inFlight -= 1
            state.spare.append(batch)
            guard let waiter = state.waiter, state.inFlight <= waiter.limit || (state.error != nil && waiter.limit > 0) else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Waits until at most `limit` batches are in flight (or, for a nonzero
    /// limit, until one failed: the receiver stops at once).
    private func wait(untilInFlightAtMost limit: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.inFlight <= limit || (state.error != nil && limit > 0) { return true }
                state.waiter = (limit, continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
