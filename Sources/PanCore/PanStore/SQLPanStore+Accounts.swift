import Foundation
import SQLCommon

/// People's own accounts (issue #28) over SQL: one transaction each.
extension SQLPanStore: PanAccounts {
    private func accountRead<T: Sendable>(_ body: @escaping @Sendable (any DatabaseConnection) async throws -> T) async throws -> T {
        do { return try await engine.read(body) } catch { throw PanError(storeError: error) }
    }

    private func accountWrite<T: Sendable>(
        user userId: Int64?, _ body: @escaping @Sendable (any DatabaseConnection) async throws -> T
    ) async throws -> T {
        do { return try await engine.write(lockingUser: userId, body) } catch { throw PanError(storeError: error) }
    }

    public func passwordHash(userId: Int64) async throws -> String? {
        try await accountRead { db in try await UserRepository.passwordHash(userId: userId, on: db) }
    }

    public func changePassword(userId: Int64, expected: String, newHash: String, keep session: String?) async throws -> User {
        try await accountWrite(user: userId) { db in
            try await UserRepository.changePassword(userId: userId, expected: expected, newHash: newHash, keep: session, on: db)
        }
    }

    public func changeName(userId: Int64, to name: String) async throws -> User {
        try await accountWrite(user: userId) { db in try await UserRepository.changeName(userId: userId, to: name, on: db) }
    }

    public func register(_ registration: Registration) async throws -> (User, UserSession) {
        try await accountWrite(user: nil) { db in
            let now = Millis.now()
            var quota = registration.defaultQuota
            if let inviteHash = registration.inviteHash {
                guard let granted = try await InviteRepository.consume(codeHash: inviteHash, now: now, on: db) else {
                    throw PanError.inviteInvalid
                }
                quota = granted
            }
            let new = NewUser(name: registration.name, passwordHash: registration.passwordHash, spaceCapacity: quota)
            let user: User
            do {
                user = try await UserRepository.create(new, on: db, now: now)
            } catch let error as PanError where error == .userExists {
                // No phone is registered: the name is what is taken. Throwing undoes the invite's use.
                throw PanError.nameTaken
            }
            let session = try await UserSessionRepository.start(
                userId: user.id, device: registration.device, address: registration.address, limit: registration.sessionLimit, on: db, now: now
            )
            return (user, session)
        }
    }

    public func createInvite(codeHash: String, quota: Int64, maxUses: Int64, expiresAt: Int64?) async throws {
        try await accountWrite(user: nil) { db in
            try await InviteRepository.create(codeHash: codeHash, quota: quota, maxUses: maxUses, expiresAt: expiresAt, now: Millis.now(), on: db)
        }
    }

    public func invites() async throws -> [Invite] {
        try await accountRead { db in try await InviteRepository.list(on: db) }
    }

    public func removeInvites(prefix: String) async throws -> Int {
        try await accountWrite(user: nil) { db in try await InviteRepository.remove(prefix: prefix, on: db) }
    }
}
