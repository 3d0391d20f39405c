import Foundation
import PackagePlugin

/// Embeds the top-level `web/` folder (the web app's HTML, CSS and JavaScript)
/// in the binary, the way `EmbedMigrations` embeds `migrations/`: a `pan`
/// copied anywhere still serves its web app.
@main
struct EmbedWebApp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "web")
        var files: [URL] = []
        if let walker = FileManager.default.enumerator(
            at: folder, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]
        ) {
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                files.append(url)
            }
        }
        files.sort { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedWebApp.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) web app files",
                executable: try context.tool(named: "WebAppEmbedder").url,
                // The folder first, so the tool can name each file relative to it.
                arguments: [output.path, folder.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            ),
        ]
    }
}
