import WCS
import Crypto
import Foundation
import Logging
import PanCore
import PanHTTPSupport
import PanPostgres
import PanSQLite
import ServiceLifecycle

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
    /// The deployment whose shared storage `objectStore` is, and whether this start made it
    /// (`StorageMarker`); nil with external WCS.
    public let deployment: StorageMarker.Outcome?
    public var deploymentID: String? {
        switch deployment {
        case .created(let id), .matched(let id): id
        case nil: nil
        }
    }
    /// Whether this server reached its own public URL (`/readyz`).
    public let publicURLCheck: PublicURLCheck
    let tokens: SessionTokens
    /// Sign-in sessions seen again, waiting to be written (`UserSessionActivityWriter`).
    let sessionActivity = UserSessionActivity()
    let downloadKey: SymmetricKey
    /// What app passwords' secrets are hashed with (`AppPasswordKey`).
    let appPasswordKey: AppPasswordKey
    /// What the store needs running beside the server (PostgreSQL's pool), if anything.
    let storeService: (any Service)?

    var storageFloor: StorageFloor {
        StorageFloor(path: configuration.dataDirectory, minimumFreeBytes: configuration.minimumFreeBytes)
    }

    /// `forServer`: the PostgreSQL pool is left for the server's `ServiceGroup`
    /// to run (`storeService`); otherwise the store is ready to use at once.
    public static func open(
        _ configuration: PanConfiguration, logger: Logger = Logger(label: "pan.store"), forServer: Bool = false
    ) async throws -> PanServices {
        if configuration.databaseURL != nil {
            // Several servers share one database: secrets each would generate for
            // itself make one server's tokens and callbacks fail on the others.
            guard configuration.jwtSecret != nil else {
                throw ConfigurationError(
                    "PAN_JWT_SECRET is required with PAN_DATABASE_URL: every server must sign and check session tokens with the same secret"
                )
            }
            guard !configuration.wcsKeys.isEmpty else {
                throw ConfigurationError(
                    "PAN_WCS_KEYS is required with PAN_DATABASE_URL: every server must sign upload tokens and check callbacks with the same keys"
                )
            }
        }
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
        settings.uploadIdle = Int64(configuration.uploadIdle * 1000)
        settings.uploadIdleExternal = Int64(configuration.uploadIdleExternal * 1000)
        settings.seesUploadBytes = configuration.usesLocalUploadEndpoint
        settings.maxNodesPerUser = configuration.maxNodesPerUser
        settings.binStep = configuration.binStep
        settings.instantUpload = configuration.effectiveInstantUpload
        if configuration.instantUpload != settings.instantUpload {
            logger.warning("PAN_INSTANT_UPLOAD=proof needs PAN_DOWNLOAD_DOMAIN with an external WCS (proofs are checked against the stored bytes): instant upload is limited to each user's own content")
        }
        if settings.instantUpload == .global {
            logger.warning("PAN_INSTANT_UPLOAD=global: anyone who knows a stored file's hash can add that file to their own tree")
        }
        let secret = try configuration.serverSecret()
        let objectStore = try LocalObjectStore(dataDirectory: configuration.dataDirectory)
        // Opened, migrated and usable now (PostgreSQL: on a pool of its own while this runs).
        let store = try await StoreOpening.open(configuration, settings: settings, readerCount: configuration.readerCount, logger: logger)
        // The local endpoint's bytes must be the deployment's shared storage (StorageMarker).
        var deployment: StorageMarker.Outcome?
        if configuration.usesLocalUploadEndpoint {
            do {
                deployment = try await StorageMarker.verify(store: store, objectStore: objectStore)
            } catch {
                await store.close()
                throw error
            }
        }
        // The server's PostgreSQL pool runs in its ServiceGroup: the startup
        // work above had a pool of its own, closed now.
        let opened: OpenedStore
        if forServer, let serving = try StoreOpening.serverPool(configuration, settings: settings, logger: logger) {
            await store.close()
            opened = serving
        } else {
            opened = OpenedStore(store: store, service: nil)
        }
        return PanServices(
            configuration: configuration,
            store: opened.store,
            credentials: credentials,
            uploadSettings: settings,
            passwords: PasswordHasher(rounds: configuration.passwordRounds),
            objectStore: objectStore,
            deployment: deployment,
            publicURLCheck: PublicURLCheck(configuration),
            tokens: await SessionTokens(secret: secret, lifetime: configuration.sessionTokenLifetime),
            // Its own key, derived, so download links and session tokens never share one.
            downloadKey: SymmetricKey(data: SHA256.hash(data: Data("pan-download-links\n\(secret)".utf8))),
            appPasswordKey: AppPasswordKey(serverSecret: secret),
            storeService: opened.service
        )
    }

    /// A session token for a user, in sign-in `session` (nil: a token without one, as servers before sessions issued) (CLI and tests).
    public func issueSessionToken(for user: User, session: String? = nil) async throws -> String {
        try await tokens.issue(for: user, session: session)
    }
}
