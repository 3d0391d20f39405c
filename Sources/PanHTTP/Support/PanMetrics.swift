import Metrics

/// Pan's domain counters. They report through a factory owned by one server
/// (`ServerMetrics`), not the process-wide `MetricsSystem`, so each server's
/// `/metrics` shows exactly its own counts — tests run many servers in one process.
struct PanMetrics: Sendable {
    let tokensIssued: Counter
    let instantUploads: Counter
    let callbacksAccepted: Counter
    let callbacksReplayed: Counter
    private let factory: any MetricsFactory

    init(factory: any MetricsFactory) {
        self.factory = factory
        tokensIssued = Counter(label: "pan_upload_tokens_issued_total", factory: factory)
        instantUploads = Counter(label: "pan_instant_uploads_total", factory: factory)
        callbacksAccepted = Counter(label: "pan_callbacks_total", dimensions: [("result", "accepted")], factory: factory)
        callbacksReplayed = Counter(label: "pan_callbacks_total", dimensions: [("result", "replayed")], factory: factory)
    }

    /// `reason` is a stable PanError code, so the label set stays small.
    func callbackRejected(reason: String) {
        Counter(label: "pan_callbacks_rejected_total", dimensions: [("reason", reason)], factory: factory).increment()
    }
}
