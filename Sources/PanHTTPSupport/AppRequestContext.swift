import Hummingbird
import Logging
import NIOCore

/// Per-request state: the peer address (for trusted-proxy and allowlist
/// decisions) and the request id that logs and replies carry.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public var requestId: String = ""
    /// The connection's event loop: streamed replies pace themselves by it (`ZipStreamer`).
    public let eventLoop: any EventLoop

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.eventLoop = source.channel.eventLoop
    }

    /// JSON API bodies are small; uploads stream and set their own limits.
    public var maxUploadSize: Int { 1024 * 1024 }
}
