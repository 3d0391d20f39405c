import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Request count and latency by route pattern, method and status.
package final class RequestMetrics: Sendable {
    package static let countLabel = "pan_http_requests_total"
    package static let durationLabel = "pan_http_request_duration_seconds"

    private struct Key: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    private let factory: any MetricsFactory
    // The registry dedups too, but behind its own lock and a label-array compare;
    // a dictionary hit is cheaper on every request.
    private let cache = Mutex<[Key: (Counter, Metrics.Timer)]>([:])

    package init(factory: any MetricsFactory) { self.factory = factory }

    package func record(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, nanoseconds: UInt64) {
        let key = Key(route: route, method: method.rawValue, status: Int(status.code))
        let (counter, timer) = cache.withLock { cache in
            if let found = cache[key] { return found }
            let dimensions = [("route", key.route), ("method", key.method), ("status", String(key.status))]
            let made = (
                Counter(label: Self.countLabel, dimensions: dimensions, factory: factory),
                Metrics.Timer(label: Self.durationLabel, dimensions: dimensions, factory: factory)
            )
            cache[key] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }
}

/// Counts every request under its matched route pattern (`/dl/{key}`, never the
/// raw path, so a scanner cannot blow up the label set); unmatched ones are
/// `NotFound`. Sits outside `RequestLogMiddleware`, which turns errors into
/// replies, so the status seen here is the one sent.
package struct RequestMetricsMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    package let metrics: RequestMetrics

    package init(metrics: RequestMetrics) {
        self.metrics = metrics
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let status: HTTPResponse.Status
        let response: Response
        do {
            response = try await next(request, context)
            status = response.status
        } catch {
            status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            record(request, context, status, start)
            throw error
        }
        // Recorded when the handler returns (before the body streams), so a
        // client that has its reply can rely on the count having moved.
        record(request, context, status, start)
        return response
    }

    private func record(_ request: Request, _ context: Context, _ status: HTTPResponse.Status, _ start: UInt64) {
        metrics.record(
            route: context.endpointPath ?? "NotFound", method: request.method, status: status,
            nanoseconds: DispatchTime.now().uptimeNanoseconds &- start
        )
    }
}
