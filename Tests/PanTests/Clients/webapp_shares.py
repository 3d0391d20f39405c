#!/usr/bin/env python3
"""Share links in the web app (issue #27), in headless Chromium against a real
`pan serve`: the owner makes links through the app's Share dialog, and each is
opened in a fresh browser profile with no session.

Usage:
  webapp_shares.py PAN DATA_DIR PORT WORKDIR ARTIFACTS [CASE…] [PAN_X=VALUE…]
      PAN: the pan binary, started here on DATA_DIR and PORT (users are made
      with `pan user add` first). CASEs (default both): desktop (1366×850,
      English), phone (390×844, Chinese). Each case: sets the display name on
      the account page; uploads a text file and a nested folder; makes a link
      to the file (download limit 5, 7 days), a second one with a password, and
      one to the folder, all in the Share dialog; then, in a fresh profile:
      the file page (owner's display name, text preview as text, download and
      its bytes), the folder page (breadcrumbs from the shared folder down, into
      a subfolder, an image preview, a download there and its bytes; a
      password set meanwhile asks for it at the next click, and once cleared
      the page re-opens the share by itself), the folder link made preview
      only in the Edit dialog (no downloads on its page), the password page
      (wrong, then right; too many wrong ones on another link: how long to wait), an expired link and an unknown id (the
      not-found page); in My shares the download count going up (1 → 2 of 5),
      and revoking one link, then two at once, after which their public pages
      say not found. Screenshots go to ARTIFACTS (and, with
      WEBAPP_SHARES_DOCS=<dir>, the README's ones to that folder).
      PAN_X=VALUE arguments go into pan's environment.
Prints one JSON line with "ok" and what each case saw; exits 1 on failure.
"""
import json, os, shutil, struct, sys, time, traceback, zlib

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webapp_browser import Flow, start_browser  # noqa: E402
from webapp_uploads import PASSWORD, Server  # noqa: E402

DESKTOP, PHONE = (1366, 850), (390, 844)
SHARE_PASSWORD = "open sesame"
# What the README shows: artifact → name in docs/screenshots.
DOC_SHOTS = {
    "desktop-share-dialog.png": "share-dialog.png",
    "desktop-my-shares.png": "share-my-shares.png",
    "desktop-public-file.png": "share-public-file.png",
    "desktop-public-folder.png": "share-public-folder.png",
    "desktop-public-password.png": "share-password.png",
    "phone-public-folder.png": "share-public-phone.png",
}


