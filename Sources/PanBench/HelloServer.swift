import ArgumentParser
import Hummingbird
import Logging

/// `pan-bench hello`: the framework's own hello-world, the ceiling every row
/// of `pan-bench http` is measured against. A separate process with nothing
/// of Pan in it: Hummingbird 2's defaults, one route answering "ok".
struct HelloServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hello", abstract: "A minimal Hummingbird server (GET /healthz → ok), the benchmarks' baseline.")

    @Option(help: "Port on 127.0.0.1.") var port = 8099

    func run() async throws {
        let router = Router()
        router.get("healthz") { _, _ in "ok" }
        var logger = Logger(label: "pan-bench-hello")
        logger.logLevel = .error
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        try await app.runService()
    }
}
