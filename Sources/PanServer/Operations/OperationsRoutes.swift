import Crypto
import Foundation
import Hummingbird
import NIOCore
import PanCore
import PanHTTPSupport

/// `/healthz` (the process answers), `/readyz` (it can serve: database
/// writable, schema current, disk above the floor, public URL reached) and `/metrics` (Prometheus
/// text format). On the admin listener when `PAN_ADMIN_PORT` is set; otherwise
/// on the public one, where `/readyz` and `/metrics` are for the operator only
/// (`OperationsAccess`). None of them touches the database: what they report
/// of it is measured in the background (`OperationsProbe`).
func addOperationsRoutes(
    to router: Router<AppRequestContext>, services: PanServices, metrics: ServerMetrics, probe: OperationsProbe,
    access: OperationsAccess?
) throws {
    let readiness = Readiness(probe: probe, storage: services.storageFloor, publicURL: services.publicURLCheck)
    let storage = services.storageFloor
    router.get("/healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
    router.get("/readyz") { request, context in
        try access?.check(request, context: context)
        let report = readiness.check()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(report)) ?? Data("{\"ready\":false}".utf8)
        return Response(
            status: report.ready ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body + Data("\n".utf8)))
        )
    }
    router.get("/metrics") { request, context in
        try access?.check(request, context: context)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.scrape(storage: storage)))
        )
    }
}

/// Who may read `/readyz` and `/metrics` on the public port (no
/// `PAN_ADMIN_PORT`): what a scraper or load balancer on the server's own
/// machine or network path sees, not the internet. Allowed: a client whose
/// address (after `PAN_TRUSTED_PROXIES`' `X-Forwarded-For`) is loopback or a
/// trusted proxy itself — nginx on the same host, a load balancer's health
/// check — or any client with `Authorization: Bearer PAN_METRICS_TOKEN`.
/// Everyone else: `403 OPERATIONS_FORBIDDEN`. `/healthz` stays open: it
/// reveals nothing and costs nothing.
struct OperationsAccess: Sendable {
    /// SHA-256 of the token: compared in constant time, whatever its length.
    private let tokenDigest: SHA256.Digest?
    private let clientAddress: ClientAddress
    private let allowed: IPMatcher

    init(token: String?, trustedProxies: [String]) {
        tokenDigest = token.map { SHA256.hash(data: Data($0.utf8)) }
        clientAddress = ClientAddress(trustedProxies: IPMatcher(trustedProxies))
        allowed = IPMatcher(["127.0.0.0/8", "::1"] + trustedProxies)
    }

    func check(_ request: Request, context: AppRequestContext) throws(PanError) {
        if let tokenDigest, let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            // `==` on digests is constant-time (swift-crypto).
            if SHA256.hash(data: Data(header.dropFirst(7).utf8)) == tokenDigest { return }
        }
        if let ip = clientAddress.ip(of: request, peer: context.remoteAddress), allowed.matches(ip) { return }
        throw .operationsForbidden
    }
}
