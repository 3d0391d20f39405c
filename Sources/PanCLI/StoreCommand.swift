import WCS
import ArgumentParser
import Foundation
import PanCore
import PanHTTPSupport

/// `pan store list|show|verify|gc`: stored content objects.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect and check stored content objects.",
        subcommands: [List.self, Show.self, Verify.self, GC.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stored objects, newest first.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let panStore = try await data.openStore()
            let limit = self.limit
            let objects = try await panStore.storedObjects(limit: limit)
            if output.json { print(try JSONOutput.string(objects)); return }
            print(Table.render(["HASH", "SIZE", "REFS", "MIME", "KEY"], objects.map {
                [$0.hash, ByteCount.format($0.size), String($0.refCount), $0.mime, $0.objectKey]
            }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one object and the files that use it.")
        @OptionGroup var data: DataOptions
        @Argument(help: "Content hash (storeId).") var hash: String

        func run() async throws {
            let panStore = try await data.openStore()
            let hash = self.hash
            guard let (object, users) = try await panStore.storedObject(hash: hash) else { throw CLIError("no stored object \(hash)") }
            print(try JSONOutput.string(object))
            for use in users { print("user \(use.userId): \(use.path)") }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash the local endpoint's objects; report any whose bytes no longer match (exit 1)."
        )
        @OptionGroup var data: DataOptions

        func run() async throws {
            let configuration = try data.configuration()
            let panStore = try await data.openStore()
            let store = try LocalObjectStore(dataDirectory: configuration.dataDirectory)
            let objects = try await panStore.storedObjects(limit: Int.max)
            var bad = 0, missing = 0, ok = 0
            for object in objects {
                let path = store.objectPath(forKey: object.objectKey)
                guard FileOps.size(of: path) != nil else {
                    print("MISSING  \(object.hash)  key \(object.objectKey)")
                    missing += 1
                    continue
                }
                let (hash, size) = try await BlockingIO.run { try ContentHasher.hash(fileAtPath: path) }
                if hash == object.hash, size == object.size {
                    ok += 1
                } else {
                    print("CORRUPT  \(object.hash)  key \(object.objectKey): bytes hash to \(hash), \(size) bytes")
                    bad += 1
                }
            }
            print("\(ok) ok, \(bad) corrupt, \(missing) missing (of \(objects.count))")
            if bad > 0 || missing > 0 { throw ExitCode(1) }
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Delete objects no file refers to (and, locally, their bytes)."
        )
        @OptionGroup var data: DataOptions
        @Flag(help: "Only report what would be deleted.") var dryRun = false

        func run() async throws {
            let configuration = try data.configuration()
            let panStore = try await data.openStore()
            let store = try LocalObjectStore(dataDirectory: configuration.dataDirectory)
            let dryRun = self.dryRun
            // The rows go in one transaction that re-checks the counts; the bytes after it commits.
            let removed = try await panStore.collectUnusedObjects(dryRun: dryRun)
            for object in removed {
                if !dryRun {
                    FileOps.remove(store.objectPath(forKey: object.objectKey))
                    // Its preview renditions (PanHTTPSupport/Downloads/Thumbnails.swift) go with it.
                    PreviewRenditions.remove(hash: object.hash, objects: store)
                }
                print("\(dryRun ? "would delete" : "deleted")  \(object.hash)  \(ByteCount.format(object.size))")
            }
            print("\(removed.count) object(s)\(dryRun ? " would be" : "") deleted")
            // Bytes no object row names: a second upload of content that was already
            // stored keeps the first copy. Only files older than a day, so an upload
            // whose callback has not landed yet is never touched.
            // Only in the deployment's own storage: in another one every file would look unreferenced.
            if let problem = try await StorageMarker.findings(store: panStore, objectStore: store).first {
                throw CLIError("unreferenced files not looked for: \(problem.detail)")
            }
            let keys = try await panStore.objectKeys()
            let known = Set(keys.map { store.objectPath(forKey: $0) })
            let cutoff = Date().addingTimeInterval(-86_400)
            var orphans = 0
            let enumerator = FileManager.default.enumerator(atPath: store.objectsDirectory)
            while let item = enumerator?.nextObject() as? String {
                let path = store.objectsDirectory + "/" + item
                guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                      attributes[.type] as? FileAttributeType == .typeRegular, !known.contains(path),
                      let modified = attributes[.modificationDate] as? Date, modified < cutoff
                else { continue }
                if !dryRun { FileOps.remove(path) }
                orphans += 1
            }
            print("\(orphans) unreferenced file(s)\(dryRun ? " would be" : "") removed")
        }
    }
}
