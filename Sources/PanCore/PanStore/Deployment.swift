import SQLCommon

/// The deployment's id (`deployment`, migration 0012 / PostgreSQL 0007): the
/// database half of the shared-storage check (`StorageMarker`).
extension SQLPanStore {
    public func deploymentID(claiming candidate: String?) async throws -> String? {
        do {
            guard let candidate else {
                return try await engine.read { db in try await db.queryRow("SELECT id FROM deployment")?.string("id") }
            }
            // Concurrent first starts: one insert wins (the key is the constant 1), every one reads the winner.
            return try await engine.write(lockingUser: nil) { db in
                try await db.run("INSERT INTO deployment (one, id) VALUES (1, ?) ON CONFLICT DO NOTHING", candidate)
                return try await db.queryRow("SELECT id FROM deployment")?.string("id")
            }
        } catch {
            throw PanError(storeError: error)
        }
    }
}
