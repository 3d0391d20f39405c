import Logging
import PanCore
import PanPostgres
import PanSQLite

/// Picks the store's engine from the configuration: PostgreSQL when
/// `PAN_DATABASE_URL` is set (several servers, one database), else the
/// embedded SQLite file in the data directory. Both migrate on open.
public enum StoreOpening {
    public static func open(
        _ configuration: PanConfiguration, settings: UploadSettings, readerCount: Int, logger: Logger
    ) async throws -> any PanStore {
        if let url = configuration.databaseURL {
            return try await PostgresPanStore.open(url: url, poolSize: configuration.databasePoolSize, settings: settings, logger: logger)
        }
        return try SQLitePanStore.open(
            dataDirectory: configuration.dataDirectory, settings: settings,
            readerCount: readerCount, maxBatch: configuration.writeBatch
        )
    }
}
