import Foundation
import PanCore
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

