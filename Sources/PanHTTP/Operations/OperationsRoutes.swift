import Foundation
import Hummingbird
import NIOCore

/// `/healthz` (the process answers), `/readyz` (it can serve: database
/// writable, schema current) and `/metrics` (Prometheus text format).
/// Served on the main listener, or only on the admin one when `PAN_ADMIN_PORT` is set.
func addOperationsRoutes(to router: Router<AppRequestContext>, services: PanServices, metrics: ServerMetrics) throws {
    let readiness = Readiness(store: services.store, storage: services.storageFloor)
    let storage = services.storageFloor
    let store = services.store
    router.get("/healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
    router.get("/readyz") { _, _ in
        let report = await readiness.check()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(report)) ?? Data("{\"ready\":false}".utf8)
        return Response(
            status: report.ready ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body + Data("\n".utf8)))
        )
    }
    router.get("/metrics") { _, _ in
        let text = try await metrics.scrape(store: store, storage: storage)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}
