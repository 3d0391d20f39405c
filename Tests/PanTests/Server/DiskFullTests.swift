import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
import SQLiteKit
import WCS

/// Issue #14 item 11: a full disk is a clear 507 STORAGE_FULL, never an
/// opaque 500; uploads are refused early below the free-space floor, and
/// `/readyz` and `/metrics` say so.
@Suite("Disk full (issue #14 item 11)")
struct DiskFullTests {
    @Test("below the free-space floor: token and uploads are 507 STORAGE_FULL, /readyz is 503, /metrics has the gauge")
    func belowFloor() async throws {
        try await withServer(configure: { $0.minimumFreeBytes = Int64.max / 2 }) { server in
            let (_, token) = try await server.user("floor")
            let grant = try await server.post("/v1/store/token", ["name": "a.bin", "size": 10], token: token)
            #expect(grant.status == 507)
            #expect(grant.code == "STORAGE_FULL")
            #expect(grant.headers[.retryAfter] != nil)
            // The local endpoint refuses before reading a byte, whatever token it is shown.
            let upload = try await server.formUpload(token: "anything", bytes: Data(count: 1000))
            #expect(upload.status == 507)
            #expect(upload.json["code"] as? Int == 507 && upload.json["message"] is String, "\(upload.text) \(upload.headers)")
            #expect(upload.headers[.retryAfter] != nil)
            let slice = try await server.request(.post, "/mkblk/4/0", headers: [.authorization: "UpToken x"], body: Data("abcd".utf8))
            #expect(slice.status == 507 || slice.status == 401)
            let ready = try await server.request(.get, "/readyz")
            #expect(ready.status == 503)
            #expect(ready.json["disk"] as? String != "ok")
            #expect((ready.json["freeBytes"] as? NSNumber)?.int64Value ?? 0 > 0)
            let scrape = try await Scrape.of(server)
            let free = try #require(scrape.samples.first { $0.name == "pan_data_free_bytes" })
            #expect(free.value > 0)
            // Browsing and other writes go on.
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/still"], token: token).status == 200)
        }
    }

    @Test("on an ordinary disk the default floor changes nothing, and /readyz reports the free bytes")
    func defaultFloor() async throws {
        try await withServer { server in
            #expect(server.configuration.minimumFreeBytes == 64 << 20)
            let (_, token) = try await server.user("roomy")
            #expect(try await server.post("/v1/store/token", ["name": "a.bin", "size": 10], token: token).status == 200)
            let ready = try await server.request(.get, "/readyz")
            #expect(ready.status == 200)
            #expect(ready.json["disk"] as? String == "ok")
        }
        var configuration = PanConfiguration()
        try configuration.apply(environment: ["PAN_MIN_FREE_BYTES": "0"])
        #expect(configuration.minimumFreeBytes == 0)
        #expect(throws: ConfigurationError.self) { try configuration.apply(environment: ["PAN_MIN_FREE_BYTES": "lots"]) }
    }

    @Test("SQLite's 'database or disk is full' is 507 STORAGE_FULL, and writes resume when room returns")
    func sqliteFull() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("full")
            // The writer's database may not grow past its current size: SQLITE_FULL on the next new page.
            let pages = try await server.database.write { db -> Int64 in
                let pages = try db.scalar("PRAGMA page_count") ?? 0
                _ = try db.scalar("PRAGMA max_page_count = \(pages)")
                return pages
            }
            #expect(pages > 0)
            var sawFull = false
            for i in 0..<400 {
                let reply = try await server.post("/v1/files/createDirectory", ["path": "/d\(i)/\(String(repeating: "x", count: 200))"], token: token)
                #expect(reply.status != 500, "\(reply.text)")
                if reply.status == 507 {
                    #expect(reply.code == "STORAGE_FULL")
                    sawFull = true
                    break
                }
            }
            #expect(sawFull)
            _ = try await server.database.write { db in try await db.scalar("PRAGMA max_page_count = 1073741823") }
            #expect(try await server.post("/v1/files/createDirectory", ["path": "/after"], token: token).status == 200)
            let findings = try await server.database.read { db in try await TreeChecker.check(on: db) }
            #expect(findings.isEmpty)
        }
    }

    /// Runs a command to completion; its exit status.
    @discardableResult
    static func run(_ arguments: [String]) -> Int32 {
        guard let process = try? ChildProcess("/usr/bin/env", arguments) else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test("on a real full filesystem (a small tmpfs): an upload is 507 STORAGE_FULL, not 500, and works once space is back")
    func smallFilesystem() async throws {
        let mountPoint = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        // Mounting needs root (CAP_SYS_ADMIN); elsewhere the floor tests above stand in.
        guard getuid() == 0, Self.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint]) == 0 else {
            print("DiskFullTests.smallFilesystem: cannot mount a tmpfs here (not root?); skipped")
            return
        }
        defer { Self.run(["umount", "-l", mountPoint]) }
        let filler = mountPoint + "/filler"
        try await withServer(configure: {
            $0.dataDirectory = mountPoint + "/data"
            $0.minimumFreeBytes = 0
        }) { server in
            let (_, token) = try await server.user("tiny")
            let grant = try await server.post("/v1/store/token", ["name": "big.bin", "path": "/up"], token: token)
            let upload = try #require(grant.result["token"] as? String, "\(grant.text)")
            // Leave ~256 KiB free, then send 2 MiB.
            let free = try #require(DiskSpace.freeBytes(at: mountPoint))
            #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: Int(free) - 256 * 1024)))
            let bytes = vectorBytes(2 << 20)
            let refused = try await server.formUpload(token: upload, bytes: bytes, fileName: "big.bin")
            #expect(refused.status == 507, "\(refused.status) \(refused.text)")
            // The upload API answers in WCS's shape: a numeric code and a message.
            #expect(refused.json["code"] as? Int == 507 && refused.json["message"] is String, "\(refused.text)")
            // Room again: the same upload goes through.
            try FileManager.default.removeItem(atPath: filler)
            let again = try await server.post("/v1/store/token", ["name": "big.bin", "path": "/up"], token: token)
            let second = try #require(again.result["token"] as? String, "\(again.text)")
            let accepted = try await server.formUpload(token: second, bytes: bytes, fileName: "big.bin")
            #expect(accepted.status == 200, "\(accepted.text)")
            let findings = try await server.database.read { db in try await TreeChecker.check(on: db) }
            #expect(findings.isEmpty)
        }
    }
}
