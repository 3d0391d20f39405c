import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanSQLite
@testable import PanHTTPSupport
import WCS

/// Issue #24 §2.2: `mkblk` took any number of blocks per token, also after its
/// session completed, and they stayed until the token's deadline + 10 min:
/// one 4 MiB token of a user with a 10 MiB quota held 20 × 4 MiB. Now a token
/// holds one block per position of its file (a block sent again replaces the
/// earlier attempt), so its blocks never add up past its fsizeLimit — the
/// size its session reserved against the quota; nothing is taken after its
/// session ended, and its blocks go when the session completes or expires.
@Suite("Slice-upload blocks: bounded by the token's fsizeLimit, refused after completion, removed with their session")
struct SliceBlockLimitTests {
    static let block = 4 * 1024 * 1024

    func token(_ server: TestServer, _ session: String, name: String, size: Int) async throws -> String {
        let grant = try await server.post("/v1/store/token", ["name": name, "path": "/blocks", "size": size], token: session)
        return try #require(grant.result["token"] as? String, "\(grant.text)")
    }

    /// Bytes of block files (`.part`, `.blk`) on disk, and how many there are.
    func blocksOnDisk(_ server: TestServer) -> (bytes: Int64, count: Int) {
        let root = server.services.objectStore.blocksDirectory
        var bytes: Int64 = 0, count = 0
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let item = enumerator?.nextObject() as? String {
            guard item.hasSuffix(".part") || item.hasSuffix(".blk") else { continue }
            bytes += FileOps.size(of: root + "/" + item) ?? 0
            count += 1
        }
        return (bytes, count)
    }

