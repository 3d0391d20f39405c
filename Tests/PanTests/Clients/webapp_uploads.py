#!/usr/bin/env python3
"""The web app's uploads in headless Chromium against a real `pan serve`
(issue #26): cancel by a real pointer click, resume after a reload, a server
killed and restarted mid-upload, folder upload, each at desktop 1366×850 or
phone 390×844, in English or Chinese, with screenshots of each state.

Usage:
  webapp_uploads.py PAN DATA_DIR PORT WORKDIR ARTIFACTS [CASE…] [PAN_X=VALUE…]
      PAN: the pan binary; it is started here (`pan serve --data-dir DATA_DIR
      --port PORT`) so the outage case can kill and restart it. Users are made
      with `pan user add` first. CASEs (default: all): cancel, resume, outage,
      folder, panel. PAN_X=VALUE arguments go into pan's environment
      (PAN_DATABASE_URL=… runs the server on PostgreSQL).
Prints one JSON line with "ok" and what each case measured; exits 1 on failure.
The server is left stopped, so the caller can check DATA_DIR.
"""
import hashlib, json, os, signal, subprocess, sys, time, traceback, urllib.error, urllib.request

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webapp_browser import Flow, MiB, start_browser  # noqa: E402

PASSWORD = "secret"
DESKTOP, PHONE = (1366, 850), (390, 844)


