#!/usr/bin/env python3
"""Drives the web app's search by name (issue #28) in headless Chromium.

Usage:
  webapp_search.py BASE USER PASSWORD WORKDIR ARTIFACTS LANGUAGE
      signs in, uploads one file and seeds by instant upload; types a query in the
      toolbar's search box: the results list with their folders; opens a folder
      result (the folder is shown), goes back to the results, "Show in folder"
      (the item selected in its folder), searches in Chinese characters, opens a
      file result (the viewer shows it; its Download saves it), and deletes a result with the row actions (it
      leaves the results, and is in the bin). No CSP violation. In Chinese, the
      same session then at phone width (390×844): the search box on screen and
      tappable, the results fitting with no English left, a result opening the
      viewer, "Show in folder" from the selection's actions.
Screenshots go to ARTIFACTS. Prints one JSON line with "ok"; exits 1 on failure.
"""
import json, os, shutil, sys, time, traceback

from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webapp_browser import Flow, start_browser  # noqa: E402
from webapp_list import Api  # noqa: E402


def search(f, query):
    box = f.one("#search-input")
    box.clear()
    box.send_keys(query + Keys.ENTER)
    f.wait(lambda d: "#/search?" in d.current_url, 20, f"the search view for {query}")


def located(f, name):
    """The folder column of a result row."""
    return f.one(f.row(name) + " td.col-location").text


PHONE = (390, 844)


def phone(f, user):
    """The same session at phone width (390×844), in Chinese: the search box on screen and tappable
    in the files view, the results fitting the screen with nothing left in English, a file result
    opening the viewer (inside the screen), "Show in folder" from the selection's actions (the
    folder column is left out on a phone)."""
    driver, label = f.d, "search-phone-zh"
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
    try:
        f.step("phone: the search box in the files view")
        driver.get(f.base + "/#/files/")
        f.wait_listed("Reports", "Other", "small.txt")
        if [e for e in f.css("#uploads-clear") if e.is_displayed()]:
            f.click("#uploads-clear")  # the finished upload's panel would cover the screenshots
        # And the desktop part's "moved to the bin" (its own Close; it would go after 4 s).
        driver.execute_script("document.querySelectorAll('#toasts .toast .icon-button').forEach((b) => b.click())")
        problems = f.fits_phone("#content", ("#search-input", "#tab-files", "#action-upload"))
        assert not problems, f"phone, the files view: {problems}"
        box = f.one("#search-input")
        assert box.get_attribute("placeholder") == "搜索我的文件", box.get_attribute("placeholder")
        f.click("#search-input")
        assert driver.switch_to.active_element == box, "the search box takes the focus when tapped"
        box.send_keys("report" + Keys.ENTER)
        f.wait(lambda d: "#/search?" in d.current_url, 20, "the search view")

        f.step("phone: the results")
        f.wait_listed("Reports", "Old reports", "Annual REPORT.txt")
        assert sorted(f.names()) == ["Annual REPORT.txt", "Old reports", "Reports"], f.names()
        problems = f.fits_phone("#content", ("#search-input", "#tab-files") + tuple(
            f.row(name) + " button.name" for name in ("Reports", "Old reports", "Annual REPORT.txt")), inner=("#file-table", ".toolbar"))
        assert not problems, f"phone, the results: {problems}"
        # Each name readable: its cell at least half the screen.
        widths = driver.execute_script("return [...document.querySelectorAll('#file-table tbody td.col-name')].map((c) => c.getBoundingClientRect().width)")
        assert min(widths) >= PHONE[0] / 2, widths
        heading = f.one("#search-title").text
        assert heading == "“report”的搜索结果", heading
        assert f.one("#selection-count").text == "找到 3 项", f.one("#selection-count").text
        # The count shown whole, beside seven actions in one row.
        assert driver.execute_script("const c = document.querySelector('#selection-count'); return c.scrollWidth <= c.clientWidth"), "the count is cut"
        tops = driver.execute_script("return [...document.querySelectorAll('.selection-bar .button')].map((e) => Math.round(e.getBoundingClientRect().top))")
        assert len(tops) == 7 and len(set(tops)) == 1, f"the actions on more than one row: {tops}"
        english = f.english_left("#app", ["report", "Reports", "Old reports", "Annual REPORT.txt", user])
        assert not english, f"phone, the results: English left in Chinese: {english}"
        f.shot(f"{label}-01-results.png")

        f.step("phone: a file result opens the viewer")
        f.click(f.row("Annual REPORT.txt") + " button.name")
        f.wait(lambda d: d.execute_script("const t = document.querySelector('#viewer-text'); return t && t.textContent.includes('searched for')"),
               30, "the text shown")
        problems = f.fits_phone("dialog[open]#viewer", ("#viewer-close", "#viewer-download"), inner=("#viewer-text",))
        assert not problems, f"phone, the viewer from a result: {problems}"
        english = f.english_left("dialog[open]#viewer", ["Annual REPORT.txt"], skip="#viewer-text")
        assert not english, f"phone, the viewer from a result: English left in Chinese: {english}"
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        f.step("phone: show in folder, from the selection's actions")
        f.click(f.row("Annual REPORT.txt") + " td.col-size")
        problems = f.fits_phone("#content", ("#action-reveal", "#action-download", "#action-delete"), inner=(".selection-bar",))
        assert not problems, f"phone, a result's actions: {problems}"
        assert f.one("#action-reveal").get_attribute("aria-label") == "在文件夹中显示"
        f.click("#action-reveal")
        f.wait(lambda d: d.current_url.endswith("#/files/Reports/2024"), 20, "its folder")
        f.wait(lambda d: [e.get_attribute("data-name") for e in f.css("#file-table tbody tr.selected")] == ["Annual REPORT.txt"],
               20, "the item selected")
        problems = f.fits_phone("#content", ("#search-input",))
        assert not problems, f"phone, the revealed item: {problems}"
        f.shot(f"{label}-02-revealed.png")

        f.step("phone: a long query, nothing found")
        search(f, "很长的查询" * 8 + "x" * 30)
        f.one("#empty")
        problems = f.fits_phone("#content", ("#search-input",), inner=(".toolbar", "#empty"))
        assert not problems, f"phone, a long query: {problems}"
        return "checked"
    except BaseException:
        f.shot(f"{label}-failure.png")
        raise


