"""A real OpenID Connect login in headless Chromium: panva's oidc-provider (tests/oidc/, run with Node) on
127.0.0.1, `[auth]` for `st.login` in a temporary secrets.toml, and `streamlit run app.py` on 127.0.0.1.

Before logging in, no page shows customer data (each page opened by its URL in a new browser session); the
visitor logs in through the provider's own login and consent forms, sees the data, and logs out (through the
provider's sign-out page) back to the login screen. Screenshots go to `screenshots/login_*.png`.

In CI (CI=true) a missing Node or a missing `npm ci` in tests/oidc fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import secrets
import shutil
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

OIDC_DIR = app_support.ROOT / "tests" / "oidc"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
SHOTS = app_support.ROOT / "screenshots"
TIMEOUT_MS = 60_000
CLIENT_ID = "playlistpro-app"
# Every page by its URL path ("" is the Plan page, app.py), and one that does not exist.
PATHS = ["", "Results", "Sensitivity", "Action_Catalog", "Data", "Churn_Model", "History", "No_such_page"]
CUSTOMER_ID = "200123"  # the first customer of data/prediction_250.csv


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: CI must run the login test (.ci/run installs it)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path, expect: bytes | None = None) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read()
                if expect is None or expect in body:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up (see {log})")
        time.sleep(0.3)


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def login_app(tmp_path_factory):
    """(app URL) with the provider and the app running; both stop at the end."""
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        _missing(f"the OIDC provider is not installed (run `npm ci --prefix {OIDC_DIR}`)")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (CI installs Debian's chromium package)")
    from optimizer.loop.history import HISTORY_URL_ENV

    SHOTS.mkdir(exist_ok=True)
    folder = tmp_path_factory.mktemp("login")
    app_port, oidc_port = _free_port(), _free_port()
    app_url, issuer = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{oidc_port}"
    client_secret = secrets.token_urlsafe(24)
    redirect_uri = f"{app_url}/oauth2callback"
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{redirect_uri}"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{client_secret}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        # oidc-provider knows the prompts "login" and "consent", not Streamlit's default "select_account".
        'client_kwargs = { prompt = "login" }\n',
        encoding="utf-8",
    )
    provider_log, app_log = SHOTS / "login_oidc.log", SHOTS / "login_streamlit.log"
    provider = subprocess.Popen(
        [node, str(OIDC_DIR / "provider.mjs")],
        cwd=OIDC_DIR,
        env={
            **os.environ,
            "OIDC_PORT": str(oidc_port),
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": client_secret,
            "OIDC_REDIRECT_URI": redirect_uri,
            "OIDC_POST_LOGOUT_URI": redirect_uri,  # Streamlit's logout returns through /oauth2callback
        },
        stdout=provider_log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    app = None
    try:
        _wait_for(f"{issuer}/.well-known/openid-configuration", provider, provider_log, b'"issuer"')
        history = (folder / "history.sqlite").as_posix()
        app = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(app_port)]
            + ["--server.address", "127.0.0.1", "--server.headless", "true"]
            + ["--browser.gatherUsageStats", "false", "--secrets.files", str(secrets_file)],
            cwd=app_support.ROOT,
            env={**os.environ, HISTORY_URL_ENV: f"sqlite:///{history}"},
            stdout=app_log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for(f"{app_url}/_stcore/health", app, app_log, b"ok")
        yield app_url
    finally:
        if app is not None:
            _stop(app)
        _stop(provider)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _wait_idle(page) -> None:
    page.wait_for_timeout(200)
    page.wait_for_function(
        "!document.querySelector('[data-testid=stStatusWidget]')"
        " || !document.querySelector('[data-testid=stStatusWidget]').innerText.includes('Running')",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(200)


def _shoot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"login_{name}.png"), full_page=True)


def _assert_no_customer_data(page, where: str) -> None:
    main = page.locator("[data-testid=stMain]")
    main.get_by_text("Log in to continue").wait_for()
    page.get_by_role("button", name="Log in").wait_for()
    _wait_idle(page)
    for kind in ("stMetric", "stDataFrame", "stTable", "stPlotlyChart", "stSlider", "stException"):
        assert page.locator(f"[data-testid={kind}]").count() == 0, (where, kind)
    text = page.locator("body").inner_text()
    assert CUSTOMER_ID not in text and "customers" not in text.lower()
    assert "Open access" not in text
    assert page.get_by_role("button", name="Run optimization").count() == 0


@pytest.mark.parametrize("path", PATHS, ids=[p or "Plan" for p in PATHS])
def test_no_page_shows_data_before_login(login_app, browser, path):
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # a new visitor each time
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{login_app}/{path}")
    _assert_no_customer_data(page, path or "Plan")
    _shoot(page, f"before_{path or 'Plan'}")
    context.close()


def test_log_in_see_the_data_and_log_out(login_app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(login_app)
    _assert_no_customer_data(page, "Plan")
    page.get_by_role("button", name="Log in").click()

    # The provider's own login form, then its consent form.
    page.wait_for_url(lambda url: url.startswith(login_app.rsplit(":", 1)[0]) and "/interaction/" in url)
    page.locator("input[name=login]").fill("analyst")
    page.locator("input[name=password]").fill("any-password")
    _shoot(page, "provider_form")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()

    # Back in the app, logged in: the data is there.
    page.wait_for_url(lambda url: url.rstrip("/") == login_app)
    page.locator("[data-testid=stMetric]", has_text="Total customers").wait_for()
    _wait_idle(page)
    assert "250" in page.locator("[data-testid=stMetric]", has_text="Total customers").inner_text()
    assert page.get_by_role("button", name="Log in").count() == 0
    sidebar = page.locator("[data-testid=stSidebar]")
    signed_in = sidebar.get_by_text("Signed in as analyst@example.test")  # the provider's claims
    signed_in.wait_for()
    _shoot(page, "logged_in")
    signed_in.scroll_into_view_if_needed()
    _shoot(page, "logged_in_sidebar")
    page.goto(f"{login_app}/Data")  # a direct URL in the same browser: still logged in
    page.locator("[data-testid=stMain] h1").wait_for()
    sidebar.get_by_role("button", name="Log out").wait_for()
    _wait_idle(page)
    assert page.get_by_text("Log in to continue").count() == 0
    assert sidebar.get_by_text("Signed in as analyst@example.test").count() == 1

    # Log out: the provider asks to confirm, then the app is back at its login screen.
    sidebar.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(lambda url: url.startswith(login_app))
    _assert_no_customer_data(page, "after logout")
    _shoot(page, "logged_out")
    page.goto(f"{login_app}/Results")
    _assert_no_customer_data(page, "Results after logout")
    context.close()
