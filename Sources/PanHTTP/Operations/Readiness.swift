import PanCore

/// `/readyz`: can this server do its job right now? The database must take a
/// write lock (not read-only, not locked out by another process, disk present)
/// and its schema must be the one this binary was built for.
struct Readiness: Sendable {
    let store: any PanStore
    let latestSchema: Int
    let storage: StorageFloor

    init(store: any PanStore, storage: StorageFloor) {
        self.store = store
        self.storage = storage
        self.latestSchema = store.latestSchemaVersion
    }

    struct Report: Encodable, Sendable {
        var ready: Bool
        var database: String
        var schemaVersion: Int?
        var latestSchemaVersion: Int
        var disk: String = "ok"
        var freeBytes: Int64?
        var minimumFreeBytes: Int64 = 0
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
        // A full disk takes the write lock fine and fails the first real write:
        // not ready below the floor uploads are refused at (issue #14 item 11).
        report.freeBytes = storage.freeBytes
        report.minimumFreeBytes = storage.minimumFreeBytes
        if !storage.hasRoom {
            report.ready = false
            report.disk = "below the free-space floor (PAN_MIN_FREE_BYTES)"
        }
        return report
    }
}
