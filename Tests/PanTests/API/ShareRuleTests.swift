import Crypto
import Foundation
import Testing
@testable import PanCore
@testable import PanAPI
@testable import PanHTTPSupport

/// The rules of share links that need no server (issue #27): ids, which
/// state a share is in, what its bounds contain, what is shown inline, the
/// signed grants and addresses, and the password throttle. The wire is
/// `ShareTests`' (a real server).
@Suite("Share link rules")
struct ShareRuleTests {
    static func node(id: Int64, userId: Int64 = 7, kind: FileNode.Kind, mime: String = "text/plain", lft: Int64, rgt: Int64, state: Int = 0) -> FileNode {
        FileNode(
            id: id, parentId: 1, uuid: String(repeating: "a", count: 31) + String(id % 10), userId: userId, name: "n\(id)", path: "/n\(id)",
            pathId: "p", parent: "u0", type: kind, ext: "", size: 12, mime: mime, storeId: nil,
            atime: 1, ctime: 2, mtime: 3, lft: lft, rgt: rgt, version: 0, locking: false, preview: 0, flag: 0, state: state, recycledAt: nil
        )
    }

    static func share(node: FileNode?, expiresAt: Int64? = nil, max: Int64? = nil, downloads: Int64 = 0, ownerActive: Bool = true, epoch: Int64 = 0) -> Share {
        Share(
            id: ShareID.make(), userId: 7, nodeId: node?.id ?? 0, passwordHash: nil, epoch: epoch, expiresAt: expiresAt, maxDownloads: max,
            allowDownload: true, views: 0, downloads: downloads, lastAccessAt: nil, createdAt: 0, node: node, ownerActive: ownerActive,
            ownerDisplayName: nil
        )
    }

