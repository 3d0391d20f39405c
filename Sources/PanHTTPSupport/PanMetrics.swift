import Metrics
import PanCore

/// Pan's domain counters. They report through a factory owned by one server
/// (`ServerMetrics`), not the process-wide `MetricsSystem`, so each server's
/// `/metrics` shows exactly its own counts — tests run many servers in one process.
package struct PanMetrics: Sendable {
    package let tokensIssued: Counter
    /// By kind (`own`, `proof`, `global`): who got content without sending it (issue #24).
    private let instantUploads: [InstantKind: Counter]
    /// Token replies that carried a possession challenge.
    package let challengesIssued: Counter
    /// Proofs refused: a wrong answer, or a nonce unknown, used, expired or for another file.
    package let failedProofs: Counter
    package let callbacksAccepted: Counter
    package let callbacksReplayed: Counter
    /// What `PAN_BIN_RETENTION`'s sweep deleted for good: items of the bin, and their nodes.
    package let binItemsExpired: Counter
    package let binNodesExpired: Counter
    /// Share links (issue #27): successful opens, counted downloads, wrong passwords, throttled attempts.
    package let shareOpens: Counter
    package let shareDownloads: Counter
    package let sharePasswordRefusals: Counter
    package let shareThrottled: Counter
    private let factory: any MetricsFactory

    package init(factory: any MetricsFactory) {
        self.factory = factory
        tokensIssued = Counter(label: "pan_upload_tokens_issued_total", factory: factory)
        instantUploads = Dictionary(uniqueKeysWithValues: InstantKind.allCases.map {
            ($0, Counter(label: "pan_instant_uploads_total", dimensions: [("kind", $0.rawValue)], factory: factory))
        })
        challengesIssued = Counter(label: "pan_possession_challenges_total", factory: factory)
        failedProofs = Counter(label: "pan_possession_proofs_failed_total", factory: factory)
        callbacksAccepted = Counter(label: "pan_callbacks_total", dimensions: [("result", "accepted")], factory: factory)
        callbacksReplayed = Counter(label: "pan_callbacks_total", dimensions: [("result", "replayed")], factory: factory)
        binItemsExpired = Counter(label: "pan_bin_expired_items_total", factory: factory)
        binNodesExpired = Counter(label: "pan_bin_expired_nodes_total", factory: factory)
        shareOpens = Counter(label: "pan_share_opens_total", factory: factory)
        shareDownloads = Counter(label: "pan_share_downloads_total", factory: factory)
        sharePasswordRefusals = Counter(label: "pan_share_password_refusals_total", factory: factory)
        shareThrottled = Counter(label: "pan_share_throttled_total", factory: factory)
    }

    package func instantUpload(_ kind: InstantKind) { instantUploads[kind]?.increment() }

    /// `reason` is a stable PanError code, so the label set stays small.
    package func callbackRejected(reason: String) {
        Counter(label: "pan_callbacks_rejected_total", dimensions: [("reason", reason)], factory: factory).increment()
    }
}
