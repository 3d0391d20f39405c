import Foundation
import PanCore

/// The share object of the owner's API (`api.md` §8): every key present, `null` when unset.
struct ShareDTO: Encodable {
    let share: Share
    let url: String
    let now: Int64

    enum CodingKeys: String, CodingKey {
        case id, url, uuid, path, name, type, hasPassword, expiresAt, maxDownloads, allowDownload, views, downloads
        case lastAccessAt, createdAt, state
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(share.id, forKey: .id)
        try c.encode(url, forKey: .url)
        try c.encode(share.node?.uuid ?? "", forKey: .uuid)
        try c.encode(share.node?.path ?? "", forKey: .path)
        try c.encode(share.node?.name ?? "", forKey: .name)
        try c.encode(share.node?.type.rawValue ?? 0, forKey: .type)
        try c.encode(share.hasPassword, forKey: .hasPassword)
        try c.encode(share.expiresAt, forKey: .expiresAt)
        try c.encode(share.maxDownloads, forKey: .maxDownloads)
        try c.encode(share.allowDownload, forKey: .allowDownload)
        try c.encode(share.views, forKey: .views)
        try c.encode(share.downloads, forKey: .downloads)
        try c.encode(share.lastAccessAt, forKey: .lastAccessAt)
        try c.encode(share.createdAt, forKey: .createdAt)
        try c.encode(share.state(now: now).rawValue, forKey: .state)
    }
}

/// `share/list`'s result.
struct ShareListDTO: Encodable {
    let list: [ShareDTO]
    let total: Int64
    let page: Int
    let pageSize: Int
}

/// What a public reply says of the shared node or a node inside it: its name,
/// kind, size and type, never its uuid, path in the owner's tree, content
/// hash, storage key or owner (`api.md` §8).
struct PublicEntryDTO: Encodable {
    let name: String
    /// Relative to the shared folder (`/` is the folder itself); absent for the shared node of `open`.
    let path: String?
    let type: Int
    let size: Int64
    let mime: String
    let modified: Int64
    let downloadAddress: String?
    let previewAddress: String?
}

/// `share/open`'s result.
struct ShareOpenDTO: Encodable {
    struct Shared: Encodable {
        let id: String
        let name: String
        let type: Int
        let size: Int64
        let mime: String
        let modified: Int64
        let owner: String?
        let expiresAt: Int64?
        let allowDownload: Bool
        let hasPassword: Bool
        let downloadsLeft: Int64?

        enum CodingKeys: String, CodingKey {
            case id, name, type, size, mime, modified, owner, expiresAt, allowDownload, hasPassword, downloadsLeft
        }

        // `null` for what is unset, rather than a missing key.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(name, forKey: .name)
            try c.encode(type, forKey: .type)
            try c.encode(size, forKey: .size)
            try c.encode(mime, forKey: .mime)
            try c.encode(modified, forKey: .modified)
            try c.encode(owner, forKey: .owner)
            try c.encode(expiresAt, forKey: .expiresAt)
            try c.encode(allowDownload, forKey: .allowDownload)
            try c.encode(hasPassword, forKey: .hasPassword)
            try c.encode(downloadsLeft, forKey: .downloadsLeft)
        }
    }

    let share: Shared
    let grant: String
    let grantExpiresAt: Int64
    let downloadAddress: String?
    let previewAddress: String?
}

/// `share/page`'s result.
struct SharePageDTO: Encodable {
    struct Directory: Encodable {
        let name: String
        let path: String
    }

    let directory: Directory
    let list: [PublicEntryDTO]
    let total: Int64
    let page: Int
    let pageSize: Int
}
