import Metrics

/// Counters other parts of Pan report through swift-metrics; a backend
/// (Prometheus) is bootstrapped by whoever runs the server.
struct PanMetrics: Sendable {
    let tokensIssued = Counter(label: "pan_upload_tokens_issued_total")
    let instantUploads = Counter(label: "pan_instant_uploads_total")
    let callbacksAccepted = Counter(label: "pan_callbacks_total", dimensions: [("result", "accepted")])
    let callbacksReplayed = Counter(label: "pan_callbacks_total", dimensions: [("result", "replayed")])

    func callbackRejected(reason: String) {
        Counter(label: "pan_callbacks_rejected_total", dimensions: [("reason", reason)]).increment()
    }
}
