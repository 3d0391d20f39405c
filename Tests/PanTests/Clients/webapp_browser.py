#!/usr/bin/env python3
"""Drives Pan's web app in headless Chromium (Debian's chromium + chromium-driver)
through Selenium (PyPI `selenium`).

Usage:
  webapp_browser.py flow BASE USER PASSWORD WORKDIR ARTIFACTS
      signs in (and survives a reload), creates a folder, uploads a 9 MiB and a
      0-byte file, sees them listed, uploads the 9 MiB bytes again under another
      name and sees an instant upload (`pan_instant_uploads_total` + 1 on
      BASE/metrics), downloads and compares bytes, renames, moves, deletes to the
      bin, restores, signs out. Screenshots of the main views go to ARTIFACTS.
  webapp_browser.py hash BASE FILE…
      the app's hash module on each FILE, with crypto.subtle and with the
      plain-JS SHA-1 fallback; prints {"hashes": {name: {subtle, js}}}.
  webapp_browser.py proof BASE USER PASSWORD FILE
      signs in as a user who does not hold FILE's content (another user
      uploaded it) and uploads it: the app answers the possession challenge
      and the upload is instant (kind="proof" on BASE/metrics).
  webapp_browser.py throughput BASE USER PASSWORD FILE
      signs in, uploads FILE through the UI, prints the seconds it took.
Prints one JSON line with "ok"; exits 1 on failure.
"""
import json, os, shutil, sys, time, traceback, urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

MiB = 1 << 20


def chromium_binary():
    # Debian's /usr/bin/chromium is a shell wrapper; the browser itself lives here.
    for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(path):
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def start_browser(download_dir=None, width=None, height=None, language="en"):
    """`width`×`height`: the window (default 1280×800); `language`: "en", "zh" or a BCP 47 tag
    ("zh-CN" shows the app in Chinese; the page's language follows the browser's)."""
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_binary()
    locale = {"en": "en-US", "zh": "zh-CN"}.get(language, language)
    primary = locale.split("-")[0]
    accepted = f"{locale},{primary}" if primary != locale else locale
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width or 1280},{height or 800}", f"--lang={locale}", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    prefs = {"intl.accept_languages": accepted}
    if download_dir:
        prefs.update({"download.default_directory": download_dir, "download.prompt_for_download": False,
                      "safebrowsing.enabled": False})
    options.add_experimental_option("prefs", prefs)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    if download_dir:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})
    # --window-size sizes the window, not the page: make the viewport itself width × height.
    if width and height:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


