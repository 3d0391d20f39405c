import Foundation
import HTTPTypes
import Hummingbird
import PanCore
import PanHTTPSupport

/// Downloads of a folder or a selection as one zip (issue #26):
/// `POST /v1/files/zip` records the selection and answers a signed link;
/// `GET /zip/<id>` snapshots the tree and streams the archive as it builds it.
package struct ZipController {
    let store: any PanStore
    let authenticator: Authenticator
    let links: ZipLinks
    /// The local endpoint's bytes; nil with an external WCS, where zips are refused (`ZIP_NOT_AVAILABLE`).
    let objects: LocalObjectStore?
    let slots: ZipStreamSlots

    package init(store: any PanStore, authenticator: Authenticator, links: ZipLinks, objects: LocalObjectStore?, slots: ZipStreamSlots) {
        self.store = store
        self.authenticator = authenticator
        self.links = links
        self.objects = objects
        self.slots = slots
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/files/zip", use: prepare)
        if objects != nil {
            router.get("/zip/:id", use: download)
            router.head("/zip/:id", use: download)
        }
    }

    /// With an external WCS the bytes are in the bucket, not here. Proxying them
    /// through Pan (a signed GET per object) is possible but would put every
    /// archive's bytes through this server twice; refused clearly instead.
    static let notAvailable = PanError(
        status: 409, code: "ZIP_NOT_AVAILABLE", "zip downloads need the files' bytes on this server; with an external WCS, download files one by one"
    )

    struct LinkDTO: Encodable {
        let url: String
        let name: String
        let expiresAt: Int64
    }

    @Sendable func prepare(_ request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        guard objects != nil else { throw Self.notAvailable }
        let sources = try NodeAddress.many(body)
        guard !sources.isEmpty else { throw PanError.invalidField("path", "name at least one file or folder") }
        let link = try await store.createZipLink(userId: session.user.id, sources: sources)
        return try Reply.ok(LinkDTO(url: links.url(for: link), name: link.name, expiresAt: link.expiresAt), token: session.refreshedToken)
    }

    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let objects else { throw PanError.routeNotFound }
        let query = request.uri.queryParameters
        let verdict = links.verify(
            id: context.parameters.get("id") ?? "", userId: query.get("u"), expiresAt: query.get("e"), signature: query.get("s")
        )
        let link: ZipLinks.Link
        switch verdict {
        case .success(let valid): link = valid
        case .failure(.expired): throw Self.expired
        case .failure: throw PanError(status: 403, code: "LINK_INVALID", "the download link is not valid")
        }
        // Taken before the snapshot, so the snapshots a user can make at once are bounded too.
        let slot = try slots.take(userId: link.userId)
        guard let snapshot = try await store.zipSnapshot(userId: link.userId, linkId: link.id) else { throw Self.expired }
        let (items, missing) = try await BlockingIO.run { Self.items(snapshot.entries, in: objects) }
        if missing > 0 {
            context.logger.warning("zip: files without their stored bytes left out", metadata: ["missing": "\(missing)", "link": "\(link.id)"])
        }
        let layout = ZipLayout(items)
        let headers: HTTPFields = [
            .contentType: "application/zip",
            .contentDisposition: ObjectResponse.disposition(snapshot.name),
            .contentLength: String(layout.size),
            .acceptRanges: "none",
            .cacheControl: "private, no-store",
            .xContentTypeOptions: "nosniff",
        ]
        if request.method == .head { return Response(status: .ok, headers: headers) }
        let streamer = ZipStreamer(layout: layout, store: objects, eventLoop: context.eventLoop)
        let body = ResponseBody(contentLength: Int(layout.size)) { writer in
            defer { slot.release() }
            try await streamer.write(to: &writer)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    static let expired = PanError(status: 410, code: "LINK_EXPIRED", "the download link has expired: ask for a new one")

    /// The snapshot's entries as archive items. A file whose stored bytes are
    /// missing or not whole is left out (and counted), so the archive holds
    /// every file it can and its length is exact; that is a fault `pan fsck`
    /// reports, not something the downloader can fix.
    static func items(_ entries: [ZipEntry], in objects: LocalObjectStore) -> ([ZipLayout.Item], missing: Int) {
        var items: [ZipLayout.Item] = []
        items.reserveCapacity(entries.count)
        var missing = 0
        for entry in entries {
            if !entry.isDirectory, entry.size > 0 {
                guard let key = entry.objectKey, FileOps.size(of: objects.objectPath(forKey: key)) == entry.size else {
                    missing += 1
                    continue
                }
            }
            items.append(ZipLayout.Item(
                name: Array((entry.isDirectory ? entry.path + "/" : entry.path).utf8), isDirectory: entry.isDirectory,
                size: entry.size, modified: entry.modified / 1000, objectKey: entry.isDirectory ? nil : entry.objectKey
            ))
        }
        return (items, missing)
    }
}
