#!/usr/bin/env python3
"""Drives Pan's web app's file list, navigation, phone layout, keyboard and
account view in headless Chromium (helpers from webapp_browser.py).

Usage:
  webapp_list.py list BASE USER PASSWORD WORKDIR ARTIFACTS
      at desktop 1366×850 and phone 390×844, in English and Chinese: 200-character
      names never widen the page, Size/Modified stay visible, the bin is reachable
      (and emptied on the phone), the account view and its sessions; the keyboard
      (Space on a checkbox, Enter on a folder, arrows keep the focus; Ctrl+A), shift-click
      ranges, "Select all N" across 3 pages then Move, a conflict on move answered
      Replace / Keep both / Skip (the toast names what was skipped), a conflict on copy
      answered Replace for all where a folder refuses it (the folder message, then Keep
      both), a selection restored in one request, and "Empty bin" releasing the quota.
      Prints {"ok": true, "moved": N, "sessions": …}.
  webapp_list.py outage PAN WORKDIR ARTIFACTS PORT
      runs `PAN serve` itself on PORT (data in WORKDIR), signs in, stops the server:
      a folder load fails with the breadcrumbs and toolbar kept and a Retry button;
      the server started again, Retry loads the folder, and a second failure heals on
      its own (automatic retry).
Screenshots go to ARTIFACTS. Prints one JSON line with "ok"; exits 1 on failure.
"""
import hashlib, json, os, shutil, subprocess, sys, time, traceback, urllib.error, urllib.request, zipfile

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webapp_browser import Flow, start_browser  # noqa: E402

DESKTOP = (1366, 850)
PHONE = (390, 844)
LONG_ASCII = ("A-very-long-file-name-" * 10)[:196] + ".txt"  # 200 characters
LONG_FOLDER = ("Quarterly reports and everything else " * 6)[:199] + "Z"  # 200 characters, no trailing space (names are trimmed)
LONG_CJK = ("季度报告与其他所有资料" * 8)[:80]  # 80 characters, 240 UTF-8 bytes (the limit is 255)
BIG_COUNT = 125  # three pages of 50


