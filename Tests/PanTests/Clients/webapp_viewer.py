#!/usr/bin/env python3
"""The web app's viewer (issue #28), in headless Chromium against a real
`pan serve`.

Usage:
  webapp_viewer.py PAN DATA_DIR PORT WORKDIR ARTIFACTS
      Uploads, through the app, three PNGs, a Markdown file holding markup, a
      WAV tone, a PDF and a video into /Pics; then: opens the first image (the
      1280 px rendition, loaded), steps through the folder's images with the
      buttons and the arrow keys (wrapping around), reads the Markdown as text
      (its <script> shown, never run), plays the tone (currentTime advances),
      finds the PDF's button opening the browser's viewer in a new tab, the
      video player's element; the grid with the images' 256 px thumbnails, a
      card opening the viewer; and no CSP violation. Then the same files on a
      phone (390×844) in Chinese: every kind opened, the viewer inside the
      viewport with its buttons on screen and tappable, the image whole,
      previous/next by tapping, no English left. Screenshots go to ARTIFACTS.
Prints one JSON line with "ok" and what it saw; exits 1 on failure.
"""
import io, json, math, os, struct, sys, traceback, wave, zlib

from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webapp_browser import Flow, start_browser  # noqa: E402
from webapp_uploads import PASSWORD, Server  # noqa: E402

USER = "viewer-user"


def png(width, height, rgb):
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def tone(seconds=3, rate=8000):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(seconds * rate)))
    return out.getvalue()


# A real 2.5 s VP8 WebM, recorded by Chromium itself (canvas → MediaRecorder): the
# machine has no video encoder, and the player must have something it can play.
RECORD = """
const done = arguments[arguments.length - 1];
const canvas = document.createElement('canvas'); canvas.width = 160; canvas.height = 120;
const context = canvas.getContext('2d');
const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm;codecs=vp8' });
const chunks = [];
recorder.ondataavailable = (event) => chunks.push(event.data);
recorder.onstop = async () => {
  const bytes = new Uint8Array(await new Blob(chunks, { type: 'video/webm' }).arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 1) text += String.fromCharCode(bytes[i]);
  done(btoa(text));
};
let frame = 0;
const timer = setInterval(() => { context.fillStyle = `hsl(${(frame * 12) % 360}, 80%, 50%)`; context.fillRect(0, 0, 160, 120); frame += 1; }, 40);
recorder.start(250);
setTimeout(() => { clearInterval(timer); recorder.stop(); }, 2500);
"""


def record_clip(driver):
    import base64
    driver.set_script_timeout(30)
    clip = base64.b64decode(driver.execute_async_script(RECORD))
    assert clip[:4] == b"\x1a\x45\xdf\xa3" and len(clip) > 1000, f"no WebM recorded ({len(clip)} bytes)"
    return clip


