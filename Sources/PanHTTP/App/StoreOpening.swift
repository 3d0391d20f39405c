import Logging
import PanCore
import PanPostgres
import PanSQLite
import ServiceLifecycle

/// Picks the store's engine from the configuration: PostgreSQL when
/// `PAN_DATABASE_URL` is set (several servers, one database), else the
/// embedded SQLite file in the data directory.
public enum StoreOpening {
    /// The store, open, migrated and usable until `close()`: for the CLI and tools.
    public static func open(
        _ configuration: PanConfiguration, settings: UploadSettings, readerCount: Int, logger: Logger
    ) async throws -> any PanStore {
        if let url = configuration.databaseURL {
            return try await PostgresPanStore.open(
                url: url, poolSize: configuration.databasePoolSize, timeouts: configuration.databaseTimeouts, settings: settings, logger: logger
            )
        }
        return try SQLitePanStore.open(
            dataDirectory: configuration.dataDirectory, settings: settings,
            readerCount: readerCount, maxBatch: configuration.writeBatch
        )
    }

    /// The store for the server: SQLite open and migrated; PostgreSQL with its
    /// pool as a `Service` for the app's `ServiceGroup` (the Hummingbird
    /// `todos-postgres-tutorial` way) and its migrations to run once that
    /// service does (`beforeServerStarts`).
    static func openForServer(
        _ configuration: PanConfiguration, settings: UploadSettings, readerCount: Int, logger: Logger
    ) async throws -> OpenedStore {
        if let url = configuration.databaseURL {
            let store = try PostgresPanStore.unstarted(
                url: url, poolSize: configuration.databasePoolSize, timeouts: configuration.databaseTimeouts, settings: settings, logger: logger
            )
            let engine = store.engine
            return OpenedStore(store: store, service: engine.client, prepare: { _ = try await engine.migrate() })
        }
        let store = try SQLitePanStore.open(
            dataDirectory: configuration.dataDirectory, settings: settings,
            readerCount: readerCount, maxBatch: configuration.writeBatch
        )
        return OpenedStore(store: store, service: nil, prepare: {})
    }
}

extension PanConfiguration {
    /// `PAN_DATABASE_WAIT` bounds the wait for a connection; connecting gets at most as long.
    var databaseTimeouts: PostgresTimeouts {
        let wait = Duration.milliseconds(Int64(databaseWait * 1000))
        return PostgresTimeouts(connect: min(wait, .seconds(3)), leaseWait: wait, statement: .seconds(30))
    }
}

/// A store as the server opens it (`StoreOpening.openForServer`).
struct OpenedStore: Sendable {
    let store: any PanStore
    /// Runs what the store needs in the background (PostgreSQL's pool), first in the group and last to stop.
    let service: (any Service)?
    /// Work that needs `service` running (PostgreSQL's migrations).
    let prepare: @Sendable () async throws -> Void
}
