import ArgumentParser
import Foundation

/// `pan` — one root command; `serve` when no subcommand is given.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct PanCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pan",
        abstract: "Pan: the metadata server of a cloud drive whose bytes live in Wangsu Cloud Storage.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, UserCommand.self, SessionCommand.self, StoreCommand.self, FileCommand.self, FsckCommand.self, HashCommand.self,
            ShareCommand.self, BackupCommand.self, StatsCommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )

    public init() {}
}
