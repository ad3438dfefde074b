"""The review page in a real headless Chromium (Debian's package, driven by Selenium; never a downloaded browser).

Loads the page from a real ``mlnews review`` server on 127.0.0.1, checks that a ``<script>`` headline
is shown as text (and never runs), filters by language, corrects two labels with the keyboard, then
finds both corrections in the review file. A screenshot is saved under the test's tmp dir
(``review.png``; its path is printed). Skipped with a reason when Chromium, chromedriver or
Selenium is absent (``.ci/run`` installs ``chromium chromium-driver``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.infer_helpers import tiny_tfidf_dir
from tests.serve_helpers import free_port, running_server
from tests.test_review_app import XSS, _rows

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1400,1000")


def _driver():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is absent (apt-get install chromium chromium-driver; .ci/run does)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def test_filter_and_correct_two_labels_with_the_keyboard(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = _driver()
    model = tiny_tfidf_dir(tmp_path / "model")
    rows = _rows(tmp_path / "rows.jsonl")
    review = tmp_path / "reviews.jsonl"
    port = free_port()
    args = ["review", str(model), str(rows), "--port", str(port), "--out", str(review), "--reviewer", "anna"]
    try:
        with running_server(args, port, timeout=180) as url:
            wait = WebDriverWait(driver, 30)
            driver.get(url + "/")
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "1")
            texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#rows li .text")]
            assert XSS in texts  # the <script> headline is shown as text ...
            assert driver.execute_script("return window.__xss === undefined")  # ... and never ran
            assert driver.find_element(By.ID, "reviewer").text == "anna"
            assert len(driver.find_elements(By.CSS_SELECTOR, "#confusion td.cell")) >= 9

            Select(driver.find_element(By.CSS_SELECTOR, "select[data-filter=lang]")).select_by_value("ru")
            wait.until(lambda d: d.find_element(By.ID, "count").text.startswith("3 rows"))
            ru_ids = {json.loads(line)["id"] for line in rows.read_text().splitlines() if json.loads(line)["lang"] == "ru"}
            labels = driver.execute_script("return fetch('api/meta').then(r => r.json()).then(m => m.labels)")
            body = driver.find_element(By.TAG_NAME, "body")
            first = driver.find_element(By.CSS_SELECTOR, "#rows li.current .text").text
            body.send_keys("2")  # the second label for the current row, then on to the next
            wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("saved"))
            body.send_keys("j")  # skip one row
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rows li")[2].get_attribute("class").find("current") >= 0)
            third = driver.find_element(By.CSS_SELECTOR, "#rows li.current .text").text
            body.send_keys("1")
            wait.until(lambda d: len(review.read_text().splitlines()) == 2 if review.exists() else False)
            wait.until(lambda d: d.find_element(By.ID, "status").text.endswith("→ " + labels[0]))
            shot = tmp_path / "review.png"
            driver.save_screenshot(str(shot))
            print(f"screenshot: {shot}")
            dest = __import__("os").environ.get("MLNEWS_REVIEW_SCREENSHOT")
            if dest:
                shutil.copy(shot, dest)
    finally:
        driver.quit()
    records = [json.loads(line) for line in review.read_text().splitlines()]
    by_text = {json.loads(line)["text"]: json.loads(line)["id"] for line in rows.read_text().splitlines()}
    assert [(r["id"], r["new_label"], r["reviewer"], r["origin"]) for r in records] == \
        [(by_text[first], labels[1], "anna", "reviewed"), (by_text[third], labels[0], "anna", "reviewed")]
    assert {r["id"] for r in records} <= ru_ids
    assert shot.stat().st_size > 10_000
