import Foundation
import SQLCommon

/// `POST /v1/files/search` (issue #28): the caller's nodes whose name
/// contains a string, ignoring case, under a folder (or in the bin), paged
/// and ordered like a listing.
///
/// Indexed on both engines (migrations 0020 / postgres 0015): SQLite's FTS5
/// trigram index, PostgreSQL's pg_trgm GIN index on the ICU-lowered name.
/// A query's `%`, `_`, `*`, `\` and `"` are characters like any other.
///
/// What is searched is bounded, whatever the tree: at most `maxMatches`
/// matches are collected (the first in index order), then ordered and
/// paged; `total` counts those. One or two characters have no trigram, so
/// such a query scans the user's nodes instead: the first `shortScanLimit`
/// of the folder in tree order (`lft`), a bounded scan, not the index.
public struct NameSearch: Sendable {
    /// The text to find: trimmed, NFC (as names are stored), 1–255 characters.
    public let text: String
    /// The folder searched (its subtree, itself excluded); nil: the whole tree.
    public var under: NodeAddress?
    /// 0 files only, 1 directories only, nil all.
    public var type: Int?
    /// Search the bin's items (the top nodes of what was recycled) instead of the tree.
    public var recycled: Bool
    public var order: ListingOrder
    public var limit: Int
    public var offset: Int

    /// Most matches one search collects (then orders and pages). Each is
    /// read and sorted, so this bounds a search's cost: at 10,000 a common
    /// three-character query cost 20 ms of CPU at the median and 61 ms at
    /// p99 on a 1M-node tree (`pan-bench search`); at 2,000, a fifth.
    public static let maxMatches = 2_000
    /// Most nodes a one- or two-character query looks at.
    public static let shortScanLimit = 100_000
    /// Longest query, in characters (a name's longest).
    public static let maxLength = 255

    /// `INVALID_FIELD` for a query that is empty once trimmed, or longer
    /// than `maxLength` characters (checked before any other work: a 10 KB
    /// query is refused at once).
    public init(
        text raw: String, under: NodeAddress? = nil, type: Int? = nil, recycled: Bool = false,
        order: ListingOrder = .default, limit: Int = 20, offset: Int = 0
    ) throws(PanError) {
        // Counted on the raw scalars first: trimming and normalizing 10 KB is cheap, but not needed.
        guard raw.unicodeScalars.count <= 4 * Self.maxLength else { throw PanError.invalidField("name", "must be 1 to 255 characters") }
        let text = raw.trimmedForSearch.precomposedStringWithCanonicalMapping
        guard !text.isEmpty, text.count <= Self.maxLength else { throw PanError.invalidField("name", "must be 1 to 255 characters") }
        self.text = text
        self.under = under
        self.type = type
        self.recycled = recycled
        self.order = order
        self.limit = limit
        self.offset = offset
    }

    /// Whether the index can serve the query: it has a run of three characters.
    var usesIndex: Bool { text.unicodeScalars.count >= 3 }

    /// The query as one FTS5 phrase: quoted, `"` doubled; nothing in it is syntax.
    var ftsPhrase: String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// `text` as a LIKE pattern matching it anywhere (`ESCAPE '\'`).
    static func likePattern(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return "%" + escaped + "%"
    }

    /// SQLite's LIKE ignores the case of ASCII letters only: for a short
    /// query, every spelling of its other letters in upper and lower case
    /// (at most 3 × 3 patterns for two characters).
    var sqliteShortPatterns: [String] {
        var spellings = [""]
        for character in text {
            var forms: [String] = [String(character)]
            // ASCII letters: LIKE folds them already, one pattern does.
            for form in [String(character).lowercased(), String(character).uppercased()]
            where !character.isASCII && !forms.contains(form) && form.count == 1 {
                forms.append(form)
            }
            spellings = spellings.flatMap { prefix in forms.map { prefix + $0 } }
        }
        return spellings.map(Self.likePattern)
    }

