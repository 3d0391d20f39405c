import SQLCommon
import Synchronization

/// Every statement the PostgreSQL engine sends, with its arguments, to an
/// observer when one is set: how the tests check that each per-user
/// statement touches one partition (`EXPLAIN`), without a list that drifts.
package enum PostgresStatementLog {
    package typealias Observer = @Sendable (_ sql: String, _ arguments: [DatabaseValue]) -> Void
    package static let observer = Mutex<Observer?>(nil)
}
