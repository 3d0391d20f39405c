import SQLCommon
import Synchronization

/// Every statement the PostgreSQL engine sends, with its arguments and the
/// database it went to, to an observer when one is set: how the tests check
/// that each per-user statement touches one partition (`EXPLAIN`) and count
/// the statements of a request, without a list that drifts.
package enum PostgresStatementLog {
    package typealias Observer = @Sendable (_ sql: String, _ arguments: [DatabaseValue]) -> Void
    /// By database name: tests running side by side each watch their own database.
    package static let observers = Mutex<[String: Observer]>([:])

    package static func observe(_ database: String, _ observer: Observer?) {
        observers.withLock { $0[database] = observer }
    }
}
