import WCS
import ArgumentParser
import Foundation

/// `pan hash FILE…`: the WCS content hash of each file, as `sha1sum` prints.
struct HashCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hash", abstract: "Print the WCS content hash (storeId) of files.")

    @Argument(help: "Files to hash.") var files: [String]

    func run() async throws {
        var failed = false
        for file in files {
            do {
                let (hash, _) = try ContentHasher.hash(fileAtPath: file)
                print("\(hash)  \(file)")
            } catch {
                FileHandle.standardError.write(Data("pan hash: \(file): cannot read\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