    func tokenDirectories(_ server: TestServer) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: server.services.objectStore.blocksDirectory)) ?? []).filter { !$0.hasPrefix(".") }
    }

    func expectWCSError(_ reply: TestServer.Reply, _ status: Int, _ note: String) {
        #expect(reply.status == status, "\(note): \(reply.status) \(reply.text)")
        #expect(reply.json["code"] as? Int == status && reply.json["message"] is String, "\(note): WCS-shaped \(reply.text)")
    }

    @Test("the issue's attack: 20 blocks (and 6 at once) on one 1 MiB token of a 10 MiB user leave one block, ≤ fsizeLimit on disk")
    func blocksBoundedByFsizeLimit() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("hoarder", capacity: 10 << 20)
            let size = 1 << 20
            let upload = try await token(server, session, name: "one.bin", size: size)
            let bytes = vectorBytes(size)
            for attempt in 0..<20 {
                let reply = try await server.slicePost("/mkblk/\(size)/0", token: upload, body: bytes)
                #expect(reply.status == 200, "attempt \(attempt): \(reply.text)")
            }
            #expect(blocksOnDisk(server).bytes <= Int64(size), "\(blocksOnDisk(server))")
            #expect(blocksOnDisk(server).count == 1)
            // At once: each replaces the one before it; the ones replaced mid-body are told so.
            let replies = try await withThrowingTaskGroup(of: TestServer.Reply.self) { group in
                for _ in 0..<6 { group.addTask { try await server.slicePost("/mkblk/\(size)/0", token: upload, body: bytes) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 || ($0.status == 400 && $0.text.contains("no longer exists")) }, "\(replies.map(\.text))")
            #expect(blocksOnDisk(server).bytes <= Int64(size), "\(blocksOnDisk(server))")
            // Positions past the limit, and a block larger than the limit, are refused as before.
            expectWCSError(try await server.slicePost("/mkblk/\(size)/1", token: upload, body: Data(count: 10)), 413, "order past fsizeLimit")
            expectWCSError(try await server.slicePost("/mkblk/\(size + 1)/0", token: upload, body: Data(count: 10)), 413, "block past fsizeLimit")
            let user = try #require(try await server.services.store.user(reference: "hoarder"))
            #expect(user.spaceUsed == 0)
        }
    }

    @Test("a block sent again replaces the earlier attempt (the SDKs' retry and resume): the old ctx is refused, the upload completes")
    func retriedBlockReplacesTheEarlier() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("retrier")
            let bytes = vectorBytes(Self.block + 10)
            let upload = try await token(server, session, name: "retried.bin", size: bytes.count)
            let first = try await server.slicePost("/mkblk/\(Self.block)/0", token: upload, body: bytes.prefix(512 * 1024))
            let abandoned = try #require(first.json["ctx"] as? String, "\(first.text)")
            let again = try await server.slicePost("/mkblk/\(Self.block)/0", token: upload, body: bytes.prefix(Self.block))
            let whole = try #require(again.json["ctx"] as? String, "\(again.text)")
            expectWCSError(try await server.slicePost("/bput/\(abandoned)/\(512 * 1024)", token: upload, body: bytes[(512 * 1024)..<(1024 * 1024)]), 400, "replaced block")
            let tail = try await server.slicePost("/mkblk/10/1", token: upload, body: bytes.suffix(10))
            let last = try #require(tail.json["ctx"] as? String, "\(tail.text)")
            #expect(blocksOnDisk(server).bytes == Int64(bytes.count))
            let done = try await server.slicePost("/mkfile/\(bytes.count)", token: upload, body: Data("\(whole),\(last)".utf8))
            #expect(done.status == 200, "\(done.text)")
            #expect(done.json["hash"] as? String == ContentHasher.hash(bytes))
        }
    }

    @Test("blocks removed when the session completes (the unused ones too); mkblk, bput and mkfile refused after it")
    func blocksEndWithTheirSession() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("finisher")
            let bytes = vectorBytes(Self.block)
            let upload = try await token(server, session, name: "done.bin", size: Self.block + 100)
            let first = try await server.slicePost("/mkblk/\(Self.block)/0", token: upload, body: bytes)
            let ctx = try #require(first.json["ctx"] as? String, "\(first.text)")
            // A second block the file will not use, half sent.
            let unused = try await server.slicePost("/mkblk/100/1", token: upload, body: Data(count: 50))
            let unusedCtx = try #require(unused.json["ctx"] as? String, "\(unused.text)")
            #expect(blocksOnDisk(server).count == 2)
            let done = try await server.slicePost("/mkfile/\(Self.block)", token: upload, body: Data(ctx.utf8))
            #expect(done.status == 200, "\(done.text)")
            #expect(blocksOnDisk(server).count == 0, "\(blocksOnDisk(server))")
            #expect(tokenDirectories(server).isEmpty, "\(tokenDirectories(server))")
            let after = try await server.slicePost("/mkblk/100/1", token: upload, body: Data(count: 100))
            expectWCSError(after, 409, "mkblk after completion")
            #expect(after.json["message"] as? String == "this token's upload session is done; ask for a new token")
            let bput = try await server.slicePost("/bput/\(unusedCtx)/50", token: upload, body: Data(count: 50))
            #expect((400..<500).contains(bput.status) && bput.json["message"] is String, "bput after completion: \(bput.text)")
            expectWCSError(try await server.slicePost("/mkfile/\(Self.block)", token: upload, body: Data(ctx.utf8)), 409, "mkfile after completion")
            #expect(blocksOnDisk(server).count == 0)
            // A form upload completing a token removes the blocks it began too.
            let mixed = try await token(server, session, name: "mixed.bin", size: 1000)
            #expect(try await server.slicePost("/mkblk/1000/0", token: mixed, body: Data(count: 10)).status == 200)
            #expect(try await server.formUpload(token: mixed, bytes: vectorBytes(1000)).status == 200)
            #expect(tokenDirectories(server).isEmpty, "\(tokenDirectories(server))")
        }
    }

    @Test("blocks go when their token's session expires: the sweep removes them after deadline + grace, not before")
    func blocksEndWhenTheSessionExpires() async throws {
        try await withServer { server in
            let (_, session) = try await server.user("sleeper")
            let upload = try await token(server, session, name: "late.bin", size: 1000)
            #expect(try await server.slicePost("/mkblk/1000/0", token: upload, body: Data(count: 500)).status == 200)
            let store = server.services.objectStore
            let grace: Int64 = 600_000
            #expect(store.removeAbandoned(now: Millis.now(), grace: grace) == 0)
            #expect(tokenDirectories(server).count == 1)
            let deadline = try #require(try await server.read { db in
                try await db.queryRow("SELECT MAX(deadline) AS d FROM upload_sessions")?.int64("d")
            })
            #expect(store.removeAbandoned(now: deadline + grace - 1, grace: grace) == 0)
            #expect(store.removeAbandoned(now: deadline + grace + 1, grace: grace) == 1)
            #expect(tokenDirectories(server).isEmpty && blocksOnDisk(server).count == 0)
        }
    }
}
