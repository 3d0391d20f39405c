import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PanCore

/// One log line per request with a request id (from `X-Request-Id`, or made
/// here), echoed back in the reply. Never logs bodies or tokens.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let incoming = request.headers[.requestId].map { String($0.prefix(128)) }
        context.requestId = incoming.flatMap { $0.isEmpty ? nil : $0 } ?? RandomID.hex32()
        context.logger[metadataKey: "request_id"] = .string(context.requestId)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = ErrorMiddleware<Context>.render(error, logger: context.logger)
        }
        response.headers[.requestId] = context.requestId
        let elapsed = ContinuousClock.now - start
        context.logger.info("request", metadata: [
            "method": "\(request.method.rawValue)",
            "path": "\(request.uri.path)",
            "status": "\(response.status.code)",
            "duration_ms": "\(String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000))",
        ])
        return response
    }
}
