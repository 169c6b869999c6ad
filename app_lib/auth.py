"""Access control: nobody sees customer data without the password (or OIDC login) set in secrets.

- `.streamlit/secrets.toml` with `password = "..."`: a password form guards every page.
- `[auth]` with an OIDC provider (Streamlit's `st.login`): visitors must log in first.
- No secrets file, or neither set: the app runs open (local use), and says so in the sidebar.
Checks fail closed: a configured login that cannot work (e.g. its package is missing) shows an error, no data.
"""

from __future__ import annotations

import hmac

import streamlit as st

AUTH_OK = "auth_ok"
PASSWORD_INPUT = "auth_password"


def _secrets() -> dict:
    try:
        return st.secrets.to_dict()
    except Exception:  # no secrets.toml at all: open access
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
    """'password', 'oidc' or 'open'."""
    secrets = _secrets()
    if configured_password(secrets):
        return "password"
    if oidc_configured(secrets):
        return "oidc"
    return "open"


def _check_password() -> None:
    ss = st.session_state
    expected = configured_password()
    given = ss.get(PASSWORD_INPUT, "")
    if expected is not None and password_matches(given, expected):
        ss[AUTH_OK] = True
        ss["auth_failed"] = False
    else:
        ss["auth_failed"] = True
    ss[PASSWORD_INPUT] = ""  # never keep the password in session state


def require_access() -> str:
    """Stop the page unless the visitor may see customer data. Returns the access mode."""
    mode = access_mode()
    if mode == "open":
        return mode
    if mode == "password":
        if st.session_state.get(AUTH_OK):
            return mode
        st.title(":material/music_note: PlaylistPro Retention Optimizer")
        st.info("This dashboard shows customer data. Enter the team password to continue.")
        with st.form("auth_form"):
            st.text_input("Password", type="password", key=PASSWORD_INPUT)
            st.form_submit_button("Sign in", on_click=_check_password, type="primary")
        if st.session_state.get("auth_failed"):
            st.error("Wrong password.")
        st.stop()
    try:
        logged_in = bool(st.user.is_logged_in)
    except Exception as error:  # a broken login setup must not open the app
        st.error(f"Sign-in is configured but not available here ({type(error).__name__}). No data is shown.")
        st.stop()
    if not logged_in:
        st.title(":material/music_note: PlaylistPro Retention Optimizer")
        st.info("This dashboard shows customer data. Log in to continue.")
        try:
            st.button("Log in", on_click=st.login, type="primary")
        except Exception as error:
            st.error(f"Sign-in is configured but not available here ({type(error).__name__}).")
        st.stop()
    return mode


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
        st.sidebar.button("Log out", icon=":material/lock:", key="auth_logout", on_click=st.logout)
