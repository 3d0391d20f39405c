import PanHTTPSupport
import Synchronization

/// Bounds the file bytes the local endpoint accepts before it has seen a
/// form's token: the Java SDK sends the `file` part first, so some must be
/// taken on trust, but an unauthenticated client must not be able to fill
/// `storage/tmp` (security issue #14, finding 5).
package final class PreauthBudget: Sendable {
    /// Most bytes one request may stream before its token.
    let perRequest: Int
    /// Most such bytes in flight across all requests.
    let total: Int
    private let held = Atomic<Int>(0)

    package init(perRequest: Int, total: Int) {
        self.perRequest = perRequest
        self.total = total
    }

    /// Takes `count` more bytes for a request that holds `heldSoFar`, or throws.
    func take(_ count: Int, heldSoFar: inout Int) throws(WCSError) {
        guard heldSoFar + count <= perRequest else {
            throw WCSError(code: 413, message: "send the token before a file part larger than \(perRequest) bytes")
        }
        let now = held.add(count, ordering: .relaxed).newValue
        heldSoFar += count
        guard now <= total else {
            throw WCSError(code: 503, message: "too many uploads without a token in flight; send the token first")
        }
    }

    /// Gives back what a finished request held.
    func release(_ count: Int) {
        if count > 0 { held.subtract(count, ordering: .relaxed) }
    }
}
