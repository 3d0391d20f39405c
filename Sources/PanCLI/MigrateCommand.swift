import ArgumentParser
import Foundation
import PanCore
import SQLiteKit

/// `pan migrate`: shows the schema status and applies what is pending.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Show schema status and apply pending migrations.")

    @OptionGroup var data: DataOptions
    @Flag(help: "Only show the status; apply nothing.") var status = false

    func run() async throws {
        let configuration = try data.configuration()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let connection = try Connection(path: PanDatabase.path(inDataDirectory: configuration.dataDirectory))
        let migrator = try PanDatabase.migrator()
        let before = try migrator.status(of: connection)
        print("database: \(connection.path)")
        print("schema version: \(before.current) (this pan knows up to \(before.latest))")
        if before.current > before.latest {
            throw CLIError(MigrationError.databaseNewerThanBinary(database: before.current, binary: before.latest).description)
        }
        for migration in before.pending { print("pending: \(migration.name)") }
        if status { return }
        let applied = try migrator.migrate(connection)
        for migration in applied { print("applied: \(migration.name)") }
        print(applied.isEmpty ? "up to date" : "now at version \(try connection.userVersion())")
    }
}
