import Foundation
import PanCore
import PanSQLite

/// Which engine and which database a configuration names, for logs: the
/// SQLite file's path, or PostgreSQL's `host:port/database` — never the URL
/// itself, whose password must not reach a log.
public struct DatabaseDescription: Sendable, Equatable {
    /// `sqlite` or `postgresql`.
    public let engine: String
    /// `/var/lib/pan/pan.sqlite`, or `db.example.com:5432/pan`.
    public let database: String
    /// PostgreSQL's role (the URL's user), nil for SQLite.
    public let user: String?

    public var isSQLite: Bool { engine == "sqlite" }

    public init(_ configuration: PanConfiguration) {
        guard let url = configuration.databaseURL else {
            engine = "sqlite"
            var path = PanDatabase.path(inDataDirectory: configuration.dataDirectory)
            if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
            database = (path as NSString).standardizingPath
            user = nil
            return
        }
        engine = "postgresql"
        guard let components = URLComponents(string: url) else {
            database = "(PAN_DATABASE_URL unparsable)"
            user = nil
            return
        }
        // As PostgresURL reads it: host 127.0.0.1, port 5432, database named like the user by default.
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        let name = String(components.path.drop { $0 == "/" })
        user = components.user
        database = "\(host.contains(":") ? "[\(host)]" : host):\(components.port ?? 5432)/\(name.isEmpty ? (components.user ?? "") : name)"
    }
}
