import Foundation

// Usage: WebAppEmbedder OUTPUT.swift ROOT FILE…
// Writes `embeddedWebAppFiles: [(path, base64)]`, each path relative to ROOT,
// sorted. Base64 keeps any byte (and any quote) out of the Swift literal.
let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: WebAppEmbedder OUTPUT ROOT FILE…\n".utf8))
    exit(2)
}
let output = arguments[0]
var root = arguments[1]
if !root.hasSuffix("/") { root += "/" }
var entries: [(String, String)] = []
for path in arguments.dropFirst(2) {
    guard path.hasPrefix(root) else {
        FileHandle.standardError.write(Data("\(path) is not under \(root)\n".utf8))
        exit(1)
    }
    let relative = String(path.dropFirst(root.count))
    entries.append((relative, try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString()))
}
entries.sort { $0.0 < $1.0 }
var source = "// Generated from web/ by the EmbedWebApp plugin. Do not edit.\n"
source += "let embeddedWebAppFiles: [(path: String, base64: String)] = [\n"
for (path, base64) in entries {
    source += "    (\(String(reflecting: path)), \"\(base64)\"),\n"
}
source += "]\n"
try source.write(toFile: output, atomically: true, encoding: .utf8)
