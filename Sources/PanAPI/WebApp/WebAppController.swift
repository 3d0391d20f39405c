import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PanCore
import PanHTTPSupport

/// Pan's own web app: `GET /` is `web/index.html`, `GET /s/<id>` (a share
/// link's public page) `web/share.html`, `GET /app/…` the files under
/// `web/app/`. Every reply carries an ETag (`If-None-Match` → 304), asks the
/// browser to revalidate (`no-cache`: the names are not fingerprinted), and a
/// strict Content-Security-Policy: no inline script or style, nothing from
/// another origin except the upload host the app sends bytes to.
package struct WebAppController {
    let assets: WebAssets
    let contentSecurityPolicy: String

    package init(assets: WebAssets, configuration: PanConfiguration) {
        self.assets = assets
        self.contentSecurityPolicy = Self.contentSecurityPolicy(configuration)
    }

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/", use: index)
        router.head("/", use: index)
        // A share link's public page (issue #27): its own small page, no sign-in.
        router.get("/s/:id", use: sharePage)
        router.head("/s/:id", use: sharePage)
        router.get("/app/**", use: file)
        router.head("/app/**", use: file)
    }

    @Sendable func index(_ request: Request, context: AppRequestContext) async throws -> Response {
        try serve("index.html", request)
    }

    @Sendable func sharePage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try serve("share.html", request)
    }

    @Sendable func file(_ request: Request, context: AppRequestContext) async throws -> Response {
        let rest = context.parameters.getCatchAll().map(String.init)
        return try serve((["app"] + rest).joined(separator: "/"), request)
    }

    private func serve(_ path: String, _ request: Request) throws -> Response {
        guard let asset = assets.asset(path) else { throw HTTPError(.notFound) }
        var headers: HTTPFields = [
            .eTag: asset.etag,
            .cacheControl: "no-cache",
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer",
            .xFrameOptions: "DENY",
        ]
        if let wanted = request.headers[.ifNoneMatch], Self.matches(wanted, etag: asset.etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        headers[.contentLength] = String(asset.body.readableBytes)
        if request.method == .head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }

    /// `If-None-Match` is a list of entity tags or `*`; weak tags compare by their opaque part (RFC 9110 §13.1.2).
    static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }

    static func contentSecurityPolicy(_ configuration: PanConfiguration) -> String {
        // The app talks to its own origin; uploads go to the token's `uploadUrl`,
        // which is Pan's public URL (local endpoint) or the configured WCS host.
        var connect = ["'self'"]
        for url in [configuration.effectivePublicBaseURL, configuration.effectiveUploadURL] {
            if let origin = origin(of: url), !connect.contains(origin) { connect.append(origin) }
        }
        return [
            "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
            "connect-src " + connect.joined(separator: " "), "worker-src 'self'", "object-src 'none'",
            "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
        ].joined(separator: "; ")
    }

    /// `scheme://host[:port]` of a URL, or nil.
    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return nil }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(bracketed.lowercased())" + (components.port.map { ":\($0)" } ?? "")
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
