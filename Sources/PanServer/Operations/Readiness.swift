import PanCore
import PanHTTPSupport

/// `/readyz`: can this server do its job right now? The database must take a
/// write lock (not read-only, not locked out by another process, disk present)
/// and its schema must be the one this binary was built for; with the local
/// upload endpoint, the server must have reached its own public URL, where its
/// uploads' callbacks go (`PublicURLCheck`).
///
/// The database part is the last background check (`OperationsProbe`, every
/// `PAN_READY_INTERVAL` seconds, each answered within a second or failed),
/// and whether requests found the database unreachable since
/// (`PanStore.databaseProblem`), so a request costs no lock and never waits
/// on the database; the disk part is one `statvfs`, read live.
struct Readiness: Sendable {
    let probe: OperationsProbe
    let latestSchema: Int
    let storage: StorageFloor
    let publicURL: PublicURLCheck

    init(probe: OperationsProbe, storage: StorageFloor, publicURL: PublicURLCheck) {
        self.probe = probe
        self.storage = storage
        self.publicURL = publicURL
        self.latestSchema = probe.store.latestSchemaVersion
    }

    struct Report: Encodable, Sendable {
        var ready: Bool
        var database: String
        var schemaVersion: Int?
        var latestSchemaVersion: Int
        /// Seconds since the database check reported; nil before the first.
        var checkedSecondsAgo: Double?
        var disk: String = "ok"
        var freeBytes: Int64?
        var minimumFreeBytes: Int64 = 0
        /// "ok", or why the public URL is not known to be reachable.
        var publicURL: String = "ok"
    }

    func check() -> Report {
        var report = Report(ready: false, database: "ok", schemaVersion: nil, latestSchemaVersion: latestSchema)
        if let check = probe.lastCheck {
            let age = ContinuousClock.now - check.finished
            report.checkedSecondsAgo = Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18
            report.schemaVersion = check.schemaVersion
            if let failure = check.failure {
                report.database = failure
            } else if age > probe.staleAfter {
                report.database = "check overdue: the last one finished \(age.components.seconds) s ago"
            } else if check.schemaVersion != latestSchema {
                report.database = "schema \(check.schemaVersion ?? 0), expected \(latestSchema)"
            } else {
                report.ready = true
            }
        } else {
            report.database = "not checked yet"
        }
        // What the requests themselves found since (PostgreSQL: no connection
        // within PAN_DATABASE_WAIT, or connections lost): not ready until the
        // database answers again, however recent the last check.
        if let problem = probe.store.databaseProblem {
            report.ready = false
            report.database = problem
        }
        // A full disk takes the write lock fine and fails the first real write:
        // not ready below the floor uploads are refused at (issue #14 item 11).
        report.freeBytes = storage.freeBytes
        report.minimumFreeBytes = storage.minimumFreeBytes
        if !storage.hasRoom {
            report.ready = false
            report.disk = "below the free-space floor (PAN_MIN_FREE_BYTES)"
        }
        let (reachable, reason) = publicURL.readiness
        report.publicURL = reason
        if !reachable { report.ready = false }
        return report
    }
}
