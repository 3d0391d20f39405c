import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error of the WCS upload API: `{"code": <int>, "message": "..."}` with a
/// non-2xx status — the `message` key must be there (the Python SDK crashes without it).
package struct WCSError: Error, HTTPResponseError, Equatable {
    package let code: Int
    package let message: String

    package init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    package var status: HTTPResponse.Status { HTTPResponse.Status(code: code) }

    package func response(from request: Request, context: some RequestContext) throws -> Response { rendered() }

    package func rendered() -> Response {
        let json = (try? JSONSerialization.data(withJSONObject: ["code": code, "message": message], options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    package static let tokenMissing = WCSError(code: 401, message: "token not specified")
    package static let tokenInvalid = WCSError(code: 401, message: "token verify failed")
    package static let tokenExpired = WCSError(code: 401, message: "token expired")
    package static let bucketMismatch = WCSError(code: 401, message: "bucket does not match")
    package static let tooLarge = WCSError(code: 413, message: "file size exceeds the limit of the token")
    package static let invalidCtx = WCSError(code: 400, message: "invalid ctx")
    package static let invalidOffset = WCSError(code: 400, message: "invalid offset")
    package static let invalidBlockSize = WCSError(code: 400, message: "invalid block size")
    package static let chunkTooLarge = WCSError(code: 400, message: "chunk exceeds the block size")
    package static let sizeMismatch = WCSError(code: 400, message: "file size does not match the blocks")
    /// The block was replaced by a newer `mkblk` of its order, or its token's upload ended.
    package static let blockGone = WCSError(code: 400, message: "block no longer exists: it was sent again or its upload ended")
    package static let fileExists = WCSError(code: 614, message: "file exists")
    package static let badMultipart = WCSError(code: 400, message: "invalid multipart form")
    package static let noFile = WCSError(code: 400, message: "file not specified")
    /// `reason`: what the callback got instead of a 2xx (the receiver's status, or why it was not reached).
    package static func callbackFailed(_ reason: String) -> WCSError { WCSError(code: 579, message: "callback failed: \(reason)") }
    package static func badRequest(_ message: String) -> WCSError { WCSError(code: 400, message: message) }
}
