"""Access control: nobody sees customer data without the password (or OIDC login) set in secrets.

- `.streamlit/secrets.toml` with `password = "..."`: a password form guards every page.
- `[auth]` with an OIDC provider (Streamlit's `st.login`): visitors must log in first.
- No secrets file, or a valid one that sets neither: the app runs open (local use) and says so in the sidebar.

Everything fails closed: a secrets file that exists but cannot be parsed, that puts `password` where the gate
does not read it (inside a table such as `[history]`), that sets a key the app does not know, or a login that
cannot work (e.g. its package is missing) locks every page with a message naming the file and the problem
(never a secret's value).

Wrong passwords are throttled (see `Throttle`): per browser session, and across all sessions together.
"""

from __future__ import annotations

import collections
import hmac
import importlib.util
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app_lib.formatting import esc

AUTH_OK = "auth_ok"
PASSWORD_INPUT = "auth_password"
FAILURES = "auth_failures"
LOCKED_UNTIL = "auth_locked_until"
MESSAGE = "auth_message"

TOP_LEVEL_KEYS = ("password", "app", "auth", "history")
APP_KEYS = ("password",)
AUTH_KEYS = (
    "redirect_uri",
    "cookie_secret",
    "expose_tokens",
    "client_id",
    "client_secret",
    "server_metadata_url",
    "client_kwargs",
)
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url", "client_kwargs", "expose_tokens")
PROVIDER_REQUIRED = ("client_id", "client_secret", "server_metadata_url")
DEFAULT_PROVIDER = "default"
LOGIN_PACKAGES = ("authlib", "httpx")  # what st.login needs besides Streamlit (pinned in requirements.txt)


@dataclass(frozen=True)
class Access:
    """What the secrets say: mode 'open', 'password', 'oidc' or 'locked' (with the reason)."""

    mode: str
    password: str | None = None
    providers: tuple[str, ...] = ()
    problem: str = ""


# ---------------------------------------------------------------------------------------------------------
# Reading and checking the secrets


def _shown_path(path: str) -> str:
    """A secrets file's path as the lock message shows it: relative to the app folder, or under ~."""
    resolved = Path(path).expanduser().resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (Path.home().resolve(), "~/")):
        try:
            return prefix + resolved.relative_to(base).as_posix()
        except ValueError:
            continue
    return resolved.name


def _secrets_files() -> list[str]:
    from streamlit import config

    return list(config.get_option("secrets.files") or [])


