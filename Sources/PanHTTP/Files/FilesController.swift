import Foundation
import Hummingbird
import PanCore
import SQLiteKit

/// `/v1/files/get`: one node by `path` or `uuid`, with a `downloadAddress` for files.
struct FilesController {
    let database: DatabasePool
    let authenticator: Authenticator
    let links: DownloadLinks

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/files/get", use: get)
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

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let userId = session.user.id
        let uuid = try body.string("uuid")?.trimmingCharacters(in: .whitespaces) ?? ""
        let path = try PanPath.validated(try body.string("path") ?? "")
        let found = try await database.read { db -> (FileNode, StoreObject?)? in
            let node = uuid.isEmpty
                ? try TreeRepository.node(userId: userId, path: path, on: db)
                : try TreeRepository.node(userId: userId, uuid: uuid, on: db)
            guard let node else { return nil }
            return (node, try node.storeId.flatMap { try StoreObjectRepository.find(hash: $0, on: db) })
        }
        guard let (node, object) = found else { throw PanError.fileNotFound }
        let address = object.map { links.address(objectKey: $0.objectKey, name: node.name, mime: node.mime) }
        return try Reply.ok(NodeWithDownload(node: node, downloadAddress: address), token: session.refreshedToken)
    }
}
