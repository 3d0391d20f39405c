import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PanCore
import PanHTTPSupport
import PanServer

/// `pan serve`: migrate, then run the HTTP server until SIGTERM/SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the server (the default command).")

    @OptionGroup var data: DataOptions
    @Option(help: "Address to listen on (env PAN_HOST; default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (env PAN_PORT; default 8080).") var port: Int?
    @Option(name: .customLong("public-url"), help: "URL clients and WCS reach Pan at (env PAN_PUBLIC_URL; default http://HOST:PORT).")
    var publicURL: String?
    @Option(name: .customLong("upload-url"), help: "External WCS upload host (env PAN_UPLOAD_URL; default: Pan's own endpoint).")
    var uploadURL: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (env PAN_LOG_LEVEL; default info).")
    var logLevel: String?

    func run() async throws {
        var configuration = try data.configuration()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let publicURL { configuration.publicBaseURL = publicURL }
        if let uploadURL { configuration.uploadURL = uploadURL }
        var logger = Logger(label: "pan", factory: LazyMetadataLogHandler.init(label:))
        let level = logLevel ?? ProcessInfo.processInfo.environment["PAN_LOG_LEVEL"] ?? "info"
        guard let parsed = Logger.Level(rawValue: level) else { throw CLIError("unknown log level \(level)") }
        logger.logLevel = parsed
        let (app, services) = try await buildApplication(configuration, logger: logger)
        // Which engine and database (never the URL: it holds the password).
        let database = DatabaseDescription(configuration)
        var metadata: Logger.Metadata = [
            "listen": "\(configuration.host):\(configuration.port)",
            "public_url": "\(configuration.effectivePublicBaseURL)",
            "data_dir": "\(configuration.dataDirectory)",
            "upload_url": "\(configuration.effectiveUploadURL)",
            "engine": "\(database.engine)",
            "database": "\(database.database)",
        ]
        if let user = database.user { metadata["database_user"] = "\(user)" }
        if let id = services.deploymentID { metadata["deployment"] = "\(id)" }
        if case .created(let id) = services.deployment {
            logger.notice("new deployment: its id is in the database and in the storage's marker", metadata: [
                "deployment": "\(id)", "marker": "\(StorageMarker.path(in: services.objectStore))",
            ])
        }
        logger.info("pan serving", metadata: metadata)
        try await runUntilSignalled(app, configuration: configuration, logger: logger)
    }
}