def _unreadable_problem() -> str | None:
    """Why an existing secrets file cannot be read (None when no secrets file exists at all)."""
    import tomllib

    for path in _secrets_files():
        file = Path(path).expanduser()
        if not file.exists():
            continue
        shown = _shown_path(path)
        if file.is_dir():
            return f"{shown} (a secrets folder) cannot be read"
        try:
            tomllib.loads(file.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            return f"{shown} is not UTF-8 text"
        except OSError as error:
            return f"{shown} cannot be opened ({error.strerror or type(error).__name__})"
        except tomllib.TOMLDecodeError as error:
            # Only the position: tomllib's message can quote a character of the file, i.e. of a secret.
            where = re.search(r"line (\d+), column (\d+)", str(error))
            at = f" at line {where.group(1)}, column {where.group(2)}" if where else ""
            return f'{shown} is not valid TOML{at}: text values must be quoted, e.g. password = "..."'
    return None


def _keys(table: Mapping, allowed: tuple[str, ...], where: str, source: str) -> str | None:
    unknown = sorted(str(key) for key in table if key not in allowed)
    if unknown:
        return (
            f"{source} sets unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} {where} "
            f"(known: {', '.join(allowed)})"
        )
    return None


def _misplaced_password(secrets: Mapping, source: str, path: tuple[str, ...] = ()) -> str | None:
    for key, value in secrets.items():
        here = (*path, str(key))
        if isinstance(value, Mapping):
            found = _misplaced_password(value, source, here)
            if found:
                return found
        elif str(key).lower() == "password" and here not in (("password",), ("app", "password")):
            table = ".".join(here[:-1])
            return (
                f"{source} sets password inside the [{table}] table, where the app does not read it: "
                'put password = "..." at the top of the file, above the first [table] line'
            )
    return None


def _auth_problem(auth: object, source: str) -> tuple[str | None, tuple[str, ...]]:
    """(problem, provider names) for an [auth] section."""
    if not isinstance(auth, Mapping):
        return f"{source}: auth must be an [auth] table", ()
    flat = {key: value for key, value in auth.items() if not isinstance(value, Mapping)}
    tables = {key: value for key, value in auth.items() if isinstance(value, Mapping)}
    unknown = sorted(str(key) for key in flat if key not in AUTH_KEYS)
    if unknown:
        return (
            f"{source} sets unknown [auth] key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(known: {', '.join(AUTH_KEYS)}, or a provider table such as [auth.company])"
        ), ()
    providers: list[str] = []
    if any(key in flat for key in PROVIDER_REQUIRED):
        missing = [key for key in PROVIDER_REQUIRED if not flat.get(key)]
        if missing:
            return f"{source}: [auth] is missing {', '.join(missing)}", ()
        providers.append(DEFAULT_PROVIDER)
    for name, table in tables.items():
        if name == "client_kwargs":
            continue
        if "_" in name:
            return f"{source}: provider name [auth.{name}] must not contain an underscore", ()
        problem = _keys(table, PROVIDER_KEYS, f"in [auth.{name}]", source)
        if problem:
            return problem, ()
        missing = [key for key in PROVIDER_REQUIRED if not table.get(key)]
        if missing:
            return f"{source}: [auth.{name}] is missing {', '.join(missing)}", ()
        providers.append(str(name))
    if not providers:
        return f"{source}: [auth] names no login provider (client_id, client_secret, server_metadata_url)", ()
    missing = [key for key in ("redirect_uri", "cookie_secret") if not flat.get(key)]
    if missing:
        return f"{source}: [auth] is missing {', '.join(missing)}", ()
    if not str(flat["redirect_uri"]).endswith("/oauth2callback"):
        return f"{source}: [auth] redirect_uri must end with /oauth2callback", ()
    return None, tuple(providers)


def check_secrets(secrets: Mapping, source: str = ".streamlit/secrets.toml") -> Access:
    """The access mode a parsed secrets file asks for; 'locked' with the reason when it is not valid."""

    def locked(problem: str) -> Access:
        return Access("locked", problem=problem)

    problem = _keys(secrets, TOP_LEVEL_KEYS, "at the top level", source) or _misplaced_password(
        secrets, source
    )
    if problem:
        return locked(problem)
    app = secrets.get("app", {})
    if not isinstance(app, Mapping):
        return locked(f"{source}: app must be an [app] table")
    problem = _keys(app, APP_KEYS, "in [app]", source)
    if problem:
        return locked(problem)
    if "password" in secrets and "password" in app:
        return locked(f"{source} sets password twice (at the top and in [app]): keep one")
    history = secrets.get("history", {})
    if not isinstance(history, Mapping):
        return locked(f"{source}: history must be a [history] table")
    password = secrets.get("password", app.get("password"))
    providers: tuple[str, ...] = ()
    if "auth" in secrets:
        problem, providers = _auth_problem(secrets["auth"], source)
        if problem:
            return locked(problem)
    if "password" in secrets or "password" in app:
        if not isinstance(password, str):
            return locked(f'{source}: password must be quoted text, e.g. password = "..."')
        if not password:
            return locked(f"{source}: password is empty (remove the line for open access)")
        return Access("password", password=password, providers=providers)
    if providers:
        return Access("oidc", providers=providers)
    return Access("open")


def current_access() -> Access:
    """The access the secrets ask for now (checked on every page run: an edit applies on the next run)."""
    try:
        secrets = st.secrets.to_dict()
    except Exception:  # Streamlit raises the same error for a missing and for an unparseable file
        problem = _unreadable_problem()
        return Access("locked", problem=problem) if problem else Access("open")
    files = [path for path in _secrets_files() if Path(path).expanduser().is_file()]
    source = _shown_path(files[-1]) if files else "the secrets"
    return check_secrets(secrets, source)


# Kept for callers and tests that ask about one setting.
def _secrets() -> dict:
    try:
        return st.secrets.to_dict()
    except Exception:  # no (readable) secrets.toml
        return {}


def configured_password(secrets: dict | None = None) -> str | None:
    secrets = _secrets() if secrets is None else secrets
    value = secrets.get("password")
    if value is None and isinstance(secrets.get("app"), dict):
        value = secrets["app"].get("password")
    return str(value) if value not in (None, "") else None


def oidc_configured(secrets: dict | None = None) -> bool:
    secrets = _secrets() if secrets is None else secrets
    auth = secrets.get("auth")
    return isinstance(auth, dict) and bool(
        auth.get("client_id") or any(isinstance(v, dict) for v in auth.values())
    )


def password_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def access_mode() -> str:
    """'password', 'oidc', 'open' or 'locked'."""
    return current_access().mode


# ---------------------------------------------------------------------------------------------------------
# Throttling wrong passwords


@dataclass
class Throttle:
    """Counts wrong passwords and says how long sign-in stays refused.

    Per browser session (the counts live in that session's state): after `free` wrong passwords in a row,
    every further one locks the session's sign-in for `base_seconds`, doubling each time up to
    `max_seconds`; the right password resets the count.

    Across all sessions (an attacker can open new sessions at will): once `global_limit` wrong passwords
    arrive within `global_window` seconds, every session's sign-in is refused until the oldest of them is
    older than the window. This caps guessing at `global_limit` per window for the whole server, at the
    price that a guessing attack also keeps the real users out while it lasts (the message says so).

    The global counter is the one deliberately mutable object shared between browser sessions: a bounded
    deque of failure times in this module, only touched under `_lock`. It is per server process (counts
    start again at a restart, and several processes behind a load balancer each count their own).
    """

    free: int = 3
    base_seconds: float = 5.0
    max_seconds: float = 300.0
    global_limit: int = 30
    global_window: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _failures: collections.deque = field(default_factory=collections.deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _expire(self, now: float) -> None:
        while self._failures and self._failures[0] <= now - self.global_window:
            self._failures.popleft()

    def global_wait(self) -> float:
        """Seconds until anyone may try a password again (0: now)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if len(self._failures) < self.global_limit:
                return 0.0
            return max(0.0, self._failures[-self.global_limit] + self.global_window - now)

    def session_wait(self, session: Mapping) -> float:
        return max(0.0, float(session.get(LOCKED_UNTIL, 0.0)) - self.clock())

    def record_failure(self, session: dict) -> None:
        now = self.clock()
        with self._lock:
            self._expire(now)
            self._failures.append(now)
            while len(self._failures) > self.global_limit:
                self._failures.popleft()
        failures = int(session.get(FAILURES, 0)) + 1
        session[FAILURES] = failures
        if failures >= self.free:
            delay = min(self.max_seconds, self.base_seconds * 2 ** (failures - self.free))
            session[LOCKED_UNTIL] = now + delay

    def record_success(self, session: dict) -> None:
        session[FAILURES] = 0
        session[LOCKED_UNTIL] = 0.0

    def reset(self) -> None:
        """Forget every failure (tests)."""
        with self._lock:
            self._failures.clear()


THROTTLE = Throttle()


def _wait_text(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    return f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"


def _check_password() -> None:
    ss = st.session_state
    given = ss.get(PASSWORD_INPUT, "")
    ss[PASSWORD_INPUT] = ""  # never keep the password in session state
    session_wait, global_wait = THROTTLE.session_wait(ss), THROTTLE.global_wait()
    if session_wait or global_wait:  # refused without comparing: a lockout does not test guesses
        who = "from this browser" if session_wait >= global_wait else "from all visitors"
        ss[MESSAGE] = (
            f"Too many wrong passwords {who}: try again in {_wait_text(max(session_wait, global_wait))}."
        )
        return
    expected = current_access().password
    if expected is not None and password_matches(given, expected):
        ss[AUTH_OK] = True
        ss[MESSAGE] = ""
        THROTTLE.record_success(ss)
    else:
        THROTTLE.record_failure(ss)
        wait = THROTTLE.session_wait(ss)
        ss[MESSAGE] = "Wrong password." + (
            f" Too many wrong passwords from this browser: try again in {_wait_text(wait)}." if wait else ""
        )


# ---------------------------------------------------------------------------------------------------------
# The gate


def _heading() -> None:
    st.title(":material/music_note: PlaylistPro Retention Optimizer")


def require_access() -> str:
    """Stop the page unless the visitor may see customer data. Returns the access mode."""
    access = current_access()
    if access.mode == "open":
        return access.mode
    if access.mode == "locked":
        _heading()
        st.error(
            f"The app is locked: {esc(access.problem)}. No data is shown. Fix the file and reload this page "
            "(restart the app if the message stays).",
            icon=":material/lock:",
        )
        st.stop()
    if access.mode == "password":
        if st.session_state.get(AUTH_OK):
            return access.mode
        _heading()
        st.info("This dashboard shows customer data. Enter the team password to continue.")
        with st.form("auth_form"):
            st.text_input("Password", type="password", key=PASSWORD_INPUT)
            st.form_submit_button("Sign in", on_click=_check_password, type="primary")
        if st.session_state.get(MESSAGE):
            st.error(st.session_state[MESSAGE])
        st.stop()
    missing = [name for name in LOGIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        _heading()
        st.error(
            f"The app is locked: [auth] sets a login, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed (pip install -r requirements.txt). "
            "No data is shown.",
            icon=":material/lock:",
        )
        st.stop()
    try:
        logged_in = bool(st.user.is_logged_in)
    except Exception as error:  # a broken login setup must not open the app
        st.error(f"Sign-in is configured but not available here ({type(error).__name__}). No data is shown.")
        st.stop()
    if not logged_in:
        _heading()
        st.info("This dashboard shows customer data. Log in to continue.")
        for provider in access.providers:
            label = "Log in" if len(access.providers) == 1 else f"Log in with {provider}"
            args = () if provider == DEFAULT_PROVIDER else (provider,)
            st.button(label, on_click=st.login, args=args, type="primary", key=f"auth_login_{provider}")
        st.stop()
    return access.mode


def user_label() -> str:
    """Who is signed in, recorded with saved plans and outcome files ('' with open access or a shared
    password: nobody in particular)."""
    if access_mode() != "oidc":
        return ""
    try:
        user = st.user
        return str(user.get("email") or user.get("name") or "")
    except Exception:  # no login available: record nobody
        return ""


def sign_out() -> None:
    st.session_state[AUTH_OK] = False


def render_access_note(mode: str) -> None:
    if mode == "open":
        st.sidebar.caption(
            ":material/lock_open: Open access: no password is set (local use). See README to require one."
        )
    elif mode == "password":
        st.sidebar.button("Sign out", icon=":material/lock:", key="auth_sign_out", on_click=sign_out)
    else:
        who = user_label()
        if who:
            st.sidebar.caption(f":material/person: Signed in as {esc(who)}")
        st.sidebar.button("Log out", icon=":material/lock:", key="auth_logout", on_click=st.logout)
