import ArgumentParser
import Foundation
import PanCore

/// `pan share list|remove`: share links (issue #27), for admins — what is
/// shared, by whom, in what state, and taking a link down.
struct ShareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "List and remove share links.",
        subcommands: [List.self, Remove.self]
    )

    /// One share as `--json` prints it (never the password hash).
    struct Item: Encodable {
        let id: String
        let user: Int64
        let path: String
        let state: String
        let hasPassword: Bool
        let expiresAt: Int64?
        let maxDownloads: Int64?
        let allowDownload: Bool
        let views: Int64
        let downloads: Int64
        let lastAccessAt: Int64?
        let createdAt: Int64

        init(_ share: Share, now: Int64) {
            id = share.id
            user = share.userId
            path = share.node?.path ?? "-"
            state = share.state(now: now).rawValue
            hasPassword = share.hasPassword
            expiresAt = share.expiresAt
            maxDownloads = share.maxDownloads
            allowDownload = share.allowDownload
            views = share.views
            downloads = share.downloads
            lastAccessAt = share.lastAccessAt
            createdAt = share.createdAt
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List share links, newest first.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this user's (id, name or phone).") var user: String?
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let store = try await data.openStore()
            var userId: Int64?
            if let reference = user {
                guard let found = try await store.user(reference: reference) else { throw CLIError("no user \(reference)") }
                userId = found.id
            }
            let now = Millis.now()
            let items = try await store.allShares(userId: userId, limit: limit).map { Item($0, now: now) }
            if output.json { print(try JSONOutput.string(items)); return }
            print(Table.render(
                ["ID", "USER", "PATH", "STATE", "PASSWORD", "DOWNLOADS", "VIEWS", "EXPIRES"],
                items.map { item in
                    [
                        item.id, String(item.user), item.path, item.state, item.hasPassword ? "yes" : "no",
                        item.maxDownloads.map { "\(item.downloads)/\($0)" } ?? String(item.downloads), String(item.views),
                        item.expiresAt.map { Date(timeIntervalSince1970: Double($0) / 1000).ISO8601Format() } ?? "never",
                    ]
                }
            ))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove share links: their pages and download links stop at once.")
        @OptionGroup var data: DataOptions
        @Argument(help: "Share ids.") var ids: [String]

        func run() async throws {
            let store = try await data.openStore()
            var removed = 0
            for id in ids {
                guard let share = try await store.share(id: id) else { throw CLIError("no share \(id)") }
                removed += try await store.removeShares(userId: share.userId, ids: [id])
            }
            print("removed \(removed) share(s)")
        }
    }
}
