import ArgumentParser

/// `pan-bench`: Pan's benchmarks. Build and run in release:
/// `swift run -c release pan-bench tree` and `… http`.
@main
struct PanBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pan-bench",
        abstract: "Pan's benchmarks (run with -c release).",
        subcommands: [TreeBenchmark.self, SearchBenchmark.self, HTTPBenchmark.self, HelloServer.self, ThumbnailBenchmark.self]
    )
}
