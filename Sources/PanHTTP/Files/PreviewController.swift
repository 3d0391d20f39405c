import Foundation
import Hummingbird
import PanCore

/// `POST /v1/preview/image|pdf|media|audio|text {path|uuid}` (`api.md` §8):
/// `{url, preview: [{clear, url, resolution}]}` for one of the caller's own
/// files (another user's is simply not found). `url` shows the original
/// inline — signed, short-lived `/dl/…&i=1` links, served only for the kinds
/// `InlineKinds` allows — and, for images, `preview` lists the renditions
/// (`Thumbnails`), each made on its first request.
///
/// With an external WCS there are no local bytes: `url` is the bucket's
/// address, as downloads are (the bucket serves it, on its own origin), and
/// `preview` is empty.
struct PreviewController {
    let store: any PanStore
    let authenticator: Authenticator
    let links: DownloadLinks
    /// The local endpoint's bytes and renditions; nil with an external WCS.
    let objects: LocalObjectStore?
    let thumbnails: Thumbnails?

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/v1/preview/image") { try await preview($0, $1, accepting: [.image]) }
        router.post("/v1/preview/pdf") { try await preview($0, $1, accepting: [.pdf]) }
        // The web client plays both kinds through `media`.
        router.post("/v1/preview/media") { try await preview($0, $1, accepting: [.video, .audio]) }
        router.post("/v1/preview/audio") { try await preview($0, $1, accepting: [.audio]) }
        router.post("/v1/preview/text") { try await preview($0, $1, accepting: [.text]) }
    }

    struct Rendition: Encodable {
        let clear: String
        let url: String
        let resolution: String
    }

    struct PreviewDTO: Encodable {
        let url: String
        let preview: [Rendition]
        /// Pan's own additions: the kind's code (as the file object's `preview`) and the original's size, when known.
        let kind: Int
        let resolution: String
    }

    static let wrongKind = PanError(
        status: 415, code: "PREVIEW_UNSUPPORTED", "this file has no preview of that kind (its file object's `preview` says which it has)"
    )

    private func preview(_ request: Request, _ context: AppRequestContext, accepting kinds: Set<PreviewKind>) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        let found = try await store.node(userId: session.user.id, at: try NodeAddress(body))
        let node = found.node
        guard node.isFile else { throw Self.wrongKind }
        let kind = PreviewKind.of(node)
        guard kinds.contains(kind) else { throw Self.wrongKind }
        // An empty file has no object: nothing to show.
        guard let object = found.object else { throw PanError(status: 404, code: "FILE_EMPTY", "the file is empty") }
        let url = links.address(objectKey: object.objectKey, node: node.uuid, name: node.name, mime: node.mime, variant: .inline)

        var renditions: [Rendition] = []
        var resolution = ""
        if kind == .image, let objects, let thumbnails {
            let source = objects.objectPath(forKey: object.objectKey)
            guard FileOps.size(of: source) != nil else { throw PanError.fileNotFound }
            // The header only (nothing decoded), off the request threads: a
            // decompression bomb or a file that is no image is refused here,
            // before a browser is sent to decode it.
            let (width, height): (Int, Int)
            do { (width, height) = try await thumbnails.dimensions(of: source) } catch let failure as Thumbnails.Failure {
                throw Thumbnails.error(failure)
            }
            guard Int64(width) * Int64(height) <= Thumbnails.maxPixels else {
                throw Thumbnails.error(.tooLarge(width: width, height: height))
            }
            resolution = "\(width)x\(height)"
            renditions = Thumbnails.sizes.map { size in
                let (w, h) = Thumbnails.fitted(width: width, height: height, size: size)
                let address = links.address(
                    objectKey: object.objectKey, node: node.uuid, name: node.name, mime: node.mime,
                    variant: .thumbnail(size: size, hash: object.hash)
                )
                return Rendition(clear: Thumbnails.label(size), url: address, resolution: "\(w)x\(h)")
            }
        }
        let dto = PreviewDTO(url: url, preview: renditions, kind: kind.rawValue, resolution: resolution)
        return try Reply.ok(dto, token: session.refreshedToken)
    }
}
