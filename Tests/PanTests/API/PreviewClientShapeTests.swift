import Foundation
import HTTPTypes
import Testing
@testable import PanCore
@testable import PanAPI
@testable import PanHTTPSupport

/// Issue #28: `/v1/preview/*` in each real client's request shape, parsed the
/// way that client parses it (docs/clients.md, "Previews"). The replies are
/// decoded into mirrors of the clients' own models: a field a client declares
/// as a number is a Swift `Int` here, so a label where it wants a number fails
/// the decode as Gson (A), Newtonsoft (C) and cpprestsdk (L) fail the reply.
/// Every link the reply hands out is then fetched the way that client fetches
/// it — with `?token=<session>` appended where A, C and L append it.
@Suite("Previews in the real clients' shapes")
struct PreviewClientShapeTests {
    // MARK: The clients' models

    /// A's `Respone<T>`, C's `GenericResult<T>`: the envelope, `result` optional.
    struct Envelope<T: Decodable>: Decodable {
        let success: Bool
        let status: Int
        let code: String
        let message: String?
        let result: T?
        let token: String?
    }

    /// A: `ui/preview/picture/PictureBean.kt` (`width: Int, height: Int, address: String, url: String`).
    struct APicture: Decodable {
        let width: Int
        let height: Int
        let address: String?
        let url: String
    }

    /// A: `ui/preview/player/bean/VideoDetailBean.kt`.
    struct AVideoDetail: Decodable {
        struct VideoInfo: Decodable {
            let clearText: String
            let clear: Int
            let resolution: String
            let duration: Int64
            let url: String
        }
        let preview: [VideoInfo]
        let clearTexts: [String]?
    }

    /// A: `ui/preview/pdf/PdfDetailBean.kt`.
    struct APdf: Decodable { let url: String }

    /// C (v1 era): `LiuPan/Models/PreviewImageInformation.cs` — `int` width, height, size.
    struct CImage: Decodable {
        let width: Int
        let height: Int
        let size: Int?
        let url: String
        let mime: String?
    }

    /// C (v1 era): `LiuPan/Models/PreviewVideoInformation.cs` — `int Clear`, `int Duration`.
    struct CVideo: Decodable {
        struct Resource: Decodable {
            let clear: Int
            let duration: Int
            let resolution: String
            let clearText: String?
            let url: String
        }
        let preview: [Resource]
    }

    /// L (qingzhenyun-lite-cf, 2018): `i.at("clear").as_integer()`, `i.at("resolution").as_string()`, `i.at("url").as_string()`.
    struct LMedia: Decodable {
        struct Entry: Decodable {
            let clear: Int
            let resolution: String
            let url: String
        }
        let preview: [Entry]
    }

    /// W (qingzhenyun-web `store/preview.js`, `components/home/preview/*.vue`).
    struct WImage: Decodable {
        let url: String
        let width: Int
        let height: Int
    }

    struct WMedia: Decodable {
        struct Quality: Decodable {
            let clear: Int
            let clearText: String
            let resolution: String
            let url: String
        }
        let preview: [Quality]
    }

    // MARK: Helpers

    static let qingzhenToken = HTTPField.Name("Qingzhen-Token")!
    static let tokenHeader = HTTPField.Name("Token")!
    static let userTimestamp = HTTPField.Name("user-timestamp")!

