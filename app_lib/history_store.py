"""The app's handle on the plan history: one shared `PlanHistory` per database URL, saving a run (once),
outcome files (validated before they are kept), and cached loads of what never changes once saved.

The database URL comes from `.streamlit/secrets.toml` (`[history] url = "postgresql+psycopg://..."`, where a
team's credentials belong), else $PLAYLISTPRO_HISTORY_URL, else the SQLite file data/history.sqlite.
A `PlanHistory` holds only a SQLAlchemy engine (a thread-safe connection pool), so sharing it across sessions
through `st.cache_resource` is safe. Saved plans and outcome files are never changed, so loads, measurements
and recalibrations are cached by (URL, plan id, outcome id).

Database failures never reach the browser as a traceback: the reads a page draws from (`plan_history`,
`list_plans`, `load_plan`, `file_names`, `outcome_files`, `measurement`, `recalibration`) show the
`HistoryError`'s one readable line with `st.error` and stop the page there; the writes (`save_run`,
`add_outcomes`) and the deferred download loaders raise `HistoryError`, whose message their callers show.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import NoReturn, ParamSpec, TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy.engine import make_url

from app_lib import auth
from app_lib.formatting import esc
from app_lib.runner import RunRecord
from optimizer.loop.history import HistoryError, PlanHistory, PlanNotFound, SavedPlan, resolve_history_url
from optimizer.loop.outcomes import (
    Measurement,
    SufficiencyRule,
    load_outcomes,
    load_plan_outcomes,
    measure_uplift,
    outcomes_csv_bytes,
    simulate_outcomes,
)
from optimizer.loop.recalibrate import Recalibration, Reoptimization, recalibrate_catalog, reoptimize

RULE = SufficiencyRule()


def history_url() -> str:
    try:
        configured = st.secrets.to_dict().get("history", {}).get("url")
    except Exception:  # no secrets.toml at all
        configured = None
    return resolve_history_url(configured)


def shown_url(url: str) -> str:
    """The URL for messages, any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: say so without echoing it
        return "(an invalid database URL)"


_P = ParamSpec("_P")
_T = TypeVar("_T")


def show_history_error(error: Exception) -> NoReturn:
    """Say on the page, in one line, why the history cannot be used; stop the page there (no traceback)."""
    st.error(f"The plan history cannot be used: {esc(str(error))}", icon=":material/block:")
    st.stop()


def _shown(read: Callable[_P, _T]) -> Callable[_P, _T]:
    """A page read: a `HistoryError` (or an unknown plan id) is shown with `show_history_error`."""

    @functools.wraps(read)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return read(*args, **kwargs)
        except (HistoryError, PlanNotFound) as error:
            show_history_error(error)

    return call


@st.cache_resource(show_spinner=False)
def _history(url: str) -> PlanHistory:
    return PlanHistory(url)


def _store() -> PlanHistory:
    """The shared store (created on first use; raises `HistoryError` if the database cannot be used)."""
    return _history(history_url())


@_shown
def plan_history() -> PlanHistory:
    """The shared store, for a page: a database that cannot be opened is an error message on the page."""
    return _store()


@_shown
def list_plans() -> pd.DataFrame:
    """`PlanHistory.list_plans()` of the shared store (not cached: plans are added all the time)."""
    return _store().list_plans()


@st.cache_data(max_entries=8, show_spinner=False)
def _load_plan(url: str, plan_id: int) -> SavedPlan:
    return _history(url).load_plan(plan_id)


@_shown
def load_plan(plan_id: int) -> SavedPlan:
    return _load_plan(history_url(), int(plan_id))


def week_contacts(plan_date, policy) -> tuple[pd.DataFrame, str | None]:
    """The contact history a week dated `plan_date` is planned against under `policy` (the saved plans dated
    before it within `policy.lookback_days`), and the global control group's salt when the policy has one.
    Raises `HistoryError` when the history cannot be read (the controller then plans without it)."""
    return _store().week_contacts(plan_date, policy)


# --- saving a run ------------------------------------------------------------------------------------