def run(base, user, password, workdir, artifacts, language):
    result = {"ok": False}
    small = os.path.join(workdir, "small.txt")
    with open(small, "w") as handle:
        handle.write(f"searched for, {user}, {time.time()}\n")
    api = Api(base).login(user, password)
    downloads = os.path.join(workdir, "downloads")
    shutil.rmtree(downloads, ignore_errors=True)
    os.makedirs(downloads)
    driver = start_browser(downloads, width=1366, height=850, language=language)
    f = Flow(driver, base, artifacts)
    label = f"search-{language}"
    try:
        f.step("sign in, upload one file, seed by instant upload")
        driver.get(f.base + "/")
        f.sign_in(user, password)
        f.upload(small)
        f.wait(lambda d: "small.txt" in f.names(), 60, "small.txt listed")
        stored = api.call("/v1/files/get", {"path": "/small.txt"})["result"]["storeId"]
        for path in ("/Reports/2024", "/Reports/Old reports", "/Other"):
            api.call("/v1/files/createDirectory", {"path": path})
        for name, folder in (("Annual REPORT.txt", "/Reports/2024"), ("季度报告.txt", "/Other"), ("notes.txt", "/Other")):
            api.call("/v1/store/token", {"name": name, "hash": stored, "path": folder, "parent": ""})

        f.step("type a query: the results, with their folders")
        search(f, "report")
        f.wait_listed("Reports", "Old reports", "Annual REPORT.txt")
        assert sorted(f.names()) == ["Annual REPORT.txt", "Old reports", "Reports"], f.names()
        assert located(f, "Annual REPORT.txt") == "/Reports/2024", located(f, "Annual REPORT.txt")
        assert located(f, "Reports") == "/", located(f, "Reports")
        assert "report" in f.one("#search-title").text
        # Every icon sits in its name's cell, and the header lines up with the rows.
        assert driver.execute_script("""
            return Array.from(document.querySelectorAll('#file-table tbody td.col-name')).every((cell) => {
              const c = cell.getBoundingClientRect(), i = cell.querySelector('.icon').getBoundingClientRect();
              return i.left >= c.left && i.right <= c.right; })
              && document.querySelector('#file-table thead th.col-name').getBoundingClientRect().left
                 === document.querySelector('#file-table tbody td.col-name').getBoundingClientRect().left"""), "the result table's layout"
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), "wider than the window"
        assert f.css("#action-new-folder") == [] and f.css("#action-upload") == []
        f.shot(f"{label}-01-results.png")

        f.step("open a folder result; back to the results")
        f.click(f.row("Old reports") + " button.name")
        f.wait(lambda d: d.current_url.endswith("#/files/Reports/Old%20reports"), 20, "the folder opened")
        f.one("#crumbs")
        driver.back()
        f.wait_listed("Annual REPORT.txt")
        assert f.one("#search-input").get_attribute("value") == "report"

        f.step("show in folder: the item selected in its folder")
        f.click(f.row("Annual REPORT.txt") + " td.col-location a.reveal")
        f.wait(lambda d: d.current_url.endswith("#/files/Reports/2024"), 20, "its folder")
        f.wait(lambda d: [e.get_attribute("data-name") for e in f.css("#file-table tbody tr.selected")] == ["Annual REPORT.txt"],
               20, "the item selected")
        f.shot(f"{label}-02-revealed.png")

        f.step("Chinese characters; open a file result: the viewer shows it, and downloads it")
        search(f, "报告")
        f.wait_listed("季度报告.txt")
        assert f.names() == ["季度报告.txt"], f.names()
        # A text file opens in the viewer (issue #28's previews); its Download button saves it.
        f.click(f.row("季度报告.txt") + " button.name")
        f.one("dialog[open]#viewer")
        f.click("#viewer-download")
        f.wait(lambda d: "季度报告.txt" in os.listdir(downloads), 60, "the download")
        f.click("#viewer-close")
        f.wait(lambda d: not f.css("dialog[open]"), 10, "viewer closed")

        f.step("a row action on a result: delete it")
        search(f, "notes")
        f.wait_listed("notes.txt")
        f.click(f.row("notes.txt") + " td.col-size")
        f.click("#action-delete")
        f.click("dialog[open] .button.danger")
        f.wait(lambda d: f.css("#empty"), 20, "no result left")
        bin_names = [node["name"] for node in api.call("/v1/files/page", {"recycle": 1})["result"]["list"]]
        assert bin_names == ["notes.txt"], bin_names
        f.shot(f"{label}-03-empty.png")

        if language == "zh":
            result["phone"] = phone(f, user)

        violations = f.csp_violations()
        assert not violations, violations
        result["ok"] = True
    except BaseException:
        f.shot(f"{label}-failure.png")
        raise
    finally:
        driver.quit()
    return result


if __name__ == "__main__":
    try:
        outcome = run(*sys.argv[1:7])
        print(json.dumps(outcome, ensure_ascii=False))
    except BaseException as error:
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(error)}, ensure_ascii=False))
        sys.exit(1)
