import ArgumentParser
import Foundation
import PanCore

extension UserCommand {
    /// `pan user app-password create|list|revoke`: a user's per-device WebDAV passwords (`AppPassword`).
    struct AppPasswords: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "app-password",
            abstract: "Make, list or revoke a user's app passwords: per-device passwords for WebDAV (/dav/) only.",
            subcommands: [Create.self, List.self, Revoke.self]
        )

        struct Record: Encodable {
            let id: String, name: String, createdAt: Int64, lastUsedAt: Int64?
            let password: String?
        }

        static func time(_ ms: Int64?) -> String {
            ms.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "never"
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make an app password; it is printed once, only its keyed hash is kept."
            )
            @OptionGroup var data: DataOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "User name, phone or id.") var user: String
            @Option(help: "What it is for: the device's name (at most 64 characters).") var name: String

            func run() async throws {
                let label: String
                do { label = try AppPassword.checkedName(name) } catch { throw CLIError(error.message) }
                // The servers' key: checked before anything is stored.
                let key = try data.configuration().appPasswordKey()
                let store = try await data.openStore()
                let found = try await UserCommand.find(user, in: store)
                let secret = AppPasswordSecret.generate()
                let made: AppPassword
                do {
                    made = try await store.createAppPassword(
                        userId: found.id, name: label, secretHash: key.hash(canonical: AppPasswordSecret.canonical(secret)!)
                    )
                } catch let error as PanError {
                    throw CLIError(error.message)
                }
                if output.json {
                    Swift.print(try JSONOutput.string(Record(
                        id: made.id, name: made.name, createdAt: made.createdAt, lastUsedAt: nil, password: secret
                    )))
                    return
                }
                Swift.print(secret)
                FileHandle.standardError.write(Data(
                    "app password \(made.id) (\(TerminalSafe.escape(made.name))) for \(TerminalSafe.escape(found.name)): WebDAV at \(try data.configuration().effectivePublicBaseURL)/dav/ with the user name \(TerminalSafe.escape(found.name)); it is not shown again\n".utf8
                ))
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List a user's app passwords (ids and names, never the passwords).")
            @OptionGroup var data: DataOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "User name, phone or id.") var user: String

            func run() async throws {
                let store = try await data.openStore()
                let found = try await UserCommand.find(user, in: store)
                let list = try await store.appPasswords(userId: found.id)
                if output.json {
                    Swift.print(try JSONOutput.string(list.map {
                        Record(id: $0.id, name: $0.name, createdAt: $0.createdAt, lastUsedAt: $0.lastUsedAt, password: nil)
                    }))
                    return
                }
                Swift.print(Table.render(
                    ["ID", "NAME", "CREATED", "LAST USED"],
                    list.map { [$0.id, TerminalSafe.escape($0.name), AppPasswords.time($0.createdAt), AppPasswords.time($0.lastUsedAt)] }
                ))
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke one of a user's app passwords (refused at once).")
            @OptionGroup var data: DataOptions
            @Argument(help: "User name, phone or id.") var user: String
            @Argument(help: "The app password's id (pan user app-password list).") var id: String

            func run() async throws {
                let store = try await data.openStore()
                let found = try await UserCommand.find(user, in: store)
                guard try await store.revokeAppPassword(userId: found.id, id: id.trimmingCharacters(in: .whitespaces)) else {
                    throw CLIError("\(TerminalSafe.escape(found.name)) has no app password \(TerminalSafe.escape(id))")
                }
                Swift.print("revoked app password \(id) of \(TerminalSafe.escape(found.name))")
            }
        }
    }
}