    static func decode<T: Decodable>(_ type: T.Type, _ reply: TestServer.Reply, sourceLocation: SourceLocation = #_sourceLocation) throws -> Envelope<T> {
        do { return try JSONDecoder().decode(Envelope<T>.self, from: reply.body) } catch {
            Issue.record("the client's parser fails on this reply: \(error)\n\(reply.text)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// A link as the client fetches it: the path and query on the test server, plus what the client appends.
    static func fetch(_ server: TestServer, _ url: String, appending suffix: String = "", range: String? = nil) async throws -> TestServer.Reply {
        let headers: HTTPFields = range.map { [.range: $0] } ?? [:]
        return try await server.request(.get, PreviewTests.relative(url) + suffix, headers: headers)
    }

    struct Files {
        let photo: Data, video: Data, song: Data, pdf: Data
        let photoNode: String, videoNode: String, songNode: String, pdfNode: String, folderNode: String
    }

    /// One of each kind in `/<folder>`: a 640 × 480 JPEG, an MP4, an MP3 and a PDF.
    static func files(_ server: TestServer, _ token: String, in folder: String) async throws -> Files {
        let photo = try await PreviewTests.jpeg(640, 480)
        let video = Data((0..<8192).map { UInt8(($0 * 7) % 256) })
        let song = Data((0..<3000).map { UInt8($0 % 251) })
        let pdf = Data("%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n".utf8)
        func uuid(_ node: [String: Any]) throws -> String { try #require(node["uuid"] as? String, "\(node)") }
        let photoNode = try await uuid(PreviewTests.upload(server, token, photo, name: "photo.jpg", path: "/\(folder)"))
        let videoNode = try await uuid(PreviewTests.upload(server, token, video, name: "clip.mp4", path: "/\(folder)"))
        let songNode = try await uuid(PreviewTests.upload(server, token, song, name: "song.mp3", path: "/\(folder)"))
        let pdfNode = try await uuid(PreviewTests.upload(server, token, pdf, name: "doc.pdf", path: "/\(folder)"))
        let folder = try await server.post("/v1/files/get", ["path": "/\(folder)"], token: token)
        let folderNode = try #require(folder.result["uuid"] as? String, "\(folder.text)")
        return Files(
            photo: photo, video: video, song: song, pdf: pdf,
            photoNode: photoNode, videoNode: videoNode, songNode: songNode, pdfNode: pdfNode, folderNode: folderNode
        )
    }

    // MARK: A — Android (AllureCool/QZCloud)

    @Test("A (Android): {path} with Qingzhen-Token and User-Agent QZCloud; image/pdf/media parse into its beans, `url + \"?token=\"` plays with Range; errors in its envelope")
    func android() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("android")
            let (_, otherToken) = try await server.user("android2")
            let files = try await Self.files(server, token, in: "A")
            // HttpRepository.kt: every request carries these three headers, no Authorization.
            let headers: HTTPFields = [
                .userAgent: "QZCloud", Self.qingzhenToken: token,
                Self.userTimestamp: String(Int64(Date().timeIntervalSince1970 * 1000)),
            ]
            func post(_ kind: String, _ body: [String: Any], headers custom: HTTPFields? = nil) async throws -> TestServer.Reply {
                try await server.post("/v1/preview/\(kind)", body, headers: custom ?? headers)
            }

            // Picture: PicturePreviewActivity shows `url` as is.
            let image = try await post("image", ["path": "/A/photo.jpg"])
            #expect(image.status == 200, "\(image.text)")
            // A reads the refreshed token from the header only.
            #expect(image.headers[Self.qingzhenToken]?.isEmpty == false)
            let picture = try #require(try Self.decode(APicture.self, image).result)
            #expect(picture.width == 640 && picture.height == 480)
            let shown = try await Self.fetch(server, picture.url)
            #expect(shown.status == 200 && shown.body == files.photo, "\(shown.status)")
            #expect(shown.headers[.contentType] == "image/jpeg")
            #expect(shown.headers[.contentDisposition]?.hasPrefix("inline") == true)

            // Video (PlayerActivity) and audio (AudioPlayerActivity) both go through `media`.
            let media = try await post("media", ["path": "/A/clip.mp4"])
            #expect(media.status == 200, "\(media.text)")
            let detail = try #require(try Self.decode(AVideoDetail.self, media).result)
            let first = try #require(detail.preview.first, "A plays nothing when `preview` is empty: \(media.text)")
            #expect(first.clear > 0 && !first.clearText.isEmpty)
            // `play(it.preview[0].url + "?token=" + token)`, then the player seeks.
            let seek = try await Self.fetch(server, first.url, appending: "?token=\(token)", range: "bytes=1000-2999")
            #expect(seek.status == 206, "\(seek.text)")
            #expect(seek.headers[.contentType] == "video/mp4")
            #expect(seek.headers[.contentRange] == "bytes 1000-2999/8192")
            #expect(seek.body == files.video.subdata(in: 1000..<3000))
            let whole = try await Self.fetch(server, first.url, appending: "?token=\(token)")
            #expect(whole.status == 200 && whole.body == files.video)

            let audio = try await post("media", ["path": "/A/song.mp3"])
            let track = try #require(try Self.decode(AVideoDetail.self, audio).result?.preview.first, "\(audio.text)")
            let played = try await Self.fetch(server, track.url, appending: "?token=\(token)")
            #expect(played.status == 200 && played.body == files.song)
            #expect(played.headers[.contentType] == "audio/mpeg")

            // PDF: PdfViewActivity downloads `url` as is.
            let pdfReply = try await post("pdf", ["path": "/A/doc.pdf"])
            let pdf = try #require(try Self.decode(APdf.self, pdfReply).result, "\(pdfReply.text)")
            let document = try await Self.fetch(server, pdf.url)
            #expect(document.status == 200 && document.body == files.pdf)
            #expect(document.headers[.contentType] == "application/pdf")

            // Errors: A reads `success`, `status` and `message` (ErrorStatus(it.status, it.message)).
            let foreign = try await post("image", ["path": "/A/photo.jpg"], headers: [.userAgent: "QZCloud", Self.qingzhenToken: otherToken])
            let foreignEnvelope = try Self.decode(APicture.self, foreign)
            #expect(foreign.status == 404 && !foreignEnvelope.success && foreignEnvelope.status == 404 && foreignEnvelope.code == "FILE_NOT_FOUND", "\(foreign.text)")
            #expect(foreignEnvelope.message?.isEmpty == false)
            let folder = try await post("media", ["path": "/A"])
            let folderEnvelope = try Self.decode(AVideoDetail.self, folder)
            #expect(folder.status == 415 && !folderEnvelope.success && folderEnvelope.code == "PREVIEW_UNSUPPORTED", "\(folder.text)")
            // `PathBody(path)` with a null path: Gson leaves the field out.
            let nameless = try await post("image", [:])
            let namelessEnvelope = try Self.decode(APicture.self, nameless)
            #expect(nameless.status == 400 && namelessEnvelope.code == "UUID_REQUIRED", "\(nameless.text)")
            let anonymous = try await post("image", ["path": "/A/photo.jpg"], headers: [.userAgent: "QZCloud"])
            #expect(anonymous.status == 401, "\(anonymous.text)")
        }
    }

    // MARK: C — Windows (xiaopohou/FlyingPiggyCloud, v1 era)

    @Test("C (Windows): {uuid, token} as strings in the body, no header; int width/height/clear parse, `Preview[0].Url + \"?token=\"` plays; errors")
    func windows() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("windows")
            let (_, otherToken) = try await server.user("windows2")
            let files = try await Self.files(server, token, in: "C")
            // FileSystem.cs: a Dictionary<string, string> {uuid, token}, posted with no token header.
            func post(_ kind: String, _ body: [String: String]) async throws -> TestServer.Reply {
                try await server.post("/v1/preview/\(kind)", body)
            }

            let image = try await post("image", ["uuid": files.photoNode, "token": token])
            #expect(image.status == 200, "\(image.text)")
            let envelope = try Self.decode(CImage.self, image)
            // `Token = x.Token`: the body's token.
            #expect(envelope.token?.isEmpty == false)
            let picture = try #require(envelope.result)
            // PreView.xaml.cs sizes its window from them: `Width * p.Height / p.Width`.
            #expect(picture.width == 640 && picture.height == 480)
            let shown = try await Self.fetch(server, picture.url)
            #expect(shown.status == 200 && shown.body == files.photo)
            #expect(shown.headers[.contentType] == "image/jpeg")

            let media = try await post("media", ["uuid": files.videoNode, "token": token])
            #expect(media.status == 200, "\(media.text)")
            let video = try #require(try Self.decode(CVideo.self, media).result)
            // `x.Result.Preview[0].Url`: an empty list throws IndexOutOfRange in C.
            let first = try #require(video.preview.first, "\(media.text)")
            // `string address = uri + "?token=" + token;` into an HTML5 <video>, which seeks with Range.
            let seek = try await Self.fetch(server, first.url, appending: "?token=\(token)", range: "bytes=0-99")
            #expect(seek.status == 206 && seek.body == files.video.prefix(100), "\(seek.text)")
            #expect(seek.headers[.contentType] == "video/mp4")

            // Errors (C reads `success`): another user's uuid, a folder's, neither uuid nor path.
            let foreign = try await post("image", ["uuid": files.photoNode, "token": otherToken])
            let foreignEnvelope = try Self.decode(CImage.self, foreign)
            #expect(foreign.status == 404 && !foreignEnvelope.success && foreignEnvelope.code == "FILE_NOT_FOUND", "\(foreign.text)")
            let folder = try await post("media", ["uuid": files.folderNode, "token": token])
            let folderEnvelope = try Self.decode(CVideo.self, folder)
            #expect(folder.status == 415 && folderEnvelope.code == "PREVIEW_UNSUPPORTED", "\(folder.text)")
            let nameless = try await post("image", ["uuid": "", "token": token])
            #expect(nameless.status == 400 && nameless.code == "UUID_REQUIRED", "\(nameless.text)")
            let badToken = try await post("image", ["uuid": files.photoNode, "token": "not-a-token"])
            #expect(badToken.status == 401, "\(badToken.text)")
        }
    }

