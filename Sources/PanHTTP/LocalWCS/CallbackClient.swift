import WCS
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// Makes the upload callback the way WCS does (`wcs.md` §3): the substituted
/// `callbackBody` form-wrapped, POSTed to `callbackUrl`, signed with
/// `AK:urlsafe_b64(hex(HMAC-SHA1(SK, url + "\n" + urlsafe_b64(body))))`,
/// retried when the receiver fails or cannot be reached.
struct CallbackClient: Sendable {
    let httpClient: HTTPClient
    let credentials: Credentials
    var attempts = 3
    var timeout: TimeAmount = .seconds(30)

    struct Answer: Sendable {
        let status: Int
        let body: Data
    }

    func post(url: String, substitutedBody: String, logger: Logger) async -> Answer? {
        let body = MagicVariables.wireBody(for: substitutedBody)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Authorization", value: CallbackSignature.authorization(url: url, body: body, credentials: credentials))
        request.headers.add(name: "User-Agent", value: "pan-local-wcs")
        request.body = .bytes(ByteBuffer(bytes: body))
        for attempt in 1...attempts {
            do {
                let response = try await httpClient.execute(request, timeout: timeout)
                let bytes = try await response.body.collect(upTo: 1 << 20)
                let answer = Answer(status: Int(response.status.code), body: Data(buffer: bytes))
                // WCS retries only what failed on the receiver's side or in transit.
                if answer.status < 500 { return answer }
                logger.warning("callback answered \(answer.status)", metadata: ["attempt": "\(attempt)", "url": "\(url)"])
            } catch {
                logger.warning("callback failed", metadata: ["attempt": "\(attempt)", "url": "\(url)", "error": "\(error)"])
            }
            if attempt < attempts { try? await Task.sleep(for: .milliseconds(200 * attempt * attempt)) }
        }
        return nil
    }
}
