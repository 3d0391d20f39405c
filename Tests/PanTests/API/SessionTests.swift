import Foundation
import HTTPTypes
import Logging
import Testing
@testable import PanCore
@testable import PanServer
@testable import PanHTTPSupport
import SQLCommon

/// Issue #26 "Sessions" and bug 3: every sign-in is a session of its own;
/// logout ends only it, `logoutAll` every one, and a session can be listed
/// and revoked. Checked on SQLite and PostgreSQL, and across two servers on
/// one PostgreSQL database.
@Suite("Sign-in sessions (issue #26)")
struct SessionTests {
    static let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

    /// The web app's login: `{value, password}` (MD5 hex) from a browser; its token comes back in the body.
    static func webLogin(_ server: TestServer, _ name: String) async throws -> String {
        let reply = try await server.post(
            "/v1/user/login", ["value": name, "password": PasswordHasher.md5Hex("secret")],
            headers: [.userAgent: chrome]
        )
        return try #require(reply.json["token"] as? String, "\(reply.text)")
    }

    /// The Android app's login: `{value, password, countryCode}`, `User-Agent: QZCloud`; it reads the token
    /// from the `Qingzhen-Token` header only, and sends it back the same way (`androidPost`).
    static func androidLogin(_ server: TestServer, _ name: String) async throws -> String {
        let reply = try await server.post(
            "/v1/user/login", ["value": name, "password": PasswordHasher.md5Hex("secret"), "countryCode": "86"],
            headers: [.userAgent: "QZCloud"]
        )
        #expect(reply.status == 200, "\(reply.text)")
        return try #require(reply.headers[.qingzhenToken], "\(reply.headers)")
    }

    static func androidPost(_ server: TestServer, _ uri: String, _ body: [String: Any] = [:], token: String) async throws -> TestServer.Reply {
        try await server.post(uri, body, headers: [.userAgent: "QZCloud", .qingzhenToken: token])
    }

    /// The desktop apps' login: the plain password, a client name of their own in `device`,
    /// and the token sent back bare in `Authorization` (`Authenticator.carriedToken`).
    static func desktopLogin(_ server: TestServer, _ name: String) async throws -> String {
        let reply = try await server.post("/v1/user/login", ["value": name, "password": "secret", "device": "Qt desktop on HOST-7"])
        return try #require(reply.json["token"] as? String, "\(reply.text)")
    }

    static func desktopPost(_ server: TestServer, _ uri: String, _ body: [String: Any] = [:], token: String) async throws -> TestServer.Reply {
        try await server.post(uri, body, headers: [.authorization: token])
    }