def png(width, height, rgb):
    """A small solid-colour PNG, so the public page has an image to preview."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Browser(Flow):
    """A browser at a size and language; `downloads`: where its downloads land."""

    def __init__(self, server, artifacts, size, language, tag, downloads=None):
        width, height = size
        driver = start_browser(download_dir=downloads, width=width, height=height, language=language)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        super().__init__(driver, server.base, artifacts)
        self.server, self.tag, self.downloads, self.phone = server, tag, downloads, width < 600
        self.shots = []

    def shot(self, name):
        # Toasts of earlier steps would cover what the picture is of.
        for close in self.css(".toast .icon-button"):
            try:
                close.click()
            except Exception:
                pass
        file = f"{self.tag}-{name}.png"
        super().shot(file)
        self.shots.append(file)

    def text(self, selector):
        return self.one(selector).text

    def downloaded(self, name, expected, timeout=60):
        """Waits for `name` in the download folder and checks its bytes; then removes it (the next one has the same name)."""
        target = os.path.join(self.downloads, name)
        self.wait(lambda d: os.path.exists(target) and not any(n.endswith(".crdownload") for n in os.listdir(self.downloads))
                  and os.path.getsize(target) == len(expected), timeout, f"download of {name}")
        with open(target, "rb") as f:
            body = f.read()
        assert body == expected, f"downloaded bytes of {name} differ"
        os.remove(target)
        return len(body)


class Owner(Browser):
    def open_files(self, path="/"):
        self.d.get(self.base + "/#/files" + ("" if path == "/" else path))
        self.one("#content #file-table, #content #empty")

    def share_dialog(self, name, menu=False):
        """Opens `name`'s Share dialog: from the selection bar with it selected, or from its row's context menu."""
        if menu:
            ActionChains(self.d).context_click(self.one(self.row(name) + " td.col-size")).perform()
            self.one("#context-menu")
            selected = [e.get_attribute("data-name") for e in self.css("#file-table tbody tr.selected")]
            assert selected == [name], f"the context menu's row is the selection: {selected}"
            self.shot("context-menu")
            self.click("#context-menu #menu-share")
            self.wait(lambda d: not self.css("#context-menu"), 10, "the menu closed")
        else:
            self.select_only(name)
            self.click("#action-share")
        self.one("dialog[open]#share-dialog #share-form")
        self.wait(lambda d: self.css("#share-links .share-item, #share-links .share-none"), 20, "the node's links listed")

    def make_link(self, password=None, max_downloads=None, expiry=None):
        """Fills the open dialog's form and creates the link; returns its URL (shown in the dialog)."""
        before = {e.get_attribute("data-id") for e in self.css("#share-links .share-item")}
        if password:
            self.one("#share-password").send_keys(password)
        if max_downloads:
            self.one("#share-max").send_keys(str(max_downloads))
        if expiry:
            Select(self.one("#share-expiry")).select_by_value(expiry)
        self.click("#share-submit")
        item = self.wait(lambda d: next((e for e in self.css("#share-links .share-item.fresh") if e.get_attribute("data-id") not in before), None),
                         20, "the new link in the dialog")
        url = item.find_element(By.CSS_SELECTOR, ".share-url").get_property("value")
        assert url.startswith(self.base + "/s/"), url
        return item.get_attribute("data-id"), url

    def close_dialog(self):
        self.click("dialog[open] #share-cancel")
        self.wait(lambda d: not self.css("dialog[open]"), 10, "dialog closed")

    def my_shares(self):
        self.click("#tab-shares" if self.phone else "#nav-shares")
        self.one("#content #share-list, #content #empty")

    def reload_my_shares(self):
        self.d.get(self.base + "/#/files")
        self.one("#content #file-table, #content #empty")
        self.my_shares()

    def share_row(self, share_id):
        rows = self.css(f'#share-list .share-row[data-id="{share_id}"]')
        return rows[0] if rows else None

    def row_click(self, share_id, selector):
        """Clicks a control of a row, scrolled to the middle first (the phone's bottom bar covers the bottom)."""
        element = self.share_row(share_id).find_element(By.CSS_SELECTOR, selector)
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def downloads_of(self, share_id):
        row = self.share_row(share_id)
        fact = row.find_element(By.CSS_SELECTOR, ".share-downloads")
        return int(fact.get_attribute("data-downloads")), fact.get_attribute("data-max"), fact.text


def set_up_files(owner, workdir, tag):
    """Uploads through the app: /report.txt, /Album/a.txt, /Album/Sub/photo.png, /Album/Sub/deep.bin."""
    token = owner.server.login(owner.user)
    for path in ("/Album", "/Album/Sub"):
        parent, name = path.rsplit("/", 1)
        status, reply = owner.server.call("/v1/files/createDirectory", {"path": parent or "/", "name": name}, token)
        assert status == 200, reply
    files = {
        "/report.txt": "Quarterly report\n<b>not bold</b> <script>alert(1)</script>\n第二行\n".encode(),
        "/Album/a.txt": b"a in the album\n",
        "/Album/Sub/photo.png": png(320, 200, (37, 99, 235)),
        "/Album/Sub/deep.bin": os.urandom(300_000),
    }
    folder = os.path.join(workdir, tag)
    os.makedirs(folder, exist_ok=True)
    by_dir = {}
    for path, body in files.items():
        local = os.path.join(folder, path.rsplit("/", 1)[1])
        with open(local, "wb") as f:
            f.write(body)
        by_dir.setdefault(path.rsplit("/", 1)[0] or "/", []).append(local)
    for directory, locals_ in by_dir.items():
        owner.open_files(directory)
        owner.upload(*locals_)
        for local in locals_:
            owner.wait_upload(os.path.basename(local), ("done", "instant"))
        owner.wait_listed(*[os.path.basename(p) for p in locals_])
    owner.click("#uploads-clear")
    return files, token


