import Foundation
import PanCore
import SQLiteKit

/// The embedded database's offline operations for `pan migrate` and
/// `pan backup`: they work on the file itself, not through a running store.
public enum SQLiteMaintenance {
    /// Shows (and unless `statusOnly`, applies) the pending migrations.
    public static func migrate(dataDirectory: String, statusOnly: Bool) throws -> MigrationReport {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let connection = try Connection(path: PanDatabase.path(inDataDirectory: dataDirectory))
        let runner = try PanDatabase.migrationRunner()
        return statusOnly ? try runner.status(of: connection) : try runner.migrate(connection)
    }

    /// `VACUUM INTO` a scratch file from one read-only snapshot (never
    /// migrating, checkpointing or writing the live database); returns the
    /// source's schema version.
    public static func snapshot(dataDirectory: String, into scratch: String) throws -> Int {
        let connection = try Connection(path: PanDatabase.path(inDataDirectory: dataDirectory), readOnly: true)
        try connection.run("VACUUM INTO ?", scratch)
        return try connection.userVersion()
    }

    /// `integrity_check`'s complaints (empty when it says `ok`) and the copy's schema version.
    public static func verify(_ path: String) throws -> (problems: [String], version: Int) {
        let connection = try Connection(path: path, readOnly: true)
        let lines = try connection.query("PRAGMA integrity_check").map { try $0.string("integrity_check") }
        return (lines == ["ok"] ? [] : lines, try connection.userVersion())
    }
}