    /// The JWT's payload, decoded (as the web app does).
    static func claims(_ token: String) throws -> [String: Any] {
        var payload = String(token.split(separator: ".")[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while payload.count % 4 != 0 { payload += "=" }
        let data = try #require(Data(base64Encoded: payload))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func sessions(_ server: TestServer, token: String) async throws -> [[String: Any]] {
        let reply = try await server.post("/v1/user/sessions", token: token)
        #expect(reply.status == 200, "\(reply.text)")
        return try #require(reply.result["list"] as? [[String: Any]], "\(reply.text)")
    }

    static func expectRefused(_ reply: TestServer.Reply, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == 401, "\(what): \(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.code == "TOKEN_INVALID", "\(what): \(reply.text)", sourceLocation: sourceLocation)
    }

    @Test("logout ends only its own session: the web app signs out, Android and desktop stay signed in and keep refreshing", arguments: TestBackend.allCases)
    func logoutEndsOneSession(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("ann")
            let web = try await Self.webLogin(server, "ann")
            let android = try await Self.androidLogin(server, "ann")
            let desktop = try await Self.desktopLogin(server, "ann")
            let sids = try [web, android, desktop].map { try #require(Self.claims($0)["sid"] as? String) }
            #expect(Set(sids).count == 3 && sids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) }, "\(sids)")

            // The list, from the web app: three sessions, the caller's marked current.
            let list = try await Self.sessions(server, token: web)
            #expect(list.count == 3, "\(list)")
            let byId = Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as? String ?? "", $0) })
            #expect(byId[sids[0]]?["current"] as? Bool == true)
            #expect(byId[sids[1]]?["current"] as? Bool == false)
            #expect(byId[sids[0]]?["device"] as? String == "Chrome on Linux")
            #expect(byId[sids[1]]?["device"] as? String == "Android app")
            #expect(byId[sids[2]]?["device"] as? String == "Qt desktop on HOST-7")
            for item in list {
                #expect(item["address"] as? String == "127.0.0.1", "\(item)")
                // Unix milliseconds, like a file's ctime.
                let created = try #require((item["createdAt"] as? Int).map(Int64.init), "\(item)")
                #expect(abs(created - Millis.now()) < 600_000, "\(item)")
                #expect(item["lastSeenAt"] is Int, "\(item)")
            }

            // The refreshed token keeps the session.
            let refreshed = try await server.post("/v1/user/info", token: web)
            let webRefreshed = try #require(refreshed.json["token"] as? String)
            #expect(try Self.claims(webRefreshed)["sid"] as? String == sids[0])

            let logout = try await server.post("/v1/user/logout", token: web)
            #expect(logout.status == 200 && logout.success == true, "\(logout.text)")
            #expect(logout.json["token"] == nil, "no token after logout: \(logout.text)")
            // That session's tokens are refused at once, on every route, the token request's own transaction included.
            Self.expectRefused(try await server.post("/v1/user/info", token: web), "logged-out token")
            Self.expectRefused(try await server.post("/v1/user/info", token: webRefreshed), "its refreshed token")
            Self.expectRefused(try await server.post("/v1/files/page", ["path": "/"], token: web), "files/page")
            Self.expectRefused(try await server.post("/v1/store/token", ["name": "a.bin", "path": "/"], token: web), "store/token")

            // The others go on, and their refreshed tokens (header and body) keep their sessions.
            var androidToken = android
            for round in 0..<3 {
                let reply = try await Self.androidPost(server, "/v1/files/page", ["path": "/", "page": 1, "pageSize": 20], token: androidToken)
                #expect(reply.status == 200, "android round \(round): \(reply.text)")
                androidToken = try #require(reply.headers[.qingzhenToken])
                #expect(try Self.claims(androidToken)["sid"] as? String == sids[1])
            }
            let upload = try await Self.androidPost(server, "/v1/store/token", ["name": "phone.bin", "path": "/", "size": 10], token: androidToken)
            #expect(upload.status == 200 && upload.result["token"] is String, "\(upload.text)")
            let desktopInfo = try await Self.desktopPost(server, "/v1/user/info", token: desktop)
            #expect(desktopInfo.status == 200, "\(desktopInfo.text)")

            let left = try await Self.sessions(server, token: androidToken)
            #expect(Set(left.compactMap { $0["id"] as? String }) == Set(sids[1...]), "\(left)")
            #expect(try await server.count("sessions") == 2)
        }
    }

    @Test("logoutAll ends every session of the user, the caller's included; other users are untouched", arguments: TestBackend.allCases)
    func logoutAllEndsEverySession(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("ben")
            try await server.createUser("other")
            let web = try await Self.webLogin(server, "ben")
            let android = try await Self.androidLogin(server, "ben")
            let desktop = try await Self.desktopLogin(server, "ben")
            let bystander = try await server.login("other")
            let all = try await Self.androidPost(server, "/v1/user/logoutAll", token: android)
            #expect(all.status == 200 && all.success == true, "\(all.text)")
            Self.expectRefused(try await server.post("/v1/user/info", token: web), "web")
            Self.expectRefused(try await Self.androidPost(server, "/v1/user/info", token: android), "android")
            Self.expectRefused(try await Self.desktopPost(server, "/v1/store/token", ["name": "x.bin", "path": "/"], token: desktop), "desktop")
            #expect(try await server.count("sessions", "user_id = (SELECT id FROM users WHERE name = 'ben')") == 0)
            #expect(try await server.post("/v1/user/info", token: bystander).status == 200)
            // Signing in again works.
            let again = try await Self.webLogin(server, "ben")
            #expect(try await server.post("/v1/user/info", token: again).status == 200)
            #expect(try await Self.sessions(server, token: again).count == 1)
        }
    }

    @Test("revoke: one of the caller's sessions ends; another user's or an unknown id is 404 SESSION_NOT_FOUND; no id is 400", arguments: TestBackend.allCases)
    func revoke(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("cat")
            try await server.createUser("dan")
            let web = try await Self.webLogin(server, "cat")
            let phone = try await Self.androidLogin(server, "cat")
            let spare = try await Self.desktopLogin(server, "cat")
            let dan = try await Self.webLogin(server, "dan")
            let phoneId = try #require(Self.claims(phone)["sid"] as? String)
            let danId = try #require(Self.claims(dan)["sid"] as? String)

            // Someone else's session: not found, and it goes on.
            let foreign = try await server.post("/v1/user/sessions/revoke", ["id": danId], token: web)
            #expect(foreign.status == 404 && foreign.code == "SESSION_NOT_FOUND", "\(foreign.text)")
            #expect(try await server.post("/v1/user/info", token: dan).status == 200)
            for id in ["0123456789abcdef0123456789abcdef", String(repeating: "z", count: 5000), "' OR 1=1 --"] {
                let unknown = try await server.post("/v1/user/sessions/revoke", ["id": id], token: web)
                #expect(unknown.status == 404 && unknown.code == "SESSION_NOT_FOUND", "\(unknown.text)")
            }
            for body: [String: Any] in [[:], ["id": ""], ["id": "   "]] {
                let missing = try await server.post("/v1/user/sessions/revoke", body, token: web)
                #expect(missing.status == 400 && missing.code == "INVALID_FIELD", "\(body): \(missing.text)")
            }
            // Without a token: 401 like every authenticated route.
            #expect(try await server.post("/v1/user/sessions/revoke", ["id": phoneId]).status == 401)
            #expect(try await server.post("/v1/user/sessions").status == 401)

            // The phone's session, from the web app: the phone is signed out, the web app is not.
            let revoked = try await server.post("/v1/user/sessions/revoke", ["id": phoneId], token: web)
            #expect(revoked.status == 200 && revoked.json["token"] is String, "\(revoked.text)")
            Self.expectRefused(try await Self.androidPost(server, "/v1/user/info", token: phone), "revoked phone")
            #expect(try await server.post("/v1/user/info", token: web).status == 200)
            // Again: it is gone.
            #expect(try await server.post("/v1/user/sessions/revoke", ["id": phoneId], token: web).code == "SESSION_NOT_FOUND")

            // Its own session: a logout (no token back).
            let webId = try #require(Self.claims(web)["sid"] as? String)
            let own = try await server.post("/v1/user/sessions/revoke", ["id": webId], token: web)
            #expect(own.status == 200 && own.json["token"] == nil, "\(own.text)")
            Self.expectRefused(try await server.post("/v1/user/info", token: web), "self-revoked")
            #expect(try await Self.desktopPost(server, "/v1/user/info", token: spare).status == 200)
        }
    }

    @Test("at most PAN_MAX_SESSIONS sessions per user: a login past it ends the least recently seen", arguments: TestBackend.allCases)
    func sessionCap(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.maxSessionsPerUser = 3 }) { server in
            try await server.createUser("eve")
            try await server.createUser("fay")
            let fay = try await server.login("fay")
            var tokens: [String] = []
            for _ in 0..<3 {
                tokens.append(try await server.login("eve"))
                try await Task.sleep(for: .milliseconds(5))  // distinct last-seen times
            }
            // The first session was seen last: it is the most recent, and stays.
            let first = try #require(Self.claims(tokens[0])["sid"] as? String)
            try await server.write { db in
                try await db.run("UPDATE sessions SET last_seen_at = ? WHERE id = ?", Millis.now() + 60_000, first)
            }
            let fourth = try await server.login("eve")
            #expect(try await server.post("/v1/user/info", token: tokens[0]).status == 200)
            Self.expectRefused(try await server.post("/v1/user/info", token: tokens[1]), "least recently seen")
            #expect(try await server.post("/v1/user/info", token: tokens[2]).status == 200)
            #expect(try await server.post("/v1/user/info", token: fourth).status == 200)
            #expect(try await Self.sessions(server, token: fourth).count == 3)
            #expect(try await server.count("sessions", "user_id = (SELECT id FROM users WHERE name = 'eve')") == 3)
            // Newest last-seen first.
            let order = try await Self.sessions(server, token: fourth).compactMap { $0["id"] as? String }
            #expect(order.first == first, "\(order)")
            // Another user's sessions are not counted.
            #expect(try await server.post("/v1/user/info", token: fay).status == 200)
        }
    }

    @Test("a token without sid (signed before sessions) works until its version is bumped; its logout ends nothing", arguments: TestBackend.allCases)
    func legacyToken(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let user = try await server.createUser("gus")
            let current = try await server.login("gus")
            // As servers before sessions signed it: the same secret, no `sid`.
            let legacy = try await server.services.issueSessionToken(for: user, session: nil)
            let payload = try Self.claims(legacy)
            #expect(payload["sid"] == nil && payload["ver"] as? Int == 0, "\(payload)")
            let info = try await server.post("/v1/user/info", token: legacy)
            #expect(info.status == 200, "\(info.text)")
            let refreshed = try #require(info.json["token"] as? String)
            #expect(try Self.claims(refreshed)["sid"] == nil)
            let grant = try await server.post("/v1/store/token", ["name": "old.bin", "path": "/", "size": 5], token: legacy)
            #expect(grant.status == 200, "\(grant.text)")
            let list = try await Self.sessions(server, token: legacy)
            #expect(list.count == 1 && list[0]["current"] as? Bool == false, "\(list)")

            // Logout with it: succeeds, ends no session (not even "everything", bug 3).
            #expect(try await server.post("/v1/user/logout", token: legacy).status == 200)
            #expect(try await server.post("/v1/user/info", token: current).status == 200)
            #expect(try await server.post("/v1/user/info", token: legacy).status == 200)
            // Sign out everywhere ends it too (the token version).
            #expect(try await server.post("/v1/user/logoutAll", token: current).status == 200)
            Self.expectRefused(try await server.post("/v1/user/info", token: legacy), "legacy after logoutAll")
            Self.expectRefused(try await server.post("/v1/user/info", token: current), "current after logoutAll")
        }
    }

    @Test("a password reset and disabling still end every session", arguments: TestBackend.allCases)
    func passwordAndDisableEndEverything(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let user = try await server.createUser("hal")
            let a = try await server.login("hal"), b = try await Self.androidLogin(server, "hal")
            try await server.services.store.setPasswordHash(try server.services.passwords.hash(plainPassword: "new"), userId: user.id)
            Self.expectRefused(try await server.post("/v1/user/info", token: a), "after password reset")
            Self.expectRefused(try await Self.androidPost(server, "/v1/user/info", token: b), "after password reset")
            #expect(try await server.count("sessions") == 0)
            let c = try await server.login("hal", password: "new")
            try await server.services.store.setDisabled(true, userId: user.id)
            #expect(try await server.post("/v1/user/info", token: c).status == 401)
            #expect(try await server.count("sessions") == 0)
        }
    }

    @Test("last seen is written off the request, at most once per touch interval; stale sessions are swept in bounded batches", arguments: TestBackend.allCases)
    func lastSeenAndSweep(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.sessionActivityInterval = 3600 }) { server in
            let ida = try await server.createUser("ida")
            let token = try await server.login("ida")
            let sid = try #require(Self.claims(token)["sid"] as? String)
            let activity = server.services.sessionActivity
            // Fresh: requests note nothing.
            #expect(try await server.post("/v1/user/info", token: token).status == 200)
            #expect(activity.waiting == 0)
            let old = Millis.now() - 10 * 60_000
            try await server.write { db in try await db.run("UPDATE sessions SET last_seen_at = ? WHERE id = ?", old, sid) }
            // Stale: noted in memory (many requests, one note), the row not yet written by the requests.
            for _ in 0..<5 { #expect(try await server.post("/v1/user/info", token: token).status == 200) }
            #expect(try await server.post("/v1/store/token", ["name": "seen.bin", "path": "/", "size": 3], token: token).status == 200)
            #expect(activity.waiting == 1)
            let before = try await server.read { db in try await db.scalar("SELECT last_seen_at FROM sessions WHERE id = ?", sid) }
            #expect(before == old)
            #expect(try await activity.flush(to: server.services.store) == 1)
            let after = try #require(try await server.read { db in try await db.scalar("SELECT last_seen_at FROM sessions WHERE id = ?", sid) })
            #expect(after > Millis.now() - 60_000, "\(after)")
            #expect(activity.waiting == 0)
            // A sighting of a session that ended meanwhile does not bring it back.
            activity.saw(userId: ida.id, sessionId: sid, lastSeenAt: 0)
            #expect(try await server.post("/v1/user/logout", token: token).status == 200)
            try await activity.flush(to: server.services.store)
            #expect(try await server.count("sessions") == 0)

            // The sweeper: sessions not seen for a token lifetime (plus the margin) go, the others stay.
            let fresh = try await server.login("ida")
            for _ in 0..<3 { _ = try await server.login("ida") }
            let lifetime = server.configuration.sessionTokenLifetime
            let stale = Millis.now() - Int64(lifetime * 1000) - UserSession.sweepMargin - 1_000
            let freshId = try #require(Self.claims(fresh)["sid"] as? String)
            try await server.write { db in try await db.run("UPDATE sessions SET last_seen_at = ? WHERE id <> ?", stale, freshId) }
            #expect(try await server.services.store.sweepUserSessions(before: stale + 1, limit: 2) == 2, "bounded batch")
            let sweeper = SessionSweeper(
                store: server.services.store, callbackGrace: 0, objectStore: server.services.objectStore,
                sessionTokenLifetime: lifetime, interval: 3600, logger: Logger(label: "test")
            )
            #expect(try await sweeper.sweepUserSessions() == 1)
            #expect(try await server.count("sessions") == 1)
            #expect(try await server.post("/v1/user/info", token: fresh).status == 200)
        }
    }

    @Test("device labels: the login's device field, else the User-Agent; bounded, plain text")
    func deviceLabels() {
        let agents: [(String?, String)] = [
            (Self.chrome, "Chrome on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on macOS"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Headless Chrome on Linux"),
            ("QZCloud", "Android app"),
            ("okhttp/4.12.0", "Android app (okhttp)"),
            ("Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8)", "Android app"),
            ("Mozilla/5.0 Qt/5.15.2", "Qt desktop"),
            ("QtNetwork/6.5", "Qt desktop"),
            ("python-requests/2.32.3", "Python requests"),
            ("curl/8.5.0", "curl"),
            ("FancyClient/3.1 (compatible)", "FancyClient"),
            (nil, "Unknown device"),
            ("   ", "Unknown device"),
        ]
        for (agent, label) in agents {
            #expect(DeviceLabel.label(device: nil, userAgent: agent) == label, "\(agent ?? "nil")")
        }
        #expect(DeviceLabel.label(device: "  My\tlaptop\u{202E}gpj.exe\n ", userAgent: Self.chrome) == "My laptopgpj.exe")
        #expect(DeviceLabel.label(device: "\u{0}\u{1B}[31m", userAgent: "QZCloud") == "[31m")
        #expect(DeviceLabel.label(device: " \u{200B} ", userAgent: "QZCloud") == "Android app")
        let long = DeviceLabel.label(device: String(repeating: "设备", count: 100), userAgent: nil)
        #expect(long.count == UserSession.maxDeviceLength)
        #expect(DeviceLabel.label(device: nil, userAgent: String(repeating: "x", count: 10_000)).count == UserSession.maxDeviceLength)
    }

    @Test("a hostile device field is stored as bounded text, never refused")
    func hostileDeviceField() async throws {
        try await withServer { server in
            try await server.createUser("jo")
            let odd: [Any] = ["<img src=x onerror=alert(1)>", 12345, ["nested": true], String(repeating: "é", count: 1000)]
            for device in odd {
                let reply = try await server.post("/v1/user/login", ["value": "jo", "password": "secret", "device": device])
                #expect(reply.status == 200, "\(device): \(reply.text)")
            }
            let token = try await server.login("jo")
            let devices = try await Self.sessions(server, token: token).compactMap { $0["device"] as? String }
            #expect(devices.contains("<img src=x onerror=alert(1)>"), "\(devices)")
            #expect(devices.allSatisfy { !$0.isEmpty && $0.count <= UserSession.maxDeviceLength }, "\(devices)")
        }
    }

    @Test("two servers on one PostgreSQL: a logout on A is refused at once on B; the other session works on both")
    func twoServersShareSessions() async throws {
        try await withServer(backend: .postgres) { first in
            try await withServer(configure: { configuration in
                configuration.databaseURL = first.configuration.databaseURL
                configuration.databasePoolSize = 2
                configuration.jwtSecret = first.configuration.jwtSecret
                configuration.wcsKeys = first.configuration.wcsKeys
                // The deployment's one shared storage.
                configuration.dataDirectory = first.dataDirectory
            }) { second in
                try await first.createUser("kim")
                let leaving = try await Self.webLogin(first, "kim")
                let staying = try await Self.androidLogin(second, "kim")
                // Both servers know both (B has verified and cached the leaving token).
                #expect(try await second.post("/v1/user/info", token: leaving).status == 200)
                #expect(try await first.post("/v1/user/info", token: staying).status == 200)
                #expect(try await Self.sessions(second, token: leaving).count == 2)

                #expect(try await first.post("/v1/user/logout", token: leaving).status == 200)
                Self.expectRefused(try await second.post("/v1/user/info", token: leaving), "B after logout on A")
                Self.expectRefused(try await second.post("/v1/store/token", ["name": "b.bin", "path": "/"], token: leaving), "B token request")
                #expect(try await Self.androidPost(second, "/v1/user/info", token: staying).status == 200)

                // A revoke on B is refused at once on A.
                let other = try await Self.desktopLogin(first, "kim")
                let otherId = try #require(Self.claims(other)["sid"] as? String)
                #expect(try await Self.androidPost(second, "/v1/user/sessions/revoke", ["id": otherId], token: staying).status == 200)
                Self.expectRefused(try await Self.desktopPost(first, "/v1/user/info", token: other), "A after revoke on B")
            }
        }
    }

    @Test("pan user sessions lists a user's sessions, and --revoke ends one at once for the running server")
    func commandLine() async throws {
        try await withServer { server in
            try await server.createUser("lee")
            let web = try await Self.webLogin(server, "lee")
            let phone = try await Self.androidLogin(server, "lee")
            let phoneId = try #require(Self.claims(phone)["sid"] as? String)
            let list = try await CLITests.run(["user", "sessions", "lee", "--json", "--data-dir", server.dataDirectory])
            #expect(list.status == 0, "\(list)")
            let rows = try #require(CLITests.jsonArray(list.stdout), "\(list)")
            #expect(Set(rows.compactMap { $0["device"] as? String }) == ["Chrome on Linux", "Android app"], "\(rows)")
            let table = try await CLITests.run(["user", "sessions", "lee", "--data-dir", server.dataDirectory])
            #expect(table.stdout.contains(phoneId) && table.stdout.contains("LAST SEEN"), "\(table)")

            let revoke = try await CLITests.run(["user", "sessions", "lee", "--revoke", phoneId, "--data-dir", server.dataDirectory])
            #expect(revoke.status == 0, "\(revoke)")
            Self.expectRefused(try await Self.androidPost(server, "/v1/user/info", token: phone), "revoked by the CLI")
            #expect(try await server.post("/v1/user/info", token: web).status == 200)
            let again = try await CLITests.run(["user", "sessions", "lee", "--revoke", phoneId, "--data-dir", server.dataDirectory])
            #expect(again.status != 0 && again.stderr.contains(phoneId), "\(again)")
        }
    }
}