def save_run(record: RunRecord, label: str = "") -> int:
    """Save the run's plan with its settings, catalog, cohort, solver report, assignments, holdout flags and
    the exact bytes of its four files; returns the plan id. A run is saved once: later calls return the
    same id (so every download of a run, or a download and an explicit save, keep one plan)."""
    if record.exports is None or not record.result.has_plan:
        raise ValueError("this run has no plan to save")
    store, user = _store(), auth.user_label()
    # One save per run even when clicks arrive while an earlier save is still writing (seconds at 75,000
    # customers): a second caller waits here and gets the first one's id.
    with record.save_lock:
        if record.saved_plan_id is None:
            record.saved_plan_id = store.save_plan(
                record.result,
                record.exports,
                record.cohort,
                record.catalog,
                label=label,
                created_by=user,
                file_bytes={name: record.file_bytes(name) for name in record.exports.files()},
                contact_policy=None if record.contact_policy is None else record.contact_policy.to_dict(),
            )
    return record.saved_plan_id


def file_loader(plan_id: int, name: str):
    """Deferred download data: the saved file's exact bytes, read when the button is clicked (in a thread of
    its own, hence the store resolved now)."""
    store = _store()

    def load() -> bytes:
        return store.plan_files(plan_id)[name]

    return load


@_shown
def file_names(plan_id: int) -> list[str]:
    return list(_file_names(history_url(), int(plan_id)))


@st.cache_data(max_entries=32, show_spinner=False)
def _file_names(url: str, plan_id: int) -> tuple[str, ...]:
    return tuple(_history(url).plan_files(plan_id))


# --- outcomes ---------------------------------------------------------------------------------------


def add_outcomes(plan: SavedPlan, content: bytes, file_name: str) -> int:
    """Validate an outcomes file against a saved plan and keep it; returns its id.

    Raises `InputError` (every problem, naming file, row and column: missing columns, empty or unknown ids,
    duplicates, values other than 0/1) and keeps nothing then.
    """
    measure_uplift(plan, load_plan_outcomes(plan, content, file_name), rule=RULE)
    return _store().save_outcomes(plan.id, content, file_name, uploaded_by=auth.user_label())


@_shown  # called from a page's form, not a callback that shows its own error
def add_simulated_outcomes(plan: SavedPlan, true_uplift: Mapping[int, float], seed: int) -> int:
    """Draw outcomes with a known true uplift per action (`simulate_outcomes`); kept like an upload."""
    drawn = simulate_outcomes(plan, dict(true_uplift), seed=int(seed))
    return add_outcomes(plan, outcomes_csv_bytes(drawn), f"simulated_plan{plan.id}_seed{int(seed)}.csv")


@_shown
def outcome_files(plan_id: int) -> pd.DataFrame:
    return _store().list_outcomes(plan_id)


def outcome_loader(plan_id: int, outcome_id: int):
    """Deferred download data: an outcome file as it was uploaded."""
    store = _store()

    def load() -> bytes:
        return store.load_outcomes(plan_id, outcome_id)[0]

    return load


@st.cache_data(max_entries=16, show_spinner=False)
def _measurement(url: str, plan_id: int, outcome_id: int) -> Measurement:
    content, name = _history(url).load_outcomes(plan_id, outcome_id)
    return measure_uplift(_load_plan(url, plan_id), load_outcomes(content, name), rule=RULE)


@_shown
def measurement(plan_id: int, outcome_id: int) -> Measurement:
    """Measured uplift per action of a saved plan from one of its (validated) outcome files."""
    return _measurement(history_url(), int(plan_id), int(outcome_id))


@st.cache_data(max_entries=8, show_spinner=False)
def _recalibration(url: str, plan_id: int, outcome_id: int) -> tuple[Recalibration, Reoptimization]:
    plan = _load_plan(url, plan_id)
    recalibration = recalibrate_catalog(plan.catalog, _measurement(url, plan_id, outcome_id))
    return recalibration, reoptimize(plan, recalibration.catalog)


@_shown
def recalibration(plan_id: int, outcome_id: int) -> tuple[Recalibration, Reoptimization]:
    """The recalibrated catalog from these outcomes, and the plan re-optimized with it (one solve, cached)."""
    return _recalibration(history_url(), int(plan_id), int(outcome_id))
