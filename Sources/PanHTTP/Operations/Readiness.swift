import PanCore
import SQLiteKit

/// `/readyz`: can this server do its job right now? The database must take a
/// write lock (not read-only, not locked out by another process, disk present)
/// and its schema must be the one this binary was built for.
struct Readiness: Sendable {
    let database: DatabasePool
    let latestSchema: Int

    init(database: DatabasePool) throws {
        self.database = database
        self.latestSchema = try PanDatabase.migrator().latestVersion
    }

    struct Report: Encodable, Sendable {
        var ready: Bool
        var database: String
        var schemaVersion: Int?
        var latestSchemaVersion: Int
    }

    func check() async -> Report {
        var report = Report(ready: false, database: "ok", schemaVersion: nil, latestSchemaVersion: latestSchema)
        do {
            // BEGIN IMMEDIATE is the write lock itself; the SELECT keeps it a no-op.
            report.schemaVersion = try await database.write { db in
                _ = try db.scalar("SELECT 1")
                return try db.userVersion()
            }
        } catch {
            report.database = "not writable: \(error)"
            return report
        }
        report.ready = report.schemaVersion == latestSchema
        if !report.ready { report.database = "schema \(report.schemaVersion ?? 0), expected \(latestSchema)" }
        return report
    }
}