class Flow:
    def __init__(self, driver, base, artifacts):
        self.d, self.base, self.artifacts = driver, base.rstrip("/"), artifacts
        self.steps = []

    def step(self, name):
        self.steps.append(name)
        print("step:", name, file=sys.stderr, flush=True)

    def wait(self, condition, timeout=60, what="condition"):
        def guarded(driver):
            try:
                return condition(driver)
            except (StaleElementReferenceException,):
                return False
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1).until(guarded)
        except Exception as error:
            raise AssertionError(f"timed out waiting for {what} (after steps {self.steps})") from error

    def css(self, selector):
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector, timeout=30):
        return self.wait(lambda d: (self.css(selector) or [None])[0], timeout, selector)

    def click(self, selector, timeout=30):
        element = self.wait(lambda d: next((e for e in self.css(selector) if e.is_displayed() and e.is_enabled()), None),
                            timeout, "clickable " + selector)
        # To the middle first, as a person scrolls to what they tap: at the edge a
        # sticky bar (the top bar, the phone's tab bar) can lie over it.
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})", element)
        element.click()

    def shot(self, name):
        if self.artifacts:
            os.makedirs(self.artifacts, exist_ok=True)
            self.d.save_screenshot(os.path.join(self.artifacts, name))

    def row(self, name):
        return f'#file-table tr[data-name="{name}"]'

    def names(self):
        return [e.get_attribute("data-name") for e in self.css("#file-table tbody tr")]

    def wait_listed(self, *names, timeout=60):
        self.wait(lambda d: all(n in self.names() for n in names), timeout, f"{names} listed")

    def wait_gone(self, name, timeout=30):
        self.wait(lambda d: name not in self.names(), timeout, f"{name} gone")

    def select_only(self, name):
        # The uploads panel floats over the table's right side: fold it away first.
        toggle = self.css("#uploads-toggle")
        if toggle and toggle[0].is_displayed() and toggle[0].get_attribute("aria-expanded") == "true":
            toggle[0].click()
        # A plain click on a row (not on its name or checkbox) selects that row alone.
        self.click(self.row(name) + " td.col-size")
        self.wait(lambda d: [e.get_attribute("data-name") for e in self.css("#file-table tbody tr.selected")] == [name],
                  10, f"{name} alone selected")

    def upload(self, *paths):
        self.d.find_element(By.ID, "file-input").send_keys("\n".join(paths))

    def wait_upload(self, name, states=("done",), timeout=120):
        def finished(d):
            items = self.css(f'.upload-item[data-name="{name}"]')
            if not items:
                return False
            state = items[-1].get_attribute("data-state")
            if state == "failed":
                raise AssertionError(f"upload of {name} failed: {items[-1].text}")
            return state in states and state
        return self.wait(finished, timeout, f"upload of {name} in {states}")

    def sign_in(self, user, password):
        self.one("#login-name").send_keys(user)
        self.one("#login-password").send_keys(password + Keys.ENTER)
        self.one("#content #file-table, #content #empty", 30)

    def english_left(self, root, names=(), skip=None):
        """In a Chinese view: the shown texts and the aria-label/title/placeholder/alt under `root` (a
        selector) that still hold an English word (3+ Latin letters), once `names` (file names, the
        query: the user's own words) are taken out and elements matching `skip` (file contents) left
        aside. Pan, PDF and the size units are the same in both languages."""
        return self.d.execute_script("""
            const [selector, skip, names] = arguments;
            const allowed = new Set(['pan', 'pdf', 'kb', 'mb', 'gb', 'tb']);
            const strings = [];
            for (const root of document.querySelectorAll(selector)) {
              const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
              for (let node; (node = walker.nextNode());) {
                const parent = node.parentElement;
                if (!parent || (skip && parent.closest(skip)) || !parent.getClientRects().length) continue;
                strings.push(node.textContent);
              }
              for (const element of [root, ...root.querySelectorAll('*')]) {
                if (skip && element.closest(skip)) continue;
                for (const name of ['aria-label', 'title', 'placeholder', 'alt']) {
                  if (element.hasAttribute(name)) strings.push(element.getAttribute(name));
                }
              }
            }
            const left = new Set();
            for (const string of strings) {
              let rest = string;
              for (const name of names) rest = rest.split(name).join(' ');
              if ((rest.match(/[A-Za-z]{3,}/g) || []).some((word) => !allowed.has(word.toLowerCase()))) left.add(string.trim());
            }
            return [...left];""", root, skip, sorted(names, key=len, reverse=True))

    def fits_phone(self, root, buttons=(), inner=()):
        """What is wrong with `root` (a selector: a dialog, a view) on a narrow screen: the page
        scrolling sideways, `root` or one of `inner` (selectors, e.g. an image) reaching past the
        viewport or the root, or one of `buttons` hidden, under 44 px, off screen or covered
        (the element at its middle is not it). An empty list when it fits."""
        return self.d.execute_script("""
            const [selector, buttons, inner] = arguments;
            const root = document.querySelector(selector), problems = [];
            const W = window.innerWidth, H = window.innerHeight;
            const box = (r) => `${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}×${Math.round(r.height)}`;
            if (!root) return [selector + ' missing'];
            if (document.documentElement.scrollWidth > W) problems.push(`the page is ${document.documentElement.scrollWidth} px wide in ${W}`);
            const r = root.getBoundingClientRect();
            if (r.left < -0.5 || r.right > W + 0.5) problems.push(`${selector} at ${box(r)} in ${W} px`);
            if (root.scrollWidth > root.clientWidth + 1) problems.push(`${selector} scrolls sideways (${root.scrollWidth} in ${root.clientWidth})`);
            for (const part of inner) {
              for (const e of root.querySelectorAll(part)) {
                const b = e.getBoundingClientRect();
                if (b.left < r.left - 0.5 || b.right > r.right + 0.5 || b.right > W + 0.5 || b.bottom > H + 0.5)
                  problems.push(`${part} at ${box(b)} outside ${box(r)}`);
              }
            }
            for (const button of buttons) {
              const e = document.querySelector(button);
              if (!e || !e.getClientRects().length) { problems.push(button + ' not shown'); continue; }
              const b = e.getBoundingClientRect();
              if (b.width < 43.5 || b.height < 43.5) problems.push(`${button} is ${box(b)}: under 44 px`);
              if (b.left < -0.5 || b.top < -0.5 || b.right > W + 0.5 || b.bottom > H + 0.5) { problems.push(`${button} off screen at ${box(b)}`); continue; }
              const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
              if (!hit || !e.contains(hit)) problems.push(`${button} covered by ${hit ? hit.id || hit.className || hit.tagName : 'nothing'}`);
            }
            return problems;""", root, list(buttons), list(inner))

    def csp_violations(self):
        try:
            logs = self.d.get_log("browser")
        except WebDriverException:
            return []
        return [entry["message"] for entry in logs if "Content Security Policy" in entry.get("message", "")]


