"""The access gate (app_lib/auth.py) fails closed, and throttles wrong passwords.

The secrets cases run the real loading path: each TOML text is written to a temporary secrets.toml that
Streamlit's own `st.secrets` reads (config option `secrets.files`), and the app runs in AppTest.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from app_support import PAGES, ROOT, all_text, app_session

from app_lib import auth

SECRET = "hunter2-Zq9"
AUTH_OK = """
[auth]
redirect_uri = "http://127.0.0.1:8501/oauth2callback"
cookie_secret = "0123456789abcdef0123456789abcdef"
client_id = "playlistpro"
client_secret = "s3cr3t-client"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""

# (case, secrets.toml text or None for no file, expected mode, words the lock message must contain)
CASES = [
    ("no file", None, "open", []),
    ("empty file", "", "open", []),
    ("history only", '[history]\nurl = "sqlite:///x.sqlite"\n', "open", []),
    ("password", f'password = "{SECRET}"\n', "password", []),
    ("password in [app]", f'[app]\npassword = "{SECRET}"\n', "password", []),
    ("oidc", AUTH_OK, "oidc", []),
    ("unquoted password", f"password = {SECRET}\n", "locked", ["secrets.toml", "not valid TOML", "line 1"]),
    (
        "broken later line",
        f'password = "{SECRET}"\n[history\nurl = "x"\n',
        "locked",
        ["not valid TOML", "line 2"],
    ),
    (
        "password inside [history]",
        f'[history]\nurl = "sqlite:///x.sqlite"\npassword = "{SECRET}"\n',
        "locked",
        ["secrets.toml", "[history]", "password"],
    ),
    ("password inside [auth]", f'[auth]\npassword = "{SECRET}"\n', "locked", ["[auth]", "password"]),
    ("unknown top-level key", f'passwd = "{SECRET}"\n', "locked", ["unknown key", "passwd"]),
    ("unknown [app] key", f'[app]\npasword = "{SECRET}"\n', "locked", ["unknown key", "pasword", "[app]"]),
    (
        "unknown [auth] key",
        AUTH_OK + 'client_secrett = "x"\n',
        "locked",
        ["unknown [auth] key", "client_secrett"],
    ),
    (
        "unknown provider key",
        AUTH_OK.replace("client_id = ", "[auth.corp]\nclientid = ", 1),
        "locked",
        ["unknown key", "clientid", "[auth.corp]"],
    ),
    (
        "[auth] without provider",
        '[auth]\nredirect_uri = "http://h/oauth2callback"\n',
        "locked",
        ["no login provider"],
    ),
    (
        "[auth] missing cookie_secret",
        AUTH_OK.replace("cookie_secret", "# cookie"),
        "locked",
        ["cookie_secret"],
    ),
    ("password not text", "password = 1234\n", "locked", ["quoted"]),
    ("empty password", 'password = ""\n', "locked", ["password is empty"]),
]


@pytest.fixture
def secrets_file(tmp_path):
    """Point Streamlit's secrets loader at a temporary file; yields a function that writes its text."""
    from streamlit import config
    from streamlit.runtime.secrets import secrets_singleton
    from streamlit.testing.v1.util import patch_config_options

    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    before = config.get_option("secrets.files")

    def write(text: str | None) -> Path:
        if text is not None:
            path.write_text(text, encoding="utf-8")
        return path

    secrets_singleton._reset()
    with patch_config_options({"secrets.files": [str(path)]}):
        yield write
    secrets_singleton._reset()
    assert config.get_option("secrets.files") == before


def _page_text(at) -> str:
    return all_text(at) + "\n".join(str(e.value) for e in at.sidebar.caption)


