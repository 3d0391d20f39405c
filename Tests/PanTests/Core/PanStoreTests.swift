import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
import Logging
import WCS
@testable import PanPostgres

/// The storage seam on its own: the whole loop through `PanStore`, no HTTP.
@Suite("PanStore: the loop through the seam")
struct PanStoreTests {
    @Test("token → callback → listing → instant upload → rename, move, bin, restore: all through PanStore", arguments: TestBackend.allCases)
    func wholeLoop(backend: TestBackend) async throws {
        let keys = Credentials(accessKey: "ak", secretKey: "sk")
        let settings = UploadSettings(bucket: "pan", credentials: [keys], uploadURL: "http://upload.invalid", callbackURL: "http://pan.invalid/cb")
        try await backend.withStore(settings: settings) { store in try await Self.loop(store) }
    }

    static func loop(_ store: any PanStore, userName: String = "seam") async throws {
        let user = try await store.createUser(NewUser(name: userName, passwordHash: "x", spaceCapacity: 1 << 20))

        var request = TokenRequest()
        request.name = "a.txt"
        request.path = "/docs"
        guard case .upload(let grant) = try await store.requestToken(userId: user.id, request) else {
            Issue.record("a new hash must get an upload token")
            return
        }
        let bytes = Data("through the seam".utf8)
        let hash = ContentHasher.hash(bytes)
        let body = MagicVariables.substitute(grant.policy.callbackBody!, values: [
            "fsize": String(bytes.count), "hash": hash, "key": grant.policy.scopeKey!, "fname": "a.txt", "ip": "127.0.0.1", "bucket": "pan",
        ])
        guard case .accepted(let node, replayed: false) = try await store.completeUpload(try CallbackBody.parse(template: body)) else {
            Issue.record("the callback must be accepted")
            return
        }
        #expect(node.path == "/docs/a.txt")
        // A retried callback makes no second record.
        guard case .accepted(let again, replayed: true) = try await store.completeUpload(try CallbackBody.parse(template: body)) else {
            Issue.record("a replayed callback must return the recorded file")
            return
        }
        #expect(again.uuid == node.uuid)
        #expect(try await store.isStoredObject(hash: hash, key: grant.policy.scopeKey!))

        let listing = try await store.listing(userId: user.id, of: NodeAddress(uuid: nil, path: "/docs"), window: ListingWindow(type: nil, order: .default, limit: 20, offset: 0))
        #expect(listing.total == 1 && listing.children.map(\.name) == ["a.txt"])

        var instant = TokenRequest()
        instant.name = "b.txt"
        instant.path = "/docs"
        instant.hash = hash
        guard case .instant(let copy, let kind) = try await store.requestToken(userId: user.id, instant) else {
            Issue.record("a stored hash of the user's own must be an instant upload")
            return
        }
        #expect(copy.storeId == hash)
        #expect(kind == .own)

        let renamed = try await store.rename(userId: user.id, NodeAddress(uuid: copy.uuid, path: nil), to: "c.txt", policy: .fail)
        #expect(renamed.path == "/docs/c.txt")
        _ = try await store.createDirectory(userId: user.id, path: "/archive")
        #expect(try await store.transfer(userId: user.id, [NodeAddress(uuid: nil, path: "/docs/c.txt")], into: NodeAddress(uuid: nil, path: "/archive"), policy: .fail, copying: false).done.count == 1)
        #expect(try await store.remove(userId: user.id, [NodeAddress(uuid: nil, path: "/archive/c.txt")], toRecycleBin: true) == 1)
        #expect(try await store.recycleBin(userId: user.id, limit: 10, offset: 0).total == 1)
        let restored = try await store.restore(userId: user.id, [NodeAddress(uuid: copy.uuid, path: nil)], policy: .fail).done
        #expect(restored.map(\.path) == ["/archive/c.txt"])

        // Errors cross the seam as PanErrors, never database errors.
        await #expect(throws: PanError.self) {
            try await store.rename(userId: user.id, NodeAddress(uuid: nil, path: "/nope"), to: "x", policy: .fail)
        }
        let stats = try await store.stats()
        #expect(stats.objects == 1)
        #expect(try await store.fsck(repair: false).findings.isEmpty)
        #expect(try await store.user(id: user.id)?.spaceUsed == Int64(bytes.count * 2))
    }
}
