import Foundation
import HTTPTypes
import Hummingbird
import PanCore
import WCS
import PanHTTPSupport

/// `GET /objects/<key>?e=<deadline>&token=AK:<sign>`: the local endpoint
/// standing in for a WCS private download domain (`DownloadToken`), so a
/// Pan configured for an external WCS (`PAN_UPLOAD_URL`, `PAN_DOWNLOAD_DOMAIN
/// = <this server>/objects`) can be run and tested against this one. It is
/// what a proof of possession reads in WCS mode (`WCSObjectRangeReader`).
/// Only holders of the WCS keys can sign such a URL; clients get `/dl/` links.
package struct ObjectDownloadController {
    let store: LocalObjectStore
    let credentials: [Credentials]
    /// The URL prefix signers use: this server's public URL + `/objects`.
    let publicPrefix: String

    package init(store: LocalObjectStore, credentials: [Credentials], publicPrefix: String) {
        self.store = store
        self.credentials = credentials
        self.publicPrefix = publicPrefix
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/objects/**", use: download)
        router.head("/objects/**", use: download)
    }

    @Sendable func download(_ request: Request, context: AppRequestContext) async throws -> Response {
        // The key as it appears in the path (percent-encoded as the signer wrote it).
        let rawPath = request.uri.path
        guard rawPath.hasPrefix("/objects/") else { throw PanError.routeNotFound }
        let encodedKey = String(rawPath.dropFirst("/objects/".count))
        let query = request.uri.queryParameters
        let verdict = DownloadToken.verify(
            url: publicPrefix + "/" + encodedKey, e: query.get("e"), token: query.get("token"), credentials: credentials,
            now: Int64(Date().timeIntervalSince1970)
        )
        switch verdict {
        case .success: break
        case .failure(.expired): throw PanError(status: 410, code: "LINK_EXPIRED", "the download URL has expired")
        case .failure: throw PanError(status: 401, code: "LINK_INVALID", "the download URL's token does not verify")
        }
        guard let key = encodedKey.removingPercentEncoding else { throw PanError.fileNotFound }
        let path = store.objectPath(forKey: key)
        guard let size = FileOps.size(of: path) else { throw PanError.fileNotFound }
        let headers: HTTPFields = [
            .contentType: MimeType.fallback,
            .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: "default-src 'none'; sandbox",
        ]
        return ObjectResponse.serve(path: path, size: size, headers: headers, request: request, eventLoop: context.eventLoop)
    }
}
