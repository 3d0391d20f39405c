import Foundation
import PackagePlugin

/// Embeds the top-level `migrations/*.sql` files in the binary, so a `pan`
/// copied anywhere still knows how to migrate its database.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        // SQLite's migrations are the top-level ones; each other engine's are in a folder of its own.
        let folder = target.name == "PanPostgres"
            ? context.package.directoryURL.appending(path: "migrations/postgres")
            : context.package.directoryURL.appending(path: "migrations")
        let files = try FileManager.default
            .contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations",
                executable: try context.tool(named: "MigrationEmbedder").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            ),
        ]
    }
}