class Server:
    """`pan serve` as a child process: started, killed (SIGKILL, a crash) and started again on the same data."""

    def __init__(self, pan, data, port, extra_env=None):
        self.pan, self.data, self.port = pan, data, int(port)
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PAN_")}
        self.env.update({"PAN_LOG_LEVEL": "error", "SWIFT_BACKTRACE": "enable=no", "PAN_LOGIN_RATE_IP": "0",
                         "PAN_DATABASE_WAIT": "120", "PAN_READY_TIMEOUT": "30", **(extra_env or {})})
        # For working on the app without a rebuild: WEBAPP_UPLOADS_WEB_DIR=<repo>/web.
        if os.environ.get("WEBAPP_UPLOADS_WEB_DIR"):
            self.env["PAN_WEB_DIR"] = os.environ["WEBAPP_UPLOADS_WEB_DIR"]
        self.process = None

    def add_user(self, name, quota):
        subprocess.run([self.pan, "user", "add", name, "--password", PASSWORD, "--quota", quota, "--data-dir", self.data],
                       env=self.env, check=True, capture_output=True, timeout=60)

    def start(self):
        self.log = open(os.path.join(self.data, "serve.log"), "ab")
        self.process = subprocess.Popen([self.pan, "serve", "--data-dir", self.data, "--port", str(self.port)],
                                        env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"pan serve exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("pan serve did not come up")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    # The API, as a client other than the browser.
    def call(self, path, body, token=None):
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": "Bearer " + token} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"{}")
            except ValueError:
                return error.code, {}

    def login(self, user):
        status, reply = self.call("/v1/user/login", {"value": user, "password": PASSWORD})
        assert status == 200, reply
        return reply["token"]

    def download(self, token, path):
        status, reply = self.call("/v1/files/get", {"path": path}, token)
        assert status == 200, f"{path}: {status} {reply}"
        with urllib.request.urlopen(reply["result"]["downloadAddress"], timeout=120) as answer:
            return answer.read()

    def tree(self, token, path="/"):
        """{relative path: size or None for a folder} below `path`."""
        out, page = {}, 1
        while True:
            status, reply = self.call("/v1/files/page", {"path": path, "page": page, "pageSize": 500}, token)
            assert status == 200, reply
            for node in reply["result"]["list"]:
                rel = node["path"][len(path.rstrip("/")) + 1:]
                if node["type"] == 1:
                    out[rel] = None
                    out.update({rel + "/" + k: v for k, v in self.tree(token, node["path"]).items()})
                else:
                    out[rel] = node["size"]
            if page >= reply["result"]["totalPage"]:
                return out
            page += 1


class Browser(Flow):
    def __init__(self, server, artifacts, size, language, tag):
        width, height = size
        driver = start_browser(width=width, height=height, language=language)
        # The exact viewport (a window can be no narrower than the browser allows), a phone as a phone.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        driver.execute_cdp_cmd("Network.enable", {})
        super().__init__(driver, server.base, artifacts)
        self.server, self.tag = server, tag

    def shot(self, name):
        super().shot(f"{self.tag}-{name}.png")
        self.shots = getattr(self, "shots", []) + [f"{self.tag}-{name}.png"]

    def throttle(self, upload_bytes_per_s=None, offline=False):
        self.d.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": offline, "latency": 0, "downloadThroughput": -1,
            "uploadThroughput": upload_bytes_per_s if upload_bytes_per_s else -1,
        })

    def open_signed_in(self, user):
        self.d.get(self.base + "/")
        self.sign_in(user, PASSWORD)

    def item(self, name):
        items = self.css(f'.upload-item[data-name="{name}"]')
        return items[-1] if items else None

    def state(self, name):
        item = self.item(name)
        return item.get_attribute("data-state") if item else None

    def percent(self, name):
        item = self.item(name)
        if not item:
            return 0
        progress = item.find_element(By.CSS_SELECTOR, "progress")
        return 100 * float(progress.get_attribute("value") or 0)

    def wait_state(self, name, states, timeout=120, forbidden=("failed",)):
        def check(_):
            state = self.state(name)
            if state in forbidden:
                raise AssertionError(f"{name} went {state}: {self.item(name).text}")
            return state in states and state
        return self.wait(check, timeout, f"{name} in {states}")

    def stored_blocks(self, name):
        """ctxs the app has kept in IndexedDB for `name` (resume-store.js)."""
        self.d.set_script_timeout(20)
        return self.d.execute_async_script("""
            const [name, done] = arguments;
            const open = indexedDB.open('pan-uploads');
            open.onerror = () => done(-1);
            open.onsuccess = () => {
              const db = open.result;
              if (!db.objectStoreNames.contains('uploads')) { done(0); return; }
              const all = db.transaction('uploads').objectStore('uploads').getAll();
              all.onsuccess = () => {
                const record = all.result.find((r) => r.name === name);
                done(record ? record.ctxs.filter((c) => typeof c === 'string').length : 0);
              };
            };""", name)

    def requests(self, fragment):
        """Requests to URLs containing `fragment` this page made (Resource Timing)."""
        return self.d.execute_script(
            "return performance.getEntriesByType('resource').filter((e) => e.name.includes(arguments[0])).length", fragment)

    def real_click(self, element):
        """A pointer moved onto the element, held there a moment, then pressed: what a person does."""
        ActionChains(self.d).move_to_element(element).pause(0.4).click().perform()

    def reload(self):
        self.d.execute_script("location.reload()")
        time.sleep(0.5)
        try:
            self.d.switch_to.alert.accept()  # "Leave site?" while uploads run
        except NoAlertPresentException:
            pass


def random_file(path, size):
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            chunk = os.urandom(min(remaining, MiB))
            f.write(chunk)
            remaining -= len(chunk)
    return path


def sha(data):
    return hashlib.sha256(data).hexdigest()


# MARK: Cases

