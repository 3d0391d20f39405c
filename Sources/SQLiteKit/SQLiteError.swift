import CSQLite
import SQLCommon

/// An error reported by SQLite, with its extended result code and message.
///
/// Modeled on GRDB's `DatabaseError`: callers switch on the primary code
/// (`isConstraintViolation`, `isBusy`) and keep the extended code for logs.
public struct SQLiteError: DatabaseFailure, CustomStringConvertible, Sendable {
    /// The extended result code (e.g. `SQLITE_CONSTRAINT_UNIQUE` = 2067).
    public let extendedCode: Int32
    public let message: String
    public let sql: String?

    public init(extendedCode: Int32, message: String, sql: String? = nil) {
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    /// The primary result code (low byte of the extended one).
    public var primaryCode: Int32 { extendedCode & 0xFF }

    // Extended codes are C macros Swift does not import: (primary | n << 8).
    public static let constraintUnique: Int32 = 19 | (8 << 8)
    public static let constraintPrimaryKey: Int32 = 19 | (6 << 8)
    public static let constraintForeignKey: Int32 = 19 | (3 << 8)

    public var isConstraintViolation: Bool { primaryCode == SQLITE_CONSTRAINT }
    public var isUniqueViolation: Bool {
        extendedCode == Self.constraintUnique || extendedCode == Self.constraintPrimaryKey
    }
    public var isForeignKeyViolation: Bool { extendedCode == Self.constraintForeignKey }
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    /// "database or disk is full": the disk (or `max_page_count`) ran out.
    public var isFull: Bool { primaryCode == SQLITE_FULL }
    /// One writer, IMMEDIATE transactions: SQLite never asks for a rerun.
    public var isRetryable: Bool { false }

    public var description: String {
        var text = "SQLite error \(extendedCode): \(message)"
        if let sql { text += " — while executing `\(sql)`" }
        return text
    }
}
