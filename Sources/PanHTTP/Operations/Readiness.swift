import PanCore

/// `/readyz`: can this server do its job right now? The database must take a
/// write lock (not read-only, not locked out by another process, disk present)
/// and its schema must be the one this binary was built for.
struct Readiness: Sendable {
    let store: any PanStore
    let latestSchema: Int

    init(store: any PanStore) {
        self.store = store
        self.latestSchema = store.latestSchemaVersion
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
            report.schemaVersion = try await store.checkWritable()
        } catch {
            report.database = "not writable: \(error)"
            return report
        }
        report.ready = report.schemaVersion == latestSchema
        if !report.ready { report.database = "schema \(report.schemaVersion ?? 0), expected \(latestSchema)" }
        return report
    }
}