def metric(base, name):
    """A counter's value: `name` with its labels (`x{kind="proof"}`) is that series; a bare name sums every series."""
    total = 0.0
    with urllib.request.urlopen(base.rstrip("/") + "/metrics", timeout=30) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " ") or ("{" not in name and line.startswith(name + "{")):
                total += float(line.rsplit(" ", 1)[1])
    return total


def flow(base, user, password, workdir, artifacts):
    downloads = os.path.join(workdir, "downloads")
    os.makedirs(downloads, exist_ok=True)
    big = os.path.join(workdir, "big.bin")
    empty = os.path.join(workdir, "empty.txt")
    again = os.path.join(workdir, "again.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(9 * MiB))
    open(empty, "wb").close()
    shutil.copyfile(big, again)

    driver = start_browser(downloads)
    f = Flow(driver, base, artifacts)
    try:
        f.step("sign in")
        driver.get(base + "/")
        f.one("#login-name")
        f.shot("01-sign-in.png")
        f.sign_in(user, password)
        f.step("reload keeps the session")
        driver.refresh()
        f.one("#content #file-table, #content #empty")
        assert f.one("#user-name").text == user, "user name shown after reload"

        f.step("create a folder")
        f.click("#action-new-folder")
        f.one("dialog[open] input").send_keys("Docs" + Keys.ENTER)
        f.wait_listed("Docs")
        f.click(f.row("Docs") + " button.name")
        f.wait(lambda d: "Docs" in f.one("#crumbs").text, 20, "breadcrumbs show Docs")
        assert driver.current_url.endswith("#/files/Docs"), driver.current_url

        f.step("upload 9 MiB and 0 B")
        f.upload(big, empty)
        f.wait_upload("big.bin")
        f.wait_upload("empty.txt")
        f.wait_listed("big.bin", "empty.txt")
        # The list re-renders when each upload's reply lands: read it once it holds still.
        def listed_sizes(_):
            try:
                return {e.get_attribute("data-name"): e.find_element(By.CSS_SELECTOR, ".col-size").text for e in f.css("#file-table tbody tr")}
            except StaleElementReferenceException:
                return None
        sizes = f.wait(listed_sizes, 20, "the listing holds still")
        assert sizes["big.bin"] == "9.0 MB" and sizes["empty.txt"] == "0 B", sizes
        f.shot("02-uploaded.png")

        f.step("instant upload")
        before = metric(base, "pan_instant_uploads_total")
        f.upload(again)
        assert f.wait_upload("again.bin", ("instant", "done")) == "instant", "the second upload was not instant"
        f.wait_listed("again.bin")
        after = metric(base, "pan_instant_uploads_total")
        assert after == before + 1, f"pan_instant_uploads_total {before} -> {after}"
        f.shot("03-instant.png")

        f.step("download")
        f.select_only("big.bin")
        f.click("#action-download")
        target = os.path.join(downloads, "big.bin")
        f.wait(lambda d: os.path.exists(target) and not any(n.endswith(".crdownload") for n in os.listdir(downloads))
               and os.path.getsize(target) == 9 * MiB, 60, "download of big.bin")
        with open(target, "rb") as a, open(big, "rb") as b:
            assert a.read() == b.read(), "downloaded bytes differ"

        f.step("rename")
        f.select_only("big.bin")
        f.click("#action-rename")
        field = f.one("dialog[open] input")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys("renamed.bin" + Keys.ENTER)
        f.wait_listed("renamed.bin")
        f.wait_gone("big.bin")

        f.step("move to a new folder, chosen in the folder picker")
        f.click('#crumbs .crumb')  # the root
        f.wait_listed("Docs")
        f.click("#action-new-folder")
        f.one("dialog[open] input").send_keys("Archive" + Keys.ENTER)
        f.wait_listed("Archive", "Docs")
        f.click(f.row("Docs") + " button.name")
        f.wait_listed("renamed.bin")
        f.select_only("renamed.bin")
        f.click("#action-move")
        f.click("dialog[open] .crumb")  # the picker's root
        f.click('dialog[open] .picker-item[data-path="/Archive"]')
        f.wait(lambda d: "Archive" in f.one("dialog[open] .crumbs").text, 20, "picker inside Archive")
        f.shot("04-move-picker.png")
        f.click("#picker-choose")
        f.wait_gone("renamed.bin")
        driver.get(base + "/#/files/Archive")
        f.wait_listed("renamed.bin")

        f.step("delete to the bin")
        f.select_only("renamed.bin")
        f.click("#action-delete")
        f.click("dialog[open] .button.danger")
        f.wait_gone("renamed.bin")
        f.click("#nav-bin")
        f.wait_listed("renamed.bin")
        f.shot("05-recycle-bin.png")

        f.step("restore")
        f.select_only("renamed.bin")
        f.click("#action-restore")
        f.wait_gone("renamed.bin")
        f.click("#nav-files")
        f.wait_listed("Archive", "Docs")
        f.click(f.row("Archive") + " button.name")
        f.wait_listed("renamed.bin")
        f.shot("06-restored.png")

        f.step("copy into Docs with the folder picker")
        f.select_only("renamed.bin")
        f.click("#action-copy")
        f.click("dialog[open] .crumb")
        f.click('dialog[open] .picker-item[data-path="/Docs"]')
        f.wait(lambda d: "Docs" in f.one("dialog[open] .crumbs").text, 20, "picker inside Docs")
        f.click("#picker-choose")
        f.wait(lambda d: not f.css("dialog[open]"), 20, "picker closed")
        driver.get(base + "/#/files/Docs")
        f.wait_listed("renamed.bin", "again.bin", "empty.txt")

        f.step("a name conflict, answered keep both")
        f.upload(empty)
        f.one("dialog[open].conflict")
        f.shot("07-conflict.png")
        f.click('dialog[open] button[data-choice="rename"]')
        f.wait_listed("empty (1).txt")

        f.step("delete forever from the bin")
        f.select_only("empty (1).txt")
        f.click("#action-delete")
        f.click("dialog[open] .button.danger")
        f.wait_gone("empty (1).txt")
        f.click("#nav-bin")
        f.wait_listed("empty (1).txt")
        f.select_only("empty (1).txt")
        f.click("#action-purge")
        f.click("dialog[open] .button.danger")
        f.one("#content #empty")

        f.step("sign out")
        f.click("#sign-out")
        f.one("#login-name")
        driver.refresh()
        f.one("#login-name")
        violations = f.csp_violations()
        assert not violations, f"CSP violations: {violations}"
        print(json.dumps({"ok": True, "steps": f.steps, "instant": after - before}))
    except BaseException as error:
        f.shot("failure.png")
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(error), "steps": f.steps}))
        sys.exit(1)
    finally:
        driver.quit()