@pytest.mark.parametrize(("case", "text", "mode", "words"), CASES, ids=[c[0] for c in CASES])
def test_secrets_file_gives_the_access_mode(secrets_file, case, text, mode, words):
    secrets_file(text)
    assert auth.current_access().mode == mode
    at = app_session("plan").run()
    assert not at.exception
    shown = _page_text(at)
    if mode == "open":
        assert "Total customers" in [m.label for m in at.metric]
        assert "Open access" in shown
        return
    assert not at.metric and not at.dataframe, "no customer data"
    assert "Open access" not in shown
    assert SECRET not in shown and "s3cr3t-client" not in shown, "the lock message never shows a secret"
    if mode == "locked":
        assert "The app is locked" in shown and "No data is shown" in shown
        assert not at.text_input, "no password form while the secrets are broken"
        for word in words:
            assert word in shown, (word, shown)
    elif mode == "password":
        assert at.text_input(key=auth.PASSWORD_INPUT)
    else:
        assert [b.label for b in at.button] == ["Log in"]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_page_is_locked_by_a_broken_secrets_file(secrets_file, page):
    secrets_file(f"password = {SECRET}\n")
    at = app_session(page).run()
    assert not at.exception
    assert "The app is locked" in all_text(at)
    assert not at.metric and not at.dataframe and not at.sidebar.slider


def test_fixing_the_file_applies_on_the_next_page_run(secrets_file):
    path = secrets_file(f"password = {SECRET}\n")
    at = app_session("plan").run()
    assert "The app is locked" in all_text(at)
    path.write_text(f'password = "{SECRET}"\n', encoding="utf-8")
    at.run()
    assert "The app is locked" not in all_text(at) and at.text_input(key=auth.PASSWORD_INPUT)


def test_streamlit_itself_raises_for_a_broken_file(secrets_file):
    """Why the gate must not read "no secrets" from an exception: Streamlit raises the same error class
    for a missing and an unparseable file (the old gate caught both and opened the app)."""
    import streamlit as st
    from streamlit.errors import StreamlitSecretNotFoundError

    secrets_file(f"password = {SECRET}\n")
    with pytest.raises(StreamlitSecretNotFoundError):
        st.secrets.to_dict()


OIDC_SECRETS = tomllib.loads(AUTH_OK)


@pytest.mark.parametrize(
    ("user", "data"),
    [
        ({"is_logged_in": False}, False),
        ({"is_logged_in": True, "email": "ana@example.test", "name": "Ana"}, True),
    ],
)
def test_oidc_shows_data_only_when_logged_in(user, data):
    at = app_session("plan", secrets=OIDC_SECRETS)
    at.user = user
    at.run()
    assert not at.exception
    assert _signed_in(at) is data
    captions = [str(c.value) for c in at.sidebar.caption]
    if data:
        assert any("Signed in as ana@example.test" in c.replace("\\", "") for c in captions)
        assert [b.label for b in at.sidebar.button if b.key == "auth_logout"] == ["Log out"]
    else:
        assert [b.label for b in at.button] == ["Log in"] and not at.sidebar.slider


def test_oidc_without_its_packages_is_locked(monkeypatch):
    monkeypatch.setattr(auth, "LOGIN_PACKAGES", ("authlib", "no_such_package_for_login"))
    at = app_session("plan", secrets=OIDC_SECRETS)
    at.user = {"is_logged_in": True, "email": "ana@example.test"}
    at.run()
    assert not at.exception and not at.metric
    assert "The app is locked" in all_text(at) and "no_such_package_for_login" in all_text(at)


# ---------------------------------------------------------------------------------------------------------
# Throttling


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    throttle = auth.Throttle(free=3, base_seconds=5.0, max_seconds=300.0, global_limit=8, global_window=600.0)
    throttle.clock = fake
    monkeypatch.setattr(auth, "THROTTLE", throttle)
    return fake


def _try(at, password: str):
    at.text_input(key=auth.PASSWORD_INPUT).input(password)
    at.button[0].click().run()
    assert not at.exception
    return at


def _signed_in(at) -> bool:
    return "Total customers" in [m.label for m in at.metric]


# (wrong attempts, each once the previous lockout is over; seconds waited after the last; is the right
# password then accepted; message expected)
SESSION_CASES = [
    (2, 0.0, True, ""),  # under the limit: no delay
    (3, 0.0, False, "try again in 5 s"),  # the 3rd failure locks for 5 s
    (3, 4.0, False, "try again in 1 s"),
    (3, 5.0, True, ""),
    (4, 9.0, False, "try again in 1 s"),  # the 4th doubles it to 10 s
    (4, 10.0, True, ""),
    (6, 39.0, False, "try again in 1 s"),  # 5 s · 2^3 = 40 s
    (6, 40.0, True, ""),
]


