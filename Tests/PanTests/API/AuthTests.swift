import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport

@Suite("Users and authentication (api.md §3)")
struct AuthTests {
    @Test("login with the MD5 hex password, and with the plain one", arguments: TestBackend.allCases)
    func loginBothForms(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("alice", password: "p@ss word", phone: "13800000000")
            let md5 = try await server.post("/v1/user/login", ["value": "alice", "password": PasswordHasher.md5Hex("p@ss word")])
            #expect(md5.status == 200)
            #expect(md5.success == true)
            #expect(md5.result["name"] as? String == "alice")
            #expect(md5.result["uuid"] as? Int == 1)
            #expect(md5.json["token"] is String)
            let plain = try await server.post("/v1/user/login", ["value": "alice", "password": "p@ss word"])
            #expect(plain.status == 200)
            // A phone number (all digits) logs in too.
            let phone = try await server.post("/v1/user/login", ["value": "13800000000", "password": "p@ss word"])
            #expect(phone.status == 200)
            #expect(phone.result["phone"] as? String == "13800000000")
        }
    }

    @Test("the user object has every key, null allowed", arguments: TestBackend.allCases)
    func userObjectShape(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("bob")
            let info = try await server.post("/v1/user/info", token: token)
            #expect(info.status == 200)
            for key in ["uuid", "name", "phone", "email", "countryCode", "spaceUsed", "spaceCapacity", "createTime", "type", "status", "icon"] {
                #expect(info.result.keys.contains(key), "missing \(key)")
            }
            #expect(info.result["email"] is NSNull)
        }
    }

    @Test("wrong password, unknown user, missing fields", arguments: TestBackend.allCases)
    func loginFailures(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            try await server.createUser("carol")
            let wrong = try await server.post("/v1/user/login", ["value": "carol", "password": PasswordHasher.md5Hex("nope")])
            #expect(wrong.status == 401)
            #expect(wrong.code == "USER_LOGIN_FAILED")
            #expect(wrong.json["token"] == nil)
            let unknown = try await server.post("/v1/user/login", ["value": "nobody", "password": "x"])
            #expect(unknown.status == 401)
            let noPassword = try await server.post("/v1/user/login", ["value": "carol"])
            #expect(noPassword.status == 400)
            #expect(noPassword.code == "PASSWORD_REQUIRED")
            let noValue = try await server.post("/v1/user/login", ["password": "x"])
            #expect(noValue.status == 400)
            #expect(noValue.code == "PHONE_REQUIRED")
        }
    }

    @Test("every token carrier is accepted, and the reply refreshes the token in body and headers", arguments: TestBackend.allCases)
    func tokenCarriers(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("dave")
            let carriers: [(String, HTTPFields, [String: Any]?)] = [
                ("/v1/user/info", [.authorization: "Bearer \(token)"], nil),
                ("/v1/user/info", [HTTPField.Name("Token")!: token], nil),
                ("/v1/user/info", [HTTPField.Name("Qingzhen-Token")!: token], nil),
                ("/v1/user/info?token=\(token)", [:], nil),
                ("/v1/user/info?auth=\(token)", [:], nil),
                ("/v1/user/info", [:], ["token": token]),
            ]
            for (uri, headers, body) in carriers {
                let reply = try await server.post(uri, body, headers: headers)
                #expect(reply.status == 200, "carrier \(uri) \(headers)")
                let refreshed = try #require(reply.json["token"] as? String)
                #expect(reply.headers[HTTPField.Name("Qingzhen-Token")!] == refreshed)
                #expect(reply.headers[.authorization] == "Bearer \(refreshed)")
            }
        }
    }

    @Test("the JWT carries uuid, name, phone and exp for the web app", arguments: TestBackend.allCases)
    func jwtPayload(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("erin")
            let parts = token.split(separator: ".")
            #expect(parts.count == 3)
            let payload = try #require(Base64URLTest.decode(String(parts[1])))
            let claims = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
            #expect(claims["uuid"] as? Int64 == user.id || claims["uuid"] as? Int == Int(user.id))
            #expect(claims["name"] as? String == "erin")
            #expect(claims.keys.contains("phone"))
            #expect(claims["exp"] is NSNumber)
        }
    }

    @Test("expired, forged, malformed and revoked tokens are 401", arguments: TestBackend.allCases)
    func badTokens(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("frank")
            // Forged: signed with another secret.
            let other = await SessionTokens(secret: "not-the-secret", lifetime: 3600)
            let forged = try await other.issue(for: user, session: nil)
            #expect(try await server.post("/v1/user/info", token: forged).status == 401)
            // Expired: right secret, past exp.
            let secret = try server.configuration.jwtSecret ?? String(contentsOfFile: server.dataDirectory + "/jwt-secret", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let expired = try await SessionTokens(secret: secret, lifetime: -10).issue(for: user, session: nil)
            let expiredReply = try await server.post("/v1/user/info", token: expired)
            #expect(expiredReply.status == 401)
            #expect(expiredReply.code == "TOKEN_INVALID")
            #expect(try await server.post("/v1/user/info", token: "garbage").status == 401)
            #expect(try await server.post("/v1/user/info").status == 401)
            // Tampered payload.
            var parts = token.split(separator: ".").map(String.init)
            // Flip one character of the payload (a different one, whatever it was).
            var payload = Array(parts[1])
            payload[payload.count / 2] = payload[payload.count / 2] == "x" ? "y" : "x"
            parts[1] = String(payload)
            #expect(try await server.post("/v1/user/info", token: parts.joined(separator: ".")).status == 401)
            // Logout ends the sign-in session of the token it was called with (SessionTests: only that one).
            #expect(try await server.post("/v1/user/info", token: token).status == 200)
            let logout = try await server.post("/v1/user/logout", token: token)
            #expect(logout.status == 200)
            #expect(try await server.post("/v1/user/info", token: token).status == 401)
            // A new login works again.
            let again = try await server.login("frank")
            #expect(try await server.post("/v1/user/info", token: again).status == 200)
        }
    }

    @Test("a disabled user can neither log in nor use an old token; login answers as for a wrong password", arguments: TestBackend.allCases)
    func disabledUser(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, token) = try await server.user("gina")
            try await server.write { db in try await UserRepository.setStatus(.disabled, userId: user.id, on: db) }
            let info = try await server.post("/v1/user/info", token: token)
            #expect(info.status == 401)
            // Issue #14 item 10: the right password must not be told apart from a wrong one.
            let right = try await server.post("/v1/user/login", ["value": "gina", "password": "secret"])
            let wrong = try await server.post("/v1/user/login", ["value": "gina", "password": "nope"])
            #expect(right.status == 401)
            #expect(right.code == "USER_LOGIN_FAILED")
            #expect(right.status == wrong.status && right.code == wrong.code && right.json["message"] as? String == wrong.json["message"] as? String)
        }
    }

    @Test("bad input: malformed JSON, wrong types, oversized body, unknown route — 4xx with codes", arguments: TestBackend.allCases)
    func badInput(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("hank")
            let malformed = try await server.post("/v1/store/token", raw: "{\"name\":", token: token)
            #expect(malformed.status == 400)
            #expect(malformed.code == "INVALID_JSON")
            let array = try await server.post("/v1/store/token", raw: "[1,2]", token: token)
            #expect(array.status == 400)
            let wrongType = try await server.post("/v1/store/token", ["name": ["x"]], token: token)
            #expect(wrongType.status == 400)
            #expect(wrongType.code == "INVALID_FIELD")
            let huge = try await server.post("/v1/store/token", raw: "{\"name\":\"" + String(repeating: "a", count: 2 << 20) + "\"}", token: token)
            #expect(huge.status == 413)
            #expect(huge.success == false)
            let unknown = try await server.post("/v1/nothing/here", token: token)
            #expect(unknown.status == 404)
            #expect(unknown.code == "NOT_FOUND")
            // An empty body, or the string "", is an empty object where nothing is required.
            #expect(try await server.post("/v1/user/info", raw: "", token: token).status == 200)
            #expect(try await server.post("/v1/user/info", raw: "\"\"", token: token).status == 200)
        }
    }

    @Test("CORS preflight is answered and exposes the token headers", arguments: TestBackend.allCases)
    func corsPreflight(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: { $0.corsOrigins = ["https://app.example.com"] }) { server in
            let reply = try await server.request(.options, "/v1/user/info", headers: [
                .origin: "https://app.example.com",
                .accessControlRequestMethod: "POST",
                .accessControlRequestHeaders: "authorization, content-type",
            ])
            #expect(reply.status == 200 || reply.status == 204)
            #expect(reply.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(reply.headers[.accessControlAllowHeaders]?.lowercased().contains("authorization") == true)
            let get = try await server.post("/v1/user/login", ["value": "x", "password": "y"], headers: [.origin: "https://app.example.com"])
            #expect(get.headers[.accessControlExposeHeaders]?.contains("Qingzhen-Token") == true)
            #expect(get.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(get.status == 401, "errors keep their status under CORS")
            #expect(get.code == "USER_LOGIN_FAILED")
        }
    }
}

enum Base64URLTest {
    static func decode(_ text: String) -> Data? {
        var t = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t)
    }
}
