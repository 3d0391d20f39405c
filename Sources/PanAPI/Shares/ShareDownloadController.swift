import Foundation
import HTTPTypes
import Hummingbird
import PanCore
import PanHTTPSupport
import TextSupport
import WCS

/// `GET|HEAD /s/<id>/f/<uuid>?m&t&e&s`: a file of a share, downloaded
/// (`m=d`, counted) or previewed (`m=p`, inline, never counted). Every request
/// checks the address's signature against the share as it is now, so removing
/// the share, its expiry, a password change, binning the file or disabling the
/// owner end addresses already handed out at once.
///
/// **Counting** (`api.md` §8): a request that starts at byte 0 (no `Range`,
/// or `bytes=0-…`) is a new download and counts one, atomically with the limit
/// (`PanStore.countShareDownload`); a `Range` starting later continues the
/// download its address's ticket started, free until the ticket has served
/// `ShareLimits.continuationAllowance` — then it counts again. So a resumed
/// download or a seeking player counts once, and one address cannot serve
/// the file over and over for one count.
package struct ShareDownloadController {
    let store: any PanStore
    let links: ShareLinks
    /// The local endpoint's bytes; nil with an external WCS.
    let objects: LocalObjectStore?
    /// With an external WCS: where its objects are (a redirect after the checks).
    let bucket: BucketAddress?
    let metrics: PanMetrics

    package init(store: any PanStore, links: ShareLinks, objects: LocalObjectStore?, bucket: BucketAddress?, metrics: PanMetrics) {
        self.store = store
        self.links = links
        self.objects = objects
        self.bucket = bucket
        self.metrics = metrics
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/s/:id/f/:uuid", use: serve)
        router.head("/s/:id/f/:uuid", use: serve)
    }

    @Sendable func serve(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let id = context.parameters.get("id") ?? ""
        guard ShareID.isPlausible(id) else { throw PanError.shareNotFound }
        guard let address = links.parse(
            shareId: id, uuid: context.parameters.get("uuid") ?? "", mode: query.get("m"), ticket: query.get("t"), expires: query.get("e")
        ) else { throw Self.linkInvalid }
        guard let share = try await store.share(id: id) else { throw PanError.shareNotFound }
        switch links.verify(address, signature: query.get("s"), share: share) {
        case .success: break
        case .failure(.expired): throw PanError(status: 410, code: "LINK_EXPIRED", "this link has expired: open the share again")
        case .failure: throw Self.linkInvalid
        }
        // A used-up share still serves the rest of a counted download: a GET
        // whose Range starts past byte 0 (its ticket is checked below); nothing else.
        let rangeHeader = request.headers[.range]
        let state = share.state()
        let continuing = address.mode == .download && request.method == .get && (rangeHeader.map(Self.startsPastZero) ?? false)
        guard state == .active || (state == .exhausted && continuing) else { throw PanError.shareNotFound }
        guard let found = try await store.sharedFile(userId: share.userId, uuid: address.uuid), found.node.isFile, share.contains(found.node)
        else { throw PanError.fileNotFound }
        let file = found.node

        var headers: HTTPFields = [.xContentTypeOptions: "nosniff", .cacheControl: "private, no-store", .referrerPolicy: "no-referrer"]
        switch address.mode {
        case .download:
            guard share.allowDownload else {
                throw PanError(status: 403, code: "SHARE_NO_DOWNLOAD", "this share is for viewing only")
            }
            headers[.contentType] = ObjectResponse.servedType(file.mime)
            headers[.contentDisposition] = ObjectResponse.disposition(file.name)
            headers[.contentSecurityPolicy] = "default-src 'none'; sandbox"
        case .preview:
            guard let type = InlineKinds.type(of: file) else { throw InlineKinds.notAllowed }
            for field in InlineKinds.headers(type: type, name: file.name) { headers[field.name] = field.value }
        }

        let size = found.objectSize ?? 0
        let path: String? = if let objects, let key = found.objectKey { objects.objectPath(forKey: key) } else { nil }
        if let path, FileOps.size(of: path) == nil { throw PanError.fileNotFound }

        // An unsatisfiable Range serves nothing (416 below), so it counts nothing either.
        let range = rangeHeader.flatMap { ObjectResponse.parseRange($0, size: size) }
        if address.mode == .download, request.method != .head, rangeHeader == nil || range != nil {
            // What this request will serve: its Range, else all of it.
            let (start, length) = range.map { ($0.0, $0.1 - $0.0 + 1) } ?? (0, size)
            var counted = false
            if start > 0 {
                counted = try await store.continueShareDownload(
                    userId: share.userId, id: share.id, ticket: address.ticket, bytes: length,
                    allowance: ShareLimits.continuationAllowance(size: size)
                )
            }
            if !counted {
                guard try await store.countShareDownload(
                    userId: share.userId, id: share.id, ticket: address.ticket, served: length, ticketExpiresAt: address.expiresAt
                ) else { throw PanError.shareNotFound }
                metrics.shareDownloads.increment()
                context.logger.info("share download", metadata: ["share": "\(share.id)", "file": "\(file.uuid)"])
            }
        }

        guard let path else {
            // External WCS: the bytes are in the bucket. Checked and counted above; the bucket serves them.
            guard let key = found.objectKey, let bucket else { throw PanError.fileNotFound }
            return Response(status: .found, headers: [.location: bucket.address(of: key, name: file.name), .cacheControl: "private, no-store"])
        }
        return ObjectResponse.serve(path: path, size: size, headers: headers, request: request, eventLoop: context.eventLoop)
    }

    static let linkInvalid = PanError(status: 403, code: "LINK_INVALID", "the link is not valid")

    /// `bytes=N-…` with N > 0: the rest of a download, not its start.
    static func startsPastZero(_ range: String) -> Bool {
        let value = range.trimmedSpaces().lowercased()
        guard value.hasPrefix("bytes=") else { return false }
        let first = value.dropFirst(6).prefix { $0 != "-" }.trimmedSpaces()
        return Int64(first).map { $0 > 0 } ?? false
    }
}
