import ArgumentParser
import Foundation
import PanCore
import PanSQLite
import SQLiteKit

/// `pan-bench tree`: does the tree slow down as it grows? Fills one user's
/// tree to each size and times create-file, get-by-path, a page of a
/// directory and moving a small subtree, each against the empty tree.
struct TreeBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tree", abstract: "Tree operations at 0 / 10k / 100k / 1M nodes.")

    @Option(help: "Tree sizes to measure at, comma-separated.") var sizes = "0,10000,100000,1000000"
    @Option(help: "Samples per operation and size.") var samples = 300

    func run() async throws {
        let targets = sizes.split(separator: ",").compactMap { Int($0) }.sorted()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pan-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try PanDatabase.open(dataDirectory: directory)
        let user = try await database.write { db in
            try await UserRepository.create(.init(name: "bench", passwordHash: "-", spaceCapacity: 1 << 50), on: db)
        }
        let object = try await database.write { db in
            try await StoreObjectRepository.insertIfMissing(hash: "Fto5o-5ea0sNMlW_75VgGJCv2AcJ", size: 0, mime: "", bucket: "pan", objectKey: "empty", on: db)
            return try await StoreObjectRepository.find(hash: "Fto5o-5ea0sNMlW_75VgGJCv2AcJ", on: db)!
        }
        // Fixed places the measurements use, made before any filling.
        let (work, page, moveA, moveB) = try await database.write { db in
            await (try TreeRepository.directory(userId: user.id, path: "/work", on: db),
             try TreeRepository.directory(userId: user.id, path: "/page", on: db),
             try TreeRepository.directory(userId: user.id, path: "/move-a", on: db),
             try TreeRepository.directory(userId: user.id, path: "/move-b", on: db))
        }
        try await database.write { db in
            for i in 0..<1000 {
                _ = try await TreeRepository.insert(userId: user.id, parent: page, name: "p\(i)", kind: .file, size: 0, mime: "", storeHash: object.hash, on: db)
            }
            let small = try await TreeRepository.insert(userId: user.id, parent: moveA, name: "small", kind: .directory, size: 0, mime: MimeType.directory, storeHash: nil, on: db)
            for i in 0..<10 {
                _ = try await TreeRepository.insert(userId: user.id, parent: small, name: "f\(i)", kind: .file, size: 0, mime: "", storeHash: object.hash, on: db)
            }
        }
        var filled = 0
        var created = 0
        // The tree grows past PAN_MAX_NODES's default (1,000,000) on purpose.
        let noCap: Int64 = 0
        var rows: [[String]] = []
        var baseline: [String: Double] = [:]
        var paths: [String] = ["/page/p1"]
        for target in targets {
            let fillStart = Date()
            while filled < target {
                let batch = min(20_000, target - filled)
                let start = filled
                let newPaths = try await database.write { db -> [String] in
                    var made: [String] = []
                    var current: FileNode?
                    for i in start..<(start + batch) {
                        // 100 files per directory, 100 directories per group.
                        if i % 100 == 0 || current == nil {
                            current = try await TreeRepository.directory(userId: user.id, path: "/g\(i / 10_000)/d\(i / 100)", nodeLimit: noCap, on: db)
                        }
                        let node = try await TreeRepository.insert(
                            userId: user.id, parent: current!, name: "f\(i).bin", kind: .file, size: 0, mime: "", storeHash: object.hash,
                            nodeLimit: noCap, on: db
                        )
                        if i % 997 == 0 { made.append(node.path) }
                    }
                    return made
                }
                paths.append(contentsOf: newPaths)
                filled += batch
            }
            let nodes = try await database.read { db in try await TreeRepository.count(userId: user.id, on: db) }
            FileHandle.standardError.write(Data("tree at \(nodes) nodes (filled in \(format(Date().timeIntervalSince(fillStart), 1)) s)\n".utf8))

            var create = Samples(), get = Samples(), list = Samples(), move = Samples()
            for _ in 0..<samples {
                let name = "c\(created).bin"
                created += 1
                create.add(try await measure {
                    _ = try await database.write { db in
                        let parent = try await TreeRepository.node(id: work.id, userId: user.id, on: db)!
                        return try await TreeRepository.insert(
                            userId: user.id, parent: parent, name: name, kind: .file, size: 0, mime: "", storeHash: object.hash, nodeLimit: noCap, on: db
                        )
                    }
                })
                let path = paths.randomElement()!
                get.add(try await measure {
                    _ = try await database.read { db in try await TreeRepository.node(userId: user.id, path: path, on: db) }
                })
                list.add(try await measure {
                    _ = try await database.read { db in try await TreeRepository.children(of: page, type: nil, order: .nameAscending, limit: 20, offset: 500, on: db) }
                })
                move.add(try await measure {
                    try await database.write { db in
                        var found = try await TreeRepository.node(userId: user.id, path: "/move-a/small", on: db)
                        if found == nil { found = try await TreeRepository.node(userId: user.id, path: "/move-b/small", on: db) }
                        let small = found!
                        let destination = try await TreeRepository.node(id: small.path.hasPrefix("/move-a") ? moveB.id : moveA.id, userId: user.id, on: db)!
                        _ = try await TreeMutations.move(small, into: destination, on: db)
                    }
                })
            }
            for (name, samples) in [("create-file", create), ("get-by-path", get), ("page (20 of 1000)", list), ("move 11-node subtree", move)] {
                if baseline[name] == nil { baseline[name] = samples.medianMicros }
                rows.append([
                    name, String(nodes), format(samples.medianMicros), format(samples.p99Micros),
                    format(samples.medianMicros / baseline[name]!, 2) + "×",
                ])
            }
        }
        let findings = try await database.read { db in try await TreeChecker.check(on: db) }
        print(table(["operation", "nodes", "median µs", "p99 µs", "median vs empty tree"], rows))
        print("\nfsck after the run: \(findings.isEmpty ? "clean" : "\(findings.count) problem(s)")")
        for finding in findings.prefix(10) { print("  \(finding)") }
    }
}
