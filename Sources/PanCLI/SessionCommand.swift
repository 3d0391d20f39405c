import ArgumentParser
import Foundation
import PanCore

/// `pan session list|show|sweep`: upload sessions (one per issued token).
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Inspect upload sessions.",
        subcommands: [List.self, Show.self, Sweep.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List upload sessions, newest first.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this state: pending, done, failed, expired, cancelled.") var state: String?
        @Option(help: "At most this many.") var limit = 50

        func run() async throws {
            var filter: UploadSession.State?
            if let state {
                guard let parsed = UploadSession.State(rawValue: state) else {
                    throw CLIError("unknown state \(state) (one of \(UploadSession.State.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                filter = parsed
            }
            let store = try await data.openStore()
            let limit = self.limit
            let stateFilter = filter
            let sessions = try await store.uploadSessions(state: stateFilter, limit: limit)
            if output.json { print(try JSONOutput.string(sessions)); return }
            let now = Millis.now()
            print(Table.render(
                ["ID", "USER", "STATE", "TARGET", "DEADLINE", "RESULT"],
                sessions.map { s in
                    let left = s.deadline - now
                    let deadline = s.state == .pending ? (left > 0 ? "in \(left / 1000)s" : "passed") : "-"
                    return [s.id, String(s.userId), s.state.rawValue, PanPath.join(s.dirPath, s.name), deadline,
                            s.failureCode ?? (s.resultNodeId.map { "node \($0)" } ?? "-")]
                }
            ))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one upload session.")
        @OptionGroup var data: DataOptions
        @Argument(help: "Session id.") var id: String

        func run() async throws {
            let store = try await data.openStore()
            let id = self.id
            guard let session = try await store.uploadSession(id: id) else {
                throw CLIError("no upload session \(id)")
            }
            print(try JSONOutput.string(session))
        }
    }

    struct Sweep: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark sessions past their deadline (plus grace), or lapsed (PAN_UPLOAD_IDLE), expired.")
        @OptionGroup var data: DataOptions
        @Option(help: "Grace after the deadline, seconds (default 600).") var grace = 600

        func run() async throws {
            let store = try await data.openStore()
            let cutoff = Millis.now() - Int64(grace) * 1000
            let count = try await store.sweepSessions(before: cutoff)
            print("expired \(count) session(s)")
        }
    }
}
