import Foundation
import HTTPTypes
import Hummingbird
import PanCore
import PanHTTPSupport

/// `GET /dl/<key>?e&n&m&s`: serves a stored object of the local endpoint with
/// its type, length, a UTF-8 `Content-Disposition`, and single `Range`s (206).
/// Previews' links (`/v1/preview/*`) are variants, signed as such:
/// `&i=1` serves the file inline (`InlineKinds`: safe kinds only), `&t=<size>&h=<hash>`
/// an image rendition of it (`Thumbnails`).
package struct DownloadController {
    let store: LocalObjectStore
    let links: DownloadLinks
    let panStore: any PanStore
    let thumbnails: Thumbnails?

    package init(store: LocalObjectStore, links: DownloadLinks, panStore: any PanStore, thumbnails: Thumbnails?) {
        self.store = store
        self.links = links
        self.panStore = panStore
        self.thumbnails = thumbnails
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/dl/:key", use: download)
        router.head("/dl/:key", use: download)
    }

    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let verdict = links.verify(
            encodedKey: context.parameters.get("key") ?? "", expires: query.get("e"), node: query.get("u"), name: query.get("n"),
            mime: query.get("m"), signature: query.get("s"), inline: query.get("i"), thumbnail: query.get("t"), hash: query.get("h")
        )
        let link: DownloadLinks.Link
        switch verdict {
        case .success(let valid): link = valid
        case .failure(.expired): throw PanError(status: 410, code: "LINK_EXPIRED", "the download link has expired")
        case .failure: throw PanError(status: 403, code: "LINK_INVALID", "the download link is not valid")
        }
        // A signature proves Pan made the link, not that the file is still there: a
        // link outlived a permanent delete for hours (its object waits for `pan
        // store gc`). The node must still exist (live or in the bin) and hold
        // this object, which must still be referenced.
        let (objectKey, node) = (link.objectKey, link.node)
        let current = try await panStore.nodeHoldsObject(nodeUUID: node, objectKey: objectKey)
        guard current else { throw PanError.fileNotFound }
        let path = store.objectPath(forKey: link.objectKey)
        guard let size = FileOps.size(of: path) else { throw PanError.fileNotFound }

        switch link.variant {
        case .download: break
        case .inline:
            guard let type = InlineKinds.type(name: link.name, mime: link.mime) else { throw InlineKinds.notAllowed }
            var headers = InlineKinds.headers(type: type, name: link.name)
            headers[.cacheControl] = "private, max-age=3600"
            return ObjectResponse.serve(path: path, size: size, headers: headers, request: request, eventLoop: context.eventLoop)
        case .thumbnail(let side, let hash):
            guard PreviewKind.of(name: link.name, mime: link.mime) == .image, let thumbnails else { throw InlineKinds.notAllowed }
            let rendition: String
            do { rendition = try await thumbnails.rendition(source: path, hash: hash, size: side) } catch let failure as Thumbnails.Failure {
                throw Thumbnails.error(failure)
            }
            guard let renditionSize = FileOps.size(of: rendition) else { throw PanError.fileNotFound }
            var headers = InlineKinds.headers(type: "image/webp", name: link.name)
            // The same bytes for every link to this content.
            headers[.cacheControl] = "private, max-age=86400"
            return ObjectResponse.serve(path: rendition, size: renditionSize, headers: headers, request: request, eventLoop: context.eventLoop)
        }
        let headers: HTTPFields = [
            .contentType: ObjectResponse.servedType(link.mime),
            .contentDisposition: ObjectResponse.disposition(link.name),
            // The uploader chose the stored type. Never let a browser sniff or
            // run it as a page of this origin, whatever it claims to be.
            .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: "default-src 'none'; sandbox",
        ]
        return ObjectResponse.serve(path: path, size: size, headers: headers, request: request, eventLoop: context.eventLoop)
    }
}
