import Crypto
import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// Per-device app passwords (issue #29 §3): made and revoked through the API
/// and `pan user app-password`, good for `/dav/` only, stored as a keyed hash.
@Suite struct AppPasswordTests {
    static func create(_ server: TestServer, token: String, name: String = "laptop") async throws -> (id: String, password: String) {
        let reply = try await server.post("/v1/user/appPassword/create", ["name": name], token: token)
        guard reply.status == 200, let id = reply.result["id"] as? String, let password = reply.result["password"] as? String else {
            throw TestFailure("create failed: \(reply.status) \(reply.text)")
        }
        return (id, password)
    }

    static func propfind(_ server: TestServer, user: String = "alice", password: String) async throws -> Int {
        try await WebDAVTests.dav(server, "PROPFIND", "/dav/", user: user, password: password, headers: ["Depth": "0"]).status
    }

    @Test("an app password signs in to /dav/ (as typed: any case, without dashes) but never to /v1/user/login; the list never shows it; last used is recorded", arguments: TestBackend.allCases)
    func davOnly(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("alice")
            let (id, password) = try await Self.create(server, token: token)
            #expect(password.count == 35 && password.split(separator: "-").count == 6, "\(password)")
            #expect(AppPasswordSecret.canonical(password) != nil)

            #expect(try await Self.propfind(server, password: password) == 207)
            #expect(try await Self.propfind(server, password: password.uppercased().replacingOccurrences(of: "-", with: "")) == 207)
            let put = try await WebDAVTests.dav(server, "PUT", "/dav/note.txt", password: password, body: Data("hello".utf8))
            #expect(put.status == 201)
            #expect(try await WebDAVTests.dav(server, "GET", "/dav/note.txt", password: password).body == Data("hello".utf8))
            // The account's password still works there (PAN_DAV_ACCOUNT_PASSWORD defaults to on).
            #expect(try await Self.propfind(server, password: "secret") == 207)

            // Not an account password: the API's sign-in refuses it in both the plain and the MD5 form.
            for form in [password, PasswordHasher.md5Hex(password)] {
                let login = try await server.post("/v1/user/login", ["value": "alice", "password": form])
                #expect(login.status == 401 && login.json["token"] == nil, "\(login.text)")
            }

            // Shown once: the list has the id, the name and the times, never the secret or its hash.
            let list = try await server.post("/v1/user/appPasswords", [:], token: token)
            #expect(list.status == 200)
            let items = try #require(list.result["list"] as? [[String: Any]])
            #expect(items.count == 1)
            #expect(items.first?["id"] as? String == id && items.first?["name"] as? String == "laptop")
            #expect(Set(items.first?.keys.map { $0 } ?? []) == ["id", "name", "createdAt", "lastUsedAt"])
            #expect((items.first?["lastUsedAt"] as? NSNumber) != nil, "used above, so last used is set")
            let canonical = try #require(AppPasswordSecret.canonical(password))
            #expect(!list.text.contains(password) && !list.text.contains(canonical))
        }
    }

    @Test("revoke answers 401 at the very next request, right after a success; another user's id is 404 and leaves it working; one user's app password is no other's", arguments: TestBackend.allCases)
    func revoke(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, alice) = try await server.user("alice")
            let (_, bob) = try await server.user("bob")
            let (id, password) = try await Self.create(server, token: alice)
            let (bobsId, bobsPassword) = try await Self.create(server, token: bob, name: "phone")

            // Bob's app password with Alice's name, and Alice's with Bob's: refused.
            #expect(try await Self.propfind(server, user: "alice", password: bobsPassword) == 401)
            #expect(try await Self.propfind(server, user: "bob", password: password) == 401)

            let foreign = try await server.post("/v1/user/appPassword/revoke", ["id": id], token: bob)
            #expect(foreign.status == 404 && foreign.code == "APP_PASSWORD_NOT_FOUND", "\(foreign.text)")
            #expect(try await server.post("/v1/user/appPassword/revoke", ["id": "nope"], token: alice).code == "APP_PASSWORD_NOT_FOUND")
            #expect(try await server.post("/v1/user/appPassword/revoke", [:], token: alice).status == 400)
            #expect(try await server.post("/v1/user/appPassword/revoke", ["id": String(repeating: "a", count: 10_000)], token: alice).status == 404)

            #expect(try await Self.propfind(server, password: password) == 207)
            let revoked = try await server.post("/v1/user/appPassword/revoke", ["id": id], token: alice)
            #expect(revoked.status == 200, "\(revoked.text)")
            #expect(try await Self.propfind(server, password: password) == 401)
            #expect(try await server.post("/v1/user/appPassword/revoke", ["id": id], token: alice).status == 404)
            #expect((try await server.post("/v1/user/appPasswords", [:], token: alice).result["list"] as? [Any])?.isEmpty == true)
            // Bob's is untouched.
            #expect(try await Self.propfind(server, user: "bob", password: bobsPassword) == 207)
            #expect(try await server.count("app_passwords", "id = '\(bobsId)'") == 1)
            // Without a session: the API's 401.
            #expect(try await server.post("/v1/user/appPasswords", [:]).status == 401)
        }
    }

    @Test("at most 50 per user (409 APP_PASSWORD_LIMIT, another user unaffected); names are checked: empty, too long, control characters, a flag or a list → 400", arguments: TestBackend.allCases)
    func limitAndNames(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("alice")
            let (_, bob) = try await server.user("bob")
            for index in 0..<AppPassword.maxPerUser {
                _ = try await Self.create(server, token: token, name: "device \(index)")
            }
            let over = try await server.post("/v1/user/appPassword/create", ["name": "one more"], token: token)
            #expect(over.status == 409 && over.code == "APP_PASSWORD_LIMIT", "\(over.text)")
            #expect(try await server.count("app_passwords") == Int64(AppPassword.maxPerUser))
            _ = try await Self.create(server, token: bob)

            for name in ["", "   ", String(repeating: "x", count: 65), "tab\there", "bidi\u{202E}"] as [Any] + [true, ["a"]] {
                let reply = try await server.post("/v1/user/appPassword/create", ["name": name], token: bob)
                #expect(reply.status == 400 && reply.code != nil, "\(name): \(reply.status) \(reply.text)")
            }
            let spaced = try await server.post("/v1/user/appPassword/create", ["name": "  汉字 laptop  "], token: bob)
            #expect(spaced.result["name"] as? String == "汉字 laptop")
            let broken = try await server.post("/v1/user/appPassword/create", raw: "{\"name\":", token: bob)
            #expect(broken.status == 400)
        }
    }

    @Test("a disabled account's app passwords stop working (and work again when enabled); a password change leaves them valid", arguments: TestBackend.allCases)
    func disabledAndPasswordChange(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("alice")
            let (_, password) = try await Self.create(server, token: token)
            #expect(try await Self.propfind(server, password: password) == 207)
            try await server.services.store.setDisabled(true, userId: user.id)
            #expect(try await Self.propfind(server, password: password) == 401)
            try await server.services.store.setDisabled(false, userId: user.id)
            #expect(try await Self.propfind(server, password: password) == 207)

            try await server.services.store.setPasswordHash(try server.services.passwords.hash(plainPassword: "changed"), userId: user.id)
            #expect(try await Self.propfind(server, password: "secret") == 401)
            #expect(try await Self.propfind(server, password: password) == 207)
        }
    }

    @Test("the stored hash is HMAC-SHA256 under a key derived from the server's secret: no plain or MD5 or SHA-256 of the password, nothing a database copy alone can test a guess against", arguments: TestBackend.allCases)
    func storedHashIsKeyed(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("alice")
            let (id, password) = try await Self.create(server, token: token)
            let canonical = try #require(AppPasswordSecret.canonical(password))
            let stored = try await server.read { db in
                try await db.queryRow("SELECT * FROM app_passwords WHERE user_id = ? AND id = ?", user.id, id)
            }
            let hash = try #require(stored).string("secret_hash")
            let unkeyed = [password, canonical].flatMap { form in
                [form, Hex.encode(SHA256.hash(data: Data(form.utf8))), Hex.encode(Insecure.SHA1.hash(data: Data(form.utf8))), PasswordHasher.md5Hex(form)]
            }
            #expect(!unkeyed.contains(hash))
            #expect(hash == AppPasswordKey(serverSecret: try server.configuration.serverSecret()).hash(canonical: canonical))
            #expect(hash != AppPasswordKey(serverSecret: "another server's secret").hash(canonical: canonical))
            // The row holds nothing else the secret could be read from.
            let row = try #require(stored)
            for column in ["id", "name"] { #expect(!(try row.string(column)).contains(canonical)) }
        }
    }

    @Test("under the login throttle: wrong app passwords count as failed sign-ins (then 429 even for the right one), while 60 right ones in a row cost no password checks", arguments: TestBackend.allCases)
    func throttled(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.loginFailuresPerAccount = 5; $0.loginChecksPerIP = 10 }) { server in
            let (_, token) = try await server.user("alice")
            let (_, password) = try await Self.create(server, token: token)
            // Far past the 10 checks a minute a PBKDF2 sign-in may start from one address.
            for _ in 0..<60 { #expect(try await Self.propfind(server, password: password) == 207) }

            let wrong = AppPasswordSecret.generate()
            var statuses: [Int] = []
            for _ in 0..<6 { statuses.append(try await Self.propfind(server, password: wrong)) }
            #expect(statuses.prefix(5).allSatisfy { $0 == 401 } && statuses.last == 429, "\(statuses)")
            #expect(try await Self.propfind(server, password: password) == 429)
        }
    }

    @Test("PAN_DAV_ACCOUNT_PASSWORD=off: /dav/ takes app passwords only (the account's is a failed sign-in there), the API's login still takes the account's", arguments: TestBackend.allCases)
    func accountPasswordOff(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.davAccountPassword = false; $0.loginFailuresPerAccount = 3 }) { server in
            let (_, token) = try await server.user("alice")
            let (_, password) = try await Self.create(server, token: token)
            #expect(try await Self.propfind(server, password: password) == 207)
            #expect(try await server.post("/v1/user/login", ["value": "alice", "password": "secret"]).status == 200)
            #expect(try await Self.propfind(server, password: "secret") == 401)
            #expect(try await Self.propfind(server, password: PasswordHasher.md5Hex("secret")) == 401)
            #expect(try await Self.propfind(server, password: "secret") == 401)
            #expect(try await Self.propfind(server, password: "secret") == 429, "three failures: refused")
        }
        var configuration = PanConfiguration()
        try configuration.apply(environment: ["PAN_DAV_ACCOUNT_PASSWORD": "off"])
        #expect(configuration.davAccountPassword == false)
        #expect(throws: ConfigurationError.self) { try configuration.apply(environment: ["PAN_DAV_ACCOUNT_PASSWORD": "maybe"]) }
    }

    @Test("pan user app-password create prints a password that works for /dav/; list shows it (not the password); revoke ends it", arguments: TestBackend.allCases)
    func command(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice")
            var environment: [String: String] = [:]
            if let url = server.configuration.databaseURL {
                environment = ["PAN_DATABASE_URL": url, "PAN_JWT_SECRET": server.configuration.jwtSecret ?? ""]
                // Without the servers' shared secret the password would never match: refused before anything is stored.
                let refused = try await CLITests.run(
                    ["user", "app-password", "create", "alice", "--name", "x", "--data-dir", server.dataDirectory], environment: ["PAN_DATABASE_URL": url]
                )
                #expect(refused.status != 0 && refused.stderr.contains("PAN_JWT_SECRET"), "\(refused)")
            }
            let data = ["--data-dir", server.dataDirectory]
            let made = try await CLITests.run(["user", "app-password", "create", "alice", "--name", "nas"] + data, environment: environment)
            #expect(made.status == 0 && made.stderr.contains("not shown again") && made.stderr.contains("/dav/"), "\(made)")
            let password = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(AppPasswordSecret.canonical(password) != nil, "\(made)")
            #expect(try await Self.propfind(server, password: password) == 207)

            let list = try await CLITests.run(["user", "app-password", "list", "alice", "--json"] + data, environment: environment)
            let item = try #require(CLITests.jsonArray(list.stdout)?.first, "\(list)")
            #expect(item["name"] as? String == "nas" && !list.stdout.contains(password), "\(list)")
            let id = try #require(item["id"] as? String)
            let table = try await CLITests.run(["user", "app-password", "list", "alice"] + data, environment: environment)
            #expect(table.stdout.contains(id) && table.stdout.contains("LAST USED"), "\(table)")

            let bad = try await CLITests.run(["user", "app-password", "create", "alice", "--name", ""] + data, environment: environment)
            #expect(bad.status != 0, "\(bad)")
            let unknown = try await CLITests.run(["user", "app-password", "revoke", "alice", "nope"] + data, environment: environment)
            #expect(unknown.status != 0, "\(unknown)")
            let revoked = try await CLITests.run(["user", "app-password", "revoke", "alice", id] + data, environment: environment)
            #expect(revoked.status == 0, "\(revoked)")
            #expect(try await Self.propfind(server, password: password) == 401)
        }
    }

    @Test("two servers on one PostgreSQL: made on A, it signs in on B; revoked on A, B refuses it at the next request; 60 creates racing on both stop at exactly 50")
    func twoServers() async throws {
        try await withServer(backend: .postgres) { first in
            try await withServer(configure: { configuration in
                configuration.databaseURL = first.configuration.databaseURL
                configuration.databasePoolSize = 2
                configuration.jwtSecret = first.configuration.jwtSecret
                configuration.wcsKeys = first.configuration.wcsKeys
                configuration.dataDirectory = first.dataDirectory
            }) { second in
                let (_, token) = try await first.user("alice")
                let (id, password) = try await Self.create(first, token: token)
                #expect(try await Self.propfind(second, password: password) == 207)
                #expect(try await first.post("/v1/user/appPassword/revoke", ["id": id], token: token).status == 200)
                #expect(try await Self.propfind(second, password: password) == 401)

                let statuses = Statuses()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<60 {
                        group.addTask {
                            let server = index % 2 == 0 ? first : second
                            statuses.add(try await server.post("/v1/user/appPassword/create", ["name": "device \(index)"], token: token).status)
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(statuses.all.filter { $0 == 200 }.count == AppPassword.maxPerUser, "\(statuses.all)")
                #expect(statuses.all.filter { $0 == 409 }.count == 60 - AppPassword.maxPerUser, "\(statuses.all)")
                #expect(try await first.count("app_passwords") == Int64(AppPassword.maxPerUser))
            }
        }
    }

    // MARK: In a real browser

    static var artifacts: String {
        PythonClients.packageRoot.appendingPathComponent(".build/test-artifacts/webapp-app-passwords").path
    }

    @Test("in headless Chromium (desktop 1366×850 English, phone 390×844 Chinese): make an app password on the account page, use it for a real WebDAV PROPFIND and PUT, see it listed as used, revoke it and get 401", arguments: ["desktop", "phone"])
    func browser(size: String) async throws {
        guard FileManager.default.isExecutableFile(atPath: WebAppTests.chromedriver) else {
            Issue.record("chromium-driver is missing at \(WebAppTests.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return
        }
        try await withServer { server in
            try await server.createUser("webby")
            let run = try await PythonClients.run(
                "webapp_app_passwords.py", ["http://127.0.0.1:\(server.port)", "webby", "secret", Self.artifacts, size], timeout: 300, browser: true
            )
            #expect(run.status == 0 && run.stdout.contains("\"ok\": true"), "\(run.stdout)\n\(run.stderr.suffix(4000))")
            #expect(try await server.count("app_passwords") == 0, "revoked in the browser")
            let put = try await WebDAVTests.dav(server, "GET", "/dav/\(size).txt", user: "webby")
            #expect(put.status == 200 && put.text.contains("written over WebDAV"), "the PUT made with the app password is there")
        }
    }
}