    @Test("ids: 22 URL-safe characters, 128 random bits; anything not 1–64 URL-safe characters is not even looked up")
    func ids() {
        let ids = (0..<2000).map { _ in ShareID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count == 22 && ShareID.isPlausible($0) })
        for bad in ["", String(repeating: "a", count: 65), "a/b", "a=b", "..", "%2e", "文件", "a b", "a\u{0}b"] {
            #expect(!ShareID.isPlausible(bad))
        }
    }

    @Test("state: disabled owner, binned node, expiry and the download limit, in that order; active otherwise")
    func states() {
        let folder = Self.node(id: 2, kind: .directory, lft: 10, rgt: 20)
        let now: Int64 = 1_000_000
        #expect(Self.share(node: folder).state(now: now) == .active)
        #expect(Self.share(node: folder, ownerActive: false).state(now: now) == .disabled)
        #expect(Self.share(node: Self.node(id: 2, kind: .directory, lft: 10, rgt: 20, state: 1)).state(now: now) == .binned)
        #expect(Self.share(node: nil).state(now: now) == .binned)
        #expect(Self.share(node: folder, expiresAt: now).state(now: now) == .expired)
        #expect(Self.share(node: folder, expiresAt: now + 1).state(now: now) == .active)
        #expect(Self.share(node: folder, max: 3, downloads: 3).state(now: now) == .exhausted)
        #expect(Self.share(node: folder, max: 3, downloads: 2).state(now: now) == .active)
    }

    @Test("bounds: a folder share holds its subtree and nothing beside, above, or of another user; a file share only itself")
    func bounds() {
        let folder = Self.node(id: 2, kind: .directory, lft: 10, rgt: 20)
        let share = Self.share(node: folder)
        #expect(share.contains(folder))
        #expect(share.contains(Self.node(id: 3, kind: .file, lft: 11, rgt: 12)))
        #expect(share.contains(Self.node(id: 4, kind: .file, lft: 19, rgt: 19)))
        #expect(!share.contains(Self.node(id: 5, kind: .file, lft: 20, rgt: 21)))  // the next sibling
        #expect(!share.contains(Self.node(id: 6, kind: .directory, lft: 9, rgt: 30)))  // the parent
        #expect(!share.contains(Self.node(id: 7, userId: 8, kind: .file, lft: 11, rgt: 12)))  // another user's, same interval
        let file = Self.node(id: 3, kind: .file, lft: 11, rgt: 12)
        let fileShare = Self.share(node: file)
        #expect(fileShare.contains(file))
        #expect(!fileShare.contains(Self.node(id: 9, kind: .file, lft: 11, rgt: 12)))
    }

    @Test("inline only for kinds shown without running anything; text as text/plain; never HTML, SVG or script")
    func previews() {
        func type(_ mime: String) -> String? { InlineKinds.type(of: Self.node(id: 3, kind: .file, mime: mime, lft: 1, rgt: 2)) }
        #expect(type("image/jpeg") == "image/jpeg")
        #expect(type("video/mp4") == "video/mp4")
        #expect(type("audio/mpeg") == "audio/mpeg")
        #expect(type("application/pdf") == "application/pdf")
        #expect(type("text/markdown") == "text/plain; charset=utf-8")
        #expect(type("text/html") == "text/plain; charset=utf-8")  // shown as its source, never rendered
        for refused in ["image/svg+xml", "application/xhtml+xml", "application/javascript", "application/zip", "application/octet-stream", ""] {
            #expect(type(refused) == nil, "\(refused)")
        }
        #expect(InlineKinds.type(of: Self.node(id: 2, kind: .directory, mime: "image/png", lft: 1, rgt: 5)) == nil)
    }

    @Test("grants and file addresses: signed with the epoch (a password change ends them), expiring, not forgeable")
    func signatures() throws {
        let links = ShareLinks(publicBaseURL: "http://x", key: SymmetricKey(size: .bits256))
        let file = Self.node(id: 3, kind: .file, lft: 11, rgt: 12)
        let share = Self.share(node: file)
        let grant = links.grant(for: share)
        #expect((try? links.verifyGrant(grant.token, for: share).get()) != nil)
        #expect((try? links.verifyGrant(grant.token, for: Self.share(node: file, epoch: 1)).get()) == nil)
        #expect((try? links.verifyGrant(grant.token, for: share, now: grant.expiresAt + 1).get()) == nil)
        for bad in ["", ".", "1.", "x.y", String(grant.token.dropLast()), "99999999999999999999.abc"] {
            #expect((try? links.verifyGrant(bad, for: share).get()) == nil, "\(bad)")
        }
        let url = try #require(URLComponents(string: links.fileURL(share: share, node: file, mode: .download, expiresAt: grant.expiresAt)))
        func item(_ name: String) -> String? { url.queryItems?.first { $0.name == name }?.value }
        let address = try #require(links.parse(shareId: share.id, uuid: file.uuid, mode: item("m"), ticket: item("t"), expires: item("e")))
        #expect((try? links.verify(address, signature: item("s"), share: share).get()) != nil)
        #expect((try? links.verify(address, signature: item("s"), share: Self.share(node: file, epoch: 1)).get()) == nil)
        let other = Self.node(id: 4, kind: .file, lft: 13, rgt: 14)
        let moved = try #require(links.parse(shareId: share.id, uuid: other.uuid, mode: item("m"), ticket: item("t"), expires: item("e")))
        #expect((try? links.verify(moved, signature: item("s"), share: share).get()) == nil)
        let preview = try #require(links.parse(shareId: share.id, uuid: file.uuid, mode: "p", ticket: item("t"), expires: item("e")))
        #expect((try? links.verify(preview, signature: item("s"), share: share).get()) == nil)
    }

    @Test("the password throttle charges before the check (no burst slips past), refunds right passwords, and keys per share and address")
    func throttle() {
        let throttle = SharePasswordThrottle(limits: .init(perShareAndAddress: 3, perShare: 5, perAddress: 100, window: 600))
        let now: TimeInterval = 1000
        #expect((0..<3).allSatisfy { _ in throttle.admit(share: "s", address: "a", now: now) == nil })
        let wait = throttle.admit(share: "s", address: "a", now: now + 10)
        #expect(wait == 590)
        // Another address may still try, until the share's own limit.
        #expect(throttle.admit(share: "s", address: "b", now: now) == nil)
        #expect(throttle.admit(share: "s", address: "c", now: now) == nil)
        #expect(throttle.admit(share: "s", address: "d", now: now) != nil)
        // Another share is untouched; a refunded (right) attempt is no failure.
        #expect(throttle.admit(share: "t", address: "a", now: now) == nil)
        throttle.refund(share: "t", address: "a")
        #expect((0..<3).allSatisfy { _ in throttle.admit(share: "t", address: "a", now: now) == nil })
        // The window passes.
        #expect(throttle.admit(share: "s", address: "a", now: now + 601) == nil)
    }
}
