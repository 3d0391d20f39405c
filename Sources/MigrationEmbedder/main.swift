import Foundation
import SQLCommon

// Usage: MigrationEmbedder OUTPUT.swift 0001_x.sql 0002_y.sql …
// Writes `embeddedMigrations: [(name, sql)]` in file-name order, after
// checking every file by the rule the binary parses them with
// (`Migration`, `MigrationRunner`): a misnamed or duplicate-numbered file
// fails the build, naming the file.
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: MigrationEmbedder OUTPUT FILE…\n".utf8))
    exit(2)
}

/// "path: error: message", as compilers write it, so the build shows it as an error on that file.
func fail(_ path: String, _ error: any Error) -> Never {
    FileHandle.standardError.write(Data("\(path): error: \(error)\n".utf8))
    exit(1)
}

let paths = arguments.dropFirst().sorted { ($0 as NSString).lastPathComponent < ($1 as NSString).lastPathComponent }
var files: [(name: String, sql: String)] = []
for path in paths {
    let name = (path as NSString).lastPathComponent
    do { _ = try Migration(name: name, sql: "") } catch { fail(path, error) }
    do { files.append((name, try String(contentsOfFile: path, encoding: .utf8))) } catch { fail(path, error) }
}
do { _ = try MigrationRunner(files: files) } catch {
    if case let MigrationError.duplicateVersion(_, _, second) = error, let path = paths.first(where: { $0.hasSuffix("/" + second) }) {
        fail(path, error)
    }
    fail(output, error)
}

var source = "// Generated from migrations/*.sql by the EmbedMigrations plugin. Do not edit.\n"
source += "let embeddedMigrations: [(name: String, sql: String)] = [\n"
for (name, sql) in files {
    // A raw string with enough #s that the SQL can never close it early.
    var hashes = "#"
    while sql.contains("\"" + hashes) { hashes += "#" }
    source += "    (\(String(reflecting: name)), \(hashes)\"\"\"\n\(sql)\n\"\"\"\(hashes)),\n"
}
source += "]\n"
try source.write(toFile: output, atomically: true, encoding: .utf8)