@pytest.mark.parametrize(("wrong", "waited", "accepted", "message"), SESSION_CASES)
def test_wrong_passwords_lock_the_session(clock, wrong, waited, accepted, message):
    at = app_session("plan", secrets={"password": SECRET}).run()
    for _ in range(wrong):  # each guess after the previous lockout has passed: every one counts
        clock.now += auth.THROTTLE.session_wait(at.session_state)
        _try(at, "guess")
        assert not _signed_in(at)
    assert at.session_state[auth.FAILURES] == wrong
    clock.now += waited
    _try(at, SECRET)
    assert _signed_in(at) is accepted
    if message:
        assert "Too many wrong passwords from this browser" in all_text(at) and message in all_text(at)
        assert at.session_state[auth.PASSWORD_INPUT] == ""


def test_a_lockout_does_not_count_or_test_guesses(clock):
    at = app_session("plan", secrets={"password": SECRET}).run()
    for _ in range(3):
        _try(at, "guess")
    for _ in range(5):  # refused without comparing: no longer lockout, no new failure
        _try(at, SECRET)
        assert not _signed_in(at)
    assert at.session_state[auth.FAILURES] == 3
    clock.now += 5
    assert _signed_in(_try(at, SECRET))
    assert at.session_state[auth.FAILURES] == 0


def test_new_sessions_share_the_global_limit(clock):
    """An attacker opening a fresh session per guess hits the server-wide limit (8 per 600 s here)."""
    for _ in range(4):
        at = app_session("plan", secrets={"password": SECRET}).run()
        _try(at, "guess")
        _try(at, "guess")  # 2 per session: never the per-session lockout
        clock.now += 1
    fresh = app_session("plan", secrets={"password": SECRET}).run()
    _try(fresh, SECRET)
    assert not _signed_in(fresh)
    assert "Too many wrong passwords from all visitors" in all_text(fresh)
    clock.now += 600 - 4 + 1  # the first failures leave the window
    assert _signed_in(_try(fresh, SECRET))


def test_throttle_counts_by_hand():
    fake = Clock()
    throttle = auth.Throttle(
        free=2, base_seconds=10, max_seconds=25, global_limit=3, global_window=100, clock=fake
    )
    session: dict = {}
    throttle.record_failure(session)
    assert throttle.session_wait(session) == 0 and throttle.global_wait() == 0
    throttle.record_failure(session)
    assert throttle.session_wait(session) == 10
    throttle.record_failure(session)
    assert throttle.session_wait(session) == 20
    assert throttle.global_wait() == 100  # 3 failures at t=1000: free again at 1100
    throttle.record_failure(session)
    assert throttle.session_wait(session) == 25  # capped
    fake.now += 60
    assert throttle.global_wait() == 40
    throttle.record_success(session)
    assert throttle.session_wait(session) == 0 and session[auth.FAILURES] == 0


def test_password_compare_is_constant_time_hmac():
    assert auth.password_matches(SECRET, SECRET) and not auth.password_matches(SECRET[:-1], SECRET)
    assert auth.password_matches.__code__.co_names.count("compare_digest") == 1


# ---------------------------------------------------------------------------------------------------------
# Production config: no traceback in the browser


def test_config_hides_error_details():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == "none"


@pytest.mark.parametrize("page", ["plan", "results", "history"])
def test_an_exception_on_a_page_shows_no_traceback(monkeypatch, page):
    from streamlit.testing.v1.util import patch_config_options

    leak = "/srv/playlistpro/secret_path.py SELECT assignments_sha256 FROM plans"

    def broken(*args, **kwargs):
        raise RuntimeError(leak)

    monkeypatch.setattr(auth, "render_access_note", broken)
    value = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    with patch_config_options({"client.showErrorDetails": value["client"]["showErrorDetails"]}):
        at = app_session(page).run()
    assert at.exception, "the page did fail"
    proto = at.exception[0].proto
    shown = " ".join([proto.message, proto.type, *proto.stack_trace, all_text(at)])
    assert "secret_path" not in shown and "SELECT" not in shown and "RuntimeError" not in shown
    assert "auth.py" not in shown and not proto.stack_trace
    assert "redacted" in proto.message
