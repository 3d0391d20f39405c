import Foundation
import SQLCommon

/// App passwords (issue #29 §3) over SQL: one transaction each.
extension SQLPanStore: PanAppPasswords {
    public func createAppPassword(userId: Int64, name: String, secretHash: String) async throws -> AppPassword {
        // The user's row lock (PostgreSQL) makes the count and the insert one step per user.
        do {
            return try await engine.write(lockingUser: userId) { db in
                try await AppPasswordRepository.create(userId: userId, name: name, secretHash: secretHash, now: Millis.now(), on: db)
            }
        } catch { throw PanError(storeError: error) }
    }

    public func appPasswords(userId: Int64) async throws -> [AppPassword] {
        do { return try await engine.read { db in try await AppPasswordRepository.list(userId: userId, on: db) } } catch {
            throw PanError(storeError: error)
        }
    }

    public func revokeAppPassword(userId: Int64, id: String) async throws -> Bool {
        do { return try await engine.write(lockingUser: userId) { db in try await AppPasswordRepository.revoke(userId: userId, id: id, on: db) } } catch {
            throw PanError(storeError: error)
        }
    }

    public func verifyAppPassword(userId: Int64, secretHash: String) async throws -> AppPassword? {
        do {
            // Every WebDAV request signed in by an app password asks: one statement, no BEGIN/COMMIT around it.
            return try await engine.readStatement { db in try await AppPasswordRepository.find(userId: userId, secretHash: secretHash, on: db) }
        } catch { throw PanError(storeError: error) }
    }

    public func touchAppPassword(userId: Int64, id: String, at: Int64) async throws {
        // No user lock: one row of its own, and a sync must not wait behind the user's tree writes for it.
        do { try await engine.write(lockingUser: nil) { db in try await AppPasswordRepository.touch(userId: userId, id: id, at: at, on: db) } } catch {
            throw PanError(storeError: error)
        }
    }
}
