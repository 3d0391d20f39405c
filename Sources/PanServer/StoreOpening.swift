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
        let store: any PanStore = if let url = configuration.databaseURL {
            try await PostgresPanStore.open(
                url: url, poolSize: configuration.databasePoolSize, timeouts: configuration.databaseTimeouts, settings: settings, logger: logger
            )
        } else {
            try SQLitePanStore.open(
                dataDirectory: configuration.dataDirectory, settings: settings,
                readerCount: readerCount, maxBatch: configuration.writeBatch
            )
        }
        // Natural name order needs every node's key, which only Swift computes:
        // nodes from before migration 0015 get theirs now, in short batches.
        do {
            let filled = try await store.completeNameKeys()
            if filled > 0 { logger.notice("gave \(filled) node(s) their name sort key (natural name order)") }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// The server's PostgreSQL store, its pool not yet running: a `Service`
    /// for the app's `ServiceGroup` (the Hummingbird `todos-postgres-tutorial`
    /// way), started before and stopped after everything that uses it. Nil
    /// for SQLite, whose store is the one `open` made. Migrations ran at `open`.
    static func serverPool(_ configuration: PanConfiguration, settings: UploadSettings, logger: Logger) throws -> OpenedStore? {
        guard let url = configuration.databaseURL else { return nil }
        let store = try PostgresPanStore.unstarted(
            url: url, poolSize: configuration.databasePoolSize, timeouts: configuration.databaseTimeouts, settings: settings, logger: logger
        )
        return OpenedStore(store: store, service: store.engine.client)
    }
}

extension PanConfiguration {
    /// `PAN_DATABASE_WAIT` bounds the wait for a connection; connecting gets at most as long.
    var databaseTimeouts: PostgresTimeouts {
        let wait = Duration.milliseconds(Int64(databaseWait * 1000))
        return PostgresTimeouts(connect: min(wait, .seconds(3)), leaseWait: wait, statement: .seconds(30))
    }
}

/// A store and what it needs running beside the server.
struct OpenedStore: Sendable {
    let store: any PanStore
    /// PostgreSQL's pool, first in the server's group and last to stop.
    let service: (any Service)?
}
