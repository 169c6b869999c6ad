"""A real browser (Debian's headless Chromium, driven by Playwright) through `streamlit run app.py`.

Journey: open the Plan page, move a slider, click Run and time it until the KPIs show, open Results and
download the treatment plan and email list (holdout share, no holdout customer in the email list), run the
budget sensitivity and time it, open every page by its URL directly, an infeasible setting and its one-click
fix. Screenshots of every page go to `screenshots/` (git-ignored) with `timings.json`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import app_support
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = app_support.ROOT / "screenshots"
BUNDLED = app_support.ROOT / "data" / "prediction_250.csv"
WIDTH = 1400
TIMEOUT_MS = 60_000  # generous: CI machines may be loaded; speed is recorded, not asserted

# Marks, in the page, when fresh KPIs (a new "Plan #n computed at" caption) and the click happen.
KPI_OBSERVER = """
(previous) => {
  window.__marks = {};
  window.__t0 = performance.now();
  document.addEventListener('click', () => {
    if (!('click' in window.__marks)) window.__marks.click = performance.now() - window.__t0;
  }, {capture: true, once: true});
  new MutationObserver(() => {
    if ('kpi' in window.__marks) return;
    const caption = [...document.querySelectorAll('[data-testid=stCaptionContainer]')]
      .find(e => e.innerText.includes(' computed at '));
    const kpi = [...document.querySelectorAll('[data-testid=stMetric]')]
      .find(e => e.innerText.includes('Customers treated'));
    if (caption && kpi && caption.innerText !== previous) {
      window.__marks.kpi = performance.now() - window.__t0;
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def history_url(tmp_path_factory) -> str:
    """The server's plan history: a temporary SQLite file (never the repository's data/)."""
    return f"sqlite:///{(tmp_path_factory.mktemp('browser_history') / 'history.sqlite').as_posix()}"


@pytest.fixture(scope="module")
def server(history_url):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (CI installs Debian's chromium package)")
    from optimizer.loop.history import HISTORY_URL_ENV

    port = _free_port()
    SHOTS.mkdir(exist_ok=True)
    log = (SHOTS / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
        + ["--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=app_support.ROOT,
        env={**os.environ, HISTORY_URL_ENV: history_url},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (see {SHOTS / 'streamlit.log'})")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def new_page(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(150)
    page.wait_for_function(
        "!document.querySelector('[data-testid=stStatusWidget]')"
        " || !document.querySelector('[data-testid=stStatusWidget]').innerText.includes('Running')",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(150)


def shoot(page, name: str) -> Path:
    """Screenshot the whole page: the main area scrolls inside the app, so grow the viewport to fit it."""
    height = page.evaluate(
        "() => Math.max(...['stMain', 'stSidebarContent'].map(id => "
        "(document.querySelector(`[data-testid=${id}]`) || {scrollHeight: 0}).scrollHeight))"
    )
    page.set_viewport_size({"width": WIDTH, "height": int(min(max(height, 900), 7000))})
    page.wait_for_timeout(600)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": WIDTH, "height": 1000})
    return path


def open_app(page, url: str) -> None:
    """Open the Plan page with data. The bundled data loads by itself; until it is in this checkout, upload
    the reference files on the Data page (same session), then follow the sidebar link."""
    if BUNDLED.is_file():
        page.goto(url)
        return
    reference = app_support.require_reference()
    page.goto(f"{url}/Data")
    page.wait_for_selector("text=Upload this week's files")
    inputs = page.locator("input[type=file]")
    inputs.nth(0).set_input_files(str(reference / "prediction_250.csv"))
    inputs.nth(1).set_input_files(str(reference / "test_250.csv"))
    page.wait_for_selector("button:has-text('Validate and use these files'):not([disabled])")
    page.get_by_role("button", name="Validate and use these files").click()
    page.wait_for_selector("text=In use: 250 customers")
    page.get_by_role("link", name="Plan").first.click()


def slider(page, label: str):
    return page.locator(f'input[type=range][aria-label="{label}"]')


def click_run_and_time(page) -> float:
    """Click Run; seconds from the click to fresh KPIs on screen, measured in the page."""
    caption = page.locator("[data-testid=stCaptionContainer]", has_text=" computed at ")
    previous = caption.first.inner_text() if caption.count() else ""
    page.evaluate(KPI_OBSERVER, previous)
    page.get_by_role("button", name="Run optimization").click()
    page.wait_for_function("'kpi' in window.__marks", timeout=TIMEOUT_MS)
    marks = page.evaluate("window.__marks")
    return (marks["kpi"] - marks.get("click", 0.0)) / 1000.0


def read_download(page, button_text: str, attempts: int = 3) -> list[dict]:
    """Click a download button and read the CSV it serves.

    A click that lands while Streamlit redraws the button (a loaded machine) can be lost; clicking again is
    safe because saving a run to the history is idempotent, so the click is retried a few times.
    """
    for attempt in range(attempts):
        wait_idle(page)
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        try:
            with page.expect_download(timeout=TIMEOUT_MS // attempts) as info:
                page.locator("[data-testid=stDownloadButton] button", has_text=button_text).click()
            break
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise
    download = info.value
    target = SHOTS / download.suggested_filename
    download.save_as(str(target))
    return list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))


def test_main_journey_in_chromium(server, browser):
    timings: dict[str, object] = {}
    page = new_page(browser)
    open_app(page, server)
    page.wait_for_selector("text=Current week overview")
    page.wait_for_selector("[data-testid=stPlotlyChart]")
    wait_idle(page)
    shoot(page, "01_plan")

    # Move a slider with the keyboard: 5 steps of $5 on the budget
    budget = slider(page, "Weekly budget ($)")
    before = float(budget.get_attribute("value"))
    budget.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    budget.blur()
    wait_idle(page)
    after = float(slider(page, "Weekly budget ($)").get_attribute("value"))
    assert after > before

    # Run: KPIs appear in place on the Plan page
    runs = [click_run_and_time(page)]
    wait_idle(page)
    for _ in range(2):  # warm runs
        runs.append(click_run_and_time(page))
        wait_idle(page)
    timings["run_to_kpis_seconds"] = [round(t, 3) for t in runs]
    kpi = page.locator("[data-testid=stMetric]", has_text="Customers treated")
    treated = int(kpi.locator("[data-testid=stMetricValue]").inner_text().replace(",", ""))
    assert treated > 0
    assert page.locator("text=Net value:").count() >= 1
    shoot(page, "02_plan_after_run")
    # Speed is measured and recorded (timings.json, README), not asserted tightly: CI machines are shared.
    assert max(runs[1:]) < 5.0, f"run to KPIs took {runs}"

    # Results page: full detail, marginal values, exports
    page.get_by_role(
        "link", name="Open the full results: plan breakdown, constraint analysis, exports"
    ).click()
    page.wait_for_selector("text=Key performance indicators")
    page.wait_for_selector("text=Biggest bottleneck")
    wait_idle(page)
    shoot(page, "03_results_by_action")
    for index, tab in enumerate(["By segment", "By channel", "Top customers"], start=4):
        page.get_by_role("tab", name=tab).click()
        wait_idle(page)
        page.wait_for_selector("[data-testid=stTabPanel]:visible")
        shoot(page, f"0{index}_results_{tab.lower().replace(' ', '_')}")

    plan = read_download(page, "Treatment plan")
    assert len(plan) == treated
    held = {row["customer_id"] for row in plan if row["holdout"] == "TRUE"}
    assert all(
        row["execute_treatment"] == ("FALSE" if row["customer_id"] in held else "TRUE") for row in plan
    )
    assert 0.05 <= len(held) / len(plan) <= 0.15, f"holdout share {len(held)}/{len(plan)}"
    emails = read_download(page, "Email list")
    assert emails, "the plan has email actions"
    assert held.isdisjoint(row["customer_id"] for row in emails), "no holdout customer in the email list"
    timings["treatment_plan_rows"] = len(plan)
    timings["holdout_rows"] = len(held)

    # Sensitivity: default range (about 12 budgets), timed from click to the charts and insights
    page.get_by_role("link", name="Sensitivity").first.click()
    page.wait_for_selector("text=Run sensitivity analysis")
    wait_idle(page)
    started = time.perf_counter()
    page.get_by_role("button", name="Run sensitivity analysis").click()
    page.wait_for_selector("text=Key insights")
    page.wait_for_selector("[data-testid=stPlotlyChart] .main-svg")
    timings["sensitivity_click_to_charts_seconds"] = round(time.perf_counter() - started, 3)
    wait_idle(page)
    caption = page.locator("[data-testid=stCaptionContainer]", has_text="scenarios solved in").inner_text()
    levels = int(caption.split()[0])
    assert levels >= 12
    timings["sensitivity_levels"] = levels
    timings["sensitivity_solve_caption"] = caption
    shoot(page, "07_sensitivity")
    assert timings["sensitivity_click_to_charts_seconds"] < 15.0

    # Catalog and Data pages
    page.get_by_role("link", name="Action catalog").first.click()
    page.wait_for_selector("text=Active catalog")
    wait_idle(page)
    shoot(page, "08_action_catalog")
    page.get_by_role("link", name="Data").first.click()
    page.wait_for_selector("text=The data in use")
    wait_idle(page)
    shoot(page, "09_data")
    page.get_by_role("link", name="Churn model").first.click()
    page.wait_for_selector("text=Test-set quality")
    page.wait_for_selector("[data-testid=stPlotlyChart]")
    wait_idle(page)
    shoot(page, "11_churn_model")

    # An infeasible budget: explained before the run, diagnosed after it, fixed in one click
    page.get_by_role("link", name="Plan").first.click()
    page.wait_for_selector("text=Current week overview")
    wait_idle(page)
    budget = slider(page, "Weekly budget ($)")
    budget.focus()
    page.keyboard.press("Home")
    budget.blur()
    wait_idle(page)
    page.wait_for_selector("text=These policies need at least")
    page.get_by_role("button", name="Run optimization").click()
    page.wait_for_selector("text=These settings cannot all be met")
    wait_idle(page)
    shoot(page, "10_infeasible")
    page.locator("button", has_text="Apply the nearest feasible settings").first.click()
    page.wait_for_selector("text=proven optimal")
    wait_idle(page)
    assert float(slider(page, "Weekly budget ($)").get_attribute("value")) > 0

    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings, indent=2))


def saved_plan_number(page) -> int:
    alert = page.locator("[data-testid=stAlert]", has_text="Saved as plan #")
    alert.wait_for()
    return int(re.search(r"Saved as plan #(\d+)", alert.inner_text()).group(1))


def test_history_journey_in_chromium(server, browser, history_url, tmp_path):
    """Run and export two plans (saved with the first download, and without downloading), open History,
    compare them, upload a bad outcomes file and a good one (drawn by `simulate_outcomes` from the saved
    plan), see the uplift table, recalibrate and use the new catalog."""
    from optimizer.loop.history import PlanHistory
    from optimizer.loop.outcomes import outcomes_csv_bytes, simulate_outcomes

    page = new_page(browser)
    open_app(page, server)
    page.wait_for_selector("text=Current week overview")
    wait_idle(page)
    click_run_and_time(page)
    wait_idle(page)
    page.get_by_role("link", name="Open the results").click()
    page.wait_for_selector("text=The first download saves this plan")
    wait_idle(page)
    plan_rows = read_download(page, "Treatment plan")
    first = saved_plan_number(page)
    wait_idle(page)
    read_download(page, "Email list")  # a second download of the same run saves nothing new
    wait_idle(page)
    assert saved_plan_number(page) == first
    shoot(page, "12_results_saved")

    budget = slider(page, "Weekly budget ($)")
    budget.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    budget.blur()
    wait_idle(page)
    click_run_and_time(page)
    wait_idle(page)
    page.get_by_role("button", name="Save without downloading").click()
    second = saved_plan_number(page)
    assert second == first + 1
    wait_idle(page)

    page.locator("[data-testid=stSidebar]").get_by_role("link", name="History").click()
    page.wait_for_selector("text=Saved plans")
    page.locator("[data-testid=stMetric]", has_text="Net value").wait_for()
    wait_idle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text(f"is saved as plan #{second}").count() == 1
    page.get_by_text("Customers in this plan").click()
    page.locator("[data-testid=stExpander] [data-testid=stDataFrame]").wait_for()
    wait_idle(page)
    shoot(page, "13_history_plan")

    page.get_by_role("tab", name="Compare").click()
    page.wait_for_selector("text=with the same action")
    page.wait_for_selector("[data-testid=stPlotlyChart] .main-svg")
    wait_idle(page)
    shoot(page, "14_history_compare")

    with PlanHistory(history_url) as history:
        saved = history.load_plan(second)
        assert history.load_plan(first).assignments["customer_id"].astype(str).tolist() == [
            row["customer_id"] for row in plan_rows
        ]
    page.get_by_role("tab", name="Outcomes & measured uplift").click()
    page.wait_for_selector("text=No outcomes for this plan yet")
    wait_idle(page)
    bad = tmp_path / "outcomes_bad.csv"
    bad.write_text("customer_id,churned\n<b>x</b>,1\n" + f"{saved.assignments['customer_id'].iloc[0]},yes\n")
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(bad))
    page.wait_for_selector("text=outcomes_bad.csv was not used: 2 problem(s)")
    wait_idle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    shoot(page, "15_history_outcomes_problems")

    good = tmp_path / "outcomes_week.csv"
    good.write_bytes(outcomes_csv_bytes(simulate_outcomes(saved, {1: 0.3}, seed=5)))
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(good))
    page.wait_for_selector(f"text=outcomes_week.csv is kept with plan #{second}")
    page.wait_for_selector("text=Measured uplift per action")
    page.locator("[data-testid=stDataFrame]").last.wait_for()
    page.wait_for_selector("[data-testid=stPlotlyChart] .main-svg")
    wait_idle(page)
    assert page.get_by_text("was not used").count() == 0
    assert page.get_by_text("Too small to conclude anything", exact=False).count() >= 1
    shoot(page, "16_history_uplift")

    page.get_by_role("tab", name="Recalibrate").click()
    page.get_by_role("button", name="Recalibrate the catalog and re-optimize").click()
    page.wait_for_selector("text=Re-optimized with the new catalog")
    wait_idle(page)
    shoot(page, "17_history_recalibrate")
    page.get_by_role("button", name="Use this catalog for the next run").click()
    page.wait_for_selector("text=The planner now uses the recalibrated catalog")
    wait_idle(page)
    page.context.close()


@pytest.mark.parametrize(
    "path", ["Results", "Sensitivity", "Action_Catalog", "Data", "Churn_Model", "History"]
)
def test_page_opened_by_its_url_has_the_sidebar(server, browser, path):
    page = new_page(browser)  # a new session, as when someone opens a bookmarked page
    page.goto(f"{server}/{path}")
    page.wait_for_selector("[data-testid=stMain] h1")
    wait_idle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_role("link", name="Sensitivity").wait_for()  # the shared sidebar is drawn
    assert sidebar.get_by_role("link").count() >= 5
    if BUNDLED.is_file():  # with data, the settings and the Run button are there too
        slider(page, "Weekly budget ($)").wait_for()
        page.get_by_role("button", name="Run optimization").wait_for()
    else:
        assert sidebar.get_by_text("No customer data loaded").count() == 1
    page.context.close()


def test_large_cohort_journey_in_chromium(server, browser, history_url, tmp_path):
    """75,000 customers: upload them on the Data page, run with the settings scaled to them, see the
    decomposition's certificate, page through the customers, download two files in quick succession (one
    saved plan) and check the file against the KPIs. Timings go to timings_75k.json."""
    from optimizer.churn.export import features_csv, predictions_csv
    from optimizer.churn.generate import generate_customers
    from optimizer.churn.score import score_customers
    from optimizer.loop.history import PlanHistory

    scored = score_customers(generate_customers(75_000, 45), source="simulated customers")
    predictions, features = tmp_path / "predictions_75000.csv", tmp_path / "features_75000.csv"
    predictions.write_text(predictions_csv(scored))
    features.write_text(features_csv(scored))
    with PlanHistory(history_url) as history:
        saved_before = len(history.list_plans())
    timings: dict[str, object] = {}

    page = new_page(browser)
    open_app(page, server)
    page.wait_for_selector("text=Current week overview")
    wait_idle(page)
    page.locator("[data-testid=stSidebar]").get_by_role("link", name="Data").click()
    page.wait_for_selector("text=Upload this week's files")
    wait_idle(page)
    started = time.perf_counter()
    inputs = page.locator("input[type=file]")
    inputs.nth(0).set_input_files(str(predictions))
    inputs.nth(1).set_input_files(str(features))
    page.wait_for_selector("button:has-text('Validate and use these files'):not([disabled])")
    wait_idle(page)
    page.get_by_role("button", name="Validate and use these files").click()
    page.wait_for_selector("text=In use: 75,000 customers")
    wait_idle(page)
    timings["upload_to_loaded_seconds"] = round(time.perf_counter() - started, 2)
    assert page.get_by_text("Settings scaled to 75,000 customers: budget $45,000 per week").count() >= 1
    assert page.get_by_text("rows 1–500 of 75,000 (page 1 of 150)").count() == 1
    shoot(page, "20_data_75k")

    page.locator("[data-testid=stSidebar]").get_by_role("link", name="Plan").click()
    page.wait_for_selector("text=Current week overview")
    wait_idle(page)
    timings["run_to_kpis_seconds"] = round(click_run_and_time(page), 2)
    wait_idle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text("Optimization complete:").count() == 1
    solver = page.locator("[data-testid=stCaptionContainer]", has_text="Solver: Decomposition").inner_text()
    assert "75,000 customers" in solver and re.search(r"certified gap (0\.00|0\.00\d+)%", solver)
    kpi = page.locator("[data-testid=stMetric]", has_text="Customers treated")
    treated = int(kpi.locator("[data-testid=stMetricValue]").inner_text().replace(",", ""))
    shoot(page, "21_plan_75k")

    page.get_by_role(
        "link", name="Open the full results: plan breakdown, constraint analysis, exports"
    ).click()
    page.wait_for_selector("text=Biggest bottleneck")
    wait_idle(page)
    page.get_by_role("tab", name="Top customers").click()
    wait_idle(page)
    assert page.get_by_text(f"rows 1–500 of {treated:,}").count() == 1
    shoot(page, "22_results_75k")
    started = time.perf_counter()
    plan = read_download(page, "Treatment plan")
    timings["treatment_plan_download_seconds"] = round(time.perf_counter() - started, 2)
    # the next click while the first download's save may still be writing: still one saved plan. A click
    # that lands while Streamlit redraws the button after that save is lost ("Deferred file ... not found"
    # in the server log, seen on a loaded machine): then click once more when the page has settled (the
    # button is disabled while the script reruns), with the full timeout each time.
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(2):
        if attempt:
            wait_idle(page)
        wait = TIMEOUT_MS * (1 + 2 * attempt)  # the second click may wait for a long rerun to finish
        try:
            with page.expect_download(timeout=wait) as info:
                button = page.locator("[data-testid=stDownloadButton] button", has_text="Email list")
                button.click(timeout=wait)
            break
        except PlaywrightTimeoutError:
            if attempt == 1:
                raise
    assert info.value.suggested_filename.startswith("email_list_")
    saved_plan_number(page)
    wait_idle(page)
    assert len(plan) == treated
    with PlanHistory(history_url) as history:
        assert len(history.list_plans()) == saved_before + 1
    (SHOTS / "timings_75k.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings, indent=2))
    page.context.close()
