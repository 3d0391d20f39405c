import Foundation
import Synchronization
import Testing
@testable import PanCore
@testable import PanPostgres
import SQLCommon
import WCS

/// Issue #25's budget of statements per request on PostgreSQL, counted as
/// PostgreSQL receives them (`PostgresStatementLog`: every statement the
/// engine sends, BEGIN and COMMIT included), so the count cannot creep back.
@Suite("PostgreSQL statements per request")
struct StatementBudgetTests {
    static let keys = Credentials(accessKey: "budget-ak", secretKey: "budget-sk")

    @Test("token ≤ 6, instant upload ≤ 8, a local upload and its callback ≤ 12; one transaction each")
    func budgets() async throws {
        let url = try await PostgresCluster.shared().createDatabase(prefix: "budget")
        let database = String(try #require(URLComponents(string: url)?.path.dropFirst()))
        let seen = Mutex<[String]>([])
        PostgresStatementLog.observe(database) { sql, _ in seen.withLock { $0.append(sql) } }
        defer { PostgresStatementLog.observe(database, nil) }
        try await withServer(configure: { configuration in
            configuration.databaseURL = url
            configuration.databasePoolSize = 2
            configuration.jwtSecret = "budget-secret"
            configuration.wcsKeys = [Self.keys]
            // No background statements while requests are counted.
            configuration.readinessInterval = 3600
            configuration.metricsInterval = 3600
            configuration.sweepInterval = 3600
        }) { server in
            let (_, session) = try await server.user("budget")
            // The directory exists, as it does for every upload but a folder's first.
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/docs"], token: session).status == 200)
            /// The statements `body` made PostgreSQL run; the fewest of two tries, so a
            /// statement of something else in flight (a probe) cannot fail the test.
            func counted(_ body: (Int) async throws -> Void) async throws -> [String] {
                var fewest: [String]?
                for attempt in 0..<2 {
                    seen.withLock { $0 = [] }
                    try await body(attempt)
                    let statements = seen.withLock { $0 }
                    if fewest == nil || statements.count < fewest!.count { fewest = statements }
                }
                return fewest!
            }
            func transactions(_ statements: [String]) -> Int { statements.filter { $0.hasPrefix("BEGIN") }.count }

            let token = try await counted { attempt in
                let reply = try await server.post("/v1/store/token", ["name": "plain\(attempt).bin", "path": "/docs"], token: session)
                #expect(reply.result["token"] is String, "\(reply.text)")
            }
            #expect(token.count <= 6, "token: \(token.count) statements\n\(token.joined(separator: "\n"))")
            #expect(transactions(token) == 1, "\(token)")

            var hashes: [String] = []
            let upload = try await counted { attempt in
                let bytes = Data("budget upload \(attempt)".utf8)
                let hash = ContentHasher.hash(bytes)
                hashes.append(hash)
                // The token is not counted here: only the upload and its callback.
                let grant = try await server.post("/v1/store/token", ["name": "up\(attempt).txt", "path": "/docs", "hash": hash], token: session)
                let uploadToken = try #require(grant.result["token"] as? String, "\(grant.text)")
                seen.withLock { $0 = [] }
                let stored = try await server.formUpload(token: uploadToken, bytes: bytes, fileName: "up\(attempt).txt")
                #expect(stored.success == true, "\(stored.text)")
            }
            #expect(upload.count <= 12, "upload + callback: \(upload.count) statements\n\(upload.joined(separator: "\n"))")
            #expect(transactions(upload) == 1, "\(upload)")

            let instant = try await counted { attempt in
                let reply = try await server.post("/v1/store/token", ["name": "again\(attempt).txt", "path": "/docs", "hash": hashes[0]], token: session)
                #expect(reply.result["storeId"] as? String == hashes[0], "\(reply.text)")
            }
            #expect(instant.count <= 8, "instant: \(instant.count) statements\n\(instant.joined(separator: "\n"))")
            #expect(transactions(instant) == 1, "\(instant)")
            print("statements per request on PostgreSQL: token \(token.count), upload + callback \(upload.count), instant \(instant.count)")
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
        }
    }

    @Test("share links: open ≤ 4, a download ≤ 6 (one statement reads the share, one the file, one transaction counts), page ≤ 8 (the share, then a files/page listing)")
    func shareBudgets() async throws {
        let url = try await PostgresCluster.shared().createDatabase(prefix: "sharebudget")
        let database = String(try #require(URLComponents(string: url)?.path.dropFirst()))
        let seen = Mutex<[String]>([])
        PostgresStatementLog.observe(database) { sql, _ in seen.withLock { $0.append(sql) } }
        defer { PostgresStatementLog.observe(database, nil) }
        try await withServer(configure: { configuration in
            configuration.databaseURL = url
            configuration.databasePoolSize = 2
            configuration.jwtSecret = "budget-secret"
            configuration.wcsKeys = [Self.keys]
            configuration.readinessInterval = 3600
            configuration.metricsInterval = 3600
            configuration.sweepInterval = 3600
        }) { server in
            let (_, session) = try await server.user("sharer")
            try await ShareClient.mkdir(server, session, "/album")
            try await ShareClient.put(server, session, ShareClient.bytes(10_000), name: "a.bin", path: "/album")
            let share = try await ShareClient.create(server, session, ["path": "/album"])
            let id = ShareClient.id(share)
            func counted(_ body: () async throws -> Void) async throws -> [String] {
                var fewest: [String]?
                for _ in 0..<2 {
                    seen.withLock { $0 = [] }
                    try await body()
                    let statements = seen.withLock { $0 }
                    if fewest == nil || statements.count < fewest!.count { fewest = statements }
                }
                return fewest!
            }
            var grant: Any?
            let open = try await counted { grant = try await ShareClient.opened(server, id)["grant"] }
            #expect(open.count <= 4, "open: \(open.count)\n\(open.joined(separator: "\n"))")
            var address = ""
            let page = try await counted {
                let reply = try await ShareClient.page(server, id, grant: grant)
                address = try #require(ShareClient.entries(reply)["a.bin"]?["downloadAddress"] as? String, "\(reply.text)")
            }
            #expect(page.count <= 8, "page: \(page.count)\n\(page.joined(separator: "\n"))")
            let download = try await counted {
                let reply = try await ShareClient.get(server, address)
                #expect(reply.status == 200)
            }
            #expect(download.count <= 6, "download: \(download.count)\n\(download.joined(separator: "\n"))")
            print("statements per share request on PostgreSQL: open \(open.count), page \(page.count), download \(download.count)")
        }
    }
}
