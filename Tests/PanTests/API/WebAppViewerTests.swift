import Foundation
import Testing

/// The web app's viewer (issue #28) in a real headless Chromium against a real
/// `pan serve`, driven by `Tests/PanTests/Clients/webapp_viewer.py`: an image
/// shown from its 1280 px rendition, previous/next through the folder's images
/// (buttons and arrow keys, wrapping), Markdown shown as text (its script never
/// run), a WAV tone playing (currentTime advances), the PDF's button to the
/// browser's own viewer, the video player, and no CSP violation; then the same
/// files on a phone (390×844) in Chinese: each kind inside the viewport, its
/// buttons on screen, 44 px and not covered, the image whole, no English left.
/// Screenshots go to `.build/test-artifacts/webapp-viewer/`.
@Suite(.serialized)
struct WebAppViewerTests {
    static var artifacts: String {
        PythonClients.packageRoot.appendingPathComponent(".build/test-artifacts/webapp-viewer").path
    }

    @Test("open an image, step through the folder's images, read text and rendered Markdown, play audio and a video, open a PDF, no CSP violation; the same on a phone in Chinese")
    func viewer() async throws {
        guard FileManager.default.isExecutableFile(atPath: WebAppTests.chromedriver) else {
            Issue.record("chromium-driver is missing at \(WebAppTests.chromedriver): `.ci/run` installs chromium and chromium-driver")
            return
        }
        let data = try temporaryDirectory(), workdir = try temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: data)
            try? FileManager.default.removeItem(atPath: workdir)
        }
        let shots = ["viewer-image.png", "viewer-text.png", "viewer-image-phone-zh.png", "viewer-video-phone-zh.png"]
        for shot in shots { try? FileManager.default.removeItem(atPath: Self.artifacts + "/" + shot) }  // so a missing one is noticed
        let port = try freePort()
        let run = try await PythonClients.run(
            "webapp_viewer.py", [try CLITests.pan(), data, String(port), workdir, Self.artifacts], timeout: 600, browser: true
        )
        let line = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        #expect(run.status == 0 && json["ok"] as? Bool == true, "\(run.stdout.suffix(3000))\n\(run.stderr.suffix(4000))")
        guard json["ok"] as? Bool == true else { return }
        #expect(json["image_width"] as? Int == 1280)
        #expect(json["stepped"] as? [String] == ["a-red.png", "b-blue.png", "c-green.png", "a-red.png", "c-green.png"])
        #expect((json["text"] as? String ?? "").contains("<script>window.pwned = 1</script>"))
        #expect((json["video_time"] as? Double ?? 0) > 0.5, "the recorded clip played: \(json["video_time"] ?? "none")")
        // Markdown rendered as a document: heading, emphasis and list are elements; the HTML in it is text; only the https link is a link.
        let markdown = json["markdown"] as? [String: Any] ?? [:]
        #expect(markdown["h1"] as? String == "Notes", "\(markdown)")
        #expect(markdown["strong"] as? String == "bold", "\(markdown)")
        #expect(markdown["items"] as? [String] == ["one", "two"], "\(markdown)")
        #expect(markdown["links"] as? [String] == ["https://example.com/"], "\(markdown)")
        #expect((markdown["text"] as? String ?? "").contains("<script>window.pwned = 1</script>"), "\(markdown)")
        #expect((markdown["text"] as? String ?? "").contains("bad"), "\(markdown)")
        #expect(markdown["active"] as? Int == 0 && markdown["pwned"] as? Bool == false, "\(markdown)")
        #expect((json["audio_time"] as? Double ?? 0) > 0.5)
        // The same files on a phone (390×844) in Chinese: every kind inside the screen, its buttons tappable, the image whole, no English left.
        let phone = json["phone"] as? [String: Any] ?? [:]
        #expect(phone["checked"] as? Bool == true, "\(phone)")
        for shot in shots {
            #expect(FileManager.default.fileExists(atPath: Self.artifacts + "/" + shot), "screenshot \(shot)")
        }
    }
}
