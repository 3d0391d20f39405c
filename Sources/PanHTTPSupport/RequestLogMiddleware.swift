import WCS
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PanCore

/// One log line per request with a request id (from `X-Request-Id`, or made
/// here), echoed back in the reply; the client IP (through trusted proxies
/// only), the user, the matched route, status and duration.
/// Never logs bodies, tokens, query strings (download signatures, `?token=`)
/// or passwords.
package struct RequestLogMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    package let clientAddress: ClientAddress
    package let tokens: SessionTokens

    package init(clientAddress: ClientAddress, tokens: SessionTokens) {
        self.clientAddress = clientAddress
        self.tokens = tokens
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let incoming = request.headers[.requestId].map { String($0.prefix(128)) }
        context.requestId = incoming.flatMap { $0.isEmpty ? nil : $0 } ?? RandomID.hex32()
        context.logger[metadataKey: "request_id"] = .string(context.requestId)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = ErrorMiddleware<Context>.render(error, path: request.uri.path, logger: context.logger)
        }
        response.headers[.requestId] = context.requestId
        // The line is built only when it will be written: at `warning` and above this middleware costs nothing.
        guard context.logger.logLevel <= .info else { return response }
        let elapsed = ContinuousClock.now - start
        let milliseconds = (elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000) / 10
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)",
            "path": "\(request.uri.path)",
            "route": "\(context.endpointPath ?? "NotFound")",
            "status": "\(response.status.code)",
            "client_ip": "\(clientAddress.ip(of: request, peer: context.remoteAddress) ?? "-")",
            "duration_ms": "\(milliseconds / 100).\(milliseconds % 100 < 10 ? "0" : "")\(milliseconds % 100)",
        ]
        if let user = userId(of: response) ?? context.signedInUser.userId { metadata["user_id"] = "\(user)" }
        context.logger.info("request", metadata: metadata)
        return response
    }

    /// The user an authenticated reply was for: every such reply carries the
    /// refreshed session token (`api.md` §3), which this server just signed
    /// (so it is in the token cache, or its payload's `uuid` is trustworthy
    /// without re-verifying). Only the id is read; the token is never logged.
    package func userId(of response: Response) -> Int64? {
        guard let token = response.headers[.qingzhenToken] else { return nil }
        if let claims = tokens.knownClaims(token) { return claims.uuid }
        return Self.userId(inPayloadOf: token)
    }

    package static func userId(inPayloadOf token: String) -> Int64? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
              let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        else { return nil }
        return (claims["uuid"] as? NSNumber)?.int64Value
    }
}
