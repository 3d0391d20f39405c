import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanServer

/// Issue #29 §5: WebDAV requests in the metrics by method and in the log with their user.
@Suite struct WebDAVOperationsTests {
    @Test("a WebDAV request's log line names its user (Basic, no session token) and never its credentials; metrics count it by method and status")
    func logsAndMetrics() async throws {
        let logs = LogCapture()
        try await withOpsServer(logs: logs) { server, _ in
            let password = "pw-\(UUID().uuidString)"
            let user = try await server.createUser("davlog", password: password)
            let authorization = WebDAVTests.basic("davlog", password)
            let propfind = try await server.request(
                HTTPRequest.Method("PROPFIND")!, "/dav/",
                headers: [.authorization: authorization, HTTPField.Name("Depth")!: "0", .requestId: "dav-log-1"]
            )
            #expect(propfind.status == 207)
            let put = try await server.request(.put, "/dav/a.txt", headers: [.authorization: authorization], body: Data("a".utf8))
            #expect(put.status == 201)
            let refused = try await server.request(.put, "/dav/b.txt", headers: [.authorization: WebDAVTests.basic("davlog", "wrong")], body: Data("b".utf8))
            #expect(refused.status == 401)

            let line = try #require(logs.records.first { $0.message == "request" && $0.metadata["request_id"] == "dav-log-1" })
            #expect(line.metadata["user_id"] == String(user.id))
            #expect(line.metadata["method"] == "PROPFIND")
            // The root matches the `/dav` route; everything under it `/dav/**`.
            #expect(line.metadata["route"] == "/dav")
            #expect(line.metadata["status"] == "207")
            let refusedLine = logs.records.last { $0.message == "request" && $0.metadata["method"] == "PUT" && $0.metadata["status"] == "401" }
            #expect(refusedLine != nil)
            #expect(refusedLine?.metadata["user_id"] == nil)
            let everything = logs.records.map(\.rendered).joined(separator: "\n")
            #expect(!everything.contains(password))
            #expect(!everything.contains(String(authorization.dropFirst(6))))

            let scrape = try await Scrape.of(server)
            #expect(scrape.value("pan_http_requests_total", ["route": "/dav", "method": "PROPFIND", "status": "207"]) == 1)
            #expect(scrape.value("pan_http_requests_total", ["route": "/dav/**", "method": "PUT", "status": "201"]) == 1)
            #expect(scrape.value("pan_http_requests_total", ["route": "/dav/**", "method": "PUT", "status": "401"]) == 1)
        }
    }
}
