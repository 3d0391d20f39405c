import ArgumentParser
import Foundation
import Logging
import PanCore
import PanPostgres
import PanSQLite
import SQLCommon

/// `pan migrate`: shows the schema status and applies what is pending.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Show schema status and apply pending migrations.")

    @OptionGroup var data: DataOptions
    @Flag(help: "Only show the status; apply nothing.") var status = false

    func run() async throws {
        let configuration = try data.configuration()
        guard let url = configuration.databaseURL else {
            let directory = configuration.dataDirectory
            try await report(database: PanDatabase.path(inDataDirectory: directory)) { statusOnly in
                try SQLiteMaintenance.migrate(dataDirectory: directory, statusOnly: statusOnly)
            }
            return
        }
        // Several servers may start (and migrate) at once: the engine migrates under an advisory lock.
        var logger = Logger(label: "pan.migrate")
        logger.logLevel = .error
        let engine = try PostgresEngine(url: url, poolSize: 1, logger: logger)
        engine.startRunning()
        do {
            try await report(database: "PostgreSQL (PAN_DATABASE_URL)") { statusOnly in try await engine.migrate(statusOnly: statusOnly) }
        } catch {
            await engine.close()
            throw error
        }
        await engine.close()
    }

    /// The same lines for either engine: where, the version, what is pending, then what was applied.
    private func report(database: String, _ migrate: (_ statusOnly: Bool) async throws -> MigrationReport) async throws {
        do {
            let status = try await migrate(true)
            print("database: \(database)")
            print("schema version: \(status.current) (this pan knows up to \(status.latest))")
            for migration in status.pending { print("pending: \(migration.name)") }
            if self.status { return }
            let report = try await migrate(false)
            for migration in report.applied { print("applied: \(migration.name)") }
            print(report.applied.isEmpty ? "up to date" : "now at version \(report.versionAfter)")
        } catch let error as PanError {
            throw CLIError(error.message)
        } catch {
            throw CLIError("\(error)")
        }
    }
}
