import Foundation
import PanCore
import WCS
import SQLiteKit

/// How a request names a node: `uuid`, or `path` (absolute; `""` is the root).
struct NodeAddress: Sendable {
    var uuid: String?
    var path: String?

    init(uuid: String?, path: String?) {
        self.uuid = uuid
        self.path = path
    }

    init(_ body: JSONBody) throws {
        let uuid = try body.string("uuid")?.trimmedSpaces()
        self.uuid = uuid?.isEmpty == false ? uuid : nil
        path = try PanPath.validated(try body.string("path") ?? "")
    }

    /// A 32-hex uuid, or a path.
    init(reference: String) throws {
        let trimmed = reference.trimmedSpaces()
        if trimmed.count == 32, trimmed.allSatisfy(\.isHexDigit) {
            uuid = trimmed
        } else {
            path = try PanPath.validated(trimmed)
        }
    }

    /// `path: "…" | ["…"]` or `uuid: "…" | ["…"]`, for move/copy/remove.
    static func many(_ body: JSONBody) throws -> [NodeAddress] {
        if let uuids = try body.strings("uuid"), !uuids.isEmpty {
            return uuids.map { NodeAddress(uuid: $0.trimmedSpaces(), path: nil) }
        }
        return try (body.strings("path") ?? []).map { NodeAddress(uuid: nil, path: try PanPath.validated($0)) }
    }

    func resolve(userId: Int64, on db: Connection) throws -> FileNode {
        let node = if let uuid {
            try TreeRepository.node(userId: userId, uuid: uuid, on: db)
        } else {
            try TreeRepository.node(userId: userId, path: path ?? PanPath.root, on: db)
        }
        guard let node else { throw PanError.fileNotFound }
        return node
    }
}

/// The file object plus `downloadAddress`.
struct NodeWithDownload: Encodable {
    let node: FileNode
    let downloadAddress: String?

    enum CodingKeys: String, CodingKey { case downloadAddress }

    func encode(to encoder: any Encoder) throws {
        try node.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let downloadAddress { try c.encode(downloadAddress, forKey: .downloadAddress) }
    }
}