class Api:
    """The v1 API from Python, for seeding and for checking what the server holds."""

    def __init__(self, base, token=None, headers=None, token_header="Authorization"):
        self.base, self.token, self.headers, self.token_header = base.rstrip("/"), token, headers or {}, token_header

    def call(self, path, body=None, expect_ok=True):
        headers = {"Content-Type": "application/json", **self.headers}
        if self.token:
            headers[self.token_header] = ("Bearer " if self.token_header == "Authorization" else "") + self.token
        request = urllib.request.Request(self.base + path, json.dumps(body or {}).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                status, text = reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        envelope = json.loads(text) if text.startswith("{") else {"success": False, "code": f"HTTP_{status}"}
        envelope["status"] = status
        if expect_ok and not envelope.get("success", status == 200):
            raise AssertionError(f"{path} {body}: {status} {text[:300]}")
        return envelope

    def login(self, user, password, md5=False):
        if md5:  # as the desktop and phone apps send it
            password = hashlib.md5(password.encode()).hexdigest()
        reply = self.call("/v1/user/login", {"value": user, "password": password})
        self.token = reply["token"]
        return self

    def names(self, path, recycle=False):
        body = {"recycle": 1} if recycle else {"path": path}
        result = self.call("/v1/files/page", {**body, "page": 1, "pageSize": 999})["result"]
        return [node["name"] for node in result["list"]]


def seed(api, small_file_hash):
    """Folders and instant-uploaded files (the hash of a file the user already holds)."""
    for name in ("Long", "Big", "Target", "Conf", "Keys"):
        api.call("/v1/files/createDirectory", {"path": "/", "name": name})
    for name in (LONG_ASCII, LONG_CJK + ".txt", "short (1).txt", "restore-me.txt", "restore-too.txt"):
        api.call("/v1/store/token", {"name": name, "hash": small_file_hash, "path": "/Long", "parent": ""})
    api.call("/v1/files/createDirectory", {"path": "/Long", "name": LONG_FOLDER})
    api.call("/v1/files/createDirectory", {"path": "/Long", "name": LONG_CJK})
    for index in range(BIG_COUNT):
        api.call("/v1/store/token", {"name": f"item-{index:03}.txt", "hash": small_file_hash, "path": "/Big", "parent": ""})
    for name in ("same-a.txt", "same-b.txt", "same-c.txt", "same-d.txt", "unique.txt"):
        api.call("/v1/store/token", {"name": name, "hash": small_file_hash, "path": "/Conf", "parent": ""})
    for folder in ("Dest", "CopySrc", "CopyDst"):
        api.call("/v1/files/createDirectory", {"path": "/", "name": folder})
    for name in ("same-a.txt", "same-b.txt", "same-c.txt", "same-d.txt"):
        api.call("/v1/store/token", {"name": name, "hash": small_file_hash, "path": "/Dest", "parent": ""})
    # A copy whose names are all taken: two files (replaceable) and a folder (never replaced).
    for folder in ("CopySrc", "CopyDst"):
        for name in ("copy-x.txt", "copy-y.txt"):
            api.call("/v1/store/token", {"name": name, "hash": small_file_hash, "path": "/" + folder, "parent": ""})
        api.call("/v1/files/createDirectory", {"path": "/" + folder, "name": "Sub"})
    for index in range(6):
        api.call("/v1/files/createDirectory", {"path": "/Keys", "name": f"sub-{index}"})
    # Something in the bin from the start, so every width and language shows a bin with an item.
    binned = api.call("/v1/store/token", {"name": LONG_ASCII[:120] + "-deleted.txt", "hash": small_file_hash, "path": "/Long", "parent": ""})["result"]
    api.call("/v1/files/remove", {"uuid": [binned["uuid"]], "recycle": 1})
    api.call("/v1/files/createDirectory", {"path": "/", "name": "ManyDirs"})
    for index in range(55):
        api.call("/v1/files/createDirectory", {"path": "/ManyDirs", "name": f"d-{index:03}"})
    api.call("/v1/files/createDirectory", {"path": "/Keys/sub-0", "name": "inner"})


class ListFlow(Flow):
    def __init__(self, driver, base, artifacts, label):
        super().__init__(driver, base, artifacts)
        self.label = label

    def shot(self, name):
        super().shot(f"{self.label}-{name}")

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def no_overflow(self, what):
        width = self.js("return [document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]")
        assert width[0] <= width[1] and width[2] <= width[1], f"{self.label} {what}: page {width[0]}/{width[2]} px wider than the viewport {width[1]} px"

    def no_scroll_when_short(self, what):
        """A view shorter than the window doesn't scroll (nothing hidden pokes out below it)."""
        height = self.js("return [document.documentElement.scrollHeight, window.innerHeight]")
        assert height[0] <= height[1], f"{self.label} {what}: page {height[0]} px taller than the window {height[1]} px"

    def visible_in_viewport(self, selector):
        """Every element matching `selector` lies within the viewport's width and is shown."""
        return self.js("""
            const items = Array.from(document.querySelectorAll(arguments[0]));
            return items.length > 0 && items.every((e) => { const r = e.getBoundingClientRect();
              return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 0.5; });""", selector)

    def record_calls(self):
        """From now on, every API call the page makes is kept in window.__calls as [path, body]."""
        self.js("""if (!window.__calls) { const original = window.fetch; window.__calls = [];
            window.fetch = (url, options) => { window.__calls.push([String(url), options && options.body ? JSON.parse(options.body) : null]);
              return original(url, options); }; }
            window.__calls.length = 0;""")

    def calls(self, path):
        return [body for url, body in self.js("return window.__calls") if url.endswith(path)]

    def toast_with(self, text, timeout=30):
        return self.wait(lambda d: next((e.text for e in self.css("#toasts .toast") if text in e.text), None), timeout, f"a toast with {text!r}")

    def goto(self, hash_route):
        self.d.get(self.base + "/" + hash_route)

    def wait_list(self):
        return self.one("#content #file-table, #content #empty", 30)

    def active(self):
        return self.js("const e = document.activeElement; return e ? (e.dataset.focus || e.id || e.tagName) : null")

    def stays_listed(self, *names):
        self.wait_listed(*names)
        return self.wait(lambda d: self.js("return !document.querySelector('.loading')"), 10, "no loading")


def sign_in(f, user, password):
    f.d.get(f.base + "/")
    f.sign_in(user, password)


def layout_case(f, phone, zh):
    """Long names: the page never wider than the viewport; Size and Modified on screen; the conflict dialog wraps."""
    f.step(f"{f.label}: long names")
    f.goto("#/files/Long")
    f.wait_listed(LONG_ASCII, LONG_FOLDER, LONG_CJK)
    f.no_overflow("a folder of long names")
    assert f.visible_in_viewport("#file-table th.col-size, #file-table th.col-time, #file-table td.col-size, #file-table td.col-time"), \
        f"{f.label}: Size/Modified off screen"
    title = f.js("return document.querySelector(arguments[0]).getAttribute('title')", f.row(LONG_ASCII) + " .name")
    assert title == LONG_ASCII, f"the whole name on hover: {title!r}"
    # The middle is cut, not the end: " (1).txt"-like tails stay visible.
    tail = f.js("return document.querySelector(arguments[0]).textContent", f.row(LONG_ASCII) + " .name-tail")
    assert tail and LONG_ASCII.endswith(tail), tail
    # Table cells hold one line: no name wraps a character per line.
    heights = f.js("return Array.from(document.querySelectorAll('#file-table tbody tr')).map((r) => r.getBoundingClientRect().height)")
    assert max(heights) < 64, f"{f.label}: a row wrapped: {heights}"
    # The toolbar and nav labels stay on one line too (CJK included).
    labels = f.js("""return Array.from(document.querySelectorAll('.button, .nav-link, .crumb, th'))
        .filter((e) => e.offsetParent).map((e) => [e.textContent, e.getBoundingClientRect().height])""")
    tall = [label for label in labels if label[1] > 64]
    assert not tall, f"{f.label}: wrapped labels {tall}"
    f.shot("01-long-names.png")

    f.step(f"{f.label}: deep breadcrumbs")
    f.goto("#/files/Long/" + urllib.request.quote(LONG_FOLDER))
    f.wait_list()
    f.no_overflow("breadcrumbs of a long folder name")
    f.wait(lambda d: f.js("return document.title") .startswith(LONG_FOLDER), 10, "tab title = folder name")
    f.shot("02-long-folder.png")

    f.step(f"{f.label}: conflict dialog with a long name")
    f.goto("#/files/Long")
    f.wait_listed(LONG_ASCII)
    f.js("""import('/app/dialogs.js').then((m) => { window.__answer = null;
        m.conflictDialog(arguments[0], arguments[1]).then((a) => { window.__answer = a; }); });""", LONG_ASCII, "/Long/" + LONG_FOLDER)
    dialog = f.one("dialog[open].conflict")
    fits = f.js("""const d = arguments[0]; const r = d.getBoundingClientRect();
        return r.left >= 0 && r.right <= window.innerWidth && Array.from(d.querySelectorAll('h2, p, button')).every((e) =>
          e.scrollWidth <= e.clientWidth + 1 && e.getBoundingClientRect().right <= r.right + 0.5);""", dialog)
    assert fits, f"{f.label}: the conflict dialog's text spills out"
    f.no_overflow("the conflict dialog")
    f.shot("03-conflict-dialog.png")
    skipped = f.d.execute_async_script("""const done = arguments[arguments.length - 1];
        import('/app/i18n.js').then((m) => done(m.t('done.skipped', { count: 2, names: m.nameList(['a.txt', 'b.txt']) })));""")
    assert skipped == ("跳过 2 项：a.txt、b.txt" if zh else "2 skipped: a.txt, b.txt"), skipped
    f.click('dialog[open] button[data-choice="skip"]')
    f.wait(lambda d: f.js("return window.__answer && window.__answer.choice") == "skip", 10, "dialog answered")

    f.step(f"{f.label}: the bin")
    if phone:
        assert f.js("return getComputedStyle(document.querySelector('.sidebar')).display") == "none"
        f.click("#tab-bin")
    else:
        f.click("#nav-bin")
    f.wait(lambda d: d.current_url.endswith("#/bin"), 10, "in the bin")
    f.wait_list()
    f.no_overflow("the bin")
    f.no_scroll_when_short("the bin")
    title = f.js("return document.title")
    assert title.startswith("回收站" if zh else "Recycle bin"), title
    f.shot("04-bin-view.png")

    f.step(f"{f.label}: the account view")
    f.click("#tab-account" if phone else "#nav-account")
    f.one("#account")
    f.wait(lambda d: f.css("#sessions"), 20, "sessions listed")
    f.no_overflow("the account view")
    assert f.visible_in_viewport("#account-signout, #account-signout-all")
    f.shot("05-account.png")


def phone_details(f):
    """Phone only: 44 px targets, the actions in one row, the breadcrumbs collapsed."""
    f.step(f"{f.label}: touch targets and one row of actions")
    f.goto("#/files/Keys")
    f.wait_listed("sub-0")
    f.click(f.row("sub-1") + " td.col-size")
    sizes = f.js("""return Array.from(document.querySelectorAll('.selection-bar .button, .toolbar .button, .tabbar .nav-link, #file-table td.col-check input'))
        .filter((e) => e.offsetParent).map((e) => { const r = e.getBoundingClientRect();
          const box = e.tagName === 'INPUT' ? e.parentElement.getBoundingClientRect() : r; return [e.id || e.className, box.width, box.height]; })""")
    small = [s for s in sizes if s[1] < 44 or s[2] < 44]
    assert not small, f"targets under 44 px: {small}"
    tops = f.js("return Array.from(document.querySelectorAll('.selection-bar .button')).map((e) => Math.round(e.getBoundingClientRect().top))")
    assert len(set(tops)) == 1, f"actions on more than one row: {tops}"
    f.no_overflow("a selection's actions")
    f.shot("06-phone-actions.png")
    f.goto("#/files/Keys/sub-0/inner")
    f.wait_list()
    shown = f.js("return Array.from(document.querySelectorAll('#crumbs .crumb')).filter((e) => e.offsetParent).map((e) => e.textContent)")
    assert shown[-2:] == ["sub-0", "inner"] and "…" in shown and "Keys" not in shown, f"collapsed breadcrumbs: {shown}"
    f.shot("07-phone-crumbs.png")


def keyboard_case(f):
    f.step("keyboard: Space on a checkbox keeps the focus")
    f.goto("#/files/Keys")
    f.wait_listed("sub-0", "sub-5")
    f.js("window.scrollTo(0, document.body.scrollHeight)")
    box = f.one(f.row("sub-3") + " input[type=checkbox]")
    f.js("arguments[0].focus()", box)
    ActionChains(f.d).send_keys(Keys.SPACE).perform()
    f.wait(lambda d: f.css(f.row("sub-3") + ".selected"), 10, "sub-3 selected")
    key = f.active()
    assert key and key.startswith("check:"), f"focus after Space: {key}"
    assert f.js("return document.activeElement.closest('tr').dataset.name") == "sub-3"

    f.step("keyboard: arrows move between rows and keep the focus")
    ActionChains(f.d).send_keys(Keys.ARROW_DOWN).perform()
    assert f.js("return document.activeElement.closest('tr') && document.activeElement.closest('tr').dataset.name") == "sub-4"
    ActionChains(f.d).send_keys(Keys.SPACE).perform()
    f.wait(lambda d: f.css(f.row("sub-4") + ".selected"), 10, "sub-4 selected")
    assert f.js("return document.activeElement.closest('tr').dataset.name") == "sub-4", "focus kept after the re-render"
    ActionChains(f.d).send_keys(Keys.ARROW_UP, Keys.ARROW_UP).perform()
    assert f.js("return document.activeElement.closest('tr').dataset.name") == "sub-2"

    f.step("keyboard: Ctrl+A selects the page; Escape clears")
    ActionChains(f.d).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
    f.wait(lambda d: len(f.css("#file-table tbody tr.selected")) == 6, 10, "all six selected")
    ActionChains(f.d).send_keys(Keys.ESCAPE).perform()
    f.wait(lambda d: not f.css("#file-table tbody tr.selected"), 10, "selection cleared")

    f.step("shift-click selects a range")
    f.click(f.row("sub-1") + " td.col-size")
    ActionChains(f.d).key_down(Keys.SHIFT).click(f.one(f.row("sub-4") + " td.col-size")).key_up(Keys.SHIFT).perform()
    f.wait(lambda d: [e.get_attribute("data-name") for e in f.css("#file-table tbody tr.selected")] == ["sub-1", "sub-2", "sub-3", "sub-4"],
           10, "sub-1…sub-4 selected")
    ActionChains(f.d).send_keys(Keys.ESCAPE).perform()

    f.step("keyboard: Enter on a folder keeps the focus in the list")
    name = f.one(f.row("sub-0") + " button.name")
    f.js("arguments[0].focus()", name)
    ActionChains(f.d).send_keys(Keys.ENTER).perform()
    f.wait(lambda d: d.current_url.endswith("#/files/Keys/sub-0"), 10, "inside sub-0")
    f.wait_listed("inner")
    f.wait(lambda d: (f.active() or "").startswith("name:"), 10, "focus on the first row")
    assert f.js("return document.activeElement !== document.body && document.getElementById('content').contains(document.activeElement)")
    f.wait(lambda d: f.js("return document.title").startswith("sub-0"), 10, "tab title")
    f.shot("08-keyboard.png")


def new_folder_case(f, api):
    f.step("New folder with the name of a folder on another page: 'already exists', not 'created'")
    f.goto("#/files/ManyDirs")
    f.wait_listed("d-000")
    assert "d-054" not in f.names(), "d-054 is on page 2"
    f.click("#action-new-folder")
    f.one("dialog[open] input").send_keys("d-054" + Keys.ENTER)
    toast = f.wait(lambda d: next((e.text for e in f.css("#toasts .toast")), None), 20, "a message")
    assert ("already exists" in toast) and "created" not in toast, toast
    assert len(api.names("/ManyDirs")) == 55
    f.click("#action-new-folder")
    f.one("dialog[open] input").send_keys("d-new" + Keys.ENTER)
    f.wait(lambda d: any("created" in e.text for e in f.css("#toasts .toast")), 20, "created")
    assert "d-new" in api.names("/ManyDirs")


def downloaded_zip(f, downloads, name):
    """The entries of the zip `name` once the browser has finished downloading it."""
    path = os.path.join(downloads, name)
    f.wait(lambda d: os.path.exists(path) and not any(n.endswith(".crdownload") for n in os.listdir(downloads)), 60, f"{name} downloaded")
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def zip_case(f, api, downloads):
    """Download of a folder: one zip made by the server (`/v1/files/zip`), where the server has it."""
    f.step("download a folder as one zip")
    f.goto("#/files")
    f.wait_listed("Keys")
    f.select_only("Keys")
    f.click("#action-download")
    entries = downloaded_zip(f, downloads, "Keys.zip")
    assert any("sub-0/inner" in entry for entry in entries) and any("sub-5" in entry for entry in entries), entries
    return "checked"


def select_all_case(f, api, downloads, zips):
    f.step("select all 125 across 3 pages, then move")
    f.goto("#/files/Big")
    f.wait_listed("item-000.txt")
    assert f.one("#page-label").text.endswith("3") or "3" in f.one("#page-label").text
    f.click("#select-all")
    f.one("#select-everything")
    f.shot("09-page-selected.png")
    f.click("#select-everything")
    f.wait(lambda d: str(BIG_COUNT) in f.one("#selection-count").text, 10, "all 125 counted")
    f.click("#page-next")  # still everything on the next page
    f.wait(lambda d: "item-050.txt" in f.names(), 20, "page 2")
    assert len(f.css("#file-table tbody tr.selected")) == 50 and str(BIG_COUNT) in f.one("#selection-count").text
    f.shot("10-everything-selected.png")
    if zips:
        f.step("download all 125 as one zip: the folder itself")
        f.click("#action-download")
        entries = downloaded_zip(f, downloads, "Big.zip")
        assert len([e for e in entries if e.endswith(".txt")]) == BIG_COUNT, entries
    f.click("#action-move")
    f.click("dialog[open] .crumb")
    f.click('dialog[open] .picker-item[data-path="/Target"]')
    f.wait(lambda d: "Target" in f.one("dialog[open] .crumbs").text, 20, "picker inside Target")
    f.click("#picker-choose")
    f.one("#content #empty", 60)
    moved = api.names("/Target")
    assert len(moved) == BIG_COUNT and not api.names("/Big"), f"server: {len(moved)} in /Target, {len(api.names('/Big'))} left"
    return len(moved)


def answer_conflicts(f, answers, shot=None):
    """Answers each conflict dialog by the name in its title; returns the names asked about, in order."""
    asked = []
    while answers:
        dialog = f.one("dialog[open].conflict", 30)
        title = dialog.find_element(By.TAG_NAME, "h2").text
        name = next(n for n in answers if n in title)
        if shot and not asked:
            f.shot(shot)
        f.click(f'dialog[open] button[data-choice="{answers.pop(name)}"]')
        f.wait(lambda d: not f.css("dialog[open].conflict") or name not in f.one("dialog[open].conflict h2").text, 20, "next dialog")
        asked.append(name)
    return asked


def pick_folder(f, name):
    f.click("dialog[open] .crumb")
    f.click(f'dialog[open] .picker-item[data-path="/{name}"]')
    f.wait(lambda d: name in f.one("dialog[open] .crumbs").text, 20, f"picker inside {name}")
    f.click("#picker-choose")


def conflict_case(f, api):
    f.step("conflicts on move: replace, keep both, skip (the toast names the skipped)")
    f.goto("#/files/Conf")
    f.wait_listed("same-a.txt", "same-b.txt", "same-c.txt", "same-d.txt", "unique.txt")
    f.record_calls()
    f.click("#select-all")
    f.click("#action-move")
    pick_folder(f, "Dest")
    answer_conflicts(f, {"same-a.txt": "overwrite", "same-b.txt": "rename", "same-c.txt": "skip", "same-d.txt": "skip"}, "11-conflict-on-move.png")
    toast = f.toast_with("skipped")
    assert "Moved 3 items" in toast and "2 skipped: " in toast and "same-c.txt" in toast and "same-d.txt" in toast, toast
    f.wait(lambda d: sorted(f.names()) == ["same-c.txt", "same-d.txt"], 30, "only the skipped ones left")
    dest = sorted(api.names("/Dest"))
    assert dest == ["same-a.txt", "same-b (1).txt", "same-b.txt", "same-c.txt", "same-d.txt", "unique.txt"], dest
    # One request did what it could and named the rest; then one for each answer that is not Skip.
    moves = f.calls("/v1/files/move")
    assert [body.get("conflict") for body in moves] == ["skip", "overwrite", "rename"] or \
        [body.get("conflict") for body in moves] == ["skip", "rename", "overwrite"], moves
    assert len(moves[0]["uuids"]) == 5, moves[0]
    return dest


def copy_conflict_case(f, api):
    """Replace for all on a copy where a folder is among the conflicts: the folder message, Replace offered no more."""
    f.step("conflicts on copy: replace for all; the folder cannot be replaced, so keep both")
    before = {n["name"]: n["uuid"] for n in api.call("/v1/files/page", {"path": "/CopyDst"})["result"]["list"]}
    f.goto("#/files/CopySrc")
    f.wait_listed("copy-x.txt", "copy-y.txt", "Sub")
    f.click("#select-all")
    f.click("#action-copy")
    pick_folder(f, "CopyDst")
    f.one("dialog[open].conflict", 30)
    f.click("#conflict-all")
    f.click('dialog[open] button[data-choice="overwrite"]')
    note = f.wait(lambda d: next((e.text for e in f.css("dialog[open].conflict .conflict-note")), None), 30, "the folder message")
    assert "folder can’t be replaced" in note and "Keep both" in note, note
    assert "Sub" in f.one("dialog[open].conflict h2").text
    assert not f.one('dialog[open] button[data-choice="overwrite"]').is_enabled(), "Replace still offered for a folder"
    f.shot("13-folder-not-replaced.png")
    f.click('dialog[open] button[data-choice="rename"]')
    toast = f.toast_with("Copied")
    assert "Copied 3 items" in toast and "skipped" not in toast, toast
    after = {n["name"]: n["uuid"] for n in api.call("/v1/files/page", {"path": "/CopyDst"})["result"]["list"]}
    assert sorted(after) == ["Sub", "Sub (1)", "copy-x.txt", "copy-y.txt"], sorted(after)
    assert after["copy-x.txt"] != before["copy-x.txt"] and after["copy-y.txt"] != before["copy-y.txt"], "the files were not replaced"
    assert after["Sub"] == before["Sub"], "the folder was replaced"
    assert sorted(api.names("/CopySrc")) == ["Sub", "copy-x.txt", "copy-y.txt"], "the copy moved its sources"
    return sorted(after)


def bin_case(f, api, small_file_hash):
    f.step("bin: deleted date; restoring two in one request, one into a taken name asks; then emptied")
    f.goto("#/files/Long")
    f.wait_listed("short (1).txt", "restore-me.txt", "restore-too.txt")
    for name in ("short (1).txt", "restore-me.txt", "restore-too.txt"):
        f.select_only(name)
        f.click("#action-delete")
        f.click("dialog[open] .button.danger")
        f.wait_gone(name)
    # Another restore-me.txt takes the name meanwhile.
    api.call("/v1/store/token", {"name": "restore-me.txt", "hash": small_file_hash, "path": "/Long", "parent": ""})
    f.click("#tab-bin")
    f.wait_listed("short (1).txt", "restore-me.txt", "restore-too.txt")
    bin_items = api.call("/v1/files/page", {"recycle": 1, "pageSize": 999})["result"]["list"]
    recycled_at = next(item["recycledAt"] for item in bin_items if item["name"] == "short (1).txt")
    # The Deleted column is the server's recycledAt, formatted as the page formats times.
    deleted = f.one(f.row("short (1).txt") + " td.col-deleted").get_attribute("title")
    expected = f.d.execute_async_script("""const done = arguments[arguments.length - 1];
        import('/app/i18n.js').then((m) => done(m.formatTime(arguments[0])));""", recycled_at)
    assert deleted and deleted == expected, f"Deleted column {deleted!r}, recycledAt {recycled_at} is {expected!r}"
    f.shot("04-bin.png")
    f.record_calls()
    f.select_only("restore-me.txt")
    f.click(f.row("restore-too.txt") + " input[type=checkbox]")
    f.wait(lambda d: len(f.css("#file-table tbody tr.selected")) == 2, 10, "two selected")
    f.click("#action-restore")
    f.one("dialog[open].conflict", 30)
    f.shot("04-restore-conflict.png")
    f.click('dialog[open] button[data-choice="rename"]')
    f.toast_with("Restored 2 items")
    f.wait_gone("restore-me.txt")
    restored = sorted(n for n in api.names("/Long") if n.startswith("restore-"))
    assert restored == ["restore-me (1).txt", "restore-me.txt", "restore-too.txt"], restored
    restores = f.calls("/v1/files/recycle")
    assert len(restores) == 2 and len(restores[0]["uuids"]) == 2 and restores[0]["conflict"] == "skip" \
        and len(restores[1]["uuids"]) == 1 and restores[1]["conflict"] == "rename", restores

    f.step("empty bin: one request; the bin empty and its space released")
    bin_items = api.call("/v1/files/page", {"recycle": 1, "pageSize": 999})["result"]["list"]
    assert bin_items and all(item["type"] == 0 for item in bin_items), bin_items
    used_before = api.call("/v1/user/info", {})["result"]["spaceUsed"]
    f.record_calls()
    f.click("#action-empty-bin")
    f.one("dialog[open]")
    f.shot("04-empty-bin-confirm.png")
    f.click("dialog[open] .button.danger")
    f.one("#content #empty", 30)
    toast = f.toast_with("emptied")
    assert f"{len(bin_items)} items deleted forever" in toast or f"{len(bin_items)} item deleted forever" in toast, toast
    assert len(f.calls("/v1/files/emptyBin")) == 1 and not f.calls("/v1/files/remove"), f.js("return window.__calls")
    assert api.names("/", recycle=True) == [], "the bin is not empty on the server"
    used_after = api.call("/v1/user/info", {})["result"]["spaceUsed"]
    released = sum(item["size"] for item in bin_items)
    assert released > 0 and used_after == used_before - released, f"used {used_before} → {used_after}, bin held {released}"
    return {"emptied": len(bin_items), "released": released}


def sessions_case(base, user, password, artifacts):
    """Sign out in one profile; another profile and a desktop-client-shaped token stay signed in."""
    # The desktop app's shape: an MD5 password, its own User-Agent, the token in a `Token` header.
    desktop = Api(base, headers={"User-Agent": "QzyPan-Desktop/3.2 (Windows NT 10.0) Qt/5.15"}, token_header="Token").login(user, password, md5=True)
    one, two = start_browser(), start_browser()
    try:
        a, b = ListFlow(one, base, artifacts, "sessions-a"), ListFlow(two, base, artifacts, "sessions-b")
        sign_in(a, user, password)
        sign_in(b, user, password)
        a.goto("#/account")
        a.wait(lambda d: len(a.css("#sessions li")) >= 3, 20, "three sessions listed")
        assert len(a.css("#sessions li[data-current=true]")) == 1, "this session marked"
        a.shot("12-sessions.png")
        a.step("sign out of one browser")
        a.click("#account-signout")
        a.one("#login-name")
        b.d.refresh()
        b.wait_list()
        assert desktop.call("/v1/user/info", {}, expect_ok=False)["status"] == 200, "the desktop token was signed out too"
        b.goto("#/account")
        b.wait(lambda d: b.css("#sessions li"), 20, "sessions")
        desktop_id = next(item["id"] for item in desktop.call("/v1/user/sessions", {})["result"]["list"] if item.get("current"))
        b.wait(lambda d: b.css(f'#sessions li[data-id="{desktop_id}"]'), 20, "the desktop session listed")
        b.shot("12-sessions.png")
        b.step("revoke the desktop session from the list")
        b.click(f'#sessions li[data-id="{desktop_id}"] button[data-action="revoke"]')
        b.wait(lambda d: not b.css(f'#sessions li[data-id="{desktop_id}"]'), 20, "the desktop session gone from the list")
        assert desktop.call("/v1/user/info", {}, expect_ok=False)["status"] == 401, "the revoked desktop token still works"
        b.step("sign out everywhere")
        other = Api(base).login(user, password)
        b.click("#account-signout-all")
        b.click("dialog[open] .button.danger")
        b.one("#login-name")
        assert other.call("/v1/user/info", {}, expect_ok=False)["status"] == 401, "a token outlived 'sign out everywhere'"
        return "checked"
    finally:
        one.quit()
        two.quit()


def run_list(base, user, password, workdir, artifacts):
    result = {"ok": False}
    small = os.path.join(workdir, "small.txt")
    with open(small, "w") as handle:
        handle.write(f"hello from the list tests, {user}, {time.time()}\n")
    api = Api(base).login(user, password)
    downloads = os.path.join(workdir, "downloads")
    shutil.rmtree(downloads, ignore_errors=True)  # a zip of an earlier run must not pass for this one's
    os.makedirs(downloads)
    driver = start_browser(downloads, width=DESKTOP[0], height=DESKTOP[1], language="en")
    f = ListFlow(driver, base, artifacts, "desktop-en")
    try:
        f.step("sign in, upload one file, seed by instant upload")
        sign_in(f, user, password)
        f.upload(small)
        f.wait_upload("small.txt", ("done", "instant"))
        stored = api.call("/v1/files/get", {"path": "/small.txt"})["result"]["storeId"]
        seed(api, stored)
        layout_case(f, phone=False, zh=False)
        keyboard_case(f)
        new_folder_case(f, api)
        result["zip"] = zip_case(f, api, downloads)
        result["moved"] = select_all_case(f, api, downloads, result["zip"] == "checked")
        result["conflicts"] = conflict_case(f, api)
        result["copyConflicts"] = copy_conflict_case(f, api)
    except BaseException:
        f.shot("failure.png")
        raise
    finally:
        driver.quit()
    for (width, height), language, label in ((DESKTOP, "zh", "desktop-zh"), (PHONE, "en", "phone-en"), (PHONE, "zh", "phone-zh")):
        driver = start_browser(width=width, height=height, language=language)
        f = ListFlow(driver, base, artifacts, label)
        try:
            sign_in(f, user, password)
            layout_case(f, phone=width < 720, zh=language == "zh")
            if width < 720:
                phone_details(f)
            if label == "phone-en":
                result["bin"] = bin_case(f, api, stored)
        except BaseException:
            f.shot("failure.png")
            raise
        finally:
            driver.quit()
    result["sessions"] = sessions_case(base, user, password, artifacts)
    result["ok"] = True
    return result


def run_outage(pan, workdir, artifacts, port):
    base = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAN_")}
    environment.update(PAN_DATA_DIR=os.path.join(workdir, "data"), PAN_PORT=str(port), PAN_LOG_LEVEL="error", SWIFT_BACKTRACE="enable=no")
    if os.environ.get("WEBAPP_WEB_DIR"):  # iterating on web/ with a prebuilt binary
        environment["PAN_WEB_DIR"] = os.environ["WEBAPP_WEB_DIR"]
    subprocess.run([pan, "user", "add", "outage", "--password", "secret"], env=environment, check=True, capture_output=True)
    running = []

    def serve():
        process = subprocess.Popen([pan, "serve"], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.append(process)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    return process
            except OSError:
                time.sleep(0.2)
        process.kill()
        raise AssertionError("pan serve did not answer /healthz")

    def stop(process):
        process.terminate()
        process.wait(timeout=30)

    server = serve()
    api = Api(base).login("outage", "secret")
    for name in ("Projects", "Other"):
        api.call("/v1/files/createDirectory", {"path": "/", "name": name})
    api.call("/v1/files/createDirectory", {"path": "/Projects", "name": "inside"})
    result = {"ok": False}
    try:
        outage_flows(base, artifacts, serve, stop, server)
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
    result["ok"] = True
    return result


def outage_flows(base, artifacts, serve, stop, server):
    for (width, height), language, label in ((DESKTOP, "en", "outage-desktop-en"), (PHONE, "zh", "outage-phone-zh")):
        driver = start_browser(width=width, height=height, language=language)
        f = ListFlow(driver, base, artifacts, label)
        try:
            sign_in(f, "outage", "secret")
            f.wait_listed("Projects", "Other")
            f.step(f"{label}: the server stops; opening a folder fails")
            stop(server)
            server = None
            f.click(f.row("Projects") + " button.name")
            f.one("#load-error", 30)
            assert f.css("#crumbs") and "Projects" in f.one("#crumbs").text, "breadcrumbs kept"
            assert f.css("#action-upload") and f.css("#action-new-folder"), "toolbar kept"
            f.no_overflow("the failure")
            f.shot("01-load-failed.png")
            f.step(f"{label}: the server is back; Retry loads the folder")
            server = serve()
            f.click("#retry")
            f.wait_listed("inside")
            assert not f.css("#load-error")
            f.shot("02-retried.png")
            f.step(f"{label}: another failure heals on its own")
            stop(server)
            server = None
            f.click("#tab-bin" if width < 720 else "#nav-bin")
            f.one("#load-error", 30)
            assert f.js("return document.title").startswith("回收站" if language == "zh" else "Recycle bin")
            server = serve()
            f.one("#content #empty", 40)  # the automatic retry, no click
            assert not f.css("#load-error")
        except BaseException:
            f.shot("failure.png")
            raise
        finally:
            driver.quit()
    stop(server)


if __name__ == "__main__":
    mode = sys.argv[1]
    try:
        if mode == "list":
            outcome = run_list(*sys.argv[2:7])
        elif mode == "outage":
            outcome = run_outage(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        else:
            raise SystemExit(f"unknown mode {mode}")
        print(json.dumps(outcome, ensure_ascii=False))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(error)}, ensure_ascii=False))
        sys.exit(1)
