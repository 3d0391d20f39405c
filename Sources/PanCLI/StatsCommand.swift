import ArgumentParser
import Foundation
import PanCore

/// `pan stats`: what the database holds, read in one snapshot.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Users, nodes, stored objects and bytes, upload sessions by state."
    )

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let stats = try await data.openStore().stats()
        if output.json { print(try JSONOutput.string(stats)); return }
        var rows: [[String]] = [
            ["users", "\(stats.users) (\(stats.disabledUsers) disabled)"],
            ["files", "\(stats.files)"],
            ["directories", "\(stats.directories)"],
            ["recycled nodes", "\(stats.recycledNodes)"],
            ["stored objects", "\(stats.objects)"],
            ["stored bytes", "\(stats.storedBytes) (\(ByteCount.format(stats.storedBytes)))"],
        ]
        for state in DatabaseStats.sessionStates { rows.append(["sessions \(state)", "\(stats.sessions[state] ?? 0)"]) }
        rows.append(["schema version", "\(stats.schemaVersion)"])
        print(Table.render(["WHAT", "COUNT"], rows))
    }
}