def case_cancel(server, workdir, artifacts, size, language, tag):
    """60 MB of a 100 MB quota, slowed down; × clicked with a real pointer at ~15 %;
    then 90 MB more can be asked for at once: the reservation was released."""
    user = "canceller"
    big = random_file(os.path.join(workdir, "sixty.bin"), 60 * MiB)
    b = Browser(server, artifacts, size, language, tag)
    out = {}
    try:
        b.open_signed_in(user)
        b.throttle(3 * MiB)
        b.upload(big)
        b.wait_state("sixty.bin", ("sending",), 120)
        b.wait(lambda d: b.percent("sixty.bin") >= 5, 120, "5 % sent")
        b.shot("cancel-1-uploading")
        # The panel updates in place: the same elements, still attached, a second later.
        cancel = b.item("sixty.bin").find_element(By.CSS_SELECTOR, ".upload-cancel")
        toggle = b.one("#uploads-toggle")
        b.d.execute_script("arguments[0].focus()", toggle)
        time.sleep(1.5)
        assert b.d.execute_script("return document.activeElement === arguments[0]", toggle), "focus left the panel's button"
        assert cancel.is_displayed(), "the cancel button was replaced"
        # Collapse and expand with the pointer, mid-upload.
        b.real_click(toggle)
        b.wait(lambda d: not b.css(".upload-list")[0].is_displayed(), 5, "list collapsed")
        b.real_click(toggle)
        b.wait(lambda d: b.css(".upload-list")[0].is_displayed(), 5, "list expanded")
        b.wait(lambda d: b.percent("sixty.bin") >= 12, 120, "12 % sent")
        percent = b.percent("sixty.bin")
        speed_text = b.item("sixty.bin").find_element(By.CSS_SELECTOR, ".upload-status").text
        total_text = b.one("#upload-total").text
        b.real_click(cancel)
        b.wait_state("sixty.bin", ("cancelled",), 5)
        out["cancelled_at_percent"] = round(percent, 1)
        out["status_while_sending"] = speed_text
        out["total_while_sending"] = total_text
        b.shot("cancel-2-cancelled")
        time.sleep(1)
        assert b.state("sixty.bin") == "cancelled", b.state("sixty.bin")
        # The app told the server, once.
        out["cancel_requests"] = b.requests("/v1/store/cancel")
        assert out["cancel_requests"] == 1, f"{out['cancel_requests']} cancel requests"
        # The server: the cancel route ends the session, and its 60 MB are free again.
        token = server.login(user)
        status, probe = server.call("/v1/store/cancel", {"token": "not-a-token"}, token)
        out["cancel_route"] = status != 404 or probe.get("code") == "UPLOAD_NOT_FOUND"
        status, grant = server.call("/v1/store/token", {"name": "probe.bin", "path": "/", "size": 90 * 1000 * 1000}, token)
        out["quota_released"] = status == 200 and "token" in grant.get("result", {})
        if out["quota_released"]:
            server.call("/v1/store/cancel", {"token": grant["result"]["token"]}, token)
        out["listed_after_cancel"] = "sixty.bin" in server.tree(token)
        # Clear finished, by pointer: the row goes.
        b.throttle(None)
        b.real_click(b.one("#uploads-clear"))
        b.wait(lambda d: b.item("sixty.bin") is None, 5, "cleared")
        out["shots"] = b.shots
        return out
    except BaseException:
        dump(b.d, artifacts, tag)
        raise
    finally:
        b.d.quit()


