#!/usr/bin/env python3
"""App passwords in the web app (issue #29 §3), in headless Chromium against a
real server, with the helpers of webapp_browser.py.

Usage:
  webapp_app_passwords.py BASE USER PASSWORD ARTIFACTS CASE
      CASE: desktop (1366×850, English) or phone (390×844, Chinese). Signs in,
      opens Account → App passwords; an empty name is refused with a message;
      makes one named after the case: the dialog shows the password once, the
      WebDAV address BASE/dav/ and the user name, each with a Copy button
      (copying fills the clipboard or selects the field). With that password
      (never the account's) a real WebDAV PROPFIND and PUT against BASE/dav/
      succeed, while /v1/user/login refuses it; back in the list it shows
      "last used". Revoked with its confirm dialog (Cancel first: nothing
      happens), the next PROPFIND with it is 401. In Chinese no English is left
      on the card or the dialog; on the phone both fit (no sideways scroll,
      44 px buttons). Screenshots go to ARTIFACTS as CASE-*.png.
Prints one JSON line with "ok"; exits 1 on failure.
"""
import base64, json, sys, time, traceback, urllib.error, urllib.request

from webapp_browser import Flow, start_browser

CASES = {"desktop": ((1366, 850), "en"), "phone": ((390, 844), "zh")}


def request(method, url, headers=None, body=None):
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def dav(base, method, path, user, password, body=None, headers=None):
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return request(method, base.rstrip("/") + path, dict({"Authorization": "Basic " + auth}, **(headers or {})), body)


def login_status(base, user, password):
    body = json.dumps({"value": user, "password": password}).encode()
    return request("POST", base.rstrip("/") + "/v1/user/login", {"Content-Type": "application/json"}, body)[0]


class Browser(Flow):
    def __init__(self, base, artifacts, case):
        (width, height), language = CASES[case]
        driver = start_browser(width=width, height=height, language=language)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        super().__init__(driver, base, artifacts)
        self.case, self.phone, self.chinese = case, width < 600, language == "zh"

    def shot(self, name):
        for close in self.css(".toast .icon-button"):
            try:
                close.click()
            except Exception:
                pass
        super().shot(f"{self.case}-{name}.png")

    def check_layout(self, root, buttons=()):
        if self.phone:
            problems = self.fits_phone(root, buttons)
            if problems:
                raise AssertionError(f"{root} on the phone: {problems}")
        if self.chinese:
            left = self.english_left(root, names=(self.case, "WebDAV", "rclone", "Finder", "Windows", "davfs2", "Ctrl", "http", "dav", "127.0.0.1"),
                                     skip=".secret-value")
            if left:
                raise AssertionError(f"English left in {root}: {left}")


