import ArgumentParser
import Foundation
import PanCore

/// `pan user add|list|show|passwd|disable|enable|quota|sessions|invite|invites|app-password`.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage users, and invite codes for sign-up (PAN_REGISTRATION=invite).",
        subcommands: [Add.self, List.self, Show.self, Passwd.self, Disable.self, Enable.self, Quota.self, Sessions.self, Invite.self, Invites.self, AppPasswords.self]
    )

    /// The password from `--password`, else one line of standard input.
    static func password(_ flag: String?) throws -> String {
        if let flag, !flag.isEmpty { return flag }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw CLIError("give a password with --password or on standard input")
        }
        return line
    }

    static func find(_ reference: String, in store: any PanStore) async throws -> User {
        guard let user = try await store.user(reference: reference) else {
            throw CLIError("no user \(reference)")
        }
        return user
    }

    static func print(_ users: [User], json: Bool) throws {
        if json {
            Swift.print(try JSONOutput.string(users.map(UserRecord.init)))
            return
        }
        Swift.print(Table.render(
            ["ID", "NAME", "PHONE", "STATUS", "USED", "QUOTA", "CREATED"],
            users.map { u in
                [String(u.id), u.name, u.phone ?? "-", u.isDisabled ? "disabled" : "active",
                 ByteCount.format(u.spaceUsed), ByteCount.format(u.spaceCapacity),
                 ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(u.createTime) / 1000))]
            }
        ))
    }

    struct UserRecord: Encodable {
        let id: Int64, name: String, phone: String?, email: String?, status: String
        let spaceUsed: Int64, spaceCapacity: Int64, createTime: Int64
        init(_ u: User) {
            id = u.id; name = u.name; phone = u.phone; email = u.email
            status = u.isDisabled ? "disabled" : "active"
            spaceUsed = u.spaceUsed; spaceCapacity = u.spaceCapacity; createTime = u.createTime
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "User name (not all digits: those are phone numbers).") var name: String
        @Option(help: "Password (else read from standard input).") var password: String?
        @Option(help: "Phone number (digits).") var phone: String?
        @Option(help: "E-mail address.") var email: String?
        @Option(help: "Space quota, e.g. 10G, 500M (default 10G).") var quota = "10G"

        func run() async throws {
            // The rules every way of choosing a name follows (sign-up and renames too).
            if let problem = UserNameRule.problem(name) { throw CLIError(problem) }
            if let phone, !phone.allSatisfy(\.isNumber) || phone.isEmpty { throw CLIError("a phone number is digits only") }
            guard let capacity = ByteCount.parse(quota) else { throw CLIError("cannot read quota \(quota)") }
            let secret = try UserCommand.password(password)
            let store = try await data.openStore()
            let hash = try PasswordHasher(rounds: try data.configuration().passwordRounds).hash(plainPassword: secret)
            let new = UserRepository.NewUser(name: name, phone: phone, email: email, passwordHash: hash, spaceCapacity: capacity)
            let user: User
            do {
                user = try await store.createUser(new)
            } catch let error as PanError {
                throw CLIError(error.message)
            }
            if output.json { try UserCommand.print([user], json: true) } else { Swift.print("created user \(user.name) (id \(user.id))") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let store = try await data.openStore()
            try UserCommand.print(try await store.users(), json: output.json)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "User name, phone or id.") var user: String
        func run() async throws {
            let store = try await data.openStore()
            let found = try await UserCommand.find(user, in: store)
            let nodes = try await store.nodeCount(userId: found.id)
            if output.json { try UserCommand.print([found], json: true); return }
            try UserCommand.print([found], json: false)
            Swift.print("nodes: \(nodes)")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (revokes their sessions).")
        @OptionGroup var data: DataOptions
        @Argument(help: "User name, phone or id.") var user: String
        @Option(help: "New password (else read from standard input).") var password: String?
        func run() async throws {
            let secret = try UserCommand.password(password)
            let store = try await data.openStore()
            let found = try await UserCommand.find(user, in: store)
            let hash = try PasswordHasher(rounds: try data.configuration().passwordRounds).hash(plainPassword: secret)
            try await store.setPasswordHash(hash, userId: found.id)
            Swift.print("password changed for \(found.name)")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user (revokes their sessions).")
        @OptionGroup var data: DataOptions
        @Argument(help: "User name, phone or id.") var user: String
        func run() async throws {
            let store = try await data.openStore()
            let found = try await UserCommand.find(user, in: store)
            try await store.setDisabled(true, userId: found.id)
            Swift.print("disabled \(found.name)")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user.")
        @OptionGroup var data: DataOptions
        @Argument(help: "User name, phone or id.") var user: String
        func run() async throws {
            let store = try await data.openStore()
            let found = try await UserCommand.find(user, in: store)
            try await store.setDisabled(false, userId: found.id)
            Swift.print("enabled \(found.name)")
        }
    }

    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's space quota.")
        @OptionGroup var data: DataOptions
        @Argument(help: "User name, phone or id.") var user: String
        @Argument(help: "New quota, e.g. 20G.") var size: String
        func run() async throws {
            guard let capacity = ByteCount.parse(size) else { throw CLIError("cannot read size \(size)") }
            let store = try await data.openStore()
            let found = try await UserCommand.find(user, in: store)
            try await store.setQuota(capacity, userId: found.id)
            Swift.print("quota of \(found.name) is now \(ByteCount.format(capacity))")
        }
    }

    struct Sessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's sign-in sessions, or end one (--revoke ID).")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "User name, phone or id.") var user: String
        @Option(help: "End this session (its tokens are refused at once).") var revoke: String?

        struct Record: Encodable {
            let id: String, device: String, address: String, createdAt: Int64, lastSeenAt: Int64
        }

        func run() async throws {
            let store = try await data.openStore()
            let found = try await UserCommand.find(user, in: store)
            if let revoke {
                guard try await store.endUserSession(userId: found.id, id: revoke) else {
                    throw CLIError("\(found.name) has no session \(revoke)")
                }
                Swift.print("ended session \(revoke) of \(found.name)")
                return
            }
            let sessions = try await store.userSessions(userId: found.id, limit: try data.configuration().maxSessionsPerUser)
            if output.json {
                Swift.print(try JSONOutput.string(sessions.map {
                    Record(id: $0.id, device: $0.device, address: $0.address, createdAt: $0.createdAt, lastSeenAt: $0.lastSeenAt)
                }))
                return
            }
            func time(_ ms: Int64) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000)) }
            Swift.print(Table.render(
                ["ID", "DEVICE", "ADDRESS", "CREATED", "LAST SEEN"],
                sessions.map { [$0.id, $0.device, $0.address, time($0.createdAt), time($0.lastSeenAt)] }
            ))
        }
    }

    /// `pan user invite`: a code for `POST /v1/user/register` with `PAN_REGISTRATION=invite`.
    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an invite code for sign-up (PAN_REGISTRATION=invite); it is shown once, only its hash is kept."
        )
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Space quota of accounts made with it, e.g. 10G, 500M (default 10G).") var quota = "10G"
        @Option(help: "Expires after this long: seconds, or a number with m, h or d (7d); 0: never (default 7d).") var expires = "7d"
        @Option(help: "How many accounts it can make (default 1).") var uses = 1

        struct Record: Encodable {
            let code: String, id: String, quota: Int64, uses: Int64, expiresAt: Int64?, link: String
        }

        func run() async throws {
            guard let capacity = ByteCount.parse(quota) else { throw CLIError("cannot read quota \(quota)") }
            guard let lifetime = Self.duration(expires) else { throw CLIError("cannot read --expires \(expires): seconds, or a number with m, h or d") }
            guard uses > 0 else { throw CLIError("--uses must be at least 1") }
            let store = try await data.openStore()
            let code = PanCore.Invite.newCode()
            let hash = PanCore.Invite.hash(code: code)
            let expiresAt = lifetime == 0 ? nil : Millis.now() + Int64(lifetime * 1000)
            try await store.createInvite(codeHash: hash, quota: capacity, maxUses: Int64(uses), expiresAt: expiresAt)
            if output.json {
                let link = "\(try data.configuration().effectivePublicBaseURL)/#/signup/\(code)"
                Swift.print(try JSONOutput.string(Record(
                    code: code, id: String(hash.prefix(12)), quota: capacity, uses: Int64(uses), expiresAt: expiresAt, link: link
                )))
                return
            }
            Swift.print(code)
            var details = ["\(uses) use\(uses == 1 ? "" : "s")", ByteCount.format(capacity)]
            if let expiresAt { details.append("expires \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(expiresAt) / 1000)))") }
            let link = "\(try data.configuration().effectivePublicBaseURL)/#/signup/\(code)"
            FileHandle.standardError.write(Data(
                "invite \(hash.prefix(12)): \(details.joined(separator: ", ")); the code is not shown again\ninvitation link (the web app's sign-up, code filled in): \(link)\n".utf8
            ))
        }

        /// `90`, `90s`, `45m`, `12h`, `7d`; 0: never.
        static func duration(_ text: String) -> Double? {
            let value = text.trimmingCharacters(in: .whitespaces).lowercased()
            let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
            var number = Substring(value), unit = 1.0
            if let last = value.last, let scale = units[last] { number = number.dropLast(); unit = scale }
            guard let amount = Double(number), amount.isFinite, amount >= 0, amount * unit <= 100 * 365 * 86400 else { return nil }
            return amount * unit
        }
    }

    /// `pan user invites`: every invite code's id, uses, quota and expiry (never the code).
    struct Invites: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List invite codes (ids, not codes), or remove one (--revoke ID).")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Remove the invite with this id (or id prefix, at least 6 characters).") var revoke: String?

        struct Record: Encodable {
            let id: String, quota: Int64, uses: Int64, maxUses: Int64, expiresAt: Int64?, createdAt: Int64, usable: Bool
        }

        func run() async throws {
            let store = try await data.openStore()
            if let revoke {
                let prefix = revoke.lowercased()
                guard prefix.count >= 6, prefix.allSatisfy(\.isHexDigit) else { throw CLIError("an invite id is hex, at least 6 characters") }
                let removed = try await store.removeInvites(prefix: prefix)
                guard removed > 0 else { throw CLIError("no invite \(revoke)") }
                Swift.print("removed \(removed) invite\(removed == 1 ? "" : "s")")
                return
            }
            let now = Millis.now()
            let invites = try await store.invites()
            if output.json {
                Swift.print(try JSONOutput.string(invites.map {
                    Record(id: $0.id, quota: $0.quota, uses: $0.uses, maxUses: $0.maxUses, expiresAt: $0.expiresAt, createdAt: $0.createdAt, usable: $0.isUsable(now: now))
                }))
                return
            }
            func time(_ ms: Int64?) -> String {
                ms.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "never"
            }
            Swift.print(Table.render(
                ["ID", "USES", "QUOTA", "EXPIRES", "CREATED", "STATE"],
                invites.map {
                    [$0.id, "\($0.uses)/\($0.maxUses)", ByteCount.format($0.quota), time($0.expiresAt), time($0.createdAt),
                     $0.isUsable(now: now) ? "usable" : ($0.uses >= $0.maxUses ? "used up" : "expired")]
                }
            ))
        }
    }
}
