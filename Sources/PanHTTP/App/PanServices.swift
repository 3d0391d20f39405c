import WCS
import Crypto
import Foundation
import Logging
import PanCore

/// The composition root's parts: the store and what sits beside it.
/// Built once per process; the HTTP layer and tests both use it.
public struct PanServices: Sendable {
    public let configuration: PanConfiguration
    /// Everything Pan keeps; the only way in (`PanCore/PanStore`).
    public let store: any PanStore
    public let credentials: [Credentials]
    public let uploadSettings: UploadSettings
    public let passwords: PasswordHasher
    /// The local endpoint's bytes (used when no external WCS upload host is configured).
    public let objectStore: LocalObjectStore
    let tokens: SessionTokens
    let downloadKey: SymmetricKey

    var storageFloor: StorageFloor {
        StorageFloor(path: configuration.dataDirectory, minimumFreeBytes: configuration.minimumFreeBytes)
    }

    public static func open(_ configuration: PanConfiguration) async throws -> PanServices {
        let credentials = configuration.wcsKeys.isEmpty
            ? [try Secrets.localWCSKeys(dataDirectory: configuration.dataDirectory)]
            : configuration.wcsKeys
        var settings = UploadSettings(
            bucket: configuration.bucket,
            credentials: credentials,
            uploadURL: configuration.effectiveUploadURL,
            callbackURL: configuration.callbackURL,
            tokenTTL: Int64(configuration.uploadTokenTTL * 1000)
        )
        settings.maxPendingSessions = Int64(configuration.maxPendingUploads)
        let secret = try configuration.jwtSecret ?? Secrets.jwtSecret(dataDirectory: configuration.dataDirectory)
        return PanServices(
            configuration: configuration,
            store: try SQLitePanStore.open(
                dataDirectory: configuration.dataDirectory, settings: settings,
                readerCount: configuration.readerCount, maxBatch: configuration.writeBatch
            ),
            credentials: credentials,
            uploadSettings: settings,
            passwords: PasswordHasher(rounds: configuration.passwordRounds),
            objectStore: try LocalObjectStore(dataDirectory: configuration.dataDirectory),
            tokens: await SessionTokens(secret: secret, lifetime: configuration.sessionTokenLifetime),
            // Its own key, derived, so download links and session tokens never share one.
            downloadKey: SymmetricKey(data: SHA256.hash(data: Data("pan-download-links\n\(secret)".utf8)))
        )
    }

    /// A session token for a user, as login would issue (CLI and tests).
    public func issueSessionToken(for user: User) async throws -> String {
        try await tokens.issue(for: user)
    }
}