    // MARK: W — the Nuxt web app (zzzhr1990/qingzhenyun-web)

    @Test("W (web): Authorization Bearer; image {path} → url/width/height, pdf {path} → url, media {uuid} → preview[].clear/clearText/resolution/url; non-2xx errors")
    func web() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("webuser")
            let (_, otherToken) = try await server.user("webuser2")
            let files = try await Self.files(server, token, in: "W")

            // listMixins.js `tryOpenImage`: image({path}); image.vue shows `preview.url` at `preview.width` × `preview.height`.
            let image = try await server.post("/v1/preview/image", ["path": "/W/photo.jpg"], token: token)
            #expect(image.status == 200, "\(image.text)")
            // services.js keeps the body's `token`.
            #expect(image.json["token"] as? String != nil)
            let picture = try #require(try Self.decode(WImage.self, image).result)
            #expect(picture.width == 640 && picture.height == 480)
            let shown = try await Self.fetch(server, picture.url)
            #expect(shown.status == 200 && shown.body == files.photo)

            // pages/p/_path.vue: pdf({path}) → pdf.js viewer on `result.url`.
            let pdf = try await server.post("/v1/preview/pdf", ["path": "/W/doc.pdf"], token: token)
            let document = try await Self.fetch(server, try #require(pdf.result["url"] as? String, "\(pdf.text)"))
            #expect(document.status == 200 && document.headers[.contentType] == "application/pdf")

            // store/preview.js `video({uuid})` → `/v1/preview/media`; SET_VIDEO keys qualities by `clear`,
            // playlistUrl reads `resolution.toLowerCase()` and `clearText`.
            let media = try await server.post("/v1/preview/media", ["uuid": files.videoNode], token: token)
            let qualities = try #require(try Self.decode(WMedia.self, media).result?.preview, "\(media.text)")
            let quality = try #require(qualities.first)
            let ranged = try await Self.fetch(server, quality.url, range: "bytes=8000-")
            #expect(ranged.status == 206 && ranged.body == files.video.suffix(192), "\(ranged.text)")
            // pages/v/_path.vue `audio({path})` → `/v1/preview/audio`.
            let audio = try await server.post("/v1/preview/audio", ["path": "/W/song.mp3"], token: token)
            let played = try await Self.fetch(server, try #require(audio.result["url"] as? String, "\(audio.text)"))
            #expect(played.headers[.contentType] == "audio/mpeg" && played.body == files.song)

            // W notices only non-2xx replies, and signs out on 401.
            let foreign = try await server.post("/v1/preview/image", ["path": "/W/photo.jpg"], token: otherToken)
            #expect(foreign.status == 404 && foreign.code == "FILE_NOT_FOUND", "\(foreign.text)")
            let folder = try await server.post("/v1/preview/image", ["uuid": files.folderNode], token: token)
            #expect(folder.status == 415, "\(folder.text)")
            let nameless = try await server.post("/v1/preview/pdf", ["path": ""], token: token)
            #expect(nameless.status == 400 && nameless.code == "UUID_REQUIRED", "\(nameless.text)")
            let anonymous = try await server.post("/v1/preview/image", ["path": "/W/photo.jpg"])
            #expect(anonymous.status == 401)
        }
    }

