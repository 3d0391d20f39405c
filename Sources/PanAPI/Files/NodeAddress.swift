import Foundation
import PanCore
import PanHTTPSupport
import TextSupport

/// How a request names a node, read from its JSON body (`NodeAddress` itself is PanCore's).
extension NodeAddress {
    init(_ body: JSONBody) throws {
        let uuid = try body.string("uuid")?.trimmedSpaces()
        self.init(uuid: uuid?.isEmpty == false ? uuid : nil, path: try PanPath.validated(try body.string("path") ?? ""))
    }

    /// `path|paths: "…" | ["…"]` or `uuid|uuids: "…" | ["…"]`, for move/copy/remove/zip.
    /// At most `NodeLimits.sourcesPerRequest`, counted before any is parsed.
    static func many(_ body: JSONBody) throws -> [NodeAddress] {
        if let uuids = try body.strings("uuid", "uuids"), !uuids.isEmpty {
            try NodeLimits.requireSources(uuids.count)
            return uuids.map { NodeAddress(uuid: $0.trimmedSpaces(), path: nil) }
        }
        let paths = try body.strings("path", "paths") ?? []
        try NodeLimits.requireSources(paths.count)
        return try paths.map { NodeAddress(uuid: nil, path: try PanPath.validated($0)) }
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
