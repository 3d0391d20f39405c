import WCS
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// Makes the upload callback the way WCS does (`wcs.md` §3): the substituted
/// `callbackBody` form-wrapped, POSTed to `callbackUrl`, signed with
/// `AK:urlsafe_b64(hex(HMAC-SHA1(SK, url + "\n" + urlsafe_b64(body))))`,
/// retried when the receiver fails or cannot be reached.
///
/// Bounded as a whole: every attempt together takes at most `budget`
/// (`PAN_CALLBACK_TIMEOUT`, 30 s), and a connection that cannot be made
/// fails its attempt within `connectTimeout` (5 s) — at once when refused.
/// With `HTTPClient.shared` (the pool retries a failed connect until the
/// request's deadline, 30 s an attempt) a server that could not reach its own
/// public URL held an upload 91 s before its `579`.
package struct CallbackClient: Sendable {
    let httpClient: HTTPClient
    let credentials: Credentials
    var attempts = 3
    /// The whole callback, every attempt and pause included.
    var budget: Duration = .seconds(30)

    package init(httpClient: HTTPClient, credentials: Credentials, attempts: Int = 3, budget: Duration = .seconds(30)) {
        self.httpClient = httpClient
        self.credentials = credentials
        self.attempts = attempts
        self.budget = budget
    }

    /// Each connection attempt's bound; a failed connect is not retried by the pool, but by `post`'s attempts.
    static let connectTimeout: TimeAmount = .seconds(5)

    /// The client of callbacks and of the public-URL check (`PublicURLCheck`): one per
    /// process, never shut down (like `HTTPClient.shared`, whose settings it keeps but the timeouts).
    package static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.timeout = .init(connect: connectTimeout, read: .seconds(30))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    struct Answer: Sendable {
        let status: Int
        let body: Data
    }

    /// Why no answer came: what the upload's `579` says.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func post(url: String, substitutedBody: String, logger: Logger) async -> Result<Answer, Failure> {
        let body = MagicVariables.wireBody(for: substitutedBody)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Authorization", value: CallbackSignature.authorization(url: url, body: body, credentials: credentials))
        request.headers.add(name: "User-Agent", value: "pan-local-wcs")
        request.body = .bytes(ByteBuffer(bytes: body))
        let started = ContinuousClock.now
        let deadline = started + budget
        var last = "no attempt"
        var made = 0
        for attempt in 1...attempts {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .milliseconds(50) else { break }
            made = attempt
            do {
                let timeout = TimeAmount.nanoseconds(Int64(remaining.components.seconds) * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000)
                let response = try await httpClient.execute(request, timeout: timeout)
                let bytes = try await response.body.collect(upTo: 1 << 20)
                let answer = Answer(status: Int(response.status.code), body: Data(buffer: bytes))
                // WCS retries only what failed on the receiver's side or in transit.
                if answer.status < 500 { return .success(answer) }
                last = "\(url) answered \(answer.status)"
                logger.warning("callback answered \(answer.status)", metadata: ["attempt": "\(attempt)", "url": "\(url)"])
            } catch {
                last = "\(url) unreachable: \(Self.describe(error))"
                logger.warning("callback failed", metadata: ["attempt": "\(attempt)", "url": "\(url)", "error": "\(error)"])
            }
            if attempt < attempts {
                let pause = Duration.milliseconds(200 * attempt * attempt)
                guard deadline - ContinuousClock.now > pause else { break }
                try? await Task.sleep(for: pause)
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return .failure(Failure(description: String(
            format: "%@ (%d attempt(s) in %.1f s; the callback URL is PAN_PUBLIC_URL's, which this server must reach)", last, made, seconds
        )))
    }

    /// A transport error in words an operator can act on.
    package static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connect timed out after \(connectTimeout.nanoseconds / 1_000_000_000) s"
            case .deadlineExceeded: return "no answer in time"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}
