"""What the History page does besides drawing: its callbacks (save, load settings, reopen, use a recalibrated
catalog), outcome uploads and simulated draws, and which plan and outcome file are selected.

Every function takes the session state as `ss` (default `st.session_state`), so the page's logic is tested
with a plain dict; the page itself (pages/7_History.py) only draws. The tables and sentences it draws come
from `history_view`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Protocol

from app_lib import history_store, loaders, session, tables
from app_lib.runner import RunRecord
from optimizer import InputError
from optimizer.loop.comparison import PlanComparison, compare_plans
from optimizer.loop.history import SavedPlan

# Page-local session keys (widget keys among them: the plan and comparison selectors, the tabs, the label).
PLAN = "hist_plan"
OTHER = "hist_other"
TABS = "hist_tabs"
LABEL = "hist_label"
SAVE_ERROR = "hist_save_error"
FLASH = "hist_flash"  # (plan id, text) after loading a saved plan's settings or data
OUTCOME_FLASH = "hist_outcome_flash"
PROCESSED = "hist_processed"  # {(plan id, upload file id)}: each upload is handled once
RECALIBRATED = "hist_recalibrated"  # (plan id, outcome id) whose recalibration is shown
CATALOG_USED = "hist_catalog_used"  # (plan id, outcome id) whose catalog the planner now uses


def outcome_key(plan_id: int) -> str:
    """The selected outcome file of a plan (the Outcomes tab's selector; the Recalibrate tab reads it)."""
    return f"hist_outcome_{plan_id}"


def problems_key(plan_id: int) -> str:
    """(file name, problem rows) of the last upload for a plan that was not kept."""
    return f"hist_problems_{plan_id}"


# --- selection -------------------------------------------------------------------------------------------


def selected(options: Sequence, current):
    """`current` while it is still an option, else the first option (None without options)."""
    if current in options:
        return current
    return options[0] if len(options) else None


def comparison_options(plan_id: int, plan_ids: Sequence[int]) -> list[int]:
    """The plans a plan can be compared with: every other saved plan, in the list's order."""
    return [i for i in plan_ids if i != plan_id]


def comparison_default(plan_id: int, plan_ids: Sequence[int], current: int | None) -> int | None:
    """The plan to compare with: the one chosen before while it is still another plan, else the newest
    older plan (`plan_ids` is newest first), else the oldest newer one; None when there is no other plan."""
    others = comparison_options(plan_id, plan_ids)
    if current in others:
        return current
    older = [i for i in others if i < plan_id]
    return older[0] if older else (others[0] if others else None)


def compare_saved(plan_id: int, other_id: int) -> PlanComparison:
    """Two saved plans side by side, the older one first (labels '#2', '#5'), so the changes read as what
    the later plan did differently."""
    older, newer = sorted(
        (history_store.load_plan(plan_id), history_store.load_plan(other_id)), key=lambda p: p.id
    )
    return compare_plans(older, newer, labels=(f"#{older.id}", f"#{newer.id}"))


# --- callbacks (run before the page is drawn) --------------------------------------------------------------


def save_run(
    record: RunRecord, error_key: str = SAVE_ERROR, label: str = "", ss: MutableMapping | None = None
) -> int | None:
    """Keep a run in the plan history (once per run) and return its plan id. A failure (e.g. the database
    is unreachable) is stored as text under `error_key` for the page to show, never raised: a download
    button's callback must not break the download."""
    ss = session.get_state(ss)
    try:
        plan_id = history_store.save_run(record, label=label)
    except Exception as error:
        ss[error_key] = f"{type(error).__name__}: {error}"
        return None
    ss.pop(error_key, None)
    return plan_id


def save_latest(ss: MutableMapping | None = None) -> None:
    """The 'Save the latest plan' form: save the latest run with its label and open it on the Plan tab."""
    ss = session.get_state(ss)
    plan_id = save_run(ss.get(session.LAST_RUN), SAVE_ERROR, label=ss.get(LABEL, ""), ss=ss)
    if plan_id is not None:
        ss[PLAN] = plan_id
        ss[TABS] = "Plan"


def use_settings(plan_id: int, ss: MutableMapping | None = None) -> None:
    """Load a saved plan's settings into the sidebar."""
    ss = session.get_state(ss)
    session.set_settings(history_store.load_plan(plan_id).settings, ss=ss)
    ss[FLASH] = (plan_id, "Its settings are in the sidebar now: click Run optimization.")


def reopen(plan_id: int, ss: MutableMapping | None = None) -> None:
    """Put a saved plan's customer data, catalog and settings in use (the data only when it differs, so a
    run of the same data stays current)."""
    ss = session.get_state(ss)
    plan = history_store.load_plan(plan_id)
    if loaders.frame_token(plan.cohort) != ss.get(session.COHORT_TOKEN):
        session.set_cohort(plan.cohort, f"saved plan #{plan_id}", "uploaded", ss=ss)
    session.set_catalog(plan.catalog, f"catalog of saved plan #{plan_id}", ss=ss)
    session.set_settings(plan.settings, ss=ss)
    ss[FLASH] = (
        plan_id,
        "Its customer data, catalog and settings are in the planner now: click Run optimization.",
    )


def use_catalog(plan_id: int, outcome_id: int, ss: MutableMapping | None = None) -> None:
    """Use the catalog recalibrated from a plan's outcomes for the next run."""
    ss = session.get_state(ss)
    recalibration, _ = history_store.recalibration(plan_id, outcome_id)
    session.set_catalog(
        recalibration.catalog, f"recalibrated from plan #{plan_id} (outcomes #{outcome_id})", ss=ss
    )
    ss[CATALOG_USED] = (plan_id, outcome_id)


def take_flash(plan_id: int, ss: MutableMapping | None = None) -> str | None:
    """The message left by a callback for this plan, once (None for another plan or none)."""
    ss = session.get_state(ss)
    flash = ss.get(FLASH)
    if flash is None or flash[0] != plan_id:
        return None
    return ss.pop(FLASH)[1]


# --- outcomes --------------------------------------------------------------------------------------------


class Upload(Protocol):
    """What the page's file uploader hands over (Streamlit's `UploadedFile`)."""

    file_id: str
    name: str

    def getvalue(self) -> bytes: ...


def receive_outcomes(plan: SavedPlan, upload: Upload | None, ss: MutableMapping | None = None) -> bool:
    """Handle an outcomes upload for a saved plan, once per uploaded file: keep a valid file (it becomes the
    selected outcome file) or store its problems for the page (every problem with its row and column;
    a database failure as one problem). True when a new file was kept (the page reruns so the list of
    saved plans counts it)."""
    ss = session.get_state(ss)
    if upload is None:
        return False
    done = ss.setdefault(PROCESSED, set())
    if (plan.id, upload.file_id) in done:
        return False
    done.add((plan.id, upload.file_id))
    try:
        outcome_id = history_store.add_outcomes(plan, upload.getvalue(), upload.name)
    except InputError as error:
        ss[problems_key(plan.id)] = (upload.name, tables.problem_rows(error))
        return False
    except Exception as error:  # e.g. the database is unreachable: say so, no traceback
        problem = {"Row": "", "Column": "", "Problem": f"not stored ({type(error).__name__})"}
        ss[problems_key(plan.id)] = (upload.name, [problem])
        return False
    ss[outcome_key(plan.id)] = outcome_id
    ss.pop(problems_key(plan.id), None)
    ss[OUTCOME_FLASH] = f"{upload.name} is kept with plan #{plan.id}."
    return True


def draw_outcomes(
    plan: SavedPlan, true_uplift: Mapping[int, float], seed: int, ss: MutableMapping | None = None
) -> int:
    """Draw simulated outcomes for a saved plan, keep them and select them; returns their id."""
    ss = session.get_state(ss)
    outcome_id = history_store.add_simulated_outcomes(plan, true_uplift, int(seed))
    ss[outcome_key(plan.id)] = outcome_id
    ss[OUTCOME_FLASH] = "Simulated outcomes drawn and kept with the plan."
    return outcome_id


def request_recalibration(plan_id: int, outcome_id: int, ss: MutableMapping | None = None) -> None:
    ss = session.get_state(ss)
    ss[RECALIBRATED] = (plan_id, outcome_id)


def recalibration_shown(plan_id: int, outcome_id: int, ss: MutableMapping | None = None) -> bool:
    return session.get_state(ss).get(RECALIBRATED) == (plan_id, outcome_id)


def catalog_in_use(plan_id: int, outcome_id: int, ss: MutableMapping | None = None) -> bool:
    return session.get_state(ss).get(CATALOG_USED) == (plan_id, outcome_id)
