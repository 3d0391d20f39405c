import Foundation
import PanCore
import SQLiteKit

/// Opens Pan's database: creates the folder, applies the embedded migrations.
public enum PanDatabase {
    /// The embedded migrations/*.sql (their names and versions were checked
    /// when the build embedded them; parsing checks them again).
    public static func migrationRunner() throws -> MigrationRunner {
        try migrations.get()
    }

    private static let migrations = Result { try MigrationRunner(files: embeddedMigrations) }

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
            try migrationRunner().migrate(connection)
        }
        return try DatabasePool(path: path, readerCount: readerCount, maxBatch: maxBatch)
    }
}

