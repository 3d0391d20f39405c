import WCS
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import Logging
import PanAPI
import PanCore
import AsyncHTTPClient
import PanHTTPSupport
import PanLocalWCS
import PanWebDAV
import ServiceLifecycle

public typealias PanApplication = Application<RouterResponder<AppRequestContext>>

/// Composes Pan: services, routes, middleware, background services.
public func buildApplication(_ configuration: PanConfiguration, logger: Logger) async throws -> (PanApplication, PanServices) {
    let services = try await PanServices.open(configuration, forServer: true)
    if configuration.callbackCheck == .off {
        logger.warning("callback verification is OFF (PAN_CALLBACK_CHECK=off): anyone who knows a session id can complete it")
    }
    if (configuration.callbackCheck == .ip || configuration.callbackCheck == .both) && configuration.callbackAllowlist.isEmpty {
        logger.warning("callback IP allowlist is empty: every callback will be refused")
    }
    let metrics = ServerMetrics()
    // What /readyz and /metrics report of the database, measured in the background.
    let probe = OperationsProbe(store: services.store, metrics: metrics, configuration: configuration)
    let router = try buildRouter(services, metrics: metrics, probe: probe)
    let sweeper = SessionSweeper(
        store: services.store, callbackGrace: services.uploadSettings.callbackGrace, objectStore: services.objectStore,
        sessionTokenLifetime: configuration.sessionTokenLifetime, interval: configuration.sweepInterval, logger: logger
    )
    // Shut down in reverse order, after the HTTP server (always last in its
    // group) has drained: admin listener, public-URL check, sweeper, operations probe, then the WAL checkpoint.
    var background: [any Service] = [
        NamedService("ShutdownCheckpoint", ShutdownCheckpoint(store: services.store, database: DatabaseDescription(configuration), logger: logger)),
        NamedService("OperationsRefresher", OperationsRefresher(probe: probe, logger: logger)),
        NamedService("SessionSweeper", sweeper),
        NamedService("BinSweeper", BinSweeper(
            store: services.store, retention: configuration.binRetention, interval: configuration.sweepInterval, metrics: metrics.pan, logger: logger
        )),
        NamedService("PublicURLChecker", PublicURLChecker(check: services.publicURLCheck, client: CallbackClient.sharedHTTPClient, logger: logger)),
        // Stops before the checkpoint and the pool: its last flush still has the database.
        NamedService("UserSessionActivityWriter", UserSessionActivityWriter(
            activity: services.sessionActivity, store: services.store, interval: configuration.sessionActivityInterval, logger: logger
        )),
    ]
    if let admin = try buildAdminApplication(services, metrics: metrics, probe: probe, logger: logger) { background.append(admin) }
    // The database pool first: started before, and stopped after, everything that uses it.
    if let storeService = services.storeService { background.insert(NamedService("DatabasePool", storeService), at: 0) }
    let app = Application(
        router: router,
        server: .panHTTP1(
            idleTimeout: configuration.idleTimeout.map { .milliseconds(Int64($0 * 1000)) },
            pace: RequestPaceRule(configuration),
            connectionsPerAddress: configuration.effectiveMaxConnectionsPerIP.map {
                ConnectionsPerAddress(limit: $0, exempt: IPMatcher(configuration.trustedProxies))
            }
        ),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "pan",
            availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)
        ),
        services: background,
        // Only now can the public URL (often this very listener) answer.
        onServerRunning: { [check = services.publicURLCheck] _ in check.markServerRunning() },
        logger: logger
    )
    return (app, services)
}

