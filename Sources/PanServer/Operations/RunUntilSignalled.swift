import PanCore
import Logging
import ServiceLifecycle

/// `app.runService()` with a bound on draining. SIGTERM/SIGINT stop the
/// listener and let in-flight requests finish; after `shutdownTimeout` they
/// are cancelled (an upload whose self-callback can no longer connect would
/// otherwise hold the process for its callback retries). The WAL checkpoint
/// (`ShutdownCheckpoint`) runs in both cases.
public func runUntilSignalled(_ app: PanApplication, configuration: PanConfiguration, logger: Logger) async throws {
    var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    group.maximumGracefulShutdownDuration = .milliseconds(Int64(configuration.shutdownTimeout * 1000))
    group.maximumCancellationDuration = .seconds(10)
    try await ServiceGroup(configuration: group).run()
}
