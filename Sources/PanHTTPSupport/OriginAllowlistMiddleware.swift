import HTTPTypes
import Hummingbird

/// Drops an `Origin` header that is not on the allowlist, before the CORS
/// middleware (`.originBased`) sees it: a listed origin is echoed back in
/// `Access-Control-Allow-Origin`, any other gets no CORS headers at all, so the
/// browser keeps the reply from that page. Hummingbird's `.oneOf` takes its
/// origins as a variadic list fixed at compile time; ours come from
/// configuration. The request itself is still served (CORS is enforced by
/// browsers; non-browser clients never send `Origin`).
package struct OriginAllowlistMiddleware<Context: RequestContext>: RouterMiddleware {
    package let allowed: Set<String>

    package init(allowed: Set<String>) {
        self.allowed = allowed
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], !allowed.contains(origin.lowercased()) else {
            return try await next(request, context)
        }
        var head = request.head
        head.headerFields[.origin] = nil
        return try await next(Request(head: head, body: request.body), context)
    }
}
