import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Logging
import PanCore

/// Outermost middleware: every failure leaves as the envelope with a code.
/// Anything unexpected is logged and answered 500 (or 503 for a busy
/// database), never a dropped connection or an HTML page.
package struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.render(error, path: request.uri.path, logger: context.logger)
        }
    }

    /// `render`, in the shape of the API the request was for: the upload API
    /// speaks WCS's error shape whatever failed (a full disk, a body too large,
    /// an unexpected error) — SDKs read a numeric `code` and crash without `message`.
    package static func render(_ error: any Error, path: String, logger: Logger) -> Response {
        let response = render(error, logger: logger)
        // Router misses (no such route or method) stay API errors: they are not the upload API's.
        guard isUploadAPI(path), !(error is WCSError), !(error is HTTPError) else { return response }
        var wcs = WCSError(code: response.status.code, message: (error as? PanError)?.message ?? response.status.reasonPhrase).rendered()
        if let retryAfter = response.headers[.retryAfter] { wcs.headers[.retryAfter] = retryAfter }
        return wcs
    }

    package static func isUploadAPI(_ path: String) -> Bool {
        path == "/file/upload" || path.hasPrefix("/mkblk/") || path.hasPrefix("/bput/") || path.hasPrefix("/mkfile/")
    }

    package static func render(_ error: any Error, logger: Logger) -> Response {
        switch error {
        case let error as PanError:
            if error.statusCode >= 500, error.retryAfter != nil {
                // A deliberate refusal (full disk, login overload): worth a warning, not an error.
                logger.warning("request refused", metadata: ["error": "\(error)"])
            } else if error.statusCode == 501 {
                // A feature Pan does not have (SMS, offline downloads): nothing failed.
                logger.debug("not implemented", metadata: ["error": "\(error)"])
            } else if error.statusCode >= 500 {
                logger.error("request failed", metadata: ["error": "\(error)"])
            }
            return Reply.error(error)
        case let error as WCSError:
            // The upload endpoint speaks WCS's error shape, not the API envelope.
            return error.rendered()
        case let error as PanCore.IOError where error.isNoSpace:
            logger.warning("storage full", metadata: ["error": "\(error)"])
            return Reply.error(.storageFull)
        case let error as HTTPParserError:
            // A malformed body on the wire (a chunk size that is not hex, say) is
            // the client's fault: 400, and a notice, not an error-level 500.
            logger.notice("malformed HTTP request", metadata: ["error": "\(error)"])
            return Reply.error(.badRequest("malformed HTTP request: \(error)"))
        case is NIOTooManyBytesError:
            return Reply.error(.bodyTooLarge)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return Reply.error(.routeNotFound)
            case .methodNotAllowed: return Reply.error(PanError(status: 405, code: "METHOD_NOT_ALLOWED", "use POST"))
            case .contentTooLarge: return Reply.error(.bodyTooLarge)
            default:
                return Reply.error(PanError(status: error.status.code, code: "HTTP_\(error.status.code)", error.body ?? error.status.reasonPhrase))
            }
        default:
            logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return Reply.error(.internalError())
        }
    }
}
