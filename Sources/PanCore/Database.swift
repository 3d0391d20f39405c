import Foundation
import SQLiteKit

/// Opens Pan's database: creates the folder, applies the embedded migrations.
public enum PanDatabase {
    public static func migrator() throws -> Migrator {
        try Migrator(embeddedMigrations.map { try Migration(name: $0.name, sql: $0.sql) })
    }

    public static func path(inDataDirectory directory: String) -> String {
        (directory as NSString).appendingPathComponent("pan.sqlite")
    }

    /// Opens the pool after migrating with a dedicated connection.
    public static func open(dataDirectory: String, readerCount: Int = 4, maxBatch: Int = 64) throws -> DatabasePool {
        try DataDirectory.create(dataDirectory)
        let path = path(inDataDirectory: dataDirectory)
        // SQLite creates the database 0644 (less the umask), and its -wal and -shm
        // files copy the database's mode: made 0600 first, all three stay private.
        try DataDirectory.createPrivateFile(path)
        do {
            let connection = try Connection(path: path)
            try migrator().migrate(connection)
        }
        return try DatabasePool(path: path, readerCount: readerCount, maxBatch: maxBatch)
    }
}

/// The data directory holds password hashes, session and key secrets and
/// every user's bytes: only Pan's own user may read it (issue #14 item 10).
/// New directories are 0700 and new files 0600; an existing directory keeps
/// the mode its admin gave it.
public enum DataDirectory {
    public static func create(_ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
    }

    /// Creates `path` empty with mode 0600 unless it exists.
    public static func createPrivateFile(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd >= 0 { close(fd); return }
        guard errno == EEXIST else { throw IOError("create", path: path) }
    }
}
