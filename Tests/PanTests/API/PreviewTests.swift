import Foundation
import HTTPTypes
import Testing
import WCS
@testable import PanCore
@testable import PanHTTPSupport

/// Issue #28 part 1: previews. `preview` codes on file objects (and the
/// Android app's Boolean), `POST /v1/preview/*` with signed inline links, and
/// image renditions made by libvips — cached by content, bounded, refusing
/// bombs and damaged files cleanly.
@Suite("Previews")
struct PreviewTests {
    // MARK: Helpers

    static let nosniff = HTTPField.Name("X-Content-Type-Options")!

    static func upload(_ server: TestServer, _ token: String, _ bytes: Data, name: String, path: String = "/") async throws -> [String: Any] {
        let json = try await InstantUploadProofTests.upload(server, token, bytes, name: name, path: path)
        return json["result"] as? [String: Any] ?? json
    }

    /// An image made by the `vips` CLI (libvips-tools): `vips <operation> <file> <arguments…>`.
    static func image(_ operation: String, _ arguments: [String], suffix: String, options: String = "") async throws -> Data {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/image\(suffix)"
        let run = try await ChildProcess.run("/usr/bin/env", ["vips", operation, path + options] + arguments, timeout: 60)
        #expect(run.status == 0, "vips \(operation) failed")
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// A photo-like JPEG of `width` × `height`.
    static func jpeg(_ width: Int, _ height: Int) async throws -> Data {
        try await image("gaussnoise", [String(width), String(height)], suffix: ".jpg", options: "[Q=60]")
    }

    /// A valid PNG of 30,000 × 30,000 one-bit pixels (all black): 14 KB on disk, 3.6 GB decoded as RGBA.
    static func bombPNG(side: UInt32 = 30_000) async throws -> Data {
        // Deflated by Python's zlib: 112 MB of zero rows in, about 110 KB out.
        let script = """
        import zlib, struct, sys
        w = h = \(side)
        raw = zlib.compress(bytes(((w + 7) // 8 + 1) * h), 9)
        def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
        sys.stdout.buffer.write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 1, 0, 0, 0, 0)) + chunk(b'IDAT', raw) + chunk(b'IEND', b''))
        """
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/bomb.png"
        FileManager.default.createFile(atPath: out, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        try process.run()
        await offCooperativePool { process.waitUntilExit() }
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    /// The link's path and query, for `server.request`.
    static func relative(_ url: String) -> String {
        guard let range = url.range(of: "/dl/") else { return url }
        return String(url[range.lowerBound...])
    }

    static func preview(_ server: TestServer, _ token: String, _ kind: String, _ body: [String: Any]) async throws -> TestServer.Reply {
        try await server.post("/v1/preview/\(kind)", body, token: token)
    }

    static func thumbnailFiles(_ server: TestServer) -> [String] {
        let root = server.services.objectStore.root + "/thumbnails"
        let all = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return all.filter { $0.hasSuffix(".webp") }.sorted()
    }

    // MARK: Codes

    @Test("file objects carry preview codes from type and name (video 100, audio 200, PDF 300, image 400, text 1000, none 0, directory −1); QZCloud gets a Boolean", arguments: TestBackend.allCases)
    func codes(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("coder")
            let names = ["a.jpg": 400, "v.mp4": 100, "s.mp3": 200, "d.pdf": 300, "t.txt": 1000, "readme.md": 1000, "page.html": 1000,
                         "x.svg": 0, "x.bin": 0, "archive.zip": 0]
            for name in names.keys { _ = try await Self.upload(server, token, Data("content of \(name)".utf8), name: name, path: "/k") }
            _ = try await server.post("/v1/files/createDirectory", ["path": "/k", "name": "sub"], token: token)
            let listed = try await server.post("/v1/files/list2", ["path": "/k"], token: token)
            let list = try #require(listed.result["list"] as? [[String: Any]], "\(listed.text)")
            #expect(list.count == names.count + 1)
            for item in list {
                let name = try #require(item["name"] as? String)
                let expected = names[name] ?? -1
                #expect(item["preview"] as? Int == expected, "\(name): \(item["preview"] ?? "nil")")
                #expect(item["hasPreview"] as? Bool == (expected > 0), "\(name)")
            }
            // The Android app: a Boolean in `preview`, on the paged listing and on one node alike.
            let agent: HTTPFields = [.userAgent: "QZCloud/3.1 (Android 14)"]
            let paged = try await server.post("/v1/files/page", ["path": "/k", "pageSize": 50], token: token, headers: agent)
            let page = try #require(paged.result["list"] as? [[String: Any]], "\(paged.text)")
            #expect(page.count == names.count + 1)
            for item in page {
                let name = try #require(item["name"] as? String)
                // JSONSerialization reads a JSON true as an NSNumber: check the raw text instead.
                #expect(item["hasPreview"] as? Bool == ((names[name] ?? -1) > 0))
            }
            #expect(paged.text.contains(#""preview":true"#) && paged.text.contains(#""preview":false"#), "\(paged.text.prefix(400))")
            #expect(!paged.text.contains(#""preview":400"#) && !paged.text.contains(#""preview":-1"#))
            let one = try await server.post("/v1/files/get", ["path": "/k/a.jpg"], token: token, headers: agent)
            #expect(one.text.contains(#""preview":true"#), "\(one.text)")
            let other = try await server.post("/v1/files/get", ["path": "/k/a.jpg"], token: token)
            #expect(other.text.contains(#""preview":400"#), "\(other.text)")
        }
    }

    // MARK: Endpoints and links

    @Test("each endpoint: signed inline links with the right type, nosniff, CSP (PDF unsandboxed), Range 206; wrong kind 415; another user's file 404", arguments: TestBackend.allCases)
    func endpoints(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("viewer")
            let (_, otherToken) = try await server.user("stranger")
            let video = Data((0..<4096).map { UInt8($0 % 256) })
            let text = try await #require(Self.upload(server, token, Data("# 标题\nhello <script>x</script>\n".utf8), name: "notes.md")["uuid"] as? String)
            let pdf = try await #require(Self.upload(server, token, Data("%PDF-1.4\n%%EOF\n".utf8), name: "doc.pdf")["uuid"] as? String)
            let mp4 = try await #require(Self.upload(server, token, video, name: "clip.mp4")["uuid"] as? String)
            let mp3 = try await #require(Self.upload(server, token, Data(repeating: 7, count: 100), name: "song.mp3")["uuid"] as? String)

            func open(_ kind: String, _ uuid: String, range: String? = nil) async throws -> TestServer.Reply {
                let reply = try await Self.preview(server, token, kind, ["uuid": uuid])
                #expect(reply.status == 200, "\(kind): \(reply.text)")
                let url = try #require(reply.result["url"] as? String, "\(reply.text)")
                #expect(url.contains("&i=1&"))
                #expect(reply.result["preview"] as? [Any] != nil)
                let headers: HTTPFields = range.map { [.range: $0] } ?? [:]
                return try await server.request(.get, Self.relative(url), headers: headers)
            }
            let shownText = try await open("text", text)
            #expect(shownText.status == 200)
            #expect(shownText.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(shownText.headers[.contentDisposition]?.hasPrefix("inline") == true)
            #expect(shownText.headers[Self.nosniff] == "nosniff")
            #expect(shownText.headers[.contentSecurityPolicy] == "default-src 'none'; sandbox")
            #expect(shownText.text.contains("<script>"))

            let shownPDF = try await open("pdf", pdf)
            #expect(shownPDF.headers[.contentType] == "application/pdf")
            #expect(shownPDF.headers[.contentSecurityPolicy]?.contains("sandbox") == false)

            let seek = try await open("media", mp4, range: "bytes=1000-1999")
            #expect(seek.status == 206)
            #expect(seek.headers[.contentType] == "video/mp4")
            #expect(seek.headers[.contentRange] == "bytes 1000-1999/4096")
            #expect(seek.body == video.subdata(in: 1000..<2000))

            for kind in ["audio", "media"] {
                let played = try await open(kind, mp3)
                #expect(played.headers[.contentType] == "audio/mpeg", "\(kind)")
            }

            // The wrong endpoint for the kind, and a directory.
            let wrong = try await Self.preview(server, token, "image", ["uuid": text])
            #expect(wrong.status == 415 && wrong.code == "PREVIEW_UNSUPPORTED", "\(wrong.text)")
            let folder = try await Self.preview(server, token, "text", ["path": "/"])
            #expect(folder.status == 415, "\(folder.text)")
            // Someone else's file: not found, by uuid or by path.
            let foreign = try await Self.preview(server, otherToken, "text", ["uuid": text])
            #expect(foreign.status == 404, "\(foreign.text)")
            let foreignPath = try await Self.preview(server, otherToken, "pdf", ["path": "/doc.pdf"])
            #expect(foreignPath.status == 404, "\(foreignPath.text)")
            let anonymous = try await server.post("/v1/preview/text", ["uuid": text])
            #expect(anonymous.status == 401, "\(anonymous.text)")
        }
    }

    @Test("an SVG with script is never inline: no preview code, the endpoints refuse, and a download link can't be made inline")
    func svgNeverInline() async throws {
        try await withServer { server in
            let (_, token) = try await server.user("svg")
            let svg = Data(#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"#.utf8)
            let node = try await Self.upload(server, token, svg, name: "logo.svg")
            #expect(node["preview"] as? Int == 0, "\(node)")
            let uuid = try #require(node["uuid"] as? String)
            for kind in ["image", "text", "media", "pdf", "audio"] {
                let reply = try await Self.preview(server, token, kind, ["uuid": uuid])
                #expect(reply.status == 415, "\(kind): \(reply.text)")
            }
            // A download link with `i=1` added: its signature is a download's, not an inline link's.
            let got = try await server.post("/v1/files/get", ["uuid": uuid], token: token)
            let download = try #require(got.result["downloadAddress"] as? String, "\(got.text)")
            let forged = Self.relative(download).replacingOccurrences(of: "&s=", with: "&i=1&s=")
            let refused = try await server.request(.get, forged)
            #expect(refused.status == 403, "\(refused.text)")
            let served = try await server.request(.get, Self.relative(download))
            #expect(served.headers[.contentType] == "application/octet-stream")
            #expect(served.headers[.contentDisposition]?.hasPrefix("attachment") == true)
            // SVG bytes under an image name: a browser-format loader only, so libvips never hands them to librsvg.
            let disguised = try await #require(Self.upload(server, token, svg, name: "photo.png")["uuid"] as? String)
            let refusedImage = try await Self.preview(server, token, "image", ["uuid": disguised])
            // (Refused by its sniffed type, 415, or by the loader check, 422: either way never decoded as SVG.)
            #expect(refusedImage.status == 415 || refusedImage.code == "IMAGE_UNREADABLE", "\(refusedImage.text)")
        }
    }

    // MARK: Thumbnails

    @Test("image renditions: 256 and 1280 px WebP made on first request, cached by content (a second request and an instant-upload copy reuse them)", arguments: TestBackend.allCases)
    func thumbnails(backend: TestBackend) async throws {
        try await withServer(backend: backend) { server in
            let (_, token) = try await server.user("photographer")
            let photo = try await Self.jpeg(1600, 1200)
            let node = try await Self.upload(server, token, photo, name: "IMG_0001.JPG", path: "/photos")
            #expect(node["preview"] as? Int == 400, "\(node)")
            let uuid = try #require(node["uuid"] as? String)
            let reply = try await Self.preview(server, token, "image", ["uuid": uuid])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.result["resolution"] as? String == "1600x1200")
            let renditions = try #require(reply.result["preview"] as? [[String: Any]], "\(reply.text)")
            #expect(renditions.map { $0["clear"] as? String } == ["标清", "高清"])
            #expect(renditions.map { $0["resolution"] as? String } == ["256x192", "1280x960"])
            #expect(Self.thumbnailFiles(server).isEmpty, "made before anyone asked")

            let small = try #require(renditions[0]["url"] as? String)
            let first = try await server.request(.get, Self.relative(small))
            #expect(first.status == 200, "\(first.text)")
            #expect(first.headers[.contentType] == "image/webp")
            #expect(first.headers[.contentDisposition]?.hasPrefix("inline") == true)
            #expect(first.headers[Self.nosniff] == "nosniff")
            #expect(first.body.prefix(4) == Data("RIFF".utf8) && first.body.subdata(in: 8..<12) == Data("WEBP".utf8))
            #expect(first.body.count < photo.count / 5)
            let made = Self.thumbnailFiles(server)
            #expect(made.count == 1 && made[0].hasSuffix("-256.webp"), "\(made)")
            let cached = server.services.objectStore.root + "/thumbnails/" + made[0]
            let madeAt = try FileManager.default.attributesOfItem(atPath: cached)[.modificationDate] as? Date

            // Again: the same file, not made anew.
            let second = try await server.request(.get, Self.relative(small))
            #expect(second.body == first.body)
            #expect(try FileManager.default.attributesOfItem(atPath: cached)[.modificationDate] as? Date == madeAt)
            // The large one, with a Range.
            let large = try #require(renditions[1]["url"] as? String)
            let part = try await server.request(.get, Self.relative(large), headers: [.range: "bytes=0-11"])
            #expect(part.status == 206 && part.body.count == 12)
            #expect(Self.thumbnailFiles(server).count == 2)

            // An instant upload of the same bytes (another name, another folder): its renditions are the cached ones.
            let hash = ContentHasher.hash(photo)
            let instant = try await server.post("/v1/store/token", ["name": "copy.jpg", "path": "/elsewhere", "hash": hash], token: token)
            let copy = try #require(instant.result["uuid"] as? String, "\(instant.text)")
            #expect(copy != uuid)
            let copied = try await Self.preview(server, token, "image", ["uuid": copy])
            let copySmall = try #require((copied.result["preview"] as? [[String: Any]])?.first?["url"] as? String, "\(copied.text)")
            #expect(copySmall != small)
            let reused = try await server.request(.get, Self.relative(copySmall))
            #expect(reused.body == first.body)
            #expect(Self.thumbnailFiles(server).count == 2)
            #expect(try FileManager.default.attributesOfItem(atPath: cached)[.modificationDate] as? Date == madeAt)

            // `pan store gc` removes an object's renditions with it.
            #expect(PreviewRenditions.remove(hash: hash, objects: server.services.objectStore) == 2)
            #expect(Self.thumbnailFiles(server).isEmpty)
        }
    }

    @Test("a 30,000 × 30,000 PNG is refused from its header (422 IMAGE_TOO_LARGE), never decoded")
    func decompressionBomb() async throws {
        let bomb = try await Self.bombPNG()
        #expect(bomb.count < 1_000_000, "\(bomb.count)")
        try await withServer { server in
            let (_, token) = try await server.user("bomber")
            let uuid = try await #require(Self.upload(server, token, bomb, name: "huge.png")["uuid"] as? String)
            let reply = try await Self.preview(server, token, "image", ["uuid": uuid])
            #expect(reply.status == 422 && reply.code == "IMAGE_TOO_LARGE", "\(reply.text)")
            #expect(reply.text.contains("30000 × 30000"), "\(reply.text)")
            // Defense in depth: the renditions themselves refuse it too (a link made before a limit changed, say).
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try bomb.write(to: URL(fileURLWithPath: directory + "/bomb.png"))
            let thumbnails = Thumbnails(directory: directory + "/thumbnails", threads: 1)
            await #expect(throws: Thumbnails.Failure.tooLarge(width: 30_000, height: 30_000)) {
                _ = try await thumbnails.rendition(source: directory + "/bomb.png", hash: "bomb", size: 256)
            }
            // Bounded in time too: a rendition past its deadline is stopped (and not remembered as a refusal).
            let big = try await Self.image("gaussnoise", ["4000", "3000"], suffix: ".png")
            try big.write(to: URL(fileURLWithPath: directory + "/big.png"))
            // Once, in a full run on a machine loaded far past CI's (the test took 119 s), a 1 ms
            // rendition finished: libvips checks the deadline only when it signals progress.
            // Three tries, each in its own folder; the deadline must stop at least one.
            var stopped = 0
            for attempt in 0..<3 where stopped == 0 {
                let hurried = Thumbnails(directory: directory + "/hurried-\(attempt)", threads: 1, timeoutMilliseconds: 1)
                do {
                    _ = try await hurried.rendition(source: directory + "/big.png", hash: "big", size: 256)
                } catch let failure as Thumbnails.Failure {
                    #expect(failure == .timedOut)
                    stopped += 1
                }
            }
            #expect(stopped == 1, "a 1 ms deadline never stopped a 4000 × 3000 rendition")
            let patient = Thumbnails(directory: directory + "/hurried", threads: 1)
            let made = try await patient.rendition(source: directory + "/big.png", hash: "big", size: 256)
            #expect(FileOps.size(of: made) != nil)
            // The server is still well.
            let fine = try await server.post("/v1/user/info", [:], token: token)
            #expect(fine.status == 200)
        }
    }

    @Test("a truncated JPEG: its rendition is refused cleanly (422 IMAGE_UNREADABLE), and the refusal remembered")
    func truncatedJPEG() async throws {
        let photo = try await Self.jpeg(1200, 900)
        let truncated = photo.prefix(photo.count / 2)
        try await withServer { server in
            let (_, token) = try await server.user("truncated")
            let uuid = try await #require(Self.upload(server, token, Data(truncated), name: "broken.jpg")["uuid"] as? String)
            let reply = try await Self.preview(server, token, "image", ["uuid": uuid])
            // The header is whole: the API answers; the rendition is where the damage shows.
            #expect(reply.status == 200, "\(reply.text)")
            let small = try #require((reply.result["preview"] as? [[String: Any]])?.first?["url"] as? String, "\(reply.text)")
            for _ in 0..<2 {
                let refused = try await server.request(.get, Self.relative(small))
                #expect(refused.status == 422, "\(refused.text)")
                #expect(refused.code == "IMAGE_UNREADABLE", "\(refused.text)")
            }
            #expect(Self.thumbnailFiles(server).isEmpty)
        }
    }
}
