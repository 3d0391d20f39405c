import PostgresNIO
import SQLCommon

/// A PostgreSQL error classified by its SQLSTATE, the way `SQLiteError` is by
/// its result code, so `PanError(storeError:)` maps both alike.
public struct PostgresFailure: DatabaseFailure, CustomStringConvertible {
    /// The five-character SQLSTATE, or nil for a client-side failure (connection lost…).
    public let sqlState: String?
    public let message: String
    public let sql: String?
    /// The connection itself failed or could not be had (refused, lost, the
    /// server shutting down or starting up, no connection within the lease
    /// wait), as opposed to a statement the server answered with an error:
    /// what `ConnectionHealth` counts against the database being reachable.
    public let isConnectionFailure: Bool

    init(_ error: any Error, sql: String?) {
        if let error = error as? PostgresFailure {
            self = error
            return
        }
        if let error = error as? PSQLError {
            let state = error.serverInfo?[.sqlState]
            sqlState = state
            message = error.serverInfo?[.message] ?? "\(error.code)"
            isConnectionFailure = if let state {
                Self.isConnectionState(state)
            } else {
                [.serverClosedConnection, .connectionError, .uncleanShutdown].contains(error.code)
            }
        } else {
            sqlState = nil
            message = "\(error)"
            isConnectionFailure = false
        }
        self.sql = sql
    }

    /// The database could not be reached in time (`PostgresEngine`'s lease wait).
    init(unavailable message: String) {
        sqlState = nil
        self.message = message
        sql = nil
        isConnectionFailure = true
    }

    /// Class 08 (connection exception), the server shutting down, crashed or
    /// starting up (57P01–57P03), too many connections (53300), and the
    /// connection refused at login (28: authorization, 3D000: no such database).
    static func isConnectionState(_ state: String) -> Bool {
        state.hasPrefix("08") || state.hasPrefix("28") || ["57P01", "57P02", "57P03", "53300", "3D000"].contains(state)
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
