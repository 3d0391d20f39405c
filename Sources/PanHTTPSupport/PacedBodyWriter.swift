import Hummingbird
import NIOCore

package extension ResponseBodyWriter {
    /// Writes a chunk of a streamed reply, then waits until the connection's
    /// event loop has taken it.
    ///
    /// Hummingbird's body writer hands each chunk to the event loop (a task on
    /// its queue) and returns at once; it holds the producer back only after
    /// the channel, on that loop, has reported itself unwritable. A producer
    /// on another thread (file reads on the blocking pool) can therefore queue
    /// chunks faster than a busy loop takes them, and nothing stops it: a
    /// 2 GiB zip in 64 KiB chunks once had 1.2 GiB queued on a loaded machine.
    /// The loop runs its tasks in order, so once an empty task submitted after
    /// the write has run, every chunk so far has reached the channel, and its
    /// writability (64 KiB high-water mark) holds back the next write.
    mutating func write(_ chunk: ByteBuffer, pacedBy eventLoop: any EventLoop) async throws {
        try await write(chunk)
        try await eventLoop.submit {}.get()
    }
}
