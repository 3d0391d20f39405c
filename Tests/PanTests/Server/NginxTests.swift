import AsyncHTTPClient
import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
import WCS

/// Pan behind a REAL nginx (the Debian package, which `.ci/run` installs),
/// configured with `deploy/nginx-pan.conf`'s own directives, on loopback.
/// Pan's public URL is nginx's, so upload URLs, callbacks and download links
/// all go through the proxy too.
@Suite("Behind nginx: deploy/nginx-pan.conf in front of a real Pan")
struct NginxTests {
    static let nginx = "/usr/sbin/nginx"

    @Test("the whole loop through nginx: login, token, form and slice upload, callbacks, instant upload, ranged download, forwarded client IP")
    func wholeLoop() async throws {
        let logs = LogCapture()
        try await withNginxSite(logs: logs) { direct, configuration, proxy in
            let proxyPort = proxy.port
            // Every helper below talks to nginx's port.
            let server = TestServer(services: direct.services, port: proxyPort, dataDirectory: direct.dataDirectory)
            let base = "http://127.0.0.1:\(proxyPort)"

            try await server.createUser("edge")
            let session = try await server.login("edge")
            let grant = try await server.post("/v1/store/token", ["name": "big.bin", "path": "/edge"], token: session)
            #expect(grant.result["uploadUrl"] as? String == base)
            let policy = try UploadToken.verify(try #require(grant.result["token"] as? String), credentials: server.services.credentials).get()
            #expect(policy.callbackUrl == base + configuration.callbackPath)

            // A form upload larger than nginx's default 1 MiB body limit, streamed; Pan calls itself back through nginx.
            let (size, hash) = hashVectors[4]
            let big = vectorBytes(size)
            let form = try await server.formUpload(token: try #require(grant.result["token"] as? String), bytes: big)
            #expect(form.status == 200, "\(form.text.prefix(500)) / nginx: \(proxy.errors)")
            #expect(form.result["storeId"] as? String == hash)
            #expect(form.result["path"] as? String == "/edge/big.bin")

            // Slice upload in whole 4 MiB blocks (the desktop client).
            let sliceToken = try await uploadToken(server, session, ["name": "sliced.bin", "path": "/edge"])
            let sliced = try await server.sliceUpload(token: sliceToken, bytes: vectorBytes(hashVectors[3].n), style: .desktop)
            #expect(sliced.status == 200, "\(sliced.text.prefix(500))")
            #expect(sliced.json["hash"] as? String == hashVectors[3].hash)

            // A WCS-style callback through nginx, signed over the public URL.
            let later = try await uploadToken(server, session, ["name": "from-wcs.bin", "path": "/edge"])
            let wcsBytes = vectorBytes(777)
            let callback = try await server.callback(forToken: later, size: 777, hash: ContentHasher.hash(wcsBytes))
            #expect(callback.status == 200 && callback.success == true, "\(callback.text)")

            // Instant upload of content already stored.
            let instant = try await server.post("/v1/store/token", ["name": "again.bin", "path": "/edge", "hash": hash], token: session)
            #expect(instant.result["uuid"] is String, "\(instant.text)")

            // A ranged download through nginx.
            let get = try await server.post("/v1/files/get", ["path": "/edge/again.bin"], token: session)
            let address = try #require(get.result["downloadAddress"] as? String)
            #expect(address.hasPrefix(base + "/dl/"))
            var request = HTTPClientRequest(url: address)
            request.headers.add(name: "Range", value: "bytes=4194300-4194309")
            let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 206)
            #expect(response.headers.first(name: "Content-Range") == "bytes 4194300-4194309/\(size)")
            let slice = Data(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(slice == big[4_194_300..<4_194_310])

            // The client IP nginx forwards is the one Pan substitutes and logs: the address nginx
            // saw, never the X-Forwarded-For the client sent (issue #24 §2.9; a second client
            // address through nginx: LoginAbuseTests).
            let ip = try await uploadedIP(server, forwardedFor: "203.0.113.7", requestId: "via-nginx")
            #expect(ip == "127.0.0.1")
            let line = try #require(logs.records.first { $0.message == "request" && $0.metadata["request_id"] == "via-nginx" })
            #expect(line.metadata["client_ip"] == "127.0.0.1")
            #expect(line.metadata["route"] == "/file/upload")

            // Operations endpoints through the proxy (loopback is allowed by the site config).
            #expect(try await fetch(base + "/readyz").status == 200)
            let scrape = Scrape(try await fetch(base + "/metrics").text)
            #expect(scrape.value("pan_callbacks_total", ["result": "accepted"]) == 3)
            #expect(scrape.value("pan_instant_uploads_total", ["kind": "own"]) == 1)
            #expect(proxy.accessLogLines >= 10)
        }
    }

    @Test("a forged X-Forwarded-For sent straight to Pan from a peer it does not trust is ignored")
    func forgedForwardedForIgnored() async throws {
        try await withServer(configure: { $0.trustedProxies = ["192.0.2.1"] }) { server in
            let ip = try await uploadedIP(server, forwardedFor: "203.0.113.7", requestId: "direct")
            #expect(ip == "127.0.0.1")
        }
        try await withServer(configure: { $0.trustedProxies = ["127.0.0.1"] }) { server in
            // Pan's walk: the nearest hop it does not trust is the client.
            let ip = try await uploadedIP(server, forwardedFor: "198.51.100.1, 203.0.113.7", requestId: "chain")
            #expect(ip == "203.0.113.7")
        }
    }
}

/// Form-uploads with a token whose `returnBody` is `ip=$(ip)` and returns the
/// IP Pan substituted: the uploader's address as Pan determined it.
func uploadedIP(_ server: TestServer, forwardedFor: String, requestId: String) async throws -> String? {
    let token = UploadToken.make(
        policy: PutPolicy(scope: server.configuration.bucket, deadline: Millis.now() + 60_000, saveKey: "ip-\(requestId)", returnBody: "ip=$(ip)"),
        credentials: server.services.credentials[0]
    )
    let boundary = "pan-ip-\(UUID().uuidString)"
    var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n\(token)\r\n".utf8)
    body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ip.bin\"\r\n\r\nip\r\n--\(boundary)--\r\n".utf8))
    let reply = try await server.request(.post, "/file/upload", headers: [
        .contentType: "multipart/form-data; boundary=\(boundary)", .forwardedFor: forwardedFor, .requestId: requestId,
    ], body: body)
    guard reply.status == 200, let decoded = Base64URL.decode(reply.text) else { throw TestFailure("upload: \(reply.status) \(reply.text)") }
    let fields = String(decoding: decoded, as: UTF8.self).split(separator: "&")
    return fields.first { $0.hasPrefix("ip=") }.map { String($0.dropFirst(3)) }
}
