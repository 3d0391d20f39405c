import ArgumentParser
import Foundation
import PanCore
import SQLiteKit

/// `pan file ls|tree|stat|mkdir|mv|rm USER PATH`: a user's tree, for admins.
struct FileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "file", abstract: "Look at and change a user's files.",
        subcommands: [Ls.self, Tree.self, Stat.self, Mkdir.self, Mv.self, Rm.self]
    )

    struct Target: ParsableArguments {
        @Argument(help: "User name, phone or id.") var user: String
        @Argument(help: "Absolute path (default /).") var path = "/"
    }

    static func resolve(_ target: Target, in database: DatabasePool) async throws -> (User, FileNode) {
        let user = try await UserCommand.find(target.user, in: database)
        let path = try PanPath.validated(target.path)
        guard let node = try await database.read({ try TreeRepository.node(userId: user.id, path: path, on: $0) }) else {
            throw CLIError("no such file or directory: \(path)")
        }
        return (user, node)
    }

    static func row(_ node: FileNode) -> [String] {
        [node.isDirectory ? "d" : "-", ByteCount.format(node.size),
         ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(node.mtime) / 1000)), node.name + (node.isDirectory ? "/" : "")]
    }

    struct Ls: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a directory.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var target: Target
        func run() async throws {
            let database = try data.openDatabase()
            let (_, node) = try await FileCommand.resolve(target, in: database)
            let children = node.isDirectory
                ? try await database.read { try TreeRepository.children(of: node.id, type: nil, order: .nameAscending, limit: 100_000, offset: 0, on: $0).nodes }
                : [node]
            if output.json { print(try JSONOutput.string(children)); return }
            print(Table.render(["T", "SIZE", "MODIFIED", "NAME"], children.map(FileCommand.row)))
        }
    }

    struct Tree: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a subtree.")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        func run() async throws {
            let database = try data.openDatabase()
            let (_, node) = try await FileCommand.resolve(target, in: database)
            let nodes = try await database.read { db in
                try db.query(
                    "SELECT path, type FROM nodes WHERE user_id = ? AND lft >= ? AND lft < ? AND state = 0 ORDER BY path",
                    node.userId, node.lft, node.rgt
                ).map { (try $0.string("path"), try $0.int("type")) }
            }
            for (path, type) in nodes { print(TerminalSafe.escape(path) + (type == 1 && path != "/" ? "/" : "")) }
        }
    }

    struct Stat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one node as the API does.")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        func run() async throws {
            let (_, node) = try await FileCommand.resolve(target, in: try data.openDatabase())
            print(try JSONOutput.string(node))
        }
    }

    struct Mkdir: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a directory (and its parents).")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        func run() async throws {
            let database = try data.openDatabase()
            let user = try await UserCommand.find(target.user, in: database)
            let path = try PanPath.validated(target.path)
            do {
                let node = try await database.write { try TreeRepository.directory(userId: user.id, path: path, on: $0) }
                print("created \(TerminalSafe.escape(node.path))")
            } catch let error as PanError { throw CLIError(error.message) }
        }
    }

    struct Mv: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a node into a directory.")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        @Argument(help: "Destination directory.") var destination: String
        func run() async throws {
            let database = try data.openDatabase()
            let (user, node) = try await FileCommand.resolve(target, in: database)
            let destinationPath = try PanPath.validated(destination)
            do {
                let moved = try await database.write { db in
                    guard let directory = try TreeRepository.node(userId: user.id, path: destinationPath, on: db) else { throw PanError.fileNotFound }
                    return try TreeMutations.move(node, into: directory, on: db)
                }
                print("moved to \(TerminalSafe.escape(moved.path))")
            } catch let error as PanError { throw CLIError(error.message) }
        }
    }

    struct Rm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a node and everything below it (or --recycle).")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        @Flag(help: "Move to the recycle bin instead of deleting.") var recycle = false
        func run() async throws {
            let database = try data.openDatabase()
            let (_, node) = try await FileCommand.resolve(target, in: database)
            let recycle = self.recycle
            do {
                try await database.write { db in
                    if recycle { try TreeMutations.recycle(node, on: db) } else { try TreeMutations.delete(node, on: db) }
                }
                print("\(recycle ? "recycled" : "deleted") \(TerminalSafe.escape(node.path))")
            } catch let error as PanError { throw CLIError(error.message) }
        }
    }
}
