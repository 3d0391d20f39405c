import PostgresNIO
import SQLCommon

/// A PostgreSQL error classified by its SQLSTATE, the way `SQLiteError` is by
/// its result code, so `PanError(storeError:)` maps both alike.
public struct PostgresFailure: DatabaseFailure, CustomStringConvertible {
    /// The five-character SQLSTATE, or nil for a client-side failure (connection lost…).
    public let sqlState: String?
    public let message: String
    public let sql: String?

    init(_ error: any Error, sql: String?) {
        if let error = error as? PostgresFailure {
            self = error
            return
        }
        if let error = error as? PSQLError {
            sqlState = error.serverInfo?[.sqlState]
            message = error.serverInfo?[.message] ?? "\(error.code)"
        } else {
            sqlState = nil
            message = "\(error)"
        }
        self.sql = sql
    }

    /// The database could not be reached in time (`PostgresEngine`'s lease wait).
    init(unavailable message: String) {
        sqlState = nil
        self.message = message
        sql = nil
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    /// Lock timeouts, a server shutting down or out of connections, or no server at all: try later.
    public var isBusy: Bool {
        guard let sqlState else { return true }
        return sqlState == "55P03" || sqlState == "57P01" || sqlState == "57P03" || sqlState == "53300" || sqlState.hasPrefix("08")
    }
    /// `disk_full` (53100) and `out_of_memory` (53200).
    public var isFull: Bool { sqlState == "53100" }
    /// `serialization_failure` and `deadlock_detected`: run the transaction again.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }

    public var description: String {
        var text = "PostgreSQL error \(sqlState ?? "(client)"): \(message)"
        if let sql { text += " — while executing `\(sql)`" }
        return text
    }
}