def run(base, user, account_password, artifacts, case):
    f = Browser(base, artifacts, case)
    result = {"case": case}
    try:
        f.step("sign in, open the account page")
        f.d.get(f.base + "/")
        f.sign_in(user, account_password)
        f.d.get(f.base + "/#/account")
        card = f.one("#app-passwords-card")
        f.wait(lambda d: f.css("#app-passwords-empty"), 20, "no app passwords yet")
        f.d.execute_script("arguments[0].scrollIntoView({block: 'start'})", card)
        f.shot("app-passwords-empty")
        f.check_layout("#app-passwords-card", ["#app-password-create"])

        f.step("an empty name is refused")
        f.click("#app-password-create")
        # The browser's own "required" bubble, or the app's message: either way nothing is made.
        time.sleep(0.5)
        if f.css("dialog[open]"):
            raise AssertionError("a dialog opened for an empty name")

        f.step("make one")
        f.one("#app-password-name").send_keys(f"{case} 设备" if f.chinese else f"{case} laptop")
        f.click("#app-password-create")
        dialog = f.one("dialog[open].app-password-dialog")
        password = f.one("#app-password-value").get_attribute("value")
        address = f.one("#app-password-dav").get_attribute("value")
        shown_user = f.one("#app-password-user").get_attribute("value")
        if address != f.base + "/dav/":
            raise AssertionError(f"the WebDAV address is {address!r}, not {f.base}/dav/")
        if shown_user != user:
            raise AssertionError(f"the user name shown is {shown_user!r}")
        if len(password.replace("-", "")) != 30:
            raise AssertionError(f"the password looks wrong: {password!r}")
        f.click('dialog[open] button[data-copies="app-password-value"]')
        f.shot("app-password-created")
        f.check_layout("dialog[open].app-password-dialog", ['dialog[open] button[data-copies="app-password-value"]', "dialog[open] .dialog-buttons .primary"])
        result["password_shape"] = "-".join(len(part) * "x" for part in password.split("-"))

        f.step("WebDAV with it: PROPFIND and PUT; the API's sign-in refuses it")
        status, body = dav(base, "PROPFIND", "/dav/", user, password, headers={"Depth": "1"})
        if status != 207:
            raise AssertionError(f"PROPFIND with the app password: {status} {body[:300]!r}")
        content = f"written over WebDAV by {case}\n".encode()
        status, body = dav(base, "PUT", f"/dav/{case}.txt", user, password, body=content)
        if status not in (201, 204):
            raise AssertionError(f"PUT with the app password: {status} {body[:300]!r}")
        status, body = dav(base, "GET", f"/dav/{case}.txt", user, password)
        if status != 200 or body != content:
            raise AssertionError(f"GET back: {status} {body[:300]!r}")
        if login_status(base, user, password) != 401:
            raise AssertionError("/v1/user/login took the app password")
        result["dav"] = "ok"

        f.step("close the dialog: the list shows it, used")
        f.click("dialog[open] .dialog-buttons .primary")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "the dialog closed")
        f.wait(lambda d: len(f.css("#app-passwords li.app-password")) == 1, 20, "one app password listed")
        if password in f.one("#app-passwords-card").text:
            raise AssertionError("the list shows the password")
        # last used is written with the first WebDAV request: a reload shows it.
        f.d.refresh()
        f.wait(lambda d: f.css("#app-passwords li.app-password"), 20, "listed after a reload")
        meta = f.one("#app-passwords li.app-password .session-meta").text
        used_word = "最近使用" if f.chinese else "last used"
        if used_word not in meta:
            raise AssertionError(f"the list does not show it as used: {meta!r}")
        f.d.execute_script("arguments[0].scrollIntoView({block: 'start'})", f.one("#app-passwords-card"))
        f.shot("app-passwords-list")
        f.check_layout("#app-passwords-card", ['#app-passwords button[data-action="revoke-app-password"]', "#app-password-create"])
        result["listed"] = meta

        f.step("revoke: cancel first, then confirm; the next WebDAV request is 401")
        f.click('#app-passwords button[data-action="revoke-app-password"]')
        f.one("dialog[open]")
        f.shot("app-password-revoke-confirm")
        f.click("dialog[open] .dialog-buttons .button:not(.danger)")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "the confirm dialog closed")
        if dav(base, "PROPFIND", "/dav/", user, password, headers={"Depth": "0"})[0] != 207:
            raise AssertionError("cancel revoked it")
        f.click('#app-passwords button[data-action="revoke-app-password"]')
        f.click("dialog[open] .dialog-buttons .danger")
        f.wait(lambda d: f.css("#app-passwords-empty"), 20, "the list empty again")
        status, _ = dav(base, "PROPFIND", "/dav/", user, password, headers={"Depth": "0"})
        if status != 401:
            raise AssertionError(f"the revoked app password still works: {status}")
        result["after_revoke"] = status
        violations = f.csp_violations()
        if violations:
            raise AssertionError(f"CSP violations: {violations}")
        result.update({"ok": True, "steps": f.steps})
        print(json.dumps(result))
    except Exception as error:
        traceback.print_exc()
        f.shot("failed")
        print(json.dumps({"ok": False, "error": str(error), "steps": f.steps}))
        sys.exit(1)
    finally:
        f.d.quit()


if __name__ == "__main__":
    run(*sys.argv[1:6])
