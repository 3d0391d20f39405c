import HTTPTypes
import Hummingbird

/// Hummingbird's CORS middleware names exposed headers only on preflight; a
/// browser reads `Access-Control-Expose-Headers` from the actual response, and
/// the web app needs `Qingzhen-Token` and `Authorization` from it.
package struct CORSExposeMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package static var exposed: [String] {
        ["Authorization", "Qingzhen-Token", "X-Request-Id", "Content-Disposition", "Content-Range", "Content-Length"]
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if request.headers[.origin] != nil, request.method != .options {
            response.headers[.accessControlExposeHeaders] = Self.exposed.joined(separator: ", ")
        }
        return response
    }
}
