import Foundation
import PackagePlugin

/// Embeds the top-level `migrations/*.sql` files in the binary, so a `pan`
/// copied anywhere still knows how to migrate its database.
///
/// Every file of the folder goes to the embedder (hidden files and
/// subfolders aside), not only `*.sql`: a misnamed file (`12_x.sql`,
/// `0012-x.txt`) or two files with one number fail the build there, rather
/// than being left out of the binary unnoticed. (SwiftPM asks the plugin
/// for its commands when it plans a build — a fresh build, a changed
/// manifest — not on every incremental one; a file added since is caught by
/// `SchemaMigrationTests`' "every file … is embedded".)
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        // SQLite's migrations are the top-level ones; each other engine's are in a folder of its own.
        let folder = target.name == "PanPostgres"
            ? context.package.directoryURL.appending(path: "migrations/postgres")
            : context.package.directoryURL.appending(path: "migrations")
        let files = try FileManager.default
            .contentsOfDirectory(at: folder, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles])
            .filter { try $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory != true }
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
