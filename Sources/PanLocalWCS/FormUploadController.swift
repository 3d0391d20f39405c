import WCS
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PanCore
import PanHTTPSupport
import TextSupport

/// WCS's form upload, `POST /file/upload` (`wcs.md` §4): multipart with
/// `token`, `file` and optional `key`, `mimeType`, `x:` variables, in any
/// order. The file part streams to disk while it is hashed, so memory stays
/// bounded whatever the size.
package struct FormUploadController {
    let store: LocalObjectStore
    let tokens: TokenCheck
    let completion: UploadCompletion
    let clientAddress: ClientAddress
    /// Bytes of a file part accepted before the form's token is known (the Java
    /// SDK sends `file` first), per request and across all requests.
    let preauth: PreauthBudget
    let storage: StorageFloor

    package init(store: LocalObjectStore, tokens: TokenCheck, completion: UploadCompletion, clientAddress: ClientAddress, preauth: PreauthBudget, storage: StorageFloor) {
        self.store = store
        self.tokens = tokens
        self.completion = completion
        self.clientAddress = clientAddress
        self.preauth = preauth
        self.storage = storage
    }

    /// Text fields are small; this bounds each.
    static let maxFieldSize = 64 * 1024

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/file/upload", use: upload)
    }

    /// One parser event; the parser reports synchronously, we write asynchronously.
    enum Event {
        case header(String, String)
        case body(ByteBuffer)
        case partEnd
    }

    /// The part being read.
    struct Part {
        var headers: [(String, String)] = []
        var name: String?
        var fileName: String?
        var contentType: String?
        var text = ByteBuffer()
        var isFile: Bool { fileName != nil }
        /// The first part with a file name is the upload; later ones are ignored.
        var isTheFile = false
        var started = false

        mutating func resolveDisposition() {
            guard !started else { return }
            started = true
            for (name, value) in headers {
                switch name.lowercased() {
                case "content-disposition":
                    self.name = Self.parameter("name", in: value)
                    fileName = Self.parameter("filename", in: value)
                case "content-type": contentType = value
                default: break
                }
            }
        }

        static func parameter(_ key: String, in header: String) -> String? {
            for piece in header.split(separator: ";") {
                let trimmed = piece.trimmedSpaces()
                guard let eq = trimmed.firstIndex(of: "=") else { continue }
                guard trimmed[..<eq].trimmedSpaces().lowercased() == key else { continue }
                var value = trimmed[trimmed.index(after: eq)...].trimmedSpaces()
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                return value
            }
            return nil
        }
    }

    @Sendable func upload(_ request: Request, context: AppRequestContext) async throws -> Response {
        // Below the free-space floor nothing is written (before reading the body).
        try storage.check()
        guard let contentType = request.headers[.contentType], contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = Part.parameter("boundary", in: contentType), !boundary.isEmpty
        else { throw WCSError.badMultipart }

        let parser = MultipartStreamParser(boundary: boundary)
        var events: [Event] = []
        parser.onHeader = { events.append(.header($0, $1)) }
        parser.onBody = { events.append(.body($0)) }
        parser.onPartComplete = { events.append(.partEnd) }

        var fields: [String: String] = [:]
        var verified: TokenCheck.Verified?
        var part = Part()
        // The file part's bytes, written and hashed as they come (`ObjectIngest`).
        var ingest: ObjectIngest?
        var fileName: String?
        var fileContentType: String?
        var fileDone = false
        let temporary = store.newTemporaryPath()
        var preauthHeld = 0
        // The token this request completes the upload of, held until it is answered.
        var claimed: TokenCheck.Verified?
        // Its session's bytes are arriving: it does not lapse meanwhile (PAN_UPLOAD_IDLE).
        var activity: UploadActivity?
        let tokenUse = completion.tokenUse
        defer {
            preauth.release(preauthHeld)
            if let claimed { tokenUse.release(claimed) }
        }

        do {
            for try await chunk in request.body {
                do {
                    try parser.execute(chunk)
                } catch MultipartStreamParser.Error.headersTooLarge {
                    throw WCSError.badRequest("multipart part headers exceed \(MultipartStreamParser.maxHeaderBytes) bytes")
                } catch MultipartStreamParser.Error.tooManyParts {
                    throw WCSError.badRequest("multipart form has more than \(MultipartStreamParser.maxParts) parts")
                } catch {
                    throw WCSError.badMultipart
                }
                let pending = events
                events.removeAll(keepingCapacity: true)
                for event in pending {
                    switch event {
                    case .header(let name, let value):
                        part.headers.append((name, value))
                    case .body(let buffer):
                        part.resolveDisposition()
                        if part.isFile, part.isTheFile || (ingest == nil && !fileDone) {
                            if ingest == nil {
                                ingest = ObjectIngest(sink: try FileSink(creating: temporary, truncateTo: 0))
                                fileName = part.fileName
                                fileContentType = part.contentType
                                part.isTheFile = true
                            }
                            if verified == nil {
                                // Unauthenticated bytes: bounded per request and in total.
                                try preauth.take(buffer.readableBytes, heldSoFar: &preauthHeld)
                            }
                            let file = ingest!
                            // Enforce the token's limit while streaming when the token came first.
                            if let limit = verified?.policy.fsizeLimit, limit > 0, file.byteCount + Int64(buffer.readableBytes) > limit {
                                throw WCSError.tooLarge
                            }
                            buffer.withUnsafeReadableBytes { file.append($0) }
                            try await file.waitForRoom()
                            await activity?.bytesArrived()
                        } else if !part.isFile {
                            guard part.text.readableBytes + buffer.readableBytes <= Self.maxFieldSize else {
                                throw WCSError.badRequest("form field too large")
                            }
                            var copy = buffer
                            part.text.writeBuffer(&copy)
                        }
                    case .partEnd:
                        part.resolveDisposition()
                        if part.isFile {
                            if part.isTheFile {
                                fileDone = true
                            } else if ingest == nil, !fileDone {
                                // An empty file part: a zero-byte file.
                                ingest = ObjectIngest(sink: try FileSink(creating: temporary, truncateTo: 0))
                                fileName = part.fileName
                                fileContentType = part.contentType
                                fileDone = true
                            }
                        } else if let name = part.name {
                            // The Android client's extra text part named `file` is just a field.
                            fields[name] = String(buffer: part.text)
                            if name == "token", verified == nil {
                                let token = try tokens.verify(fields["token"])
                                activity = try await tokenUse.claim(token)
                                (verified, claimed) = (token, token)
                            }
                        }
                        part = Part()
                    }
                }
            }
            guard let file = ingest, fileDone else { throw WCSError.noFile }
            let verifiedToken: TokenCheck.Verified
            if let verified {
                verifiedToken = verified
            } else {
                verifiedToken = try tokens.verify(fields["token"])
                try await tokenUse.claim(verifiedToken)
                claimed = verifiedToken
            }
            let limit = verifiedToken.policy.fsizeLimit
            if limit > 0, file.byteCount > limit { throw WCSError.tooLarge }
            let written = try await file.finish()
            let (hash, size) = (written.hash!, written.size)
            // The Python SDK puts the percent-encoded key in the file name.
            let name = fileName.map { $0.removingPercentEncoding ?? $0 } ?? ""
            let variables = fields.filter { $0.key.hasPrefix("x:") }
            let mimeType = fields["mimeType"].flatMap { $0.isEmpty ? nil : $0 }
                ?? fileContentType.flatMap { $0 == "application/octet-stream" ? nil : $0 } ?? MimeType.forName(name)
            let values = completion.magicValues(.init(
                policy: verifiedToken.policy, key: "", hash: hash, size: size, fileName: name, mimeType: mimeType,
                uploaderIP: "", customVariables: variables
            ))
            let key = TokenCheck.objectKey(policy: verifiedToken.policy, requested: fields["key"], hash: hash, values: values)
            let store = self.store
            // Check and publish in one step: a key that holds bytes keeps them.
            let published = try await BlockingIO.run {
                try store.publishObject(temporary, key: key, replacing: verifiedToken.policy.overwrite != 0)
            }
            guard let published else { throw WCSError.fileExists }
            // Blocks the token began by slice upload will not be used now.
            try await BlockingIO.run { store.removeTokenBlocks(owner: verifiedToken.owner) }
            let stored = UploadCompletion.Stored(
                policy: verifiedToken.policy, key: key, hash: hash, size: size, fileName: name, mimeType: mimeType,
                uploaderIP: clientAddress.ip(of: request, peer: context.remoteAddress) ?? "", customVariables: variables,
                published: published
            )
            switch await completion.complete(stored, logger: context.logger) {
            case .callback(let status, let body):
                return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            case .callbackFailed(let reason):
                throw WCSError.callbackFailed(reason)
            case .returnBody(let encoded):
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: encoded)))
            case .redirect(let location):
                return Response(status: .seeOther, headers: [.location: location])
            }
        } catch {
            // No write lands after the file is removed.
            await ingest?.discard()
            FileOps.remove(temporary)
            throw error
        }
    }
}
