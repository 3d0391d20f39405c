import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import PanCore
import Synchronization

/// How slowly a request may arrive: Apache `mod_reqtimeout`'s rule. A
/// request's bytes (head and body) may take `grace` plus one second per
/// `minimumRate` bytes received so far; counting starts at its first byte and
/// ends with its last. A client that keeps averaging at least `minimumRate`
/// after the grace never meets the deadline, however large the upload; one
/// that drips a byte now and then (each byte resets the idle timeout) meets it
/// after `grace`.
///
/// nginx's `client_body_timeout` and `client_header_timeout` are not this:
/// the first bounds the gap between two reads, so a drip passes it (issue #24
/// §2.6); the second bounds the whole head, as the grace here does for a head
/// that never gets bigger.
package struct RequestPaceRule: Sendable {
    /// Bytes per second a request must average after the grace.
    package let minimumRate: Double
    package let grace: TimeAmount

    package init?(_ configuration: PanConfiguration) {
        guard configuration.minimumBodyRate > 0 else { return nil }
        minimumRate = Double(configuration.minimumBodyRate)
        grace = .nanoseconds(Int64(configuration.requestGrace * 1e9))
    }

    /// Time a request with `bytes` received may have kept Pan waiting.
    package func allowance(bytes: Int64) -> TimeAmount {
        grace + .nanoseconds(Int64(min(Double(bytes) / minimumRate, 1e9) * 1e9))
    }
}

/// Enforces `RequestPaceRule` on one connection. It sits first in the pipeline,
/// where it sees each chunk of bytes as it arrives and each `read` the pipeline
/// asks of the socket. Only time spent waiting for the client counts: from a
/// `read` until bytes arrive. While Pan itself holds reads back — the request's
/// handler has not consumed the body yet, NIOAsyncChannel's backpressure —
/// the client cannot send, and the clock stands still.
///
/// A request that runs out of time is answered `408 REQUEST_TOO_SLOW` (unless
/// its response has begun) and its connection closed.
package final class RequestPaceHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias InboundOut = ByteBuffer
    package typealias OutboundIn = IOData
    package typealias OutboundOut = IOData

    private let rule: RequestPaceRule
    private let logger: Logger
    /// Between a request's first byte and its `.end` (`RequestPaceBoundaries`).
    private var receiving = false
    private var bytes: Int64 = 0
    /// Time this request has kept Pan waiting, not counting the read in progress.
    private var waited: TimeAmount = .zero
    /// When the read in progress was asked for; nil when none is.
    private var waitingSince: NIODeadline?
    /// A final response for this request has begun: too late for a 408.
    package var responseStarted = false
    private var check: Scheduled<Void>?
    private var closed = false

    package init(rule: RequestPaceRule, logger: Logger) {
        self.rule = rule
        self.logger = logger
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        if !receiving {
            receiving = true
            bytes = 0
            waited = .zero
            responseStarted = false
        } else if let since = waitingSince {
            waited = waited + (.now() - since)
        }
        waitingSince = nil
        bytes += Int64(count)
        context.fireChannelRead(data)
    }

    package func read(context: ChannelHandlerContext) {
        if receiving, waitingSince == nil {
            waitingSince = .now()
            schedule(context, in: rule.allowance(bytes: bytes) - waited)
        }
        context.read()
    }

    /// The request's last byte was decoded: the client owes nothing more.
    package func requestEnded() {
        receiving = false
        waitingSince = nil
    }

    package func channelInactive(context: ChannelHandlerContext) {
        closed = true
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    /// One timer per connection at most: a fast upload moves its deadline on
    /// every read, and rescheduling each time would cost more than the check.
    /// When the timer fires early (more bytes arrived), it sets itself again.
    private func schedule(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        guard check == nil, !closed else { return }
        check = context.eventLoop.assumeIsolated().scheduleTask(in: max(delay, .milliseconds(1))) { [self] in
            check = nil
            guard receiving, let since = waitingSince, !closed else { return }
            let remaining = rule.allowance(bytes: bytes) - (waited + (.now() - since))
            if remaining > .zero {
                schedule(context, in: remaining)
            } else {
                timeOut(context)
            }
        }
    }

    private func timeOut(_ context: ChannelHandlerContext) {
        closed = true
        logger.info(
            "closing a request slower than PAN_MIN_BODY_RATE",
            metadata: [
                "peer": "\(context.remoteAddress?.ipAddress ?? "?")", "bytes": "\(bytes)",
                "waited_ms": "\((waited + (.now() - (waitingSince ?? .now()))).nanoseconds / 1_000_000)",
            ]
        )
        guard !responseStarted else {
            context.close(promise: nil)
            return
        }
        // Straight to the socket, below the HTTP encoder: Pan's own handler is
        // still waiting for the body and will find the channel closed.
        let written = context.writeAndFlush(wrapOutboundOut(.byteBuffer(rawErrorResponse(.requestTooSlow))))
        let loopBound = context.loopBound
        written.whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}

/// Tells `RequestPaceHandler` where requests end and responses begin; sits
/// right after NIO's HTTP/1 codec, where parts are decoded.
package final class RequestPaceBoundaries: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPServerRequestPart
    package typealias InboundOut = HTTPServerRequestPart
    package typealias OutboundIn = HTTPServerResponsePart
    package typealias OutboundOut = HTTPServerResponsePart

    private let pace: RequestPaceHandler

    package init(_ pace: RequestPaceHandler) { self.pace = pace }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { pace.requestEnded() }
        context.fireChannelRead(data)
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // 100 Continue is not the answer: a 408 can still follow it.
        if case .head(let head) = unwrapOutboundIn(data), head.status.code >= 200 { pace.responseStarted = true }
        context.write(data, promise: promise)
    }
}

