import Foundation
import Metrics
import PanHTTPSupport
import Prometheus
import PanCore

/// One Prometheus registry per server. `MetricsSystem.bootstrap` may run only
/// once per process, and a process-wide registry would mix the counts of every
/// server a test process starts; a registry per server keeps `/metrics` exact.
public final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory over `registry`, for `Counter(…, factory:)` and friends.
    public let factory: PrometheusMetricsFactory
    let pan: PanMetrics
    let requests: RequestMetrics
    // Computed from the database in the background (`OperationsProbe`, every
    // PAN_METRICS_INTERVAL): recounted, never drift, and a scrape costs no query.
    private let pendingSessions: Metrics.Gauge
    private let storedBytes: Metrics.Gauge
    private let storedObjects: Metrics.Gauge
    /// When those were last recounted (Unix seconds).
    private let statisticsTimestamp: Metrics.Gauge
    // Read from the filesystem at scrape time.
    private let freeBytes: Metrics.Gauge
    private let minimumFreeBytes: Metrics.Gauge

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Request latency: API calls are milliseconds; uploads and synchronous callbacks can take minutes.
        factory.durationHistogramBuckets[RequestMetrics.durationLabel] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(10), .seconds(30), .seconds(120),
        ]
        self.registry = registry
        self.factory = factory
        self.pan = PanMetrics(factory: factory)
        self.requests = RequestMetrics(factory: factory)
        self.pendingSessions = Metrics.Gauge(label: "pan_upload_sessions_pending", factory: factory)
        self.storedBytes = Metrics.Gauge(label: "pan_stored_bytes", factory: factory)
        self.storedObjects = Metrics.Gauge(label: "pan_stored_objects", factory: factory)
        self.statisticsTimestamp = Metrics.Gauge(label: "pan_database_gauges_timestamp_seconds", factory: factory)
        self.freeBytes = Metrics.Gauge(label: "pan_data_free_bytes", factory: factory)
        self.minimumFreeBytes = Metrics.Gauge(label: "pan_data_min_free_bytes", factory: factory)
    }

    /// The database gauges, from a background recount.
    func record(_ stats: DatabaseStats) {
        pendingSessions.record(stats.sessions["pending"] ?? 0)
        storedBytes.record(stats.storedBytes)
        storedObjects.record(stats.objects)
        statisticsTimestamp.record(Date().timeIntervalSince1970)
    }

    /// The Prometheus text exposition: the last recorded database gauges, and
    /// free space read now (one `statvfs`).
    func scrape(storage: StorageFloor) -> String {
        if let free = storage.freeBytes { freeBytes.record(free) }
        minimumFreeBytes.record(storage.minimumFreeBytes)
        return registry.emitToString()
    }
}