def case(server, workdir, artifacts, size, language, tag):
    user = "sharer-" + tag
    out = {}
    owner = Owner(server, artifacts, size, language, tag)
    owner.user = user
    downloads = os.path.join(workdir, "downloads-" + tag)
    os.makedirs(downloads, exist_ok=True)
    public = None
    zh = language.startswith("zh")
    try:
        owner.step("sign in, display name on the account page")
        owner.d.get(server.base + "/")
        owner.sign_in(user, PASSWORD)
        owner.click("#tab-account" if owner.phone else "#nav-account")
        field = owner.one("#display-name")
        display = "Ada 洛芙莱斯" if zh else "Ada Lovelace"
        field.clear()
        field.send_keys(display)
        owner.click("#display-name-save")
        token = server.login(user)
        owner.wait(lambda d: server.call("/v1/user/info", {}, token)[1]["result"].get("displayName") == display,
                   20, "display name saved")
        owner.shot("account")

        owner.step("files to share, uploaded in the app")
        files, token = set_up_files(owner, workdir, tag)

        owner.step("a link to the file: limit 5, 7 days")
        owner.open_files("/")
        owner.share_dialog("report.txt")
        file_id, file_url = owner.make_link(max_downloads=5, expiry="7")
        facts = owner.one(f'#share-links .share-item[data-id="{file_id}"] .share-facts').text
        assert ("0 / 5" in facts) and ("下载" in facts if zh else "downloads" in facts), facts
        owner.close_dialog()

        owner.step("a second link to the same file, with a password: the dialog lists the first")
        owner.share_dialog("report.txt")
        assert owner.css(f'#share-links .share-item[data-id="{file_id}"]'), "the existing link is listed in the dialog"
        password_id, password_url = owner.make_link(password=SHARE_PASSWORD)
        assert password_url != file_url
        lock = owner.one(f'#share-links .share-item[data-id="{password_id}"] .share-password')
        assert lock.get_attribute("data-password") == "true", lock.text
        owner.shot("share-dialog")
        owner.close_dialog()

        owner.step("a link to the folder (on a desktop from the row's context menu)")
        owner.share_dialog("Album", menu=not owner.phone)
        folder_id, folder_url = owner.make_link()
        owner.close_dialog()
        out["ids"] = {"file": file_id, "password": password_id, "folder": folder_id}

        owner.step("the file, opened in a fresh profile (no session)")
        public = Browser(server, artifacts, size, language, tag + "-public", downloads)
        public.d.get(file_url)
        public.one("#share-file")
        assert not public.css("#login-name"), "the public page showed the sign-in form"
        assert public.d.execute_script("return localStorage.getItem('pan.session')") is None
        assert public.text("#share-name") == "report.txt", public.text("#share-name")
        assert display in public.text("#share-owner"), public.text("#share-about")
        assert public.css("#share-expires"), "the expiry is shown"
        preview = public.wait(lambda d: (lambda e: e if e and "Quarterly" in e.text else None)((public.css("#share-preview-text") or [None])[0]),
                              20, "the text preview")
        assert "<b>not bold</b>" in preview.text and "<script>" in preview.text, preview.text
        assert not preview.find_elements(By.CSS_SELECTOR, "*"), "markup from the file was rendered"
        public.shot("file")
        public.click("#share-download")
        out["file_bytes"] = public.downloaded("report.txt", files["/report.txt"])

        owner.step("My shares: the file link, 1 download of 5")
        owner.my_shares()
        owner.wait(lambda d: owner.share_row(file_id) and owner.downloads_of(file_id)[0] == 1, 20, "1 download counted")
        first = owner.downloads_of(file_id)
        assert first[1] == "5" and "1 / 5" in first[2], first
        state = owner.share_row(file_id).find_element(By.CSS_SELECTOR, ".share-state").get_attribute("data-state")
        assert state == "active", state
        assert owner.share_row(password_id) and owner.share_row(folder_id), "all three links listed"
        owner.shot("my-shares")

        owner.step("a second download, and the count goes up")
        public.d.get(file_url)
        public.click("#share-download")
        public.downloaded("report.txt", files["/report.txt"])
        owner.reload_my_shares()
        owner.wait(lambda d: owner.share_row(file_id) and owner.downloads_of(file_id)[0] == 2, 20, "2 downloads counted")
        out["downloads_after"] = owner.downloads_of(file_id)[2]

        owner.step("the folder: breadcrumbs, a subfolder, a preview, a download")
        public.d.get(folder_url)
        public.one("#share-folder #share-table")
        public.wait(lambda d: {e.get_attribute("data-name") for e in public.css("#share-table tbody tr")} == {"a.txt", "Sub"}, 20, "the folder listed")
        crumbs = [e.text for e in public.css("#share-crumbs .crumb") if e.is_displayed()]
        assert crumbs == ["Album"], crumbs
        public.click('#share-table tr[data-name="Sub"] button.name')
        public.wait(lambda d: {e.get_attribute("data-name") for e in public.css("#share-table tbody tr")} == {"photo.png", "deep.bin"}, 20, "Sub listed")
        assert public.d.current_url.endswith("#/Sub"), public.d.current_url
        crumbs = [e.text for e in public.css("#share-crumbs .crumb") if e.is_displayed()]
        assert crumbs == ["Album", "Sub"], crumbs
        public.shot("folder")
        public.click('#share-table tr[data-name="photo.png"] button.name')
        image = public.one("dialog[open] .share-preview-image")
        public.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 320, 20, "the image preview loaded")
        public.shot("preview")
        public.click("#share-preview-close")
        public.wait(lambda d: not public.css("dialog[open]"), 10, "preview closed")
        public.click('#share-table tr[data-name="deep.bin"] .share-download-one')
        out["deep_bytes"] = public.downloaded("deep.bin", files["/Album/Sub/deep.bin"])
        public.click("#share-crumbs .crumb-share")
        public.wait(lambda d: {e.get_attribute("data-name") for e in public.css("#share-table tbody tr")} == {"a.txt", "Sub"}, 20, "back at the shared folder")
        # Reaching above the shared folder by the hash: the page stays inside it.
        public.d.get(folder_url + "#/../../")
        public.wait(lambda d: {e.get_attribute("data-name") for e in public.css("#share-table tbody tr")} == {"a.txt", "Sub"}, 20, "`..` stays inside")

        owner.step("a password set while the folder is open: the next click asks for it; cleared: the page goes on by itself")
        # A password change ends the grants handed out before: the page's next call is refused
        # (SHARE_GRANT_INVALID), it opens the share again, and that asks for the password.
        status, reply = server.call("/v1/share/update", {"id": folder_id, "password": "later"}, token)
        assert status == 200, reply
        public.click('#share-table tr[data-name="Sub"] button.name')
        public.one("#share-password-page")
        assert public.one("#share-password-error").get_attribute("data-kind") is None, "a first prompt is not a wrong password"
        public.one("#share-password-input").send_keys("later" + Keys.ENTER)
        public.wait(lambda d: {e.get_attribute("data-name") for e in public.css("#share-table tbody tr")} == {"photo.png", "deep.bin"}, 20, "Sub, after the password")
        status, reply = server.call("/v1/share/update", {"id": folder_id, "password": ""}, token)
        assert status == 200, reply
        public.click("#share-crumbs .crumb-share")
        public.wait(lambda d: {e.get_attribute("data-name") for e in public.css("#share-table tbody tr")} == {"a.txt", "Sub"}, 20, "re-opened silently")
        assert not public.css("#share-password-page")

        owner.step("the folder link made preview only in the Edit dialog: no downloads on its page")
        owner.reload_my_shares()
        owner.row_click(folder_id, ".share-edit")
        owner.one('dialog[open] #share-form[data-mode="edit"]')
        owner.click("#share-preview-only")
        owner.click("#share-submit")
        owner.one('dialog[open] #share-form[data-mode="create"]')
        owner.one(f'dialog[open] .share-item[data-id="{folder_id}"] .share-preview-only')
        owner.close_dialog()
        owner.wait(lambda d: owner.share_row(folder_id) and owner.share_row(folder_id).find_elements(By.CSS_SELECTOR, ".share-preview-only"),
                   20, "preview only shown in My shares")
        public.d.get(folder_url)
        public.one("#share-table")
        public.one("#share-view-only")
        assert not public.css(".share-download-one"), "download buttons on a preview-only share"
        assert public.css('#share-table tr[data-name="a.txt"] .share-preview-one'), "text preview offered"

        owner.step("the password page: wrong, then right")
        public.d.get(password_url)
        public.one("#share-password-page")
        assert not public.css("#share-file"), "the file showed without its password"
        public.one("#share-password-input").send_keys("not it" + Keys.ENTER)
        public.wait(lambda d: public.one("#share-password-error").get_attribute("data-kind") == "wrong", 20, "wrong password said")
        out["wrong_text"] = public.text("#share-password-error")
        public.shot("password")
        field = public.one("#share-password-input")
        field.clear()
        field.send_keys(SHARE_PASSWORD + Keys.ENTER)
        public.one("#share-file")
        assert public.text("#share-name") == "report.txt"

        owner.step("too many wrong passwords: the page says how long to wait, and Open waits too")
        status, reply = server.call("/v1/share/create", {"path": "/Album/a.txt", "password": "guess me"}, token)
        assert status == 200, reply
        public.d.get(reply["result"]["url"])
        public.one("#share-password-page")
        for attempt in range(15):
            field = public.one("#share-password-input")
            field.clear()
            field.send_keys(f"guess {attempt}" + Keys.ENTER)
            # Each answer: "wrong" with Open enabled again, or "wait" (Open then stays disabled).
            public.wait(lambda d: (lambda kind: kind == "wait" or kind == "wrong" and public.one("#share-password-submit").is_enabled())(
                public.one("#share-password-error").get_attribute("data-kind")), 20, "an answer to the guess")
            if public.one("#share-password-error").get_attribute("data-kind") == "wait":
                break
        assert public.one("#share-password-error").get_attribute("data-kind") == "wait", "never throttled"
        assert not public.one("#share-password-submit").is_enabled(), "Open stays enabled while throttled"
        out["throttled_after"] = attempt + 1
        out["wait_text"] = public.text("#share-password-error")
        public.shot("throttled")

        owner.step("an expired link and an unknown id: not found")
        status, reply = server.call("/v1/share/create", {"path": "/Album/a.txt", "expiresIn": 1}, token)
        assert status == 200, reply
        time.sleep(2.2)
        public.d.get(reply["result"]["url"])
        public.one("#share-not-found")
        public.shot("expired")
        public.d.get(server.base + "/s/AAAAAAAAAAAAAAAAAAAAAA")
        public.one("#share-not-found")
        out["not_found_text"] = public.text("#share-not-found h1")

        owner.step("revoke the file link in My shares: its page says not found")
        owner.reload_my_shares()
        owner.row_click(file_id, ".share-revoke")
        owner.click("dialog[open] .button.danger")
        owner.wait(lambda d: owner.share_row(file_id) is None and owner.share_row(folder_id) is not None, 20, "the file link gone from the list")
        public.d.get(file_url)
        public.one("#share-not-found")

        owner.step("revoke two at once")
        for share_id in (password_id, folder_id):
            owner.row_click(share_id, ".share-check")
        assert owner.one("#shares-revoke").is_enabled()
        # Scrolled down the list on a phone, the bar is under the sticky top bar: bring it to the middle.
        revoke = owner.one("#shares-revoke")
        owner.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", revoke)
        revoke.click()
        owner.click("dialog[open] .button.danger")
        owner.wait(lambda d: owner.share_row(password_id) is None and owner.share_row(folder_id) is None, 20, "both gone")
        for url in (password_url, folder_url):
            public.d.get(url)
            public.one("#share-not-found")
        status, reply = server.call("/v1/share/list", {}, token)
        assert status == 200, reply
        left = {share["id"] for share in reply["result"]["list"]}
        assert not left & {file_id, password_id, folder_id}, left
        out["left"] = len(left)

        # csp_violations reads the browser log (and empties it): uncaught errors are in the same entries.
        logs = [entry["message"] for browser in (owner, public) for entry in browser.d.get_log("browser")]
        violations = [line for line in logs if "Content Security Policy" in line]
        assert not violations, f"CSP violations: {violations}"
        errors = [line for line in logs if "Uncaught" in line or "TypeError" in line or "ReferenceError" in line]
        assert not errors, f"script errors: {errors}"
        out["shots"] = owner.shots + public.shots
        copy_docs(artifacts, tag)
        return out
    except BaseException:
        for browser in (owner, public):
            if browser:
                try:
                    browser.shot("failure")
                except Exception:
                    pass
        raise
    finally:
        owner.d.quit()
        if public:
            public.d.quit()


def copy_docs(artifacts, tag):
    docs = os.environ.get("WEBAPP_SHARES_DOCS")
    if not docs:
        return
    os.makedirs(docs, exist_ok=True)
    for artifact, name in DOC_SHOTS.items():
        source = os.path.join(artifacts, artifact)
        if artifact.startswith(tag + "-") and os.path.exists(source):
            shutil.copyfile(source, os.path.join(docs, name))


CASES = {"desktop": (DESKTOP, "en-US"), "phone": (PHONE, "zh-CN")}


def main(pan, data, port, workdir, artifacts, *rest):
    wanted = [arg for arg in rest if "=" not in arg] or list(CASES)
    extra_env = dict(arg.split("=", 1) for arg in rest if "=" in arg)
    server = Server(pan, data, port, extra_env)
    for name in wanted:
        server.add_user("sharer-" + name, "1G")
    results, current = {}, None
    server.start()
    try:
        for name in wanted:
            current = name
            print("case:", name, file=sys.stderr, flush=True)
            size, language = CASES[name]
            results[name] = case(server, workdir, artifacts, size, language, name)
        print(json.dumps({"ok": True, **results}, ensure_ascii=False))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "case": current, "error": str(error), **results}, ensure_ascii=False))
        sys.exit(1)
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
