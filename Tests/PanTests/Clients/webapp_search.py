#!/usr/bin/env python3
"""Drives the web app's search by name (issue #28) in headless Chromium.

Usage:
  webapp_search.py BASE USER PASSWORD WORKDIR ARTIFACTS LANGUAGE
      signs in, uploads one file and seeds by instant upload; types a query in the
      toolbar's search box: the results list with their folders; opens a folder
      result (the folder is shown), goes back to the results, "Show in folder"
      (the item selected in its folder), searches in Chinese characters, opens a
      file result (the viewer shows it; its Download saves it), and deletes a result with the row actions (it
      leaves the results, and is in the bin). No CSP violation.
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
