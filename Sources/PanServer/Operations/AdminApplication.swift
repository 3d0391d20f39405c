import Hummingbird
import Logging
import PanHTTPSupport
import ServiceLifecycle

/// With `PAN_ADMIN_PORT`, health, readiness and metrics live on their own
/// listener (same host), which a firewall or the nginx site can keep private;
/// there they are open to whoever reaches the port.
/// Runs as one of the main Application's services, so it starts and stops with it.
func buildAdminApplication(
    _ services: PanServices, metrics: ServerMetrics, probe: OperationsProbe, logger: Logger
) throws -> (any Service)? {
    let configuration = services.configuration
    guard let port = configuration.adminPort else { return nil }
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    try addOperationsRoutes(to: router, services: services, metrics: metrics, probe: probe, access: nil)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: port), serverName: "pan-admin"),
        logger: logger
    )
}
