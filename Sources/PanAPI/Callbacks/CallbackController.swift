import WCS
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PanCore
import PanHTTPSupport

/// WCS's upload callbacks (`wcs.md` §3, `api.md` §6): checks the sender,
/// hands the body to `CallbackService`, answers in the way WCS relays best.
package struct CallbackController {
    let store: any PanStore
    let configuration: PanConfiguration
    let credentials: [Credentials]
    let clientAddress: ClientAddress
    let allowlist: IPMatcher
    let metrics: PanMetrics

    package init(store: any PanStore, configuration: PanConfiguration, credentials: [Credentials], clientAddress: ClientAddress, allowlist: IPMatcher, metrics: PanMetrics) {
        self.store = store
        self.configuration = configuration
        self.credentials = credentials
        self.clientAddress = clientAddress
        self.allowlist = allowlist
        self.metrics = metrics
    }

    /// Callback bodies are a few hundred bytes; this bounds what a stranger can send.
    static let maxBodySize = 64 * 1024

    package func addRoutes(to router: Router<AppRequestContext>) {
        var paths = [configuration.callbackPath, "/v1/callback/ws/post", "/v1/store/callback/wcs"]
        paths = paths.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        for path in paths { router.post(RouterPath(path), use: callback) }
    }

    @Sendable func callback(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = Data(buffer: try await request.collectBody(upTo: Self.maxBodySize))
        do {
            try authenticate(request, body: body, context: context)
        } catch let error as PanError {
            metrics.callbackRejected(reason: error.code)
            throw error
        }
        let fields: CallbackBody
        do {
            fields = try CallbackBody.parse(wire: body)
        } catch {
            metrics.callbackRejected(reason: "INVALID_CALLBACK")
            // Authentic (it passed the sender check) but unusable — a value carried
            // `&name=…` into it, say: a permanent refusal, answered 200 like the
            // others so WCS relays the reason instead of retrying the same body.
            return Reply.error(PanError.invalidCallback("the callback body cannot be parsed: \(error)"), httpStatus: .ok)
        }
        let outcome: CallbackOutcome
        do {
            outcome = try await store.completeUpload(fields)
        } catch let error as PanError where error.statusCode < 500 {
            metrics.callbackRejected(reason: error.code)
            throw error
        }
        switch outcome {
        case .accepted(let node, let replayed):
            (replayed ? metrics.callbacksReplayed : metrics.callbacksAccepted).increment()
            return try Reply.ok(node, token: nil)
        case .refused(let error, let replayed):
            if !replayed { metrics.callbackRejected(reason: error.code) }
            // Authentic but refused for good: 200, so WCS relays the reason and stops retrying.
            return Reply.error(error, httpStatus: .ok)
        }
    }

    private func authenticate(_ request: Request, body: Data, context: AppRequestContext) throws {
        let check = configuration.callbackCheck
        if check == .ip || check == .both {
            let ip = clientAddress.ip(of: request, peer: context.remoteAddress) ?? ""
            guard allowlist.matches(ip) else { throw PanError.callbackSourceForbidden }
        }
        if check == .signature || check == .both {
            guard let header = request.headers[.authorization], !header.isEmpty else {
                throw PanError.callbackSignatureInvalid
            }
            // The URL WCS signed is the public one, never one rebuilt from Host or X-Forwarded-*.
            let url = configuration.effectivePublicBaseURL + request.uri.description
            guard CallbackSignature.verify(header: header, url: url, body: body, credentials: credentials) else {
                context.logger.warning(
                    "callback signature mismatch", metadata: ["authorization": "\(header)", "url": "\(url)"]
                )
                throw PanError.callbackSignatureInvalid
            }
        }
    }
}
