import ArgumentParser
import Foundation
import PanCore

/// `pan fsck [--repair]`: checks every invariant; repairs what is derivable.
/// With Pan's own upload endpoint it also checks that the data directory's
/// storage is the deployment's (its marker), and that every recorded object
/// has its bytes there (a stat each; `pan store verify` re-hashes them).
struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck", abstract: "Check trees, objects and sessions; --repair fixes what can be derived. Exit 1 on findings."
    )

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: "Fix paths, pathIds, intervals, reference counts and spaceUsed.") var repair = false

    func run() async throws {
        let panStore = try await data.openStore()
        let report = try await panStore.fsck(repair: repair)
        for change in report.repairs { print("repaired: \(change)") }
        var findings = report.findings
        let configuration = try data.configuration()
        if configuration.usesLocalUploadEndpoint {
            // A recorded object without bytes is a hash every later upload of
            // that content is deduplicated onto, and downloads of it fail.
            let store = try LocalObjectStore(dataDirectory: configuration.dataDirectory)
            // This data directory's storage must be the deployment's (StorageMarker): with
            // another one every object would seem missing, or present by accident.
            findings += try await StorageMarker.findings(store: panStore, objectStore: store)
            let objects = try await panStore.storedObjects(limit: Int.max)
            findings += try await BlockingIO.run { store.findingsForRecordedObjects(objects) }
        } else {
            let note = "note: object bytes not checked: uploads go to WCS (\(configuration.effectiveUploadURL)), whose bucket Pan does not list\n"
            FileHandle.standardError.write(Data(note.utf8))
        }
        if output.json {
            print(try JSONOutput.string(findings))
        } else {
            for finding in findings { print(finding) }
            print(findings.isEmpty ? "clean" : "\(findings.count) problem(s)")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}