def flow(server, workdir, artifacts):
    out = {}
    f = Flow(start_browser(width=1366, height=850), server.base, artifacts)
    try:
        f.d.get(server.base + "/")
        f.sign_in(USER, PASSWORD)
        token = server.login(USER)
        status, reply = server.call("/v1/files/createDirectory", {"path": "/", "name": "Pics"}, token)
        assert status == 200, reply
        files = {
            "a-red.png": png(1600, 1000, (220, 38, 38)),
            "b-blue.png": png(900, 1200, (37, 99, 235)),
            "c-green.png": png(640, 480, (22, 163, 74)),
            "notes.txt": "# Notes\n\n<script>window.pwned = 1</script> **bold** <img src=x onerror=alert(1)>\n".encode(),
            "readme.md": ("# Notes\n\n<script>window.pwned = 1</script> **bold** <img src=x onerror=alert(1)>\n\n"
                          "- one\n- two\n\n[safe](https://example.com/) [bad](javascript:alert(1))\n").encode(),
            "tone.wav": tone(),
            "paper.pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
            "clip.webm": record_clip(f.d),
        }
        paths = []
        for name, body in files.items():
            path = os.path.join(workdir, name)
            with open(path, "wb") as fh:
                fh.write(body)
            paths.append(path)
        f.d.get(server.base + "/#/files/Pics")
        f.one("#content #file-table, #content #empty")
        f.upload(*paths)
        for name in files:
            f.wait_upload(name, ("done", "instant"))
        f.wait_listed(*files)
        f.click("#uploads-clear")  # the panel would cover the screenshots

        # An image: the large rendition, then previous/next through the folder's three images.
        f.step("image")
        f.click(f.row("a-red.png") + " button.name")
        f.one("dialog[open]#viewer")
        image = f.wait(lambda d: next((e for e in f.css("#viewer-image") if d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", e)), None), 30, "the image shown")
        out["image_src"] = image.get_attribute("src")
        assert "t=1280" in out["image_src"], out["image_src"]
        out["image_width"] = f.d.execute_script("return arguments[0].naturalWidth", image)
        assert out["image_width"] == 1280, out["image_width"]
        out["position"] = f.one("#viewer-position").text
        f.shot("viewer-image.png")
        seen = [f.one("#viewer-title").text]
        f.click("#viewer-next")
        f.wait(lambda d: f.one("#viewer-title").text != seen[-1], 20, "the next image")
        seen.append(f.one("#viewer-title").text)
        f.one("dialog[open]#viewer").send_keys(Keys.ARROW_RIGHT)
        f.wait(lambda d: f.one("#viewer-title").text != seen[-1], 20, "the image after")
        seen.append(f.one("#viewer-title").text)
        f.one("dialog[open]#viewer").send_keys(Keys.ARROW_RIGHT)
        f.wait(lambda d: f.one("#viewer-title").text != seen[-1], 20, "back to the first")
        seen.append(f.one("#viewer-title").text)
        f.click("#viewer-previous")
        f.wait(lambda d: f.one("#viewer-title").text != seen[-1], 20, "the previous image")
        seen.append(f.one("#viewer-title").text)
        out["stepped"] = seen
        assert seen == ["a-red.png", "b-blue.png", "c-green.png", "a-red.png", "c-green.png"], seen
        f.wait(lambda d: d.execute_script("const i = document.querySelector('#viewer-image'); return i && i.complete && i.naturalWidth === 640"),
               20, "the small image shown whole (never enlarged)")
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        # Text: as text, its markup shown and never run.
        f.step("text")
        f.click(f.row("notes.txt") + " button.name")
        text = f.wait(lambda d: next((e for e in f.css("#viewer-text") if "<script>" in (e.get_attribute("textContent") or "")), None),
                      30, "the text shown")
        out["text"] = text.get_attribute("textContent")
        assert f.d.execute_script("return window.pwned === undefined && document.querySelectorAll('#viewer-body img, #viewer-body script').length === 0")
        assert not f.one("#viewer-previous").is_displayed() and not f.one("#viewer-next").is_displayed(), "previous/next are for images"
        f.shot("viewer-text.png")
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        # Markdown: a document made of DOM nodes; HTML in it stays text, only http(s) links are links.
        f.step("markdown")
        f.click(f.row("readme.md") + " button.name")
        f.wait(lambda d: f.css("#viewer-markdown h1"), 30, "the Markdown rendered")
        out["markdown"] = f.d.execute_script("""
            const doc = document.querySelector('#viewer-markdown');
            return {h1: doc.querySelector('h1').textContent, strong: (doc.querySelector('strong') || {}).textContent || '',
                    items: [...doc.querySelectorAll('ul li')].map((li) => li.textContent),
                    links: [...doc.querySelectorAll('a')].map((a) => a.getAttribute('href')),
                    text: doc.textContent,
                    active: document.querySelectorAll('#viewer-body img, #viewer-body script, #viewer-body [onerror]').length,
                    pwned: window.pwned !== undefined};""")
        f.shot("viewer-markdown.png")
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        # Audio: plays (muted, as autoplay rules allow without a gesture), currentTime advances.
        f.step("audio")
        f.click(f.row("tone.wav") + " button.name")
        audio = f.one("#viewer-audio")
        f.d.execute_script("arguments[0].muted = true; arguments[0].play()", audio)
        f.wait(lambda d: d.execute_script("return arguments[0].currentTime", audio) > 0.5, 30, "the tone playing")
        out["audio_time"] = f.d.execute_script("return arguments[0].currentTime", audio)
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        # PDF: a button to the browser's own viewer, in a new tab.
        f.step("pdf")
        f.click(f.row("paper.pdf") + " button.name")
        link = f.one("#viewer-open-pdf")
        out["pdf_href"] = link.get_attribute("href")
        assert "/dl/" in out["pdf_href"] and "i=1" in out["pdf_href"] and link.get_attribute("target") == "_blank", out["pdf_href"]
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        # Video: the player, on an inline link.
        f.step("video")
        f.click(f.row("clip.webm") + " button.name")
        video = f.one("#viewer-video")
        out["video_src"] = video.get_attribute("src")
        assert "i=1" in out["video_src"], out["video_src"]
        # It plays (muted, as autoplay rules allow without a gesture): currentTime advances.
        f.d.execute_script("arguments[0].muted = true; arguments[0].play()", video)
        f.wait(lambda d: d.execute_script("return arguments[0].currentTime", video) > 0.5, 30, "the clip playing")
        out["video_time"] = f.d.execute_script("return arguments[0].currentTime", video)
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        # The grid: thumbnails (256 px renditions) for the images, icons for the rest; a card opens the viewer.
        f.step("grid")
        f.click("#action-layout")
        f.one("#file-grid")
        f.wait(lambda d: d.execute_script(
            "const s = [...document.querySelectorAll('#file-grid .grid-thumbnail')];"
            "return s.length === 3 && s.every((i) => i.complete && i.naturalWidth > 0)"), 60, "three thumbnails shown")
        out["thumbnail_widths"] = f.d.execute_script(
            "return [...document.querySelectorAll('#file-grid .grid-item')].filter((c) => c.querySelector('.grid-thumbnail'))"
            ".map((c) => [c.dataset.name, c.querySelector('.grid-thumbnail').naturalWidth])")
        assert sorted(out["thumbnail_widths"]) == [["a-red.png", 256], ["b-blue.png", 192], ["c-green.png", 256]], out["thumbnail_widths"]
        f.shot("viewer-grid.png")
        f.click('#file-grid .grid-item[data-name="b-blue.png"] .grid-open')
        f.wait(lambda d: f.one("dialog[open]#viewer #viewer-title").text == "b-blue.png", 20, "the viewer from the grid")
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")
        f.click("#action-layout")
        f.one("#file-table")

        out["csp_violations"] = f.csp_violations()
        assert not out["csp_violations"], out["csp_violations"]
    except BaseException:
        try:
            f.shot("viewer-failure.png")
        except Exception:
            pass
        raise
    finally:
        f.d.quit()
    out["phone"] = phone_flow(server, artifacts, list(files))
    return out


PHONE = (390, 844)
# The viewer's buttons, each to be on screen, 44 px and not covered on a phone.
CLOSE, DOWNLOAD, STEPS = "#viewer-close", "#viewer-download", ("#viewer-previous", "#viewer-next")


def phone_flow(server, artifacts, names):
    """The same files on a phone (390×844) in Chinese: each kind opened, the dialog inside the
    viewport (nothing sideways, its buttons on screen, 44 px, not covered), the image whole,
    previous/next by tapping, and no English left in the viewer."""
    out = {}
    f = Flow(start_browser(width=PHONE[0], height=PHONE[1], language="zh"), server.base, artifacts)
    f.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})

    def opened(name, ready, what):
        f.click(f.row(name) + " button.name")
        f.one("dialog[open]#viewer")
        f.wait(lambda d: d.execute_script(ready), 30, what)

    def check(what, buttons, inner=()):
        problems = f.fits_phone("dialog[open]#viewer", buttons, inner)
        assert not problems, f"phone, {what}: {problems}"
        english = f.english_left("dialog[open]#viewer", names, skip="#viewer-text, #viewer-markdown")
        assert not english, f"phone, {what}: English left in Chinese: {english}"

    def close():
        f.click(CLOSE)
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

    try:
        f.step("phone: sign in (Chinese)")
        f.d.get(server.base + "/#/files/Pics")
        f.sign_in(USER, PASSWORD)
        f.wait_listed(*names)
        assert f.d.execute_script("return document.documentElement.lang") == "zh-CN"

        f.step("phone: an image, whole, stepped by tapping")
        image_ready = "const i = document.querySelector('#viewer-image'); return i && i.complete && i.naturalWidth > 0"
        opened("a-red.png", image_ready, "the image shown")
        check("an image", (CLOSE, DOWNLOAD, "#viewer-original") + STEPS, inner=("#viewer-image", ".viewer-buttons"))
        texts = f.d.execute_script("""const q = (s) => document.querySelector(s);
            return [q('#viewer-close').textContent, q('#viewer-download').textContent, q('#viewer-position').textContent,
                    q('#viewer-previous').getAttribute('aria-label'), q('#viewer-next').getAttribute('aria-label'), q('#viewer-original').textContent];""")
        assert texts == ["关闭", "下载", "第 1 / 3 张", "上一张", "下一张", "查看原图"], texts
        # Previous, the position, next, Download and Close in one row.
        tops = f.d.execute_script("return [...document.querySelectorAll('.viewer-buttons > :not([hidden]):not(.spacer)')].map((e) => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2))")
        assert len(tops) == 5 and len(set(tops)) == 1, f"the viewer's buttons on more than one row: {tops}"
        # The image keeps its shape (1600×1000 shown at 8:5), scaled down to the screen.
        shape = f.d.execute_script("const r = document.querySelector('#viewer-image').getBoundingClientRect(); return [r.width, r.height]")
        assert shape[0] <= PHONE[0] and abs(shape[0] / shape[1] - 1.6) < 0.03, shape
        out["image_box"] = [round(v) for v in shape]
        f.shot("viewer-image-phone-zh.png")
        f.click("#viewer-next")
        f.wait(lambda d: f.one("#viewer-title").text == "b-blue.png", 20, "the next image by tapping")
        f.wait(lambda d: d.execute_script(image_ready + " && i.src.includes('t=1280') && i.getBoundingClientRect().height > 100"), 30, "the portrait image")
        check("a portrait image", (CLOSE, DOWNLOAD) + STEPS, inner=("#viewer-image",))
        f.click("#viewer-previous")
        f.wait(lambda d: f.one("#viewer-title").text == "a-red.png", 20, "back by tapping")
        close()

        f.step("phone: text and Markdown")
        opened("notes.txt", "return (document.querySelector('#viewer-text') || {}).textContent?.includes('<script>')", "the text shown")
        check("text", (CLOSE, DOWNLOAD), inner=("#viewer-text",))
        close()
        opened("readme.md", "return !!document.querySelector('#viewer-markdown h1')", "the Markdown rendered")
        check("Markdown", (CLOSE, DOWNLOAD), inner=("#viewer-markdown",))
        close()

        f.step("phone: audio, video, PDF")
        opened("tone.wav", "return !!document.querySelector('#viewer-audio')", "the audio player")
        check("audio", (CLOSE, DOWNLOAD), inner=("#viewer-audio",))
        close()
        opened("clip.webm", "const v = document.querySelector('#viewer-video'); return v && v.readyState >= 1", "the video's metadata")
        check("video", (CLOSE, DOWNLOAD), inner=("#viewer-video",))
        f.shot("viewer-video-phone-zh.png")
        close()
        opened("paper.pdf", "return !!document.querySelector('#viewer-open-pdf')", "the PDF's button")
        check("PDF", (CLOSE, DOWNLOAD, "#viewer-open-pdf"))
        assert f.one("#viewer-open-pdf").text == "打开 PDF", f.one("#viewer-open-pdf").text
        close()
        violations = f.csp_violations()
        assert not violations, violations
        out["checked"] = True
        return out
    except BaseException:
        try:
            f.shot("viewer-phone-zh-failure.png")
        except Exception:
            pass
        raise
    finally:
        f.d.quit()


def main(pan, data, port, workdir, artifacts):
    os.makedirs(artifacts, exist_ok=True)
    server = Server(pan, data, port)
    server.add_user(USER, "1G")
    server.start()
    try:
        result = flow(server, workdir, artifacts)
        print(json.dumps({"ok": True, **result}, ensure_ascii=False))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(error)}, ensure_ascii=False))
        sys.exit(1)
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
