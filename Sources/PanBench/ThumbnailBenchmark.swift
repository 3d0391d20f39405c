import ArgumentParser
import PanHTTPSupport

/// `pan-bench thumbnail <image> [--size 256]`: one image rendition made the way
/// the server makes it (`Thumbnails`), for comparing time and peak RSS with
/// `vipsthumbnail` under `/usr/bin/time -v` (BENCHMARKS.md, "Image thumbnails").
struct ThumbnailBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thumbnail", abstract: "Make one preview rendition of an image, as the server does, and time it."
    )

    @Argument(help: "The image (JPEG, PNG, GIF, WebP, HEIF).") var image: String
    @Option(help: "The rendition's longest side: 256 or 1280.") var size = 256
    @Option(help: "Where to write the rendition.") var output = "/tmp/pan-thumbnail.webp"

    func run() async throws {
        let seconds = try await ThumbnailBench.render(source: image, size: size, output: output)
        print("rendition \(size) px of \(image): \(String(format: "%.1f", seconds * 1000)) ms → \(output)")
    }
}