def case_resume(server, workdir, artifacts, size, language, tag):
    """24 MiB, slowed; the page reloaded once ≥ 2 blocks are stored; the same file added
    again: only the missing blocks are sent, and the stored bytes are the file's."""
    user = "resumer"
    path = random_file(os.path.join(workdir, "resume.bin"), 24 * MiB)
    blocks = 6
    b = Browser(server, artifacts, size, language, tag)
    out = {}
    try:
        b.open_signed_in(user)
        b.throttle(2 * MiB)
        b.upload(path)
        b.wait(lambda d: b.stored_blocks("resume.bin") >= 2, 120, "two blocks stored")
        b.shot("resume-1-uploading")
        stored = b.stored_blocks("resume.bin")
        b.reload()
        b.one("#content #file-table, #content #empty")
        b.wait_state("resume.bin", ("interrupted",), 20)
        out["interrupted_text"] = b.item("resume.bin").text
        b.shot("resume-2-add-again")
        stored = b.stored_blocks("resume.bin")
        b.throttle(None)
        # Through the row's own "Choose file…" input.
        b.d.find_element(By.ID, "resume-input").send_keys(path)
        b.wait_state("resume.bin", ("done",), 120)
        b.shot("resume-3-done")
        sent = b.requests("/mkblk/")
        out.update({"blocks": blocks, "stored_before_reload": stored, "sent_after_reload": sent})
        assert sent == blocks - stored, f"after the reload {sent} blocks were sent; {stored} of {blocks} were stored"
        token = server.login(user)
        data = server.download(token, "/resume.bin")
        with open(path, "rb") as f:
            assert sha(data) == sha(f.read()), "the resumed file's bytes differ"
        assert b.stored_blocks("resume.bin") == 0, "the resume record outlived the upload"
        out["shots"] = b.shots
        return out
    except BaseException:
        dump(b.d, artifacts, tag)
        raise
    finally:
        b.d.quit()


def case_outage(server, workdir, artifacts, size, language, tag, down_seconds=32):
    """The server killed mid-upload and back after 30 s+: the upload pauses, never fails, and completes."""
    user = "outage"
    path = random_file(os.path.join(workdir, "outage.bin"), 20 * MiB)
    b = Browser(server, artifacts, size, language, tag)
    out = {}
    try:
        b.open_signed_in(user)
        b.throttle(2 * MiB)
        b.upload(path)
        b.wait(lambda d: b.stored_blocks("outage.bin") >= 1, 120, "a block stored")
        server.kill()
        b.throttle(None)
        b.wait_state("outage.bin", ("paused",), 30)
        b.shot("outage-1-paused")
        out["paused_text"] = b.item("outage.bin").text
        end = time.monotonic() + down_seconds
        while time.monotonic() < end:
            state = b.state("outage.bin")
            assert state in ("paused", "sending"), f"during the outage the upload went {state}"
            time.sleep(0.5)
        server.start()
        b.wait_state("outage.bin", ("done",), 90)
        b.shot("outage-2-done")
        token = server.login(user)
        with open(path, "rb") as f:
            assert sha(server.download(token, "/outage.bin")) == sha(f.read()), "bytes differ after the outage"
        out["down_seconds"] = down_seconds
        out["shots"] = b.shots
        return out
    except BaseException:
        dump(b.d, artifacts, tag)
        raise
    finally:
        b.d.quit()


DROP_SCRIPT = """
// A folder dropped: DataTransferItems whose entries are directories, read in
// batches (3 at a time here, 100 in Chromium), including an empty folder.
const [tree] = arguments;
const fileEntry = (name, text) => ({ isFile: true, isDirectory: false, name,
  file: (ok) => ok(new File([text], name, { type: 'text/plain', lastModified: 1700000000000 })) });
const dirEntry = (name, children) => ({ isFile: false, isDirectory: true, name, createReader() {
  let at = 0;
  return { readEntries(ok) { const batch = children.slice(at, at + 3); at += batch.length; setTimeout(() => ok(batch)); } };
} });
const build = (name, node) => typeof node === 'string' ? fileEntry(name, node)
  : dirEntry(name, Object.entries(node).map(([child, value]) => build(child, value)));
const entries = Object.entries(tree).map(([name, node]) => build(name, node));
const items = entries.map((entry) => ({ kind: 'file', webkitGetAsEntry: () => entry }));
const zone = document.getElementById('content');
for (const type of ['dragenter', 'dragover', 'drop']) {
  const event = new Event(type, { bubbles: true, cancelable: true });
  Object.defineProperty(event, 'dataTransfer', { value: { types: ['Files'], items, files: [], dropEffect: 'none' } });
  zone.dispatchEvent(event);
}
"""


