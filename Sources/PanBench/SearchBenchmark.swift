import ArgumentParser
import Foundation
import PanCore
import PanSQLite
import SQLiteKit

/// `pan-bench search`: search by name (issue #28) on a big tree. Fills one
/// user's tree (plus a second user's, so the index holds other names too)
/// with names made of common words and numbers, then times `NameSearch` —
/// what `POST /v1/files/search` runs, minus HTTP — for three-character
/// queries cut from names that exist (common and rare alike), a common one,
/// a miss, and a one/two-character query (the bounded scan); and, on a
/// connection of its own, the bare FTS5 query the search starts from.
struct SearchBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Search by name on a 1M-node tree (FTS5 trigram index).")

    @Option(help: "Nodes in the searched user's tree.") var nodes = 1_000_000
    @Option(help: "Nodes in a second user's tree.") var others = 100_000
    @Option(help: "Samples per query kind.") var samples = 300
    @Option(help: "Keep (or reuse) the database in this directory instead of a temporary one.") var data: String?

    static let words = [
        "report", "photo", "invoice", "holiday", "budget", "meeting", "notes", "draft", "final", "scan",
        "contract", "family", "music", "video", "backup", "project", "design", "summary", "receipt", "letter",
        "Ärger", "Übersicht", "résumé", "报告", "照片", "会议", "数据", "plan", "slides", "archive",
    ]
    static let extensions = ["pdf", "jpg", "docx", "txt", "mp4", "xlsx", "png", "zip"]

    /// The i-th node's name: two words, its number, an extension (deterministic, unique).
    static func name(_ i: Int) -> String {
        var generator = SplitMix(seed: UInt64(i))
        let first = words[Int(generator.next() % UInt64(words.count))]
        let second = words[Int(generator.next() % UInt64(words.count))]
        return "\(first) \(second) \(i).\(extensions[Int(generator.next() % UInt64(extensions.count))])"
    }

    func run() async throws {
        let directory = data ?? FileManager.default.temporaryDirectory.appendingPathComponent("pan-bench-\(UUID().uuidString)").path
        defer { if data == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let database = try PanDatabase.open(dataDirectory: directory)
        var names: [String] = []
        let user = try await fill(database, name: "bench", count: nodes, names: &names)
        var ignored: [String] = []
        _ = try await fill(database, name: "other", count: others, names: &ignored)
        let total = try await database.read { db in try await TreeRepository.count(userId: user.id, on: db) }
        FileHandle.standardError.write(Data("searching \(total) nodes of one user\n".utf8))

        // The queries: random three-character runs of existing names (most
        // are rare: digits; some common: words), a common word's, a miss.
        var generator = SplitMix(seed: 42)
        func randomRun() -> String {
            let scalars = Array(names[Int(generator.next() % UInt64(names.count))].unicodeScalars)
            let start = Int(generator.next() % UInt64(scalars.count - 2))
            var run = String.UnicodeScalarView()
            run.append(contentsOf: scalars[start..<(start + 3)])
            return String(run)
        }
        let raw = try Connection(path: PanDatabase.path(inDataDirectory: directory))
        var rows: [[String]] = []
        func time(_ label: String, _ query: @escaping () -> String) async throws {
            var store = Samples(), storeCPU = Samples(), bare = Samples(), matches: [Int64] = []
            for _ in 0..<samples {
                let text = query()
                let search = try NameSearch(text: text, order: ListingOrder(code: 6), limit: 50, offset: 0)
                var found: Int64 = 0
                let cpu = processCPUNanoseconds()
                store.add(try await measure {
                    found = try await database.read { db in try await search.run(userId: user.id, on: db) }.total
                })
                storeCPU.add(processCPUNanoseconds() - cpu)
                matches.append(found)
                if search.text.unicodeScalars.count >= 3 {
                    let phrase = "\"" + search.text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                    bare.add(try await measure {
                        _ = try await raw.query("SELECT rowid FROM node_names WHERE node_names MATCH ? LIMIT \(NameSearch.maxMatches)", phrase)
                    })
                }
            }
            let sorted = matches.sorted()
            rows.append([
                label, format(store.medianMillis, 2), format(store.p99Millis, 2), format(storeCPU.medianMillis, 2), format(storeCPU.p99Millis, 2),
                bare.count > 0 ? format(bare.medianMillis, 2) : "—", bare.count > 0 ? format(bare.p99Millis, 2) : "—",
                "\(sorted[sorted.count / 2]) / \(sorted.last ?? 0)",
            ])
        }
        try await time("3 chars, random runs of names") { randomRun() }
        try await time("3 chars, common (\"pho\")") { "pho" }
        try await time("3 chars, a miss (\"qzx\")") { "qzx" }
        try await time("5 chars, a miss (\"zzzzz\")") { "zzzzz" }
        try await time("12 chars (\"budget final\")") { "budget final" }
        try await time("2 chars, bounded scan (\"ph\")") { "ph" }
        try await time("2 chars, a miss (\"qz\")") { "qz" }
        print(table(["query", "search p50 ms", "search p99 ms", "CPU p50 ms", "CPU p99 ms", "bare FTS p50 ms", "bare FTS p99 ms", "matches p50 / max"], rows))
        print("""

            search: NameSearch.run in a read transaction (the store's statement: FTS5 phrase, each match joined to
            its node and checked for the user, state and folder, at most \(NameSearch.maxMatches) matches, then ordered and a page
            of 50 read); bare FTS: `SELECT rowid FROM node_names WHERE node_names MATCH ? LIMIT \(NameSearch.maxMatches)` on a
            connection of its own. 1–2 characters: no trigram, a scan of the user's first \(NameSearch.shortScanLimit) nodes.
            CPU: the process's user + system time over the same call (the benchmark does nothing else meanwhile), which
            a loaded machine does not inflate as it does the wall clock.
            """)
    }

    /// Gives user `name` `count` nodes (100 files a folder, 100 folders a group), unless it has them.
    func fill(_ database: DatabasePool, name: String, count: Int, names: inout [String]) async throws -> User {
        let existing = try await database.read { db in try await UserRepository.find(login: name, on: db) }
        let user = if let existing { existing.0 } else {
            try await database.write { db in
                try await UserRepository.create(.init(name: name, passwordHash: "-", spaceCapacity: 1 << 50), on: db)
            }
        }
        let hash = "Fto5o-5ea0sNMlW_75VgGJCv2AcJ"
        try await database.write { db in
            try await StoreObjectRepository.insertIfMissing(hash: hash, size: 0, mime: "", bucket: "pan", objectKey: "empty", on: db)
        }
        // Reusing a kept database: its files are the first names of the series.
        var filled = Int(try await database.read { db in
            try await db.scalar("SELECT COUNT(*) FROM nodes WHERE user_id = ? AND type = 0", user.id) ?? 0
        })
        for i in stride(from: 0, to: min(filled, count), by: 50) { names.append(Self.name(i)) }
        let started = Date()
        while filled < count {
            let batch = min(20_000, count - filled)
            let start = filled
            let made = try await database.write { db -> [String] in
                var made: [String] = []
                var current: FileNode?
                for i in start..<(start + batch) {
                    if i % 100 == 0 || current == nil {
                        current = try await TreeRepository.directory(userId: user.id, path: "/g\(i / 10_000)/d\(i / 100)", nodeLimit: 0, on: db)
                    }
                    let fileName = Self.name(i)
                    _ = try await TreeRepository.insert(
                        userId: user.id, parent: current!, name: fileName, kind: .file, size: 0, mime: "", storeHash: hash, nodeLimit: 0, on: db
                    )
                    if i % 50 == 0 { made.append(fileName) }
                }
                return made
            }
            names += made
            filled += batch
            if filled % 100_000 == 0 || filled == count {
                FileHandle.standardError.write(Data("\(name): \(filled) files (\(format(Date().timeIntervalSince(started), 1)) s)\n".utf8))
            }
        }
        return user
    }
}

/// A small deterministic generator (SplitMix64), so every run makes the same names.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// CPU time of this process so far (every thread, user and system).
func processCPUNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