PROOF_FALLBACK_SCRIPT = """
const done = arguments[arguments.length - 1];
import('/app/proof.js').then(async (module) => {
  const file = document.getElementById('pan-proof-input').files[0];
  const challenge = { nonce: 'n0nce.x', ranges: [{ offset: 0, length: Math.min(3, file.size) }, { offset: 0, length: file.size }] };
  done({ subtle: await module.answerChallenge(file, challenge),
         js: await module.answerChallenge(file, challenge, { fallback: true }) });
}).catch((error) => done({ error: String(error) }));
"""


def proof(base, user, password, path):
    """Signs in as a user who does not hold the content at PATH (another user
    uploaded it), uploads PATH through the UI: the app answers the server's
    possession challenge and the upload is instant, counted as kind="proof".
    Also checks the plain-JS SHA-256 fallback against crypto.subtle."""
    driver = start_browser()
    f = Flow(driver, base, None)
    try:
        driver.get(base.rstrip("/") + "/")
        f.sign_in(user, password)
        series = 'pan_instant_uploads_total{kind="proof"}'
        before, challenges = metric(base, series), metric(base, "pan_possession_challenges_total")
        name = os.path.basename(path)
        f.step("upload someone else's content")
        f.upload(path)
        state = f.wait_upload(name, ("instant", "done"))
        assert state == "instant", f"the upload of content the user holds was not instant: {state}"
        f.wait_listed(name)
        after = metric(base, series)
        assert after == before + 1, f"{series} {before} -> {after}"
        assert metric(base, "pan_possession_challenges_total") == challenges + 1
        f.step("SHA-256 fallback")
        driver.execute_script("const i = document.createElement('input'); i.type = 'file'; i.id = 'pan-proof-input';"
                              "document.body.append(i);")
        driver.find_element(By.ID, "pan-proof-input").send_keys(path)
        driver.set_script_timeout(60)
        answers = driver.execute_async_script(PROOF_FALLBACK_SCRIPT)
        assert "error" not in answers and answers["subtle"] == answers["js"], f"fallback differs: {answers}"
        print(json.dumps({"ok": True, "steps": f.steps, "proof": after - before, "answers": answers}))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(error), "steps": f.steps}))
        sys.exit(1)
    finally:
        driver.quit()


