"""The dashboard in a real browser: ``python -m qbench dashboard`` served on 127.0.0.1, Debian's
chromium driven headless through Selenium and chromedriver.

The page loads, the leaderboard shows the fixture records' numbers, picking a solver in the
sidebar filter changes them, and a screenshot is saved as ``results/dashboard-test.png``.
Skips, with the reason, where chromium or its driver is not installed (``.ci/run`` installs them).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qbench.records import write_record
from tests import dashboard_records
from tests.helpers import repo_root

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
SCREENSHOT = repo_root() / "results" / "dashboard-test.png"
#: Leaderboard column headers the test reads (the grid renders only the columns in view).
HEADERS = ("problem", "method", "runs", "failed", "feasible", "gap median", "success", "qubits")

if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(f"browser test needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER} "
                "not found): apt-get install -y chromium chromium-driver", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[dev]')")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("dashboard-browser")
    records = [r for _, r in dashboard_records.build(root)]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "qbench", "dashboard", str(root), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"the dashboard did not come up on {url}:\n{server.stdout.read()}")
        time.sleep(0.5)
    yield url, records, root
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1600,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _leaderboard(driver) -> dict[tuple[str, str], dict[str, str]]:
    """The leaderboard as the page shows it, from the grid's accessible cells: ``{(problem,
    method): {column header: cell text}}``; empty while the grid is (re)drawn."""
    try:
        grid = driver.find_element(By.CSS_SELECTOR, ".st-key-leaderboard")
        headers = {h.get_attribute("aria-colindex"): h.get_attribute("textContent").strip()
                   for h in grid.find_elements(By.CSS_SELECTOR, "[role='columnheader']")}
        if not set(HEADERS) <= set(headers.values()):
            return {}
        board = {}
        for row in grid.find_elements(By.CSS_SELECTOR, "[role='row']"):
            cells = {headers.get(c.get_attribute("aria-colindex")): c.get_attribute("textContent")
                     for c in row.find_elements(By.CSS_SELECTOR, "[role='gridcell']")}
            if cells:
                board[(cells["problem"], cells["method"])] = cells
        return board
    except (NoSuchElementException, StaleElementReferenceException):
        return {}


def _wait(driver, condition, what: str, timeout: float = 60):
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(
        lambda d: condition(d), message=f"timed out waiting for {what}")


def test_leaderboard_in_chromium_shows_the_records_and_follows_a_filter(served, browser):
    url, records, _ = served
    browser.get(url)
    _wait(browser, lambda d: [t for t in d.find_elements(By.CSS_SELECTOR, "[role='tab']")
                              if t.text.strip() == "Leaderboard"], "the tabs")
    assert "qbench results" in browser.find_element(By.TAG_NAME, "h1").text
    tab = next(t for t in browser.find_elements(By.CSS_SELECTOR, "[role='tab']") if t.text.strip() == "Leaderboard")
    tab.click()
    board = _wait(browser, _leaderboard, "the leaderboard grid")

    mdkp_scip = [r for r in records if r.problem == "mdkp" and r.solver == "scip"]
    row = board[("mdkp", "scip")]
    assert int(row["runs"]) == len(mdkp_scip) == 2
    assert int(row["failed"]) == sum(r.status != "ok" for r in mdkp_scip) == 1
    assert float(row["feasible"]) == sum(bool(r.feasible) for r in mdkp_scip) / len(mdkp_scip)
    lagrangian = next(r for r in records if r.solver == "lagrangian")
    assert float(board[("mdkp", "lagrangian")]["gap median"]) == pytest.approx(lagrangian.gap, rel=1e-12)
    assert int(board[("mdkp", "lagrangian")]["qubits"]) == lagrangian.qubits
    qaoa = next(r for r in records if r.solver == "qaoa")
    assert float(board[("mdkp", "qaoa")]["success"]) == pytest.approx(
        qaoa.solver_info["optimal_probability"], rel=1e-12)
    assert len(board) == len({(r.problem, r.solver, r.formulation) for r in records})

    # A filter click: pick "sa" in the sidebar's solver multiselect.
    browser.find_element(By.CSS_SELECTOR, ".st-key-filter_solver input").click()
    option = _wait(browser, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, "[role='option']")
                                       if o.text.strip() == "sa"], "the solver options")[0]
    option.click()
    filtered = _wait(browser, lambda d: (b := _leaderboard(d)) and ("mdkp", "scip") not in b and b,
                     "the filtered leaderboard")
    sa = [r for r in records if r.solver == "sa"]
    assert {method for _, method in filtered} == {"sa / penalty", "sa / unbalanced"}
    assert sum(int(r["runs"]) for r in filtered.values()) == len(sa)
    penalty = [r for r in sa if r.problem == "mdkp" and r.formulation == "penalty"]
    assert int(filtered[("mdkp", "sa / penalty")]["runs"]) == len(penalty) == 2
    unbalanced = [r for r in sa if r.problem == "mdkp" and r.formulation == "unbalanced"]
    assert float(filtered[("mdkp", "sa / unbalanced")]["feasible"]) == (
        sum(bool(r.feasible) for r in unbalanced) / len(unbalanced))
    # The annealer's own answer is infeasible there; the greedy repair makes it feasible.
    assert not any(r.raw_feasible for r in unbalanced) and all(r.feasible for r in unbalanced)

    browser.find_element(By.TAG_NAME, "h1").click()  # close the dropdown before the picture
    time.sleep(1)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_open_page_picks_up_a_record_that_lands(served, browser):
    url, records, root = served
    browser.get(url)
    caption = f": {len(records)} records"
    _wait(browser, lambda d: caption in d.find_element(By.TAG_NAME, "body").text, "the record count")
    late = dataclasses.replace(records[0], key="late000000000000", seed=9)
    write_record(late, root / "study" / "runs" / late.key)
    # No reload: the page's auto-refresh notices the new file and reruns.
    _wait(browser, lambda d: f": {len(records) + 1} records" in d.find_element(By.TAG_NAME, "body").text,
          "the new record to show", timeout=60)  # the page checks every 10 s
