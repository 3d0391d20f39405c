import ArgumentParser
import Foundation
import PanCore
import SQLiteKit

/// `pan fsck [--repair]`: checks every invariant; repairs what is derivable.
struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck", abstract: "Check trees, objects and sessions; --repair fixes what can be derived. Exit 1 on findings."
    )

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Fix paths, pathIds, intervals, reference counts and spaceUsed.") var repair = false

    func run() async throws {
        let database = try data.openDatabase()
        if repair {
            let changes = try await database.write { db in try TreeChecker.repair(on: db) }
            for change in changes { print("repaired: \(change)") }
        }
        let findings = try await database.read { db in try TreeChecker.check(on: db) }
        if output.json {
            print(try JSONOutput.string(findings))
        } else {
            for finding in findings { print(finding) }
            print(findings.isEmpty ? "clean" : "\(findings.count) problem(s)")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}
