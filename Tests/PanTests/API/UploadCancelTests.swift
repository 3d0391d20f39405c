import Foundation
import Synchronization
import Testing
@testable import PanCore
@testable import PanHTTPSupport
@testable import PanSQLite
import SQLiteKit
import WCS

/// Issue #26, bug 2: a cancelled or abandoned upload held its quota
/// reservation until its token's deadline (over an hour). Now the user ends
/// it (`POST /v1/store/cancel`), or it lapses when its bytes stop arriving
/// (`PAN_UPLOAD_IDLE`); and an interrupted slice upload resumes with the same
/// token from the blocks already stored, across a server restart.
@Suite("Upload cancel, idle lapse and resume (issue #26)")
struct UploadCancelTests {
    static let mebibyte = 1 << 20

    /// The upload token of a grant (fails the test on an instant upload or a refusal).
    func grant(_ server: TestServer, _ session: String, _ body: [String: Any]) async throws -> String {
        let reply = try await server.post("/v1/store/token", body, token: session)
        guard let token = reply.result["token"] as? String else { throw TestFailure("no upload token: \(reply.text)") }
        return token
    }

    func cancel(_ server: TestServer, _ session: String, _ upload: String) async throws -> TestServer.Reply {
        try await server.post("/v1/store/cancel", ["token": upload], token: session)
    }

    func cancel(_ server: TestServer, _ session: String, _ upload: String, after milliseconds: Int) async throws -> TestServer.Reply {
        try await Task.sleep(for: .milliseconds(milliseconds))
        return try await cancel(server, session, upload)
    }

    func status(_ server: TestServer, _ session: String, _ upload: String) async throws -> TestServer.Reply {
        try await server.post("/v1/store/status", ["token": upload], token: session)
    }

    /// The directory of a token's slice blocks (`LocalObjectStore`), which must go with its session.
    func blocksDirectory(_ server: TestServer, _ upload: String) throws -> String {
        let check = TokenCheck(credentials: server.services.credentials, bucket: server.configuration.bucket)
        return server.services.objectStore.tokenBlocksDirectory(try check.identify(upload).owner)
    }

    func sessionId(_ server: TestServer, _ upload: String) throws -> String {
        let check = TokenCheck(credentials: server.services.credentials, bucket: server.configuration.bucket)
        return try #require(try check.identify(upload).sessionId)
    }

    /// Sends `bytes` as block `order` the web app's way: mkblk with the first MiB, bput for the rest. Returns the last ctx.
    func sendBlock(_ server: TestServer, _ upload: String, order: Int, blockSize: Int, _ bytes: Data, chunk: Int = 1 << 20) async throws -> String {
        var reply = try await server.slicePost("/mkblk/\(blockSize)/\(order)", token: upload, body: bytes.prefix(chunk))
        var offset = min(chunk, bytes.count)
        while offset < bytes.count {
            let ctx = try #require(reply.json["ctx"] as? String, "\(reply.status) \(reply.text)")
            let end = min(bytes.count, offset + chunk)
            reply = try await server.slicePost("/bput/\(ctx)/\(offset)", token: upload, body: bytes[bytes.startIndex + offset..<bytes.startIndex + end])
            offset = end
        }
        #expect(reply.status == 200, "\(reply.text)")
        return try #require(reply.json["ctx"] as? String, "\(reply.text)")
    }

