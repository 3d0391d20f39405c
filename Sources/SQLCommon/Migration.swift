/// One numbered schema change: `0003_add_thing.sql` has version 3.
///
/// A migration file is named `NNNN_description.sql`: four digits (not
/// `0000`), an underscore, a description of letters, digits and
/// underscores, `.sql`. The fixed width keeps the files' order (a listing,
/// the embedder's) the versions' order. Anything else in a migrations
/// folder is refused — at build time by the EmbedMigrations plugin, which
/// uses this same rule, and again when the binary parses what it embedded —
/// never skipped.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(name: String, sql: String) throws {
        guard let version = Self.version(ofFileNamed: name) else { throw MigrationError.badName(name) }
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The version a well-named migration file has, nil for any other name.
    public static func version(ofFileNamed name: String) -> Int? {
        let scalars = Array(name.unicodeScalars)
        let suffix = Array(".sql".unicodeScalars)
        // "0001" "_" at least one description character ".sql"
        guard scalars.count >= 4 + 1 + 1 + suffix.count, Array(scalars.suffix(suffix.count)) == suffix else { return nil }
        let digits = scalars.prefix(4)
        guard digits.allSatisfy({ ("0"..."9").contains($0) }), scalars[4] == "_" else { return nil }
        let description = scalars[5..<(scalars.count - suffix.count)]
        guard description.allSatisfy({ ("0"..."9").contains($0) || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "_" })
        else { return nil }
        let version = digits.reduce(0) { $0 * 10 + Int($1.value - 48) }
        return version > 0 ? version : nil
    }
}

public enum MigrationError: Error, CustomStringConvertible, Sendable {
    case badName(String)
    case duplicateVersion(Int, String, String)
    case databaseNewerThanBinary(database: Int, binary: Int)

    public var description: String {
        switch self {
        case .badName(let name):
            "migration file \(name) is not named NNNN_description.sql (four digits from 0001, an underscore, letters, digits or underscores, .sql)"
        case let .duplicateVersion(version, first, second):
            "migration files \(first) and \(second) share version \(version)"
        case let .databaseNewerThanBinary(database, binary):
            "the database is at schema version \(database) but this pan knows only up to \(binary): refusing to touch a database written by a newer pan"
        }
    }
}
