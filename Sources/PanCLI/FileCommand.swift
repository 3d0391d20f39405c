import ArgumentParser
import Foundation
import PanCore

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

    static func resolve(_ target: Target, in store: any PanStore) async throws -> (User, FileNode) {
        let user = try await UserCommand.find(target.user, in: store)
        let path = try PanPath.validated(target.path)
        do {
            return (user, try await store.node(userId: user.id, at: NodeAddress(uuid: nil, path: path)).node)
        } catch let error as PanError where error.code == PanError.fileNotFound.code {
            throw CLIError("no such file or directory: \(path)")
        }
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
            let store = try await data.openStore()
            let (_, node) = try await FileCommand.resolve(target, in: store)
            let children = node.isDirectory
                ? try await store.listing(
                    userId: node.userId, of: NodeAddress(uuid: nil, path: node.path),
                    window: ListingWindow(type: nil, order: .nameAscending, limit: 100_000, offset: 0)
                ).children
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
            let store = try await data.openStore()
            let (_, node) = try await FileCommand.resolve(target, in: store)
            let nodes = try await store.subtree(userId: node.userId, path: node.path)
            for node in nodes { print(TerminalSafe.escape(node.path) + (node.isDirectory && node.path != "/" ? "/" : "")) }
        }
    }

    struct Stat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one node as the API does.")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        func run() async throws {
            let (_, node) = try await FileCommand.resolve(target, in: try await data.openStore())
            print(try JSONOutput.string(node))
        }
    }

    struct Mkdir: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a directory (and its parents).")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        func run() async throws {
            let store = try await data.openStore()
            let user = try await UserCommand.find(target.user, in: store)
            let path = try PanPath.validated(target.path)
            do {
                let node = try await store.createDirectory(userId: user.id, path: path)
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
            let store = try await data.openStore()
            let (user, node) = try await FileCommand.resolve(target, in: store)
            let destinationPath = try PanPath.validated(destination)
            do {
                _ = try await store.transfer(
                    userId: user.id, [NodeAddress(uuid: node.uuid, path: nil)], into: NodeAddress(uuid: nil, path: destinationPath),
                    policy: .fail, copying: false
                )
                print("moved to \(TerminalSafe.escape(PanPath.join(destinationPath, node.name)))")
            } catch let error as PanError { throw CLIError(error.message) }
        }
    }

    struct Rm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a node and everything below it (or --recycle).")
        @OptionGroup var data: DataOptions
        @OptionGroup var target: Target
        @Flag(help: "Move to the recycle bin instead of deleting.") var recycle = false
        func run() async throws {
            let store = try await data.openStore()
            let (_, node) = try await FileCommand.resolve(target, in: store)
            let recycle = self.recycle
            do {
                _ = try await store.remove(userId: node.userId, [NodeAddress(uuid: node.uuid, path: nil)], toRecycleBin: recycle)
                print("\(recycle ? "recycled" : "deleted") \(TerminalSafe.escape(node.path))")
            } catch let error as PanError { throw CLIError(error.message) }
        }
    }
}
