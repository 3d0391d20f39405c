import Hummingbird
import PanCore

/// Shapes of replies one client needs and the others must not get. Today:
/// the Android app (`User-Agent: QZCloud`) declares a file object's `preview`
/// as a Boolean and its Gson fails a whole list on a number (`api.md` §8), so
/// its replies carry `hasPreview`'s value there (`FileNode.previewAsBoolean`).
/// Replies are encoded inside the handler, so the task-local covers them.
package struct ClientShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let agent = request.headers[.userAgent], agent.contains("QZCloud") else { return try await next(request, context) }
        return try await FileNode.$previewAsBoolean.withValue(true) { try await next(request, context) }
    }
}
