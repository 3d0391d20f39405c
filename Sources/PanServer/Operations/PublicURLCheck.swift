import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PanCore
import PanLocalWCS
import ServiceLifecycle
import Synchronization

/// Can this server reach its own public URL? With Pan's own upload endpoint
/// every upload ends in a callback Pan sends itself through `PAN_PUBLIC_URL`
/// (the callback URL inside the token); a server that cannot reach it accepts
/// the bytes and answers `579` (issue #25 §6). So once the listener is up it
/// asks `GET <PAN_PUBLIC_URL>/healthz` (5 s each, the callbacks' client),
/// again and again with growing pauses (up to 5 s) until an HTTP answer below
/// 500 comes — any Pan behind the URL will do, and a 404 (the public port
/// without `/healthz` under `PAN_ADMIN_PORT`) proves the way as well as a 200.
/// Until then `/readyz` is 503 and names the URL; a warning is logged at the
/// first failure and every minute after. Once reached it is not asked again.
/// With real WCS (`PAN_UPLOAD_URL`) callbacks come from WCS, not from Pan:
/// nothing is checked.
public final class PublicURLCheck: Sendable {
    public enum State: Sendable, Equatable {
        case notChecked
        case reachable
        case unreachable(String)
        /// External WCS: Pan sends no callbacks.
        case notApplicable
    }

    let url: String
    private let state: Mutex<State>
    private let sent = Atomic<Int>(0)
    private let serverRunning: AsyncStream<Void>
    private let signalServerRunning: AsyncStream<Void>.Continuation

    init(_ configuration: PanConfiguration) {
        url = configuration.effectivePublicBaseURL + "/healthz"
        state = Mutex(configuration.usesLocalUploadEndpoint ? .notChecked : .notApplicable)
        (serverRunning, signalServerRunning) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var current: State { state.withLock { $0 } }
    /// Requests sent so far (each is a request the server counts and logs like any other).
    public var attempts: Int { sent.load(ordering: .relaxed) }

    /// The listener is up: the check may start (asked before, it would find nothing listening).
    func markServerRunning() {
        signalServerRunning.yield()
        signalServerRunning.finish()
    }

    /// What `/readyz` says: "ok", or why not.
    var readiness: (ready: Bool, report: String) {
        switch current {
        case .reachable: (true, "ok")
        case .notApplicable: (true, "not checked: callbacks come from WCS (PAN_UPLOAD_URL)")
        case .notChecked: (false, "not checked yet: \(url)")
        case .unreachable(let reason): (false, "unreachable from this server: \(reason) (uploads' callbacks go there)")
        }
    }

    /// One request; nil when it answered (below 500), else why not.
    func probe(client: HTTPClient, timeout: TimeAmount = .seconds(5)) async -> String? {
        sent.add(1, ordering: .relaxed)
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: "pan-public-url-check")
        do {
            let response = try await client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 << 10)
            let status = Int(response.status.code)
            return status < 500 ? nil : "GET \(url) answered \(status)"
        } catch {
            return "GET \(url): \(CallbackClient.describe(error))"
        }
    }

    /// Until reachable (or shutdown): probe, record, pause.
    func run(client: HTTPClient, logger: Logger) async {
        guard current == .notChecked else { return }
        for await _ in serverRunning {}
        var pause = Duration.milliseconds(250)
        var lastWarning: ContinuousClock.Instant?
        while !Task.isCancelled {
            guard let failure = await probe(client: client) else {
                state.withLock { $0 = .reachable }
                if lastWarning != nil { logger.info("public URL reachable", metadata: ["url": "\(url)"]) }
                return
            }
            state.withLock { $0 = .unreachable(failure) }
            if lastWarning.map({ ContinuousClock.now - $0 >= .seconds(60) }) ?? true {
                logger.warning(
                    "this server cannot reach its public URL: not ready, and uploads to its own endpoint would fail their callbacks (579)",
                    metadata: ["url": "\(url)", "error": "\(failure)"]
                )
                lastWarning = .now
            }
            do { try await Task.sleep(for: pause) } catch { return }
            pause = min(pause * 2, .seconds(5))
        }
    }
}

/// Runs `PublicURLCheck` in the application's service group until graceful shutdown.
struct PublicURLChecker: Service {
    let check: PublicURLCheck
    let client: HTTPClient
    let logger: Logger

    func run() async throws {
        let (check, client, logger) = (check, client, logger)
        try? await cancelWhenGracefulShutdown {
            await check.run(client: client, logger: logger)
            // Done (or nothing to do): stay until shutdown, a finished service would end the group.
            try? await gracefulShutdown()
        }
    }
}
