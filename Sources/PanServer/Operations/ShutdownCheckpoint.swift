import Logging
import ServiceLifecycle
import PanCore

/// Waits for graceful shutdown, then folds the WAL into the database file, so
/// a stopped server leaves one self-contained `pan.sqlite` (what an admin
/// copies, and what the next start opens without recovery); on PostgreSQL it
/// only closes the pool.
///
/// It must run after the HTTP server has drained: `buildApplication` puts it
/// first in the Application's services, and a ServiceGroup shuts its services
/// down in reverse order, the HTTP server (appended last by Hummingbird) first.
struct ShutdownCheckpoint: Service {
    let store: any PanStore
    /// SQLite's WAL is checkpointed; PostgreSQL has nothing to fold, its pool is closed.
    let database: DatabaseDescription
    let logger: Logger

    func run() async throws {
        // Throws only on cancellation (a hard stop): checkpoint then too, it is cheap and safe.
        try? await gracefulShutdown()
        if database.isSQLite {
            do {
                try await store.checkpoint()
                logger.info("database checkpointed at shutdown", metadata: ["database": "\(database.database)"])
            } catch {
                logger.error("checkpoint at shutdown failed", metadata: ["error": "\(error)"])
            }
        }
        await store.close()
        if !database.isSQLite {
            logger.info("database connections closed at shutdown", metadata: ["engine": "\(database.engine)", "database": "\(database.database)"])
        }
    }
}
