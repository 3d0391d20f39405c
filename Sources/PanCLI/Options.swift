import ArgumentParser
import Foundation
import PanCore
import Logging
import PanServer
import PanSQLite

/// Where the data lives; shared by every command that opens the database.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Data directory (env PAN_DATA_DIR; default ./pan-data).")
    var dataDirectory: String?

    @Option(name: .customLong("database-url"), help: "postgres://user:password@host:port/db: a shared PostgreSQL database instead of SQLite (env PAN_DATABASE_URL).")
    var databaseURL: String?

    /// The configuration from defaults, then environment, then these flags.
    func configuration() throws -> PanConfiguration {
        var configuration = PanConfiguration()
        try configuration.apply(environment: ProcessInfo.processInfo.environment)
        if let dataDirectory { configuration.dataDirectory = dataDirectory }
        if let databaseURL, !databaseURL.isEmpty { configuration.databaseURL = databaseURL }
        return configuration
    }

    /// The store, for a command: one reader, no upload settings it would use.
    func openStore() async throws -> any PanStore {
        let configuration = try configuration()
        var settings = UploadSettings(bucket: configuration.bucket, credentials: [], uploadURL: "", callbackURL: "")
        settings.maxNodesPerUser = configuration.maxNodesPerUser
        var quiet = Logger(label: "pan.cli.store")
        quiet.logLevel = .error
        var small = configuration
        small.databasePoolSize = min(configuration.databasePoolSize, 2)
        return try await StoreOpening.open(small, settings: settings, readerCount: 1, logger: quiet)
    }
}

/// `--json` for scripts, tables for people.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table.")
    var json = false
}

/// What the CLI prints of stored text (names, paths) goes to an admin's
/// terminal: a name holding ESC sequences, CR or a bidi override could repaint
/// it or disguise itself (issue #14 item 8). Names are refused such
/// characters today, but databases from before the rule may hold them.
enum TerminalSafe {
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: true
        case 0x20...0x7E: false
        // Invisible format characters (U+200B…), refused in names since issue #24 §2.8.
        default: scalar.properties.generalCategory == .format
        }
    }

    /// `\e`-free text: unsafe scalars become `\u{1B}`-style escapes, and `\` becomes `\\` so an escape cannot be forged.
    static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isUnsafe($0) || $0 == "\\" }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\\" {
                out.append(contentsOf: "\\\\".unicodeScalars)
            } else if isUnsafe(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// JSON text with the unsafe scalars JSONEncoder leaves raw (C1, bidi) as `\uXXXX`;
    /// they can only occur inside strings, where that escape means the same.
    static func json(_ text: String) -> String {
        // C0 inside strings JSONEncoder already escapes, and outside them it is the layout's own newlines.
        func raw(_ scalar: Unicode.Scalar) -> Bool { scalar.value >= 0x7F && isUnsafe(scalar) }
        guard text.unicodeScalars.contains(where: raw) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if raw(scalar) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }
}

/// Prints rows as an aligned table.
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(TerminalSafe.escape) }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

enum JSONOutput {
    static func string<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return TerminalSafe.json(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// Byte counts as people read them, and back: `10G`, `500M`, `1024`.
enum ByteCount {
    static func parse(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if let last = t.last, let unit = units[last] {
            guard let number = Double(t.dropLast()), number.isFinite, number >= 0 else { return nil }
            return Int64(exactly: (number * Double(unit)).rounded(.down))
        }
        guard let value = Int64(t), value >= 0 else { return nil }
        return value
    }

    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// A CLI failure: message to stderr, non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