    // MARK: L — the desktop app (zzzhr1990/qingzhenyun-lite-cf, its last version that called preview)

    @Test("L (desktop, 2018): {path} with a Token header to media; `clear.as_integer()`, highest clear > 0, `url + \"?token=\"` plays in mpv")
    func desktop() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("desktop")
            let files = try await Self.files(server, token, in: "L")
            // base_api_model.h: `Accept` and `Content-Type` JSON, the session in `Token`.
            let headers: HTTPFields = [.accept: "application/json", Self.tokenHeader: token]
            let media = try await server.post("/v1/preview/media", ["path": "/L/clip.mp4"], headers: headers)
            #expect(media.status == 200, "\(media.text)")
            let entries = try #require(try Self.decode(LMedia.self, media).result?.preview)
            // PlayPreview: the entry with the highest `clear`, played only when that is above 0.
            let best = try #require(entries.max { $0.clear < $1.clear })
            #expect(best.clear > 0, "L plays nothing with clear 0: \(media.text)")
            let played = try await Self.fetch(server, best.url, appending: "?token=\(token)", range: "bytes=4096-4195")
            #expect(played.status == 206 && played.body == files.video.subdata(in: 4096..<4196), "\(played.text)")
            // USER_PREVIEW_INFO: `payload.success` false → "Cannot load preview file."
            let folder = try await server.post("/v1/preview/media", ["path": "/L"], headers: headers)
            #expect(folder.status == 415 && folder.success == false)
        }
    }

    // MARK: Q — the Qt app (HalalCloud's Qt client, `util.cpp`, `networkdata.h`)

    @Test("Q (Qt): pdf/image with both `uuid` and `path` keys, one of them empty; only logs the reply")
    func qt() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("qtuser")
            let files = try await Self.files(server, token, in: "Q")
            // networkdata.h `PreviewPDF(uuid, path)` / `PreviewImage(uuid, path)`: a QJsonObject with both keys.
            let byPath = try await server.post("/v1/preview/pdf", ["uuid": "", "path": "/Q/doc.pdf"], token: token)
            #expect(byPath.status == 200 && byPath.success == true, "\(byPath.text)")
            let document = try await Self.fetch(server, try #require(byPath.result["url"] as? String))
            #expect(document.body == files.pdf)
            let byUUID = try await server.post("/v1/preview/image", ["uuid": files.photoNode, "path": ""], token: token)
            #expect(byUUID.status == 200 && byUUID.result["width"] as? Int == 640, "\(byUUID.text)")
            let neither = try await server.post("/v1/preview/image", ["uuid": "", "path": ""], token: token)
            #expect(neither.status == 400 && neither.code == "UUID_REQUIRED", "\(neither.text)")
        }
    }

    // MARK: The `?token=` leniency, on its own

    @Test("a preview link with `?token=…` appended still verifies; any other change to its signature does not")
    func appendedToken() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("appender")
            let uuid = try #require(try await PreviewTests.upload(server, token, Data("plain words".utf8), name: "a.txt")["uuid"] as? String)
            let reply = try await server.post("/v1/preview/text", ["uuid": uuid], token: token)
            let url = try #require(reply.result["url"] as? String, "\(reply.text)")
            #expect(try await Self.fetch(server, url, appending: "?token=\(token)").status == 200)
            #expect(try await Self.fetch(server, url, appending: "?").status == 200)
            // The signature itself still counts: one character more or less is refused.
            #expect(try await Self.fetch(server, url, appending: "A?token=\(token)").status == 403)
            #expect(try await Self.fetch(server, String(url.dropLast())).status == 403)
            #expect(try await Self.fetch(server, String(url.dropLast()) + "?token=\(token)").status == 403)
        }
    }
}
