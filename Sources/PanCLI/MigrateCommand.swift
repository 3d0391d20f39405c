import ArgumentParser
import Foundation
import PanCore
import Logging
import PanPostgres
import PanSQLite

/// `pan migrate`: shows the schema status and applies what is pending.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Show schema status and apply pending migrations.")

    @OptionGroup var data: DataOptions
    @Flag(help: "Only show the status; apply nothing.") var status = false

    func run() async throws {
        let configuration = try data.configuration()
        if let url = configuration.databaseURL {
            try await migratePostgres(url: url)
            return
        }
        let status: SQLiteMaintenance.MigrationReport
        do {
            status = try SQLiteMaintenance.migrate(dataDirectory: configuration.dataDirectory, statusOnly: true)
        } catch let error as PanError { throw CLIError(error.message) }
        print("database: \(status.path)")
        print("schema version: \(status.current) (this pan knows up to \(status.latest))")
        for name in status.pending { print("pending: \(name)") }
        if self.status { return }
        let report = try SQLiteMaintenance.migrate(dataDirectory: configuration.dataDirectory, statusOnly: false)
        for name in report.applied { print("applied: \(name)") }
        print(report.applied.isEmpty ? "up to date" : "now at version \(report.versionAfter)")
    }

    /// Several servers may start (and migrate) at once: the engine migrates under an advisory lock.
    private func migratePostgres(url: String) async throws {
        var logger = Logger(label: "pan.migrate")
        logger.logLevel = .error
        let engine = try PostgresEngine(url: url, poolSize: 1, logger: logger)
        engine.startRunning()
        do {
            let status = try await engine.migrate(statusOnly: true)
            print("database: PostgreSQL (PAN_DATABASE_URL)")
            print("schema version: \(status.current) (this pan knows up to \(status.latest))")
            for name in status.pending { print("pending: \(name)") }
            if !self.status {
                let report = try await engine.migrate()
                for name in report.applied { print("applied: \(name)") }
                print(report.applied.isEmpty ? "up to date" : "now at version \(report.latest)")
            }
        } catch {
            await engine.close()
            throw CLIError("\(error)")
        }
        await engine.close()
    }
}
