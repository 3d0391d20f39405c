import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Per-request state: the peer address (for trusted-proxy and allowlist
/// decisions) and the request id that logs and replies carry.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public var requestId: String = ""
    /// The connection's event loop: streamed replies pace themselves by it (`ZipStreamer`).
    public let eventLoop: any EventLoop
    /// The user a request was for, when a face learns it other than from a
    /// session token (WebDAV's Basic): `RequestLogMiddleware` names them.
    public let signedInUser = SignedInUser()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.eventLoop = source.channel.eventLoop
    }

    /// JSON API bodies are small; uploads stream and set their own limits.
    public var maxUploadSize: Int { 1024 * 1024 }
}

/// Set by the handler, read by the log line after it: a box, since the context
/// a middleware holds is its own copy.
public final class SignedInUser: Sendable {
    private let id = Mutex<Int64?>(nil)

    public init() {}

    public var userId: Int64? {
        get { id.withLock { $0 } }
        set { id.withLock { $0 = newValue } }
    }
}