/// Open connections per peer address, capped (`PAN_MAX_CONNECTIONS_PER_IP`),
/// so one address cannot hold every one of `PAN_MAX_CONNECTIONS`. The address
/// is the TCP peer's: `X-Forwarded-For` is not known when a connection opens.
/// Peers in `PAN_TRUSTED_PROXIES` are exempt — behind nginx every connection
/// is nginx's, and nginx's `limit_conn` caps each client instead.
package final class ConnectionsPerAddress: Sendable {
    package let limit: Int
    private let exempt: IPMatcher
    private let open = Mutex<[String: Int]>([:])

    package init(limit: Int, exempt: IPMatcher) {
        self.limit = limit
        self.exempt = exempt
    }

    /// Counts `channel` under its peer's address until it closes; false, and
    /// not counted, when that address already has `limit` open.
    package func admit(_ channel: any Channel) -> Bool {
        guard let ip = channel.remoteAddress?.ipAddress, !exempt.matches(ip) else { return true }
        // An IPv6 client owns a whole /64: one budget for all of it.
        let key = IPAddress(ip)?.limitKey ?? ip
        let admitted = open.withLock { open in
            let count = open[key, default: 0]
            guard count < limit else { return false }
            open[key] = count + 1
            return true
        }
        if admitted { channel.closeFuture.whenComplete { _ in self.release(key) } }
        return admitted
    }

    /// Connections open from `ip` now (tests).
    package func count(_ ip: String) -> Int { open.withLock { $0[IPAddress(ip)?.limitKey ?? ip, default: 0] } }

    private func release(_ key: String) {
        open.withLock { open in
            let count = open[key, default: 1] - 1
            open[key] = count > 0 ? count : nil
        }
    }
}

/// Admits a new connection under `ConnectionsPerAddress` when it becomes
/// active (its peer's address known); a refused one is answered `429
/// TOO_MANY_CONNECTIONS` straight to the socket and closed, its request unread.
package final class ConnectionAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias InboundOut = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    private let connections: ConnectionsPerAddress
    private var refused = false

    package init(_ connections: ConnectionsPerAddress) { self.connections = connections }

    package func channelActive(context: ChannelHandlerContext) {
        if !connections.admit(context.channel) {
            refused = true
            let loopBound = context.loopBound
            context.writeAndFlush(wrapOutboundOut(rawErrorResponse(.tooManyConnections))).whenComplete { _ in
                loopBound.value.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !refused { context.fireChannelRead(data) }
    }
}

/// A complete HTTP/1.1 response carrying `error`'s envelope, with
/// `Connection: close`, for the places below Hummingbird's router.
package func rawErrorResponse(_ error: PanError) -> ByteBuffer {
    let envelope = Envelope<NoResult>(
        status: error.statusCode, success: false, code: error.code, message: error.message, result: nil, token: nil
    )
    let body = (try? Reply.encoder.encode(envelope)) ?? Data()
    let reason = HTTPResponseStatus(statusCode: error.statusCode).reasonPhrase
    var head = "HTTP/1.1 \(error.statusCode) \(reason)\r\nContent-Type: application/json; charset=utf-8\r\n"
    if let seconds = error.retryAfter { head += "Retry-After: \(seconds)\r\n" }
    head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    var buffer = ByteBuffer(string: head)
    buffer.writeBytes(body)
    return buffer
}
