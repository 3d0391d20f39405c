import SQLCommon
import Synchronization

/// Every statement the PostgreSQL engine sends, with its arguments and the
/// database it went to, to an observer when one is set: how the tests check
/// that each per-user statement touches one partition (`EXPLAIN`) and count
/// the statements of a request, without a list that drifts.
package enum PostgresStatementLog {
    package typealias Observer = @Sendable (_ database: String, _ sql: String, _ arguments: [DatabaseValue]) -> Void
    package static let observer = Mutex<Observer?>(nil)
}