func buildRouter(_ services: PanServices, metrics: ServerMetrics, probe: OperationsProbe) throws -> Router<AppRequestContext> {
    let configuration = services.configuration
    let router = Router(context: AppRequestContext.self)
    // CORS outermost, so even error replies carry Access-Control-Allow-Origin.
    // Only to configured origins: reflecting any Origin let every web page a
    // signed-in user visited call the API with the token it found (issue #14).
    let origins = configuration.effectiveCORSOrigins
    let anyOrigin = origins.contains("*")
    if !anyOrigin { router.add(middleware: OriginAllowlistMiddleware(allowed: Set(origins))) }
    router.add(middleware: CORSMiddleware(
        allowOrigin: anyOrigin ? .all : .originBased,
        allowHeaders: [.accept, .authorization, .contentType, .origin, .token, .qingzhenToken, .uploadBatch, .key, .requestId],
        allowMethods: [.get, .post, .head, .options],
        exposedHeaders: CORSExposeMiddleware<AppRequestContext>.exposed,
        maxAge: .seconds(86400)
    ))
    router.add(middleware: CORSExposeMiddleware())
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics.requests))
    let clientAddress = ClientAddress(trustedProxies: IPMatcher(configuration.trustedProxies))
    router.add(middleware: RequestLogMiddleware(clientAddress: clientAddress, tokens: services.tokens))
    router.add(middleware: ClientShapeMiddleware())
    let authenticator = Authenticator(tokens: services.tokens, store: services.store, activity: services.sessionActivity)
    // Every password hash of this server (sign-ins, share passwords) runs on these threads.
    let hashPool = HashPool()

    // Health, readiness, metrics — here unless an admin listener serves them (Operations/).
    if configuration.adminPort == nil {
        let access = OperationsAccess(token: configuration.metricsToken, trustedProxies: configuration.trustedProxies)
        try addOperationsRoutes(to: router, services: services, metrics: metrics, probe: probe, access: access)
    }
    // One throttle for every door a password is tried at: login, change password, sign-up.
    let loginThrottle = LoginThrottle(limits: configuration.loginLimits)
    UserController(
        store: services.store, authenticator: authenticator, passwords: services.passwords,
        throttle: loginThrottle, clientAddress: clientAddress, hashPool: hashPool,
        maxSessions: configuration.maxSessionsPerUser
    ).addRoutes(to: router)
    AccountController(
        store: services.store, authenticator: authenticator, passwords: services.passwords, throttle: loginThrottle,
        clientAddress: clientAddress, hashPool: hashPool, maxSessions: configuration.maxSessionsPerUser,
        registration: configuration.registration, registrationQuota: configuration.registrationQuota
    ).addRoutes(to: router)
    AppPasswordController(store: services.store, authenticator: authenticator, key: services.appPasswordKey).addRoutes(to: router)
    let storage = services.storageFloor
    // Proofs of possession read the stored object itself: the local files, or WCS by signed Range GETs.
    let objectReader: any ObjectRangeReader = if !configuration.usesLocalUploadEndpoint, let domain = configuration.downloadDomain {
        WCSObjectRangeReader(downloadDomain: domain, credentials: services.credentials[0])
    } else {
        LocalObjectRangeReader(store: services.objectStore)
    }
    let possession = PossessionCheck(
        store: services.store, reader: objectReader, throttle: ProofThrottle(limits: configuration.proofLimits)
    )
    TokenController(
        store: services.store, authenticator: authenticator, metrics: metrics.pan, storage: storage, possession: possession,
        clientAddress: clientAddress
    )
        .addRoutes(to: router)
    UploadSessionController(
        store: services.store, authenticator: authenticator,
        tokens: TokenCheck(credentials: services.credentials, bucket: configuration.bucket),
        blocks: configuration.usesLocalUploadEndpoint ? services.objectStore : nil
    ).addRoutes(to: router)
    CallbackController(
        store: services.store, configuration: configuration, credentials: services.credentials,
        clientAddress: clientAddress, allowlist: IPMatcher(configuration.callbackAllowlist), metrics: metrics.pan
    ).addRoutes(to: router)
    let links = DownloadLinks(
        publicBaseURL: configuration.effectivePublicBaseURL,
        downloadDomain: configuration.usesLocalUploadEndpoint ? nil : configuration.downloadDomain,
        key: services.downloadKey
    )
    FilesController(store: services.store, authenticator: authenticator, links: links).addRoutes(to: router)
    // Previews (`/v1/preview/*`); image renditions only where the bytes are (the local endpoint).
    let thumbnails = configuration.usesLocalUploadEndpoint
        ? Thumbnails(directory: PreviewRenditions.directory(of: services.objectStore)) : nil
    PreviewController(
        store: services.store, authenticator: authenticator, links: links,
        objects: configuration.usesLocalUploadEndpoint ? services.objectStore : nil, thumbnails: thumbnails
    ).addRoutes(to: router)
    ZipController(
        store: services.store, authenticator: authenticator,
        links: ZipLinks(publicBaseURL: configuration.effectivePublicBaseURL, key: services.downloadKey),
        objects: configuration.usesLocalUploadEndpoint ? services.objectStore : nil, slots: ZipStreamSlots()
    ).addRoutes(to: router)
    // Share links (PanAPI/Shares/): the owner's API, the public API and the files' addresses.
    let shareLinks = ShareLinks(publicBaseURL: configuration.effectivePublicBaseURL, key: services.downloadKey)
    ShareController(
        store: services.store, authenticator: authenticator, links: shareLinks, passwords: services.passwords, hashPool: hashPool,
        throttle: SharePasswordThrottle(), clientAddress: clientAddress, metrics: metrics.pan
    ).addRoutes(to: router)
    ShareDownloadController(
        store: services.store, links: shareLinks, objects: configuration.usesLocalUploadEndpoint ? services.objectStore : nil,
        bucket: configuration.usesLocalUploadEndpoint ? nil : configuration.downloadDomain.map {
            BucketAddress(domain: $0, credentials: services.credentials[0])
        },
        metrics: metrics.pan
    ).addRoutes(to: router)
    // WebDAV at `/dav/` (PanWebDAV): the same accounts, throttle and hash pool as sign-in.
    DAVController(
        store: services.store, passwords: services.passwords, throttle: loginThrottle, hashPool: hashPool,
        clientAddress: clientAddress, bytes: davByteStore(configuration, services),
        bucket: configuration.bucket, storage: storage,
        appPasswords: services.appPasswordKey, acceptsAccountPassword: configuration.davAccountPassword
    ).addRoutes(to: router)
    // The web app at `/` and `/app/…` (PanAPI/WebApp/); every other path is as before.
    WebAppController(
        assets: configuration.webDirectory.map(WebAssets.folder) ?? .embedded, configuration: configuration
    ).addRoutes(to: router)
    if configuration.usesLocalUploadEndpoint {
        // Pan stands in for WCS: uploads, callbacks to itself, downloads.
        let tokenCheck = TokenCheck(credentials: services.credentials, bucket: configuration.bucket)
        let completion = UploadCompletion(
            callbackClient: CallbackClient(
                httpClient: CallbackClient.sharedHTTPClient, credentials: services.credentials[0],
                budget: .milliseconds(Int64(configuration.callbackTimeout * 1000))
            ),
            publicBaseURL: configuration.effectivePublicBaseURL,
            store: services.objectStore,
            panStore: services.store,
            settings: services.uploadSettings
        )
        let preauth = PreauthBudget(perRequest: configuration.preauthUploadBytes, total: configuration.preauthUploadTotal)
        FormUploadController(
            store: services.objectStore, tokens: tokenCheck, completion: completion, clientAddress: clientAddress,
            preauth: preauth, storage: storage
        )
            .addRoutes(to: router)
        SliceUploadController(
            store: services.objectStore, tokens: tokenCheck, completion: completion, clientAddress: clientAddress, storage: storage
        )
            .addRoutes(to: router)
        DownloadController(store: services.objectStore, links: links, panStore: services.store, thumbnails: thumbnails)
            .addRoutes(to: router)
        ObjectDownloadController(
            store: services.objectStore, credentials: services.credentials, publicPrefix: configuration.effectivePublicBaseURL + "/objects"
        ).addRoutes(to: router)
    }
    return router
}

/// WebDAV's bytes: the local object store, or — with an external WCS — Pan
/// uploading a PUT there itself and redirecting a GET to the bucket.
func davByteStore(_ configuration: PanConfiguration, _ services: PanServices) -> DAVByteStore {
    guard let uploadURL = configuration.uploadURL else { return .local(services.objectStore) }
    return .wcs(
        WCSUploader(uploadURL: uploadURL, bucket: configuration.bucket, credentials: services.credentials[0], httpClient: CallbackClient.sharedHTTPClient),
        downloads: configuration.downloadDomain.map { BucketAddress(domain: $0, credentials: services.credentials[0]) }
    )
}