    /// The search of one user, inside the caller's read transaction.
    public func run(userId: Int64, on db: any DatabaseConnection) async throws -> (nodes: [FileNode], total: Int64) {
        var filter: String
        var arguments: [any DatabaseBindable] = [userId]
        if recycled {
            filter = "n.user_id = ? AND \(RecycleBin.listed("n"))"
        } else {
            let top = try await TreeRepository.node(userId: userId, at: under ?? NodeAddress(uuid: nil, path: PanPath.root), on: db)
            guard top.isDirectory else { throw PanError.notADirectory }
            filter = "n.user_id = ? AND n.state = \(FileNode.State.live.sql) AND n.lft > ? AND n.lft < ?"
            arguments += [top.lft, top.rgt]
        }
        if let type { filter += " AND n.type = " + (type == 1 ? FileNode.Kind.directory.sql : FileNode.Kind.file.sql) }

        // The matches, at most `maxMatches`, with the columns every order sorts by (`TreeRepository.Order`).
        let keys = "n.id, n.type, n.name, n.name_key, n.ctime, n.size"
        let found: String
        switch (db.dialect, usesIndex) {
        case (.sqlite, true):
            // FTS first (CROSS JOIN keeps that order), each match then checked against its node.
            found = "SELECT \(keys) FROM node_names f CROSS JOIN nodes n ON n.id = f.rowid WHERE f.node_names MATCH ? AND \(filter) LIMIT \(Self.maxMatches)"
            arguments.insert(ftsPhrase, at: 0)
        case (.postgres, true):
            // The expression of `nodes_name_trigrams` (postgres 0015), lowered alike.
            found = "SELECT \(keys) FROM nodes n WHERE \(filter) AND \(Self.postgresLowered) LIKE ? ESCAPE '\\' LIMIT \(Self.maxMatches)"
            arguments.append(Self.likePattern(text.lowercased()))
        case (_, false):
            // One or two characters: no trigram to look up. A bounded scan of
            // the user's nodes in tree order (the (user_id, lft) index), the
            // first `shortScanLimit` of them, each name compared with LIKE.
            let match: String
            if db.dialect == .postgres {
                match = "\(Self.postgresLowered) LIKE ? ESCAPE '\\'"
                arguments.append(Self.likePattern(text.lowercased()))
            } else {
                let patterns = sqliteShortPatterns
                match = "(" + patterns.map { _ in "n.name LIKE ? ESCAPE '\\'" }.joined(separator: " OR ") + ")"
                arguments += patterns.map { $0 as any DatabaseBindable }
            }
            found = """
                SELECT \(keys) FROM (
                    SELECT \(keys) FROM nodes n WHERE \(filter) ORDER BY n.lft LIMIT \(Self.shortScanLimit)
                ) AS n WHERE \(match) LIMIT \(Self.maxMatches)
                """
        }
        // Then one page of them in the listing's order (sorted on the keys
        // collected, aliased `n` as the order's terms name them), its rows
        // read for that page only, with the count of all of them.
        let rows = try await db.query(
            """
            WITH found AS MATERIALIZED (\(found))
            SELECT \(FileNode.columns), (SELECT COUNT(*) FROM found) AS total FROM (
                SELECT n.id FROM found n ORDER BY \(order.sql) LIMIT ? OFFSET ?
            ) AS page JOIN nodes n ON n.user_id = ? AND n.id = page.id \(FileNode.parentJoin)
            ORDER BY \(order.sql)
            """,
            arguments: arguments + [limit, offset, userId]
        )
        if let first = rows.first {
            return (try rows.map(FileNode.init(row:)), try first.int64("total"))
        }
        // A page past the end (or no match): count alone.
        let counted = try await db.queryRow("WITH found AS (\(found)) SELECT COUNT(*) AS total FROM found", arguments: arguments)
        return ([], try counted?.int64("total") ?? 0)
    }

    /// The name as `nodes_name_trigrams` indexes it.
    static let postgresLowered = "lower(n.name COLLATE \"und-x-icu\")"
}

extension String {
    /// Without leading and trailing whitespace (Unicode's, so U+3000 too).
    fileprivate var trimmedForSearch: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
