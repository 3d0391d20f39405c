import ArgumentParser
import Foundation
import PanCore
import PanSQLite

/// `pan backup DEST`: a consistent copy of the database while the server runs.
///
/// `VACUUM INTO` reads one snapshot (WAL readers never block the server's
/// writer, nor it them) into a scratch file beside DEST; the copy is opened and
/// `PRAGMA integrity_check`ed; only then is it linked to DEST — `link(2)` fails
/// if DEST exists, so an existing file is never overwritten, and DEST never
/// names a half-written copy. Backups are created 0600 (they hold every
/// password hash and the whole tree). The local object store (`DATA/storage/objects`) holds
/// write-once files: copy them with rsync; the database is what must be consistent.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the database consistently (safe while serving), verify the copy; never overwrites."
    )

    @OptionGroup var data: DataOptions
    @Argument(help: "Where to write the copy (must not exist).") var destination: String

    func run() async throws {
        // A backup holds every password hash and the whole tree: only its owner may read it.
        // Every file this command makes (the scratch copy, pg_dump's file) is created 0600.
        umask(0o077)
        let configuration = try data.configuration()
        if let url = configuration.databaseURL {
            try dumpPostgres(url: url)
            return
        }
        let source = PanDatabase.path(inDataDirectory: configuration.dataDirectory)
        guard FileManager.default.fileExists(atPath: source) else { throw CLIError("no database at \(source)") }
        let destination = (self.destination as NSString).standardizingPath
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw CLIError("\(destination) already exists; refusing to overwrite it")
        }
        let scratch = destination + ".partial-\(getpid())"
        defer { unlink(scratch) }
        let dataDirectory = configuration.dataDirectory
        // Read-only: a backup never migrates, checkpoints or otherwise writes the live database.
        let sourceVersion = try await BlockingIO.run { try SQLiteMaintenance.snapshot(dataDirectory: dataDirectory, into: scratch) }
        let check = try await BlockingIO.run { try SQLiteMaintenance.verify(scratch) }
        guard check.problems.isEmpty else {
            throw CLIError("integrity_check of the copy failed; nothing written to \(destination):\n" + check.problems.joined(separator: "\n"))
        }
        guard check.version == sourceVersion else {
            throw CLIError("the copy has schema \(check.version), the database \(sourceVersion); nothing written")
        }
        // Whatever SQLite created it with: 0600 before it gets its name.
        guard chmod(scratch, 0o600) == 0 else {
            throw CLIError("cannot make the copy private: \(String(cString: strerror(errno)))")
        }
        guard link(scratch, destination) == 0 else {
            throw CLIError("cannot create \(destination): \(String(cString: strerror(errno)))")
        }
        let size = FileOps.size(of: destination) ?? 0
        print("integrity_check: ok")
        print("backup written: \(destination) (\(ByteCount.format(size)), schema version \(check.version))")
    }

    /// PostgreSQL has its own consistent dump: `pg_dump` in its custom format
    /// (one snapshot, safe while servers run; restore with `pg_restore`).
    private func dumpPostgres(url: String) throws {
        let destination = (self.destination as NSString).standardizingPath
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw CLIError("\(destination) already exists; refusing to overwrite it")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pg_dump", "--format=custom", "--file=\(destination)", "--dbname=\(url)"]
        do { try process.run() } catch {
            throw CLIError("with PAN_DATABASE_URL, back up with PostgreSQL's pg_dump (apt-get install postgresql-client): \(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError("pg_dump failed (exit \(process.terminationStatus)); use pg_dump --format=custom directly")
        }
        // pg_dump created it under the umask above (0600); said again in case it was made otherwise.
        chmod(destination, 0o600)
        print("backup: pg_dump of the PostgreSQL database → \(destination) (restore with pg_restore)")
    }
}
