import ArgumentParser
import Foundation
import PanCore
import SQLiteKit
import WCS

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
            let database = try data.openDatabase()
            let limit = self.limit
            let objects = try await database.read { try StoreObjectRepository.list(limit: limit, on: $0) }
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
            let database = try data.openDatabase()
            let hash = self.hash
            let found = try await database.read { db -> (StoreObject, [String])? in
                guard let object = try StoreObjectRepository.find(hash: hash, on: db) else { return nil }
                let paths = try db.query("SELECT user_id, path FROM nodes WHERE store_hash = ? ORDER BY user_id, path LIMIT 100", hash)
                    .map { "user \(try $0.int64("user_id")): \(try $0.string("path"))" }
                return (object, paths)
            }
            guard let (object, paths) = found else { throw CLIError("no stored object \(hash)") }
            print(try JSONOutput.string(object))
            for path in paths { print(path) }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash the local endpoint's objects; report any whose bytes no longer match (exit 1)."
        )
        @OptionGroup var data: DataOptions

        func run() async throws {
            let configuration = try data.configuration()
            let database = try data.openDatabase()
            let store = try LocalObjectStore(dataDirectory: configuration.dataDirectory)
            let objects = try await database.read { try StoreObjectRepository.list(limit: Int.max, on: $0) }
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
            let database = try data.openDatabase()
            let store = try LocalObjectStore(dataDirectory: configuration.dataDirectory)
            let dryRun = self.dryRun
            // The row goes in a transaction that re-checks the count; the bytes after it commits.
            let removed = try await database.write { db -> [StoreObject] in
                let garbage = try db.query("SELECT * FROM store_objects WHERE ref_count = 0").compactMap { row -> StoreObject? in
                    try StoreObjectRepository.find(hash: try row.string("hash"), on: db)
                }
                let unused = try garbage.filter { try db.scalar("SELECT COUNT(*) FROM nodes WHERE store_hash = ?", $0.hash) == 0 }
                if !dryRun { for object in unused { try db.run("DELETE FROM store_objects WHERE hash = ?", object.hash) } }
                return unused
            }
            for object in removed {
                if !dryRun { FileOps.remove(store.objectPath(forKey: object.objectKey)) }
                print("\(dryRun ? "would delete" : "deleted")  \(object.hash)  \(ByteCount.format(object.size))")
            }
            print("\(removed.count) object(s)\(dryRun ? " would be" : "") deleted")
            // Bytes no object row names: a second upload of content that was already
            // stored keeps the first copy. Only files older than a day, so an upload
            // whose callback has not landed yet is never touched.
            let keys = try await database.read { db in try db.query("SELECT object_key FROM store_objects").map { try $0.string("object_key") } }
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
