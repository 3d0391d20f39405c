import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import PanCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 child channel, with `ConnectionCloseHandler` placed
/// where it can see the request's HTTP version.
///
/// Why our own copy of `HTTP1Channel.setup`: Hummingbird's extra handlers go
/// after the HTTP-types conversion (`HTTP1ToHTTPServerCodec`), which drops the
/// request's version (an `HTTPRequest` has none) and answers every request as
/// HTTP/1.1. Deciding whether a connection stays open needs that version, so
/// the handler must sit between NIO's HTTP/1 codec and the conversion.
package struct PanHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    package typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    package let responder: HTTPChannelHandler.Responder
    /// Closes a connection with no request in progress (waiting for a head, or
    /// for body bytes that stopped coming) after this long. `nil`: never.
    package let idleTimeout: Duration?
    /// The minimum-rate rule (`RequestPaceHandler`); nil: none.
    package let pace: RequestPaceRule?
    /// The per-address connection cap; nil: none.
    package let connectionsPerAddress: ConnectionsPerAddress?

    package func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // The peer's address is known once the channel is active, not yet here.
            if let connectionsPerAddress {
                try channel.pipeline.syncOperations.addHandler(ConnectionAdmissionHandler(connectionsPerAddress))
            }
            let paceHandler = pace.map { RequestPaceHandler(rule: $0, logger: logger) }
            // First in the pipeline after admission: it sees every byte as it
            // arrives and every read the pipeline asks the socket for (backpressure included).
            if let paceHandler { try channel.pipeline.syncOperations.addHandler(paceHandler) }
            // Hummingbird's defaults (80 KiB of headers, 1000 fields).
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false,  // NIOAsyncChannel already takes one request at a time
                withErrorHandling: false,  // handleHTTP answers parse errors itself
                withOutboundHeaderValidation: false,  // HTTP types validate header values
                withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: limits
            )
            if let paceHandler { try channel.pipeline.syncOperations.addHandler(RequestPaceBoundaries(paceHandler)) }
            try channel.pipeline.syncOperations.addHandler(ConnectionCloseHandler())
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try channel.pipeline.syncOperations.addHandler(ExpectContinueHandler())
            try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    package func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

package extension HTTPServerBuilder {
    /// HTTP/1.1 as Pan serves it: see `PanHTTP1Channel`, `ConnectionCloseHandler`,
    /// `RequestPaceHandler` and `ConnectionsPerAddress`.
    static func panHTTP1(
        idleTimeout: Duration?, pace: RequestPaceRule? = nil, connectionsPerAddress: ConnectionsPerAddress? = nil
    ) -> HTTPServerBuilder {
        .init { responder in
            PanHTTP1Channel(responder: responder, idleTimeout: idleTimeout, pace: pace, connectionsPerAddress: connectionsPerAddress)
        }
    }
}

/// Every response on a connection Pan is about to close says `Connection: close`
/// (RFC 9112 §9.6), and Pan closes every connection whose response says so.
///
/// Hummingbird 2.28 closes after a request whose `Connection` header is exactly
/// `close`, but never puts `close` in the response: the header is not dropped by
/// the HTTP-types conversion, it is never set. A pooling client (urllib3, which
/// Wangsu's Python SDK uses with `Connection: close` on every request) then
/// returns the socket to its pool and sends the next request into the server's
/// FIN. It also misses `Close`, `close, TE`, HTTP/1.0 without keep-alive, and
/// responses written while the server shuts down.
///
/// Inbound, this handler rewrites a non-keep-alive request's `Connection` header
/// to exactly `close` (so Hummingbird's check fires); outbound, it stamps the
/// matching response head and closes the channel after the response's end.
package final class ConnectionCloseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPServerRequestPart
    package typealias InboundOut = HTTPServerRequestPart
    package typealias OutboundIn = HTTPServerResponsePart
    package typealias OutboundOut = HTTPServerResponsePart

    private struct Exchange {
        var version: HTTPVersion
        var keepAlive: Bool
    }

    /// Requests read and not yet answered, oldest first (clients may pipeline).
    private var unanswered = CircularBuffer<Exchange>(initialCapacity: 2)
    private var quiescing = false
    private var closeAfterResponse = false

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let keepAlive = head.isKeepAlive
        unanswered.append(Exchange(version: head.version, keepAlive: keepAlive))
        if !keepAlive {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
        } else {
            context.fireChannelRead(data)
        }
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Graceful shutdown: Hummingbird closes after the response in progress.
        if event is ChannelShouldQuiesceEvent { quiescing = true }
        context.fireUserInboundEventTriggered(event)
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            let exchange = unanswered.popFirst() ?? Exchange(version: .http1_1, keepAlive: true)
            // An HTTP/1.0 client must not get chunked framing or an HTTP/1.1 status line.
            if exchange.version < .http1_1 { head.version = exchange.version }
            let unframed = exchange.version < .http1_1 && !head.headers.contains(name: "content-length")
            if !exchange.keepAlive || quiescing || unframed || closeAfterResponse {
                closeAfterResponse = true
                head.headers.replaceOrAdd(name: "connection", value: "close")
            } else if exchange.version < .http1_1 {
                head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where closeAfterResponse:
            let loopBound = context.loopBound
            let written = context.writeAndFlush(data)
            written.whenComplete { _ in loopBound.value.close(promise: nil) }
            written.cascade(to: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}

private extension HTTPVersion {
    static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}