    /// The relayed callback answer inside an mkfile reply.
    func relayed(_ reply: TestServer.Reply) -> [String: Any] {
        guard let text = reply.json["response"] as? String else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    func spaceUsed(_ server: TestServer, _ userId: Int64) async throws -> Int64 {
        try await server.read { db in try await UserRepository.find(id: userId, on: db)!.spaceUsed }
    }

    @Test("the issue's scenario: 100 MiB quota, a 60 MiB upload cancelled at 16 %, a 40 MiB upload, then 10 MiB is accepted (mkblk/bput); its blocks leave the disk at once", arguments: TestBackend.allCases)
    func cancelledUploadFreesQuota(backend: TestBackend) async throws {
        let mib = Self.mebibyte
        try await withServer(backend: backend) { server in
            // Before: a session nobody ends holds its reservation (what the cancelled one did until its deadline).
            let (_, holder) = try await server.user("holder", capacity: Int64(100 * mib))
            _ = try await grant(server, holder, ["name": "big.bin", "size": 60 * mib])
            _ = try await grant(server, holder, ["name": "mid.bin", "size": 40 * mib])
            let held = try await server.post("/v1/store/token", ["name": "small.bin", "size": 10 * mib], token: holder)
            #expect(held.status == 403 && held.code == "QUOTA_EXCEEDED", "\(held.text)")

            let (user, session) = try await server.user("canceller", capacity: Int64(100 * mib))
            let big = try await grant(server, session, ["name": "big.bin", "path": "/up", "size": 60 * mib])
            // ≈16 %: two whole 4 MiB blocks and 2 MiB of the third, 1 MiB per request.
            let block = Data(repeating: 0x60, count: 4 * mib)
            _ = try await sendBlock(server, big, order: 0, blockSize: 4 * mib, block)
            _ = try await sendBlock(server, big, order: 1, blockSize: 4 * mib, block)
            _ = try await sendBlock(server, big, order: 2, blockSize: 4 * mib, block.prefix(2 * mib))
            let progress = try await status(server, session, big)
            #expect(progress.result["state"] as? String == "pending" && progress.result["bytesReceived"] as? Int == 10 * mib, "\(progress.text)")
            let blocks = try blocksDirectory(server, big)
            #expect(FileManager.default.fileExists(atPath: blocks))

            let cancelled = try await cancel(server, session, big)
            #expect(cancelled.status == 200 && cancelled.success == true, "\(cancelled.text)")
            #expect(cancelled.result["state"] as? String == "cancelled")
            #expect(cancelled.json["token"] is String, "an authenticated reply carries the refreshed session token")
            #expect(!FileManager.default.fileExists(atPath: blocks), "the cancelled upload's blocks are still on disk")
            let counters = try await server.read { db in try await UserRepository.find(id: user.id, on: db)! }
            #expect(counters.pendingUploads == 0 && counters.pendingBytes == 0, "pending \(counters.pendingUploads) / \(counters.pendingBytes) bytes")
            // The cancelled token takes no more bytes.
            let late = try await server.slicePost("/mkblk/\(4 * mib)/3", token: big, body: block.prefix(1024))
            #expect(late.status == 409 && late.json["message"] as? String == "this token's upload session is cancelled; ask for a new token", "\(late.text)")

            let mid = try await grant(server, session, ["name": "mid.bin", "path": "/up", "size": 40 * mib])
            let midReply = try await server.sliceUpload(token: mid, bytes: Data(repeating: 0x40, count: 40 * mib), style: .webApp)
            #expect(midReply.status == 200 && relayed(midReply)["success"] as? Bool == true, "\(midReply.text)")
            // Refused before the change: 60 (still reserved) + 40 + 10 > 100.
            let small = try await server.post("/v1/store/token", ["name": "small.bin", "path": "/up", "size": 10 * mib], token: session)
            let smallToken = try #require(small.result["token"] as? String, "10 MiB refused after the cancel: \(small.text)")
            let smallReply = try await server.sliceUpload(token: smallToken, bytes: Data(repeating: 0x10, count: 10 * mib), style: .webApp)
            #expect(smallReply.status == 200 && relayed(smallReply)["success"] as? Bool == true, "\(smallReply.text)")
            let info = try await server.post("/v1/user/info", token: session)
            #expect(info.result["spaceUsed"] as? Int == 50 * mib)
            #expect(try await server.count("upload_sessions", "state = 'cancelled'") == 1)
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
        }
    }

    @Test("cancel: idempotent, 409 UPLOAD_DONE once done, 404 UPLOAD_NOT_FOUND for another user's, forged or malformed tokens; a late callback is refused; status", arguments: TestBackend.allCases)
    func cancelAnswers(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, session) = try await server.user("owner")
            let (_, stranger) = try await server.user("stranger")
            let upload = try await grant(server, session, ["name": "a.bin", "size": 1000])

            // Someone else's session is not told apart from none.
            let foreign = try await cancel(server, stranger, upload)
            #expect(foreign.status == 404 && foreign.code == "UPLOAD_NOT_FOUND", "\(foreign.text)")
            #expect(try await status(server, stranger, upload).code == "UPLOAD_NOT_FOUND")
            let keys = server.services.credentials[0]
            let policy = try UploadToken.verify(upload, credentials: server.services.credentials).get()
            let forged = UploadToken.make(policy: policy, credentials: Credentials(accessKey: keys.accessKey, secretKey: "not-the-key"))
            for token in [forged, "garbage", "a:b:c", String(upload.dropLast(3))] {
                let reply = try await cancel(server, session, token)
                #expect(reply.status == 404 && reply.code == "UPLOAD_NOT_FOUND", "\(token): \(reply.text)")
            }
            // A token signed right but naming no session (an operator's plain upload token).
            let plain = UploadToken.make(policy: PutPolicy(scope: "pan", deadline: Millis.now() + 60_000), credentials: keys)
            #expect(try await cancel(server, session, plain).code == "UPLOAD_NOT_FOUND")
            let missing = try await server.post("/v1/store/cancel", [:], token: session)
            #expect(missing.status == 400 && missing.code == "INVALID_FIELD", "\(missing.text)")
            let anonymous = try await server.post("/v1/store/cancel", ["token": upload], headers: [:])
            #expect(anonymous.status == 401, "\(anonymous.text)")
            #expect(try await status(server, session, upload).result["state"] as? String == "pending")

            // Twice: the web app may send it again.
            for _ in 0..<2 {
                let reply = try await cancel(server, session, upload)
                #expect(reply.status == 200 && reply.result["state"] as? String == "cancelled", "\(reply.text)")
            }
            #expect(try await status(server, session, upload).result["state"] as? String == "cancelled")
            let counters = try await server.read { db in try await UserRepository.find(id: user.id, on: db)! }
            #expect(counters.pendingUploads == 0 && counters.pendingBytes == 0)
            // Bytes sent anyway, and their callback: refused, nothing recorded.
            let form = try await server.formUpload(token: upload, bytes: Data(repeating: 1, count: 1000))
            #expect(form.status == 409 && form.json["code"] as? Int == 409, "\(form.text)")
            let callback = try await server.callback(forToken: upload, size: 1000, hash: ContentHasher.hash(Data(repeating: 1, count: 1000)))
            #expect(callback.status == 200 && callback.success == false && callback.code == "UPLOAD_CANCELLED", "\(callback.text)")
            #expect(try await server.count("nodes", "type = 0") == 0)
            #expect(try await server.count("store_objects") == 0)

            // Done: 409, and the file stays.
            let done = try await grant(server, session, ["name": "done.bin"])
            #expect(try await server.formUpload(token: done, bytes: Data("made".utf8)).success == true)
            let late = try await cancel(server, session, done)
            #expect(late.status == 409 && late.code == "UPLOAD_DONE", "\(late.text)")
            #expect(try await server.post("/v1/files/get", ["path": "/done.bin"], token: session).status == 200)
            #expect(try await status(server, session, done).result["state"] as? String == "done")

            // Expired at its deadline: 200 with that state, unchanged.
            let old = try await grant(server, session, ["name": "old.bin"])
            let oldId = try sessionId(server, old)
            try await server.write { db in try await db.run("UPDATE upload_sessions SET deadline = 1000, state = 'expired' WHERE id = ?", oldId) }
            let expired = try await cancel(server, session, old)
            #expect(expired.status == 200 && expired.result["state"] as? String == "expired", "\(expired.text)")
            // `pan session list` knows the new state.
            #expect(try await server.services.store.uploadSessions(state: .cancelled, limit: 10).count == 1)
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
        }
    }

    @Test("cancel racing mkfile, 24 rounds: exactly one wins — the file and UPLOAD_DONE, or cancelled and mkfile refused; no file, object, quota or block leaks", arguments: TestBackend.allCases)
    func cancelRacesMkfile(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (user, session) = try await server.user("racer")
            var made: [String: Int] = [:]
            var cancelledRounds = 0
            for round in 0..<24 {
                let bytes = Data("round \(round)|".utf8) + Data(repeating: UInt8(round), count: 150_000 + round)
                let name = "r\(round).bin"
                let upload = try await grant(server, session, ["name": name, "size": bytes.count])
                let ctx = try await sendBlock(server, upload, order: 0, blockSize: bytes.count, bytes, chunk: bytes.count)
                // ms: the cancel lands before, during and after mkfile's work (0 ms: before its claim, as a rule).
                let delay = [0, 3, 10, 30, 100, 300][round % 6]
                async let mkfile = server.slicePost("/mkfile/\(bytes.count)", token: upload, body: Data(ctx.utf8))
                async let ended = cancel(server, session, upload, after: delay)
                let (file, cancelReply) = try await (mkfile, ended)
                let exists = try await server.post("/v1/files/get", ["path": "/" + name], token: session).status == 200
                if cancelReply.status == 200 {
                    cancelledRounds += 1
                    #expect(cancelReply.result["state"] as? String == "cancelled", "round \(round): \(cancelReply.text)")
                    #expect(!exists, "round \(round): cancelled, yet the file was made")
                    if file.status == 200 {
                        // The callback came after the cancel: its refusal is relayed, as WCS relays it.
                        #expect(relayed(file)["success"] as? Bool == false && relayed(file)["code"] as? String == "UPLOAD_CANCELLED", "round \(round): \(file.text)")
                    } else {
                        // Refused before the callback: the session ended, or its blocks went mid-mkfile.
                        #expect([400, 409].contains(file.status) && file.json["message"] is String, "round \(round): \(file.status) \(file.text)")
                    }
                } else {
                    #expect(cancelReply.status == 409 && cancelReply.code == "UPLOAD_DONE", "round \(round): \(cancelReply.text)")
                    #expect(file.status == 200 && relayed(file)["success"] as? Bool == true, "round \(round): \(file.text)")
                    #expect(exists, "round \(round): done, but no file")
                    made[name] = bytes.count
                }
                #expect(!FileManager.default.fileExists(atPath: try blocksDirectory(server, upload)), "round \(round): blocks left")
            }
            print("cancel vs mkfile on \(backend): \(made.count) made, \(cancelledRounds) cancelled")
            #expect(made.count + cancelledRounds == 24)
            #expect(made.count > 0 && cancelledRounds > 0, "both outcomes should have happened")
            #expect(try await spaceUsed(server, user.id) == Int64(made.values.reduce(0, +)))
            #expect(try await server.count("store_objects") == Int64(made.count))
            #expect(server.storedObjectFiles() == made.count, "object files of refused uploads left on disk")
            let counters = try await server.read { db in try await UserRepository.find(id: user.id, on: db)! }
            #expect(counters.pendingUploads == 0 && counters.pendingBytes == 0)
            #expect(try await server.count("upload_sessions", "state = 'pending'") == 0)
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
        }
    }

    /// The session's lapse as stored (ms), read straight from the database.
    func lapsesAt(_ server: TestServer, _ upload: String) async throws -> Int64 {
        let id = try sessionId(server, upload)
        return try await server.read { db in try await db.scalar("SELECT lapses_at FROM upload_sessions WHERE id = ?", id) ?? 0 }
    }

    /// Sets a session's lapse, as if its bytes had stopped long ago (the wall clock
    /// is not this test's to wait on: on a loaded CI machine a few requests took
    /// longer than a short PAN_UPLOAD_IDLE).
    func setLapse(_ server: TestServer, _ upload: String, _ lapsesAt: Int64) async throws {
        let id = try sessionId(server, upload)
        try await server.write { db in try await db.run("UPDATE upload_sessions SET lapses_at = ? WHERE id = ?", lapsesAt, id) }
    }

    @Test("idle lapse: a session past its lapse is expired by the sweeper, its reservation and blocks released; bytes arriving push an active one's lapse forward, and it completes", arguments: TestBackend.allCases)
    func idleLapse(backend: TestBackend) async throws {
        let mib = Self.mebibyte
        try await withServer(backend: backend, configure: { $0.uploadIdle = 600; $0.sweepInterval = 0.25 }) { server in
            let (_, session) = try await server.user("idler", capacity: Int64(10 * mib))
            let stalled = try await grant(server, session, ["name": "stalled.bin", "size": 6 * mib])
            let stalledCtx = try await sendBlock(server, stalled, order: 0, blockSize: 4 * mib, Data(repeating: 6, count: 256 * 1024))
            let activeBytes = Data(repeating: 3, count: 3 * mib)
            let active = try await grant(server, session, ["name": "active.bin", "size": 3 * mib])
            let granted = Millis.now()
            // A grant's lapse is PAN_UPLOAD_IDLE after it.
            let initial = try await lapsesAt(server, active)
            #expect(initial >= granted - 60_000 + 600_000 && initial <= Millis.now() + 600_000, "lapse \(initial) for a grant at \(granted)")
            let chunk = 16 * 1024
            var reply = try await server.slicePost("/mkblk/\(activeBytes.count)/0", token: active, body: activeBytes.prefix(chunk))
            var offset = chunk
            // Both reserved: 6 + 3 of 10 MiB.
            let refused = try await server.post("/v1/store/token", ["name": "next.bin", "size": 6 * mib], token: session)
            #expect(refused.code == "QUOTA_EXCEEDED", "\(refused.text)")
            // The stalled upload's bytes stopped long ago; the active one's lapse is near.
            try await setLapse(server, stalled, 1)
            let near = Millis.now() + 60_000
            try await setLapse(server, active, near)
            // Its next bytes push the lapse a whole PAN_UPLOAD_IDLE ahead.
            var ctx = try #require(reply.json["ctx"] as? String, "\(reply.text)")
            reply = try await server.slicePost("/bput/\(ctx)/\(offset)", token: active, body: activeBytes[offset..<offset + chunk])
            #expect(reply.status == 200, "\(reply.text)")
            offset += chunk
            #expect(try await lapsesAt(server, active) >= near + 500_000, "bytes did not push the lapse forward")
            // The sweeper expires the stalled one.
            var stalledState = "pending"
            for _ in 0..<300 where stalledState == "pending" {
                try await Task.sleep(for: .milliseconds(100))
                stalledState = try await status(server, session, stalled).result["state"] as? String ?? "?"
            }
            #expect(stalledState == "expired", "the stalled upload did not lapse")
            #expect(try await status(server, session, active).result["state"] as? String == "pending", "the active upload lapsed")
            #expect(!FileManager.default.fileExists(atPath: try blocksDirectory(server, stalled)), "the lapsed upload's blocks are still on disk")
            // Its reservation is gone: 6 MiB fits next to the active 3.
            _ = try await grant(server, session, ["name": "next.bin", "size": 6 * mib])
            // The lapsed token takes no more bytes.
            let late = try await server.slicePost("/bput/\(stalledCtx)/\(256 * 1024)", token: stalled, body: Data(repeating: 6, count: 1024))
            #expect(late.status == 409 || late.status == 400, "\(late.text)")
            // The active one finishes.
            ctx = try #require(reply.json["ctx"] as? String)
            let last = try await server.slicePost("/bput/\(ctx)/\(offset)", token: active, body: activeBytes[offset...])
            let lastCtx = try #require(last.json["ctx"] as? String, "\(last.text)")
            let made = try await server.slicePost("/mkfile/\(activeBytes.count)", token: active, body: Data(lastCtx.utf8))
            #expect(made.status == 200 && relayed(made)["success"] as? Bool == true, "\(made.text)")
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
        }
    }

    @Test("idle lapse: one slow form upload that keeps dripping bytes for longer than PAN_UPLOAD_IDLE (8 s) is not lapsed, and completes", arguments: TestBackend.allCases)
    func slowFormUploadStaysAlive(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: {
            $0.uploadIdle = 8
            $0.sweepInterval = 0.25
            // A deliberately slow body: not this test's business to be refused as too slow (its 12 s of drips
            // took more than the default 20 s grace on a loaded CI machine).
            $0.minimumBodyRate = 0
        }) { server in
            let (_, session) = try await server.user("dripper")
            let bytes = Data((0..<6000).map { UInt8($0 % 251) })
            let upload = try await grant(server, session, ["name": "slow.bin", "size": bytes.count])
            // Everything but the last 6000 bytes of the body now; those in 40 drips, 300 ms apart (12 s in all),
            // sent by their own task so that the status checks below never delay them.
            let held = try UploadRaceTests.HeldUpload(port: server.port, token: upload, bytes: bytes, fileFirst: false, holdBack: bytes.count)
            let pieces = stride(from: 0, to: held.rest.count, by: 150).map { held.rest[(held.rest.startIndex + $0)..<min(held.rest.endIndex, held.rest.startIndex + $0 + 150)] }
            let started = ContinuousClock.now
            let dripper = Task {
                for piece in pieces {
                    try await Task.sleep(for: .milliseconds(300))
                    _ = piece.withUnsafeBytes { Foundation.send(held.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
            }
            var statesPastIdle: [String] = []
            while ContinuousClock.now - started < .seconds(11) {
                try await Task.sleep(for: .milliseconds(500))
                if ContinuousClock.now - started > .seconds(9) {
                    statesPastIdle.append(try await status(server, session, upload).result["state"] as? String ?? "?")
                }
            }
            try await dripper.value
            #expect(!statesPastIdle.isEmpty && statesPastIdle.allSatisfy { $0 == "pending" }, "the dripping upload lapsed: \(statesPastIdle)")
            let reply = try await BlockingIO.run { held.response() }
            #expect(reply.status == 200 && reply.body.contains("\"success\":true"), "\(reply)")
            #expect(try await status(server, session, upload).result["state"] as? String == "done")
        }
    }

    @Test("external WCS: a session lapses PAN_UPLOAD_IDLE_EXTERNAL after its grant; its late callback makes the file if the quota allows then, else is refused for good", arguments: TestBackend.allCases)
    func externalLapse(backend: TestBackend) async throws {
        try await withServer(backend: backend, configure: {
            $0.uploadURL = "https://up.example.com"
            // Long, so no lapse comes early on a loaded machine (5 s once did, between two
            // requests); each session's lapse is checked to be grant + this, then moved to the past.
            $0.uploadIdleExternal = 600
            $0.sweepInterval = 0.25
        }) { server in
            let (user, session) = try await server.user("external", capacity: 1000)
            let first = try await grant(server, session, ["name": "first.bin", "size": 600])
            #expect(try await server.post("/v1/store/token", ["name": "second.bin", "size": 600], token: session).code == "QUOTA_EXCEEDED")
            func waitForLapse(_ upload: String) async throws {
                let id = try sessionId(server, upload)
                let (created, lapsesAt) = try await server.read { db -> (Int64, Int64?) in
                    let row = try await db.queryRow("SELECT created, lapses_at FROM upload_sessions WHERE id = ?", id)
                    return (try row?.int64("created") ?? 0, try row?.optionalInt64("lapses_at"))
                }
                let lapses = try #require(lapsesAt)
                // 600 B declared adds nothing to PAN_UPLOAD_IDLE_EXTERNAL (1 s per 256 KiB).
                #expect(abs(lapses - created - 600_000) <= 1_000, "lapses \(lapses - created) ms after the grant")
                try await server.write { db in try await db.run("UPDATE upload_sessions SET lapses_at = ? WHERE id = ?", Millis.now() - 1, id) }
                for _ in 0..<200 {
                    if try await status(server, session, upload).result["state"] as? String == "expired" { return }
                    try await Task.sleep(for: .milliseconds(100))
                }
                Issue.record("the session did not lapse")
            }
            try await waitForLapse(first)
            // Released: another 600 fits now.
            let second = try await grant(server, session, ["name": "second.bin", "size": 600])
            // The first upload finished at WCS after all: its callback makes the file (600 ≤ 1000).
            let bytes = Data(repeating: 1, count: 600)
            let accepted = try await server.callback(forToken: first, size: 600, hash: ContentHasher.hash(bytes))
            #expect(accepted.success == true && accepted.result["path"] as? String == "/first.bin", "\(accepted.text)")
            #expect(try await status(server, session, first).result["state"] as? String == "done")
            // The second lapses too; its callback no longer fits (600 + 600 > 1000): refused, recorded, replayed.
            try await waitForLapse(second)
            let other = Data(repeating: 2, count: 600)
            for _ in 0..<2 {
                let refused = try await server.callback(forToken: second, size: 600, hash: ContentHasher.hash(other))
                #expect(refused.status == 200 && refused.success == false && refused.code == "QUOTA_EXCEEDED", "\(refused.text)")
            }
            #expect(try await status(server, session, second).result["state"] as? String == "failed")
            #expect(try await spaceUsed(server, user.id) == 600)
            #expect(try await server.count("nodes", "type = 0") == 1)
            // Past its deadline and grace, a lapsed session's callback is expired, as before.
            let third = try await grant(server, session, ["name": "third.bin", "size": 100])
            let thirdId = try sessionId(server, third)
            try await server.write { db in try await db.run("UPDATE upload_sessions SET deadline = 1000, state = 'expired' WHERE id = ?", thirdId) }
            let expired = try await server.callback(forToken: third, size: 100, hash: ContentHasher.hash(Data(repeating: 3, count: 100)))
            #expect(expired.success == false && expired.code == "UPLOAD_SESSION_EXPIRED", "\(expired.text)")
            #expect(try await server.services.store.fsck(repair: false).findings.isEmpty)
        }
    }

    @Test("resume: blocks made before a server restart stay; the same token sends the missing ones after it, then mkfile with every ctx", arguments: TestBackend.allCases)
    func resumeAcrossRestart(backend: TestBackend) async throws {
        let mib = Self.mebibyte
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = try freePort()
        let url = backend == .postgres ? try await PostgresCluster.shared().createDatabase(prefix: "resume") : nil
        let configure: (inout PanConfiguration) -> Void = { configuration in
            configuration.dataDirectory = directory
            configuration.port = port
            if let url { configuration.databaseURL = url }
        }
        let bytes = vectorBytes(9 * mib + 12_345)
        struct Progress { var session = "", upload = "", first = "", partial = "" }
        let saved = Mutex(Progress())
        try await withServer(backend: backend, configure: configure) { server in
            let (_, session) = try await server.user("resumer")
            let upload = try await grant(server, session, ["name": "resumed.bin", "path": "/r", "size": bytes.count])
            let first = try await sendBlock(server, upload, order: 0, blockSize: 4 * mib, bytes.prefix(4 * mib))
            // Half of the second block, then the server goes away.
            let partial = try await sendBlock(server, upload, order: 1, blockSize: 4 * mib, bytes[4 * mib..<6 * mib])
            #expect(try await status(server, session, upload).result["bytesReceived"] as? Int == 6 * mib)
            saved.withLock { $0 = Progress(session: session, upload: upload, first: first, partial: partial) }
        }
        let progress = saved.withLock { $0 }
        try await withServer(backend: backend, configure: configure) { server in
            let (session, upload) = (progress.session, progress.upload)
            let state = try await status(server, session, upload)
            #expect(state.result["state"] as? String == "pending" && state.result["bytesReceived"] as? Int == 6 * mib, "\(state.text)")
            // The rest of block 1 from its ctx, block 2, then mkfile naming the block made before the restart.
            let rest = try await server.slicePost("/bput/\(progress.partial)/\(2 * mib)", token: upload, body: bytes[6 * mib..<8 * mib])
            let second = try #require(rest.json["ctx"] as? String, "\(rest.text)")
            let third = try await sendBlock(server, upload, order: 2, blockSize: bytes.count - 8 * mib, bytes[(8 * mib)...])
            let made = try await server.slicePost("/mkfile/\(bytes.count)", token: upload, body: Data([progress.first, second, third].joined(separator: ",").utf8))
            #expect(made.status == 200 && made.json["hash"] as? String == ContentHasher.hash(bytes), "\(made.text)")
            #expect(relayed(made)["success"] as? Bool == true, "\(made.text)")
            let file = try await server.post("/v1/files/get", ["path": "/r/resumed.bin"], token: session)
            #expect(file.result["size"] as? Int == bytes.count)
            #expect(!FileManager.default.fileExists(atPath: try blocksDirectory(server, upload)))
        }
    }

    @Test("migration 0017 on SQLite rebuilds upload_sessions: every row and column kept, indexes and counter triggers made again (cancelled uncounts), old sessions never lapse")
    func sqliteRebuildKeepsSessions() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = PanDatabase.path(inDataDirectory: directory)
        let before = try MigrationRunner(try PanDatabase.migrationRunner().migrations.filter { $0.version < 17 })
        let columns = ["id", "user_id", "dir_path", "name", "conflict", "declared_size", "declared_hash", "size_limit", "bucket", "object_key",
                       "deadline", "state", "result_node_id", "result_json", "failure_code", "created", "completed", "failure_status",
                       "failure_message", "proof_secret", "proof_ranges", "proof_expires"]
        let select = "SELECT \(columns.joined(separator: ", ")) FROM upload_sessions ORDER BY id"
        let snapshot: [[DatabaseValue]]
        do {
            let connection = try Connection(path: path)
            _ = try before.migrate(connection)
            try await connection.run("INSERT INTO users (name, password_hash, space_capacity, create_time) VALUES ('old', 'x', 1000, 1)")
            for (id, state, size) in [("s1", "failed", 10), ("s2", "done", 20), ("s3", "pending", 300), ("s4", "expired", 40)] {
                try await connection.run(
                    """
                    INSERT INTO upload_sessions (id, user_id, dir_path, name, conflict, declared_size, declared_hash, size_limit, bucket,
                        object_key, deadline, state, failure_code, created, completed, failure_status, failure_message,
                        proof_secret, proof_ranges, proof_expires)
                    VALUES (?, 1, '/d', ?, 'rename', ?, 'h', 500, 'pan', ?, 4102444800000, ?, 'CODE', 2, 3, 409, 'why', 'sec', '[1]', 5)
                    """,
                    id, id + ".bin", size, "key-" + id, state
                )
            }
            snapshot = try await connection.query(select).map { row in columns.indices.map { row[$0] } }
        }
        let connection = try Connection(path: path)
        _ = try PanDatabase.migrationRunner().migrate(connection)
        #expect(try await connection.query(select).map { row in columns.indices.map { row[$0] } } == snapshot)
        #expect(try await connection.scalar("SELECT COUNT(*) FROM upload_sessions WHERE lapses_at IS NOT NULL") == 0)
        for index in ["upload_sessions_state_deadline", "upload_sessions_user", "upload_sessions_user_pending", "upload_sessions_lapse"] {
            #expect(try await connection.scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?", index) == 1, "\(index)")
        }
        // The triggers again: opening counts, cancelling uncounts.
        let counters = { try await connection.queryRow("SELECT pending_uploads, pending_bytes FROM users WHERE id = 1").map { [try $0.int64("pending_uploads"), try $0.int64("pending_bytes")] } }
        let start = try #require(try await counters())
        try await connection.run("UPDATE upload_sessions SET state = 'cancelled' WHERE id = 's3'")
        #expect(try await counters() == [start[0] - 1, start[1] - 300])
        try await UploadSessionRepository.create(
            id: "s5", userId: 1, dirPath: "/", name: "new.bin", conflict: .fail, declaredSize: 7, declaredHash: nil, sizeLimit: 7,
            bucket: "pan", objectKey: "key-s5", deadline: 4102444800000, lapsesAt: 1, on: connection
        )
        #expect(try await counters() == [start[0], start[1] - 300 + 7])
        await #expect(throws: (any Error).self) { try await connection.run("UPDATE upload_sessions SET state = 'bogus' WHERE id = 's1'") }
        // The sweep: s5 lapsed (lapses_at 1); nothing else (deadlines far off, no lapse before 0017).
        #expect(try await UploadSessionRepository.expire(before: Millis.now(), on: connection) == ["s5"])
    }
}
