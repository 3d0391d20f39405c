import HTTPTypes
import Hummingbird
import PanCore

/// Pan's errors render themselves as the envelope with their own status.
extension PanError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Reply.error(self)
    }
}