def case_folder(server, workdir, artifacts, size, language, tag):
    """A nested folder through the picker (webkitdirectory), and another dropped (with an empty folder):
    the server holds exactly those trees."""
    user = "folders"
    root = os.path.join(workdir, "Photos 2024")
    files = {"a.txt": 10, "sub/b.bin": 5 * MiB + 3, "sub/deeper/c.txt": 0, "sub/deeper/d.txt": 7, "other/e.txt": 1}
    for rel, length in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        random_file(os.path.join(root, rel), length)
    b = Browser(server, artifacts, size, language, tag)
    out = {}
    try:
        b.open_signed_in(user)
        b.d.find_element(By.ID, "folder-input").send_keys(root)
        b.wait_state("Photos 2024", ("done",), 60)
        for rel in files:
            b.wait(lambda d: any(e.get_attribute("data-path") == "Photos 2024/" + rel and e.get_attribute("data-state") in ("done", "instant")
                                 for e in b.css(".upload-item")), 120, f"{rel} uploaded")
        b.wait_listed("Photos 2024")
        b.shot("folder-1-picked")
        token = server.login(user)
        expected = {"Photos 2024": None, "Photos 2024/sub": None, "Photos 2024/sub/deeper": None, "Photos 2024/other": None}
        expected.update({"Photos 2024/" + rel: length for rel, length in files.items()})
        got = server.tree(token)
        assert got == expected, f"picked tree on the server: {got}"
        with open(os.path.join(root, "sub/b.bin"), "rb") as f:
            assert sha(server.download(token, "/Photos 2024/sub/b.bin")) == sha(f.read())

        dropped = {"Dropped": {"empty": {}, "x.txt": "x", "nested": {"y.txt": "yy", "deep": {"z.txt": "zzz"}},
                               **{f"n{i}.txt": str(i) for i in range(7)}}}
        # (A 1-byte file here may hold the same byte as one picked above: then it is instant.)
        b.d.execute_script(DROP_SCRIPT, dropped)
        b.wait_state("Dropped", ("done",), 60)
        b.wait(lambda d: len([e for e in b.css(".upload-item") if (e.get_attribute("data-path") or "").startswith("Dropped/")
                              and e.get_attribute("data-state") in ("done", "instant")]) == 10, 120, "dropped files uploaded")
        b.shot("folder-2-dropped")
        got = {k: v for k, v in server.tree(token).items() if k.startswith("Dropped")}
        expected = {"Dropped": None, "Dropped/empty": None, "Dropped/x.txt": 1, "Dropped/nested": None, "Dropped/nested/y.txt": 2,
                    "Dropped/nested/deep": None, "Dropped/nested/deep/z.txt": 3, **{f"Dropped/n{i}.txt": 1 for i in range(7)}}
        assert got == expected, f"dropped tree on the server: {got}"
        out["picked"] = len(files)
        out["dropped"] = len(expected)
        out["shots"] = b.shots
        return out
    except BaseException:
        dump(b.d, artifacts, tag)
        raise
    finally:
        b.d.quit()