HASH_SCRIPT = """
const done = arguments[arguments.length - 1];
import('/app/hash.js').then(async (module) => {
  const out = {};
  for (const file of document.getElementById('pan-hash-input').files) {
    out[file.name] = { subtle: await module.hashFile(file), js: await module.hashFile(file, () => {}, { fallback: true }) };
  }
  done({ hashes: out, secure: window.isSecureContext });
}).catch((error) => done({ error: String(error) }));
"""


def hashes(base, paths):
    driver = start_browser()
    try:
        driver.get(base.rstrip("/") + "/")
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#login-name"))
        driver.execute_script("const i = document.createElement('input'); i.type = 'file'; i.multiple = true;"
                              "i.id = 'pan-hash-input'; document.body.append(i);")
        driver.find_element(By.ID, "pan-hash-input").send_keys("\n".join(paths))
        driver.set_script_timeout(300)
        result = driver.execute_async_script(HASH_SCRIPT)
        if "error" in result:
            raise AssertionError(result["error"])
        print(json.dumps({"ok": True, **result}))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(error)}))
        sys.exit(1)
    finally:
        driver.quit()


def throughput(base, user, password, path):
    driver = start_browser()
    f = Flow(driver, base, None)
    try:
        driver.get(base.rstrip("/") + "/")
        f.sign_in(user, password)
        name = os.path.basename(path)
        started = time.monotonic()
        f.upload(path)
        f.wait(lambda d: f.css(f'.upload-item[data-name="{name}"][data-state="sending"]'), 600, "hashing done")
        hashed = time.monotonic()
        f.wait_upload(name, timeout=1800)
        finished = time.monotonic()
        size = os.path.getsize(path)
        print(json.dumps({"ok": True, "bytes": size, "seconds": round(finished - started, 3),
                          "hash_seconds": round(hashed - started, 3), "send_seconds": round(finished - hashed, 3),
                          "MiB_per_s": round(size / MiB / (finished - started), 1),
                          "send_MiB_per_s": round(size / MiB / (finished - hashed), 1)}))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(error)}))
        sys.exit(1)
    finally:
        driver.quit()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "flow":
        flow(*sys.argv[2:7])
    elif mode == "hash":
        hashes(sys.argv[2], sys.argv[3:])
    elif mode == "proof":
        proof(*sys.argv[2:6])
    elif mode == "throughput":
        throughput(*sys.argv[2:6])
    else:
        sys.exit("unknown mode " + mode)
