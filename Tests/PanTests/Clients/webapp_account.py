#!/usr/bin/env python3
"""Drives the web app's own-account pages (issue #28) in headless Chromium,
with the helpers of webapp_browser.py.

Usage:
  webapp_account.py signup BASE CODE ARTIFACTS
      the sign-in page shows a sign-up link (PAN_REGISTRATION=invite); an
      invitation link (#/signup/CODE) opens the form with the code filled in;
      signs up as "newbie" and lands in the (empty) file list, still signed
      in after a reload.
  webapp_account.py password BASE USER PASSWORD ARTIFACTS
      (registration closed) no sign-up link; signs in, while another session
      of USER exists (a login over HTTP); in Account, a wrong current password
      is refused with a message; the right one changes it: the other
      session's token is refused from then on, the app keeps working (files,
      a reload), and the old password no longer signs in.
Prints one JSON line with "ok"; exits 1 on failure.
"""
import json, sys, time, traceback, urllib.error, urllib.request

from selenium.webdriver.common.keys import Keys

from webapp_browser import Flow, start_browser


def post(base, path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(base.rstrip("/") + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def fill(f, selector, text):
    element = f.one(selector)
    element.clear()
    element.send_keys(text)


def signup(base, code, artifacts):
    driver = start_browser()
    f = Flow(driver, base, artifacts)
    try:
        f.step("sign-up link on the sign-in page")
        driver.get(f.base + "/")
        f.one("#login-name")
        f.click("#signup-link")
        f.one("#signup-form")
        if f.one("#signup-code").get_attribute("value") != "":
            raise AssertionError("the code field should start empty")
        f.click("#signin-link")
        f.one("#login-name")

        f.step("invitation link fills the code")
        driver.get(f.base + "/?invite#/signup/" + code)
        f.wait(lambda d: f.css("#signup-code") and f.css("#signup-code")[0].get_attribute("value") == code, 30, "code filled in")
        fill(f, "#signup-name", "newbie")
        fill(f, "#signup-password", "newbie-pass-1")
        fill(f, "#signup-again", "newbie-pass-1")
        f.shot("signup.png")
        fill(f, "#signup-password", "short")
        fill(f, "#signup-again", "short")
        f.click("#signup-submit")
        f.wait(lambda d: f.one("#signup-error").text.strip() != "", 10, "a too-short password refused")
        fill(f, "#signup-password", "newbie-pass-1")
        fill(f, "#signup-again", "newbie-pass-1")
        f.click("#signup-submit")

        f.step("signed in as the new account")
        f.one("#content #file-table, #content #empty", 30)
        f.wait(lambda d: f.one("#user-name").text.strip() == "newbie", 10, "the user's name in the top bar")
        driver.refresh()
        f.one("#content #file-table, #content #empty", 30)
        status, reply = post(base, "/v1/user/login", {"value": "newbie", "password": "newbie-pass-1"})
        if status != 200:
            raise AssertionError(f"the new account does not sign in: {status} {reply}")
        violations = f.csp_violations()
        if violations:
            raise AssertionError(f"CSP violations: {violations}")
        print(json.dumps({"ok": True, "steps": f.steps}))
    except Exception as error:
        traceback.print_exc()
        f.shot("signup-failed.png")
        print(json.dumps({"ok": False, "error": str(error), "steps": f.steps}))
        sys.exit(1)
    finally:
        driver.quit()


def password(base, user, old, artifacts):
    new = "changed-" + old + "-2"
    driver = start_browser()
    f = Flow(driver, base, artifacts)
    try:
        status, reply = post(base, "/v1/user/login", {"value": user, "password": old})
        if status != 200:
            raise AssertionError(f"HTTP login failed: {status} {reply}")
        other = reply["token"]

        f.step("no sign-up link while registration is closed")
        driver.get(f.base + "/")
        f.one("#login-name")
        time.sleep(1.5)  # the registration question has long been answered
        if f.css("#signup-link"):
            raise AssertionError("a sign-up link is shown although registration is closed")
        f.sign_in(user, old)

        f.step("account: wrong current password")
        f.click("#nav-account")
        f.one("#password-form")
        fill(f, "#password-current", "not-the-password")
        fill(f, "#password-new", new)
        fill(f, "#password-again", new)
        f.click("#password-submit")
        f.wait(lambda d: f.one("#password-error").text.strip() != "", 30, "the wrong password refused")
        if post(base, "/v1/user/info", {}, other)[0] != 200:
            raise AssertionError("a wrong current password ended the other session")

        f.step("account: change the password")
        fill(f, "#password-current", old)
        fill(f, "#password-new", new)
        fill(f, "#password-again", new)
        f.click("#password-submit")
        # The view is drawn again: one session left, this browser's.
        f.wait(lambda d: len(f.css("#sessions li.session")) == 1 and f.css("#sessions li.session.current"), 30, "only this session left")
        f.shot("password-changed.png")
        status, reply = post(base, "/v1/user/info", {}, other)
        if status != 401:
            raise AssertionError(f"the other session still works: {status} {reply}")

        f.step("account: display name")
        fill(f, "#display-name", "Webby B.")
        f.click("#display-name-save")
        token = driver.execute_script("return localStorage.getItem('pan.session')")
        f.wait(lambda d: (post(base, "/v1/user/info", {}, token)[1].get("result") or {}).get("displayName") == "Webby B.",
               30, "the display name saved")

        f.step("the app keeps working with its new token")
        driver.execute_script("window.scrollTo(0, 0)")
        f.click("#nav-files")
        f.one("#content #file-table, #content #empty", 30)
        driver.refresh()
        f.one("#content #file-table, #content #empty", 30)
        if f.css("#login-name"):
            raise AssertionError("signed out after the password change")
        if post(base, "/v1/user/login", {"value": user, "password": old})[0] != 401:
            raise AssertionError("the old password still signs in")
        if post(base, "/v1/user/login", {"value": user, "password": new})[0] != 200:
            raise AssertionError("the new password does not sign in")
        violations = f.csp_violations()
        if violations:
            raise AssertionError(f"CSP violations: {violations}")
        print(json.dumps({"ok": True, "steps": f.steps}))
    except Exception as error:
        traceback.print_exc()
        f.shot("password-failed.png")
        print(json.dumps({"ok": False, "error": str(error), "steps": f.steps}))
        sys.exit(1)
    finally:
        driver.quit()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "signup":
        signup(*sys.argv[2:5])
    elif mode == "password":
        password(*sys.argv[2:6])
    else:
        sys.exit("unknown mode " + mode)
