import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PanCore

/// `api.md` §2: every reply, errors included, is
/// `{status, success, code, message, result, token}`.
package struct Envelope<Result: Encodable>: Encodable {
    package var status: Int
    package var success: Bool
    package var code: String
    package var message: String
    package var result: Result?
    package var token: String?

    package enum CodingKeys: String, CodingKey { case status, success, code, message, result, token }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(success, forKey: .success)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
        // `result` is always there, null on errors.
        if let result { try c.encode(result, forKey: .result) } else { try c.encodeNil(forKey: .result) }
        if let token { try c.encode(token, forKey: .token) }
    }
}

/// An empty `result` payload.
package struct NoResult: Encodable {
    package init() {}

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encodeNil()
    }
}

package enum Reply {
    package static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    package static func json(_ data: Data, status: HTTPResponse.Status, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A success envelope; with a token, also in `Qingzhen-Token` and `Authorization`
    /// (the Android app reads only the headers).
    package static func ok<T: Encodable>(_ result: T, token: String?) throws -> Response {
        let data: Data
        if let writable = result as? any JSONWritable {
            // The hot replies (file objects, grants): written directly, same shape as `Envelope`.
            data = written(writable, skipped: nil, token: token)
        } else {
            data = try encoder.encode(Envelope(status: 200, success: true, code: "OK", message: "", result: result, token: token))
        }
        return ok(data: data, token: token)
    }

    /// A success envelope that also names what `conflict: "skip"` left where
    /// it was: `skipped` (file objects) beside `result`, so `result` keeps the
    /// shape every client already reads (a count, a node).
    package static func ok(_ result: some JSONWritable, skipped: [FileNode], token: String?) -> Response {
        ok(data: written(result, skipped: skipped, token: token), token: token)
    }

    private static func written(_ result: some JSONWritable, skipped: [FileNode]?, token: String?) -> Data {
        var json = JSONWriter()
        json.object { json in
            json.field("status", 200)
            json.field("success", true)
            json.field("code", "OK")
            json.field("message", "")
            json.key("result")
            result.write(to: &json)
            if let skipped {
                json.key("skipped")
                skipped.write(to: &json)
            }
            if let token { json.field("token", token) }
        }
        return Data(json.bytes)
    }

    private static func ok(data: Data, token: String?) -> Response {
        var headers: HTTPFields = [:]
        if let token {
            headers[.qingzhenToken] = token
            headers[.authorization] = "Bearer \(token)"
        }
        return json(data, status: .ok, headers: headers)
    }

    package static func error(_ error: PanError, httpStatus: HTTPResponse.Status? = nil) -> Response {
        let status = httpStatus ?? HTTPResponse.Status(code: error.statusCode)
        let envelope = Envelope<NoResult>(
            status: status.code, success: false, code: error.code, message: error.message, result: nil, token: nil
        )
        let data = (try? encoder.encode(envelope)) ?? Data(#"{"success":false,"status":500,"code":"INTERNAL_ERROR"}"#.utf8)
        var headers: HTTPFields = [:]
        if let seconds = error.retryAfter { headers[.retryAfter] = String(seconds) }
        return json(data, status: status, headers: headers)
    }
}

package extension HTTPField.Name {
    static let qingzhenToken = Self("Qingzhen-Token")!
    static let token = Self("Token")!
    static let requestId = Self("X-Request-Id")!
    static let uploadBatch = Self("UploadBatch")!
    static let forwardedFor = Self("X-Forwarded-For")!
    static let realIP = Self("X-Real-IP")!
    static let key = Self("Key")!
}
