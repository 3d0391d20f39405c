import Foundation
import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport

/// `POST /v1/preview/image|pdf|media|audio|text {path|uuid}` (`api.md` §8):
/// `{url, preview: [{clear, url, resolution}]}` for one of the caller's own
/// files (another user's is simply not found). `url` shows the original
/// inline — signed, short-lived `/dl/…&i=1` links, served only for the kinds
/// `InlineKinds` allows — and, for images, `preview` lists the renditions
/// (`Thumbnails`), each made on its first request.
///
/// Video and audio list one entry too, the original itself (no transcodes):
/// the real clients play `preview[0].url` and parse `clear` as a number —
/// A's Gson (`clear: Int`), C's Newtonsoft (`int Clear`) and L's cpprestsdk
/// (`as_integer()`) fail the whole reply on a label — so a media entry's
/// `clear` is a number and its label is `clearText` (docs/clients.md).
/// Images also carry `width` and `height` as numbers (W, A and C size their
/// viewers from them).
///
/// With an external WCS there are no local bytes: `url` is the bucket's
/// address, as downloads are (the bucket serves it, on its own origin), and
/// `preview` lists the media entry only.
package struct PreviewController {
    let store: any PanStore
    let authenticator: Authenticator
    let links: DownloadLinks
    /// The local endpoint's bytes and renditions; nil with an external WCS.
    let objects: LocalObjectStore?
    let thumbnails: Thumbnails?

    package init(store: any PanStore, authenticator: Authenticator, links: DownloadLinks, objects: LocalObjectStore?, thumbnails: Thumbnails?) {
        self.store = store
        self.authenticator = authenticator
        self.links = links
        self.objects = objects
        self.thumbnails = thumbnails
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
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

    /// A video's or audio's entry: the original, at its own quality. `clear`
    /// is the original server's quality number (a vertical resolution there);
    /// Pan does not probe media, so the one entry is rank 1.
    struct MediaRendition: Encodable {
        let clear: Int
        let clearText: String
        let url: String
        let resolution: String
        let duration: Int
    }

    static let originalClear = 1
    static let originalLabel = "原画"

    enum Entry: Encodable {
        case image(Rendition)
        case media(MediaRendition)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .image(let rendition): try rendition.encode(to: encoder)
            case .media(let rendition): try rendition.encode(to: encoder)
            }
        }
    }

    struct PreviewDTO: Encodable {
        let url: String
        let preview: [Entry]
        /// Pan's own additions: the kind's code (as the file object's `preview`) and the original's size, when known.
        let kind: Int
        let resolution: String
        /// An image's size in pixels, when known (omitted otherwise).
        let width: Int?
        let height: Int?
    }

    /// The original server's check (its `{UUID}_REQUIRED`, a template left unfilled).
    static let fileRequired = PanError(status: 400, code: "UUID_REQUIRED", "name the file to preview: `path` or `uuid`")

    static let wrongKind = PanError(
        status: 415, code: "PREVIEW_UNSUPPORTED", "this file has no preview of that kind (its file object's `preview` says which it has)"
    )

    private func preview(_ request: Request, _ context: AppRequestContext, accepting kinds: Set<PreviewKind>) async throws -> Response {
        var request = request
        let body = try await JSONBody.read(&request, context: context)
        let session = try await authenticator.authenticate(request, body: body)
        // A preview names its file: without `path` or `uuid` the address would be
        // the root (as `files/get {}` is), and the reply a misleading 415.
        let named = [try body.string("uuid"), try body.string("path")].contains { $0?.trimmedSpaces().isEmpty == false }
        guard named else { throw Self.fileRequired }
        let found = try await store.node(userId: session.user.id, at: try NodeAddress(body))
        let node = found.node
        guard node.isFile else { throw Self.wrongKind }
        let kind = PreviewKind.of(node)
        guard kinds.contains(kind) else { throw Self.wrongKind }
        // An empty file has no object: nothing to show.
        guard let object = found.object else { throw PanError(status: 404, code: "FILE_EMPTY", "the file is empty") }
        let url = links.address(objectKey: object.objectKey, node: node.uuid, name: node.name, mime: node.mime, variant: .inline)

        var renditions: [Entry] = []
        var resolution = ""
        var pixels: (width: Int, height: Int)?
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
            pixels = (width, height)
            renditions = Thumbnails.sizes.map { size in
                let (w, h) = Thumbnails.fitted(width: width, height: height, size: size)
                let address = links.address(
                    objectKey: object.objectKey, node: node.uuid, name: node.name, mime: node.mime,
                    variant: .thumbnail(size: size, hash: object.hash)
                )
                return .image(Rendition(clear: Thumbnails.label(size), url: address, resolution: "\(w)x\(h)"))
            }
        } else if kind == .video || kind == .audio {
            renditions = [.media(MediaRendition(clear: Self.originalClear, clearText: Self.originalLabel, url: url, resolution: "", duration: 0))]
        }
        let dto = PreviewDTO(
            url: url, preview: renditions, kind: kind.rawValue, resolution: resolution, width: pixels?.width, height: pixels?.height
        )
        return try Reply.ok(dto, token: session.refreshedToken)
    }
}
