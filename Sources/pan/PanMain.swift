import ArgumentParser
import PanCLI

/// The executable's entry point: the `pan` command tree lives in PanCLI.
@main
struct PanMain: AsyncParsableCommand {
    static let configuration = PanCommand.configuration
}