def case_panel(server, workdir, artifacts, size, language, tag):
    """The panel's states at this size and language: uploading (speed, time left), paused
    (the browser offline), failed with Retry (over quota), a retry that works, "Keep both" shown as stored."""
    user = "panel-" + tag
    server.add_user(user, "80M")
    path = random_file(os.path.join(workdir, f"big-{tag}.bin"), 24 * MiB)
    name = os.path.basename(path)
    b = Browser(server, artifacts, size, language, tag)
    out = {}
    try:
        b.open_signed_in(user)
        b.throttle(3 * MiB)
        b.upload(path)
        b.wait(lambda d: b.percent(name) >= 20, 120, "20 % sent")
        time.sleep(1.2)  # a speed measured
        b.shot("panel-1-uploading")
        out["uploading"] = b.item(name).text
        # Offline: the requests under way stall (no error comes); the app gives them up after 20 s.
        b.throttle(offline=True)
        b.wait_state(name, ("paused",), 45)
        b.shot("panel-2-paused")
        b.throttle(None)
        b.wait_state(name, ("done",), 90)
        # The same name again, "Keep both": the row shows the stored name.
        b.upload(path)
        b.one("dialog[open].conflict")
        b.shot("panel-3-conflict")
        b.click('dialog[open] button[data-choice="rename"]')
        stem = name[:-4]
        b.wait(lambda d: any(e.get_attribute("data-stored") == f"{stem} (1).bin" and e.get_attribute("data-state") in ("done", "instant")
                             for e in b.css(".upload-item")), 60, "stored name shown")
        # Over quota: 40 MiB more does not fit in 80 MiB with 48 MiB used → failed, counted as failed.
        over = random_file(os.path.join(workdir, f"over-{tag}.bin"), 40 * MiB)
        b.upload(over)
        b.wait_state(os.path.basename(over), ("failed",), 60, forbidden=())
        total = b.one("#upload-total")
        assert total.get_attribute("data-failed") == "1", total.text
        item = b.item(os.path.basename(over))
        retry = item.find_element(By.CSS_SELECTOR, ".upload-retry")
        assert retry.is_displayed(), "no Retry on a failed upload"
        b.shot("panel-4-failed")
        out["failed_total"] = total.text
        b.real_click(retry)
        b.wait_state(os.path.basename(over), ("failed",), 60, forbidden=())
        out["shots"] = b.shots
        return out
    except BaseException:
        dump(b.d, artifacts, tag)
        raise
    finally:
        b.d.quit()


CASES = {
    # case: (function, viewport, language, screenshot tag)
    "cancel": (case_cancel, DESKTOP, "en-US", "desktop-en"),
    "resume": (case_resume, PHONE, "zh-CN", "phone-zh"),
    "outage": (case_outage, DESKTOP, "zh-CN", "desktop-zh"),
    "folder": (case_folder, PHONE, "en-US", "phone-en"),
}
PANELS = [(DESKTOP, "en-US", "desktop-en"), (DESKTOP, "zh-CN", "desktop-zh"), (PHONE, "en-US", "phone-en"), (PHONE, "zh-CN", "phone-zh")]


def dump(driver, artifacts, case):
    """What the page showed when a case failed: a screenshot and the panel's rows."""
    try:
        os.makedirs(artifacts, exist_ok=True)
        driver.save_screenshot(os.path.join(artifacts, f"failure-{case}.png"))
        rows = driver.execute_script(
            "return [...document.querySelectorAll('.upload-item')].map((e) => e.dataset.path + ' [' + e.dataset.state + '] ' + e.innerText.replace(/\\n/g, ' | '))")
        print("panel rows:\n  " + "\n  ".join(rows), file=sys.stderr)
    except Exception as error:  # the page itself may be gone
        print("no dump:", error, file=sys.stderr)


def main(pan, data, port, workdir, artifacts, *rest):
    wanted = [arg for arg in rest if "=" not in arg] or ["cancel", "resume", "outage", "folder", "panel"]
    extra_env = dict(arg.split("=", 1) for arg in rest if "=" in arg)
    server = Server(pan, data, port, extra_env)
    for user, quota in (("canceller", "100M"), ("resumer", "1G"), ("outage", "1G"), ("folders", "1G")):
        server.add_user(user, quota)
    results, current = {}, None
    server.start()
    try:
        for name in wanted:
            current = name
            print("case:", name, file=sys.stderr, flush=True)
            if name == "panel":
                for size, language, tag in PANELS:
                    results[f"panel-{tag}"] = case_panel(server, workdir, artifacts, size, language, tag)
            else:
                function, size, language, tag = CASES[name]
                results[name] = function(server, workdir, artifacts, size, language, tag)
        print(json.dumps({"ok": True, **results}, ensure_ascii=False))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "case": current, "error": str(error), **results}, ensure_ascii=False))
        sys.exit(1)
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
