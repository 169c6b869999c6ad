"""The app's handle on the plan history: one shared `PlanHistory` per database URL, and cached plan loads.

The database URL comes from `.streamlit/secrets.toml` (`[history] url = "postgresql+psycopg://..."`, where a
team's credentials belong), else $PLAYLISTPRO_HISTORY_URL, else the SQLite file data/history.sqlite.
A `PlanHistory` holds only a SQLAlchemy engine (a thread-safe connection pool), so sharing it across sessions
through `st.cache_resource` is safe; saved plans never change, so loading one is cached by (URL, id).
"""

from __future__ import annotations

import streamlit as st

from optimizer.history import PlanHistory, SavedPlan, resolve_history_url


def history_url() -> str:
    try:
        configured = st.secrets.to_dict().get("history", {}).get("url")
    except Exception:  # no secrets.toml at all
        configured = None
    return resolve_history_url(configured)


@st.cache_resource(show_spinner=False)
def _history(url: str) -> PlanHistory:
    return PlanHistory(url)


def plan_history() -> PlanHistory:
    return _history(history_url())


@st.cache_data(max_entries=8, show_spinner=False)
def _load_plan(url: str, plan_id: int) -> SavedPlan:
    return _history(url).load_plan(plan_id)


def load_plan(plan_id: int) -> SavedPlan:
    return _load_plan(history_url(), int(plan_id))
