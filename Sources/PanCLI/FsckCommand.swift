import ArgumentParser
import Foundation
import PanCore

/// `pan fsck [--repair]`: checks every invariant; repairs what is derivable.
struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck", abstract: "Check trees, objects and sessions; --repair fixes what can be derived. Exit 1 on findings."
    )

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Fix paths, pathIds, intervals, reference counts and spaceUsed.") var repair = false

    func run() async throws {
        let report = try await data.openStore().fsck(repair: repair)
        for change in report.repairs { print("repaired: \(change)") }
        let findings = report.findings
        if output.json {
            print(try JSONOutput.string(findings))
        } else {
            for finding in findings { print(finding) }
            print(findings.isEmpty ? "clean" : "\(findings.count) problem(s)")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}
