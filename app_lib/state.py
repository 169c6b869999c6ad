"""Session state (initialized once per session, from every entry page) and cached, bounded loaders.

Caching follows the project style: `st.cache_data` with `max_entries` for data and solver results keyed by
content tokens of the cohort and catalog; the built model (`Problem`, read-only once built) is shared with
`st.cache_resource`; no Gurobi environment is ever cached or shared (each core call opens its own).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app_lib import scaling
from app_lib.formatting import esc, money
from optimizer import (
    InputError,
    PlanSettings,
    build_problem,
    load_bundled_cohort,
    load_catalog,
    minimum_budget,
    solve_plan,
)
from optimizer.catalog import CAPACITY_OF_CHANNEL, active_actions, eligibility
from optimizer.data import bundled_data_dir
from optimizer.model import Problem
from optimizer.solvers import choose_solver

# Shared session-state keys (page-local keys carry their page's prefix: sens_, cat_, data_).
SETTINGS = "settings"
COHORT = "cohort"
COHORT_LABEL = "cohort_label"
COHORT_KIND = "cohort_kind"  # "bundled" | "uploaded" | "injected"
COHORT_TOKEN = "cohort_token"
COHORT_ERROR = "cohort_error"
CATALOG = "catalog"
CATALOG_LABEL = "catalog_label"
CATALOG_TOKEN = "catalog_token"
CATALOG_VERSION = "catalog_version"  # bumped when the catalog is replaced, so the editor restarts
LAST_RUN = "last_run"
PREVIOUS_RUN = "previous_run"
RUN_REQUESTED = "run_requested"
PRESET = "preset"  # the preset name shown in the sidebar's selector (widget key "sb_preset")
SETTINGS_NOTE = "settings_note"  # (settings, text): how the settings were fitted to the cohort

DEFAULT_PRESET = "Default weekly plan"
REPORT_PRESET = "Published report (2025-11-05)"
CUSTOM_PRESET = "Custom"
DEFAULT_CATALOG_FILE = "actions.csv"
REPORT_CATALOG_FILE = "catalog_report_2025.csv"
BUNDLED_LABEL = "bundled data (data/prediction_250.csv + data/test_250.csv)"


@dataclass(frozen=True)
class Preset:
    settings: PlanSettings
    catalog_file: str
    catalog_label: str
    description: str


PRESETS = {
    DEFAULT_PRESET: Preset(
        PlanSettings(),
        DEFAULT_CATALOG_FILE,
        "default catalog (data/actions.csv)",
        "The product defaults: 9 actions including retention calls, policies rounded up.",
    ),
    REPORT_PRESET: Preset(
        PlanSettings(
            budget=150.0,
            email_capacity=120,
            push_capacity=100,
            call_capacity=None,
            min_high_risk=0.60,
            min_premium=0.40,
            max_saturation=0.50,
            min_segment=0.15,
            high_risk_threshold=0.7,
            coverage_rounding="floor",
        ),
        REPORT_CATALOG_FILE,
        "report catalog (data/catalog_report_2025.csv)",
        "The 2025-11-05 report's baseline: its 8-action catalog (no calls; in-app and push offers only for "
        "CLV in (300, 1000]), $150, 120 emails, 100 push/in-app, 60/40/50/15%, threshold 0.7, policy "
        "counts rounded down.",
    ),
}


# --- tokens and loaders --------------------------------------------------------------------------


def frame_token(frame: pd.DataFrame) -> str:
    """A short content hash: equal frames give equal tokens (used as cache keys and staleness marks)."""
    digest = hashlib.sha1(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


@st.cache_data(max_entries=2, show_spinner=False)
def _bundled_cohort() -> pd.DataFrame:
    return load_bundled_cohort()


@st.cache_data(max_entries=4, show_spinner=False)
def catalog_file(name: str) -> pd.DataFrame:
    """A catalog CSV shipped in data/ (validated)."""
    return load_catalog(bundled_data_dir() / name)


@st.cache_data(max_entries=1, show_spinner=False)
def model_report():
    """The saved churn-model evaluation (data/model/; plain data). Raises InputError if it is missing."""
    from optimizer.churn import load_model_report

    return load_model_report()


def load_bundled() -> tuple[pd.DataFrame | None, list[str]]:
    """The bundled cohort, or None and the problems (e.g. the files are missing)."""
    try:
        return _bundled_cohort(), []
    except InputError as error:
        return None, [str(p) for p in error.problems]


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_problem(
    cohort_token: str,
    catalog_token: str,
    high_risk_threshold: float,
    _cohort: pd.DataFrame,
    _catalog: pd.DataFrame,
) -> Problem:
    """The built model for a cohort, catalog and high-risk threshold, shared by every rerun and session.

    Safe to share: a `Problem` is never written by a solve. The one write after `build_problem` is its
    sparse matrix, built on first use under its own lock (idempotent). The decomposition keeps its customer
    classes, objective arrays, multipliers and cutting planes on its sessions and on the result it returns
    (`PlanResult.warm`, passed back as `warm_start=`), never on the problem. Solver sessions and Gurobi
    environments are opened per call and never cached.
    """
    return build_problem(_cohort, _catalog, high_risk_threshold)


def problem_for(cohort_token: str, catalog_token: str, settings: PlanSettings, cohort, catalog) -> Problem:
    """`cached_problem` for the settings' high-risk threshold."""
    return cached_problem(cohort_token, catalog_token, float(settings.high_risk_threshold), cohort, catalog)


def record_problem(record) -> Problem | None:
    """The cached model a run was solved on (None when the run does not carry its data and tokens)."""
    if record is None or record.cohort is None or not (record.cohort_token and record.catalog_token):
        return None
    return problem_for(
        record.cohort_token, record.catalog_token, record.settings, record.cohort, record.catalog
    )


# --- session -------------------------------------------------------------------------------------


def init_state() -> None:
    """Initialize the shared session state once; values already present (e.g. injected by tests) are kept."""
    ss = st.session_state
    ss.setdefault(SETTINGS, PlanSettings())
    ss.setdefault(PRESET, DEFAULT_PRESET)
    ss.setdefault(LAST_RUN, None)
    ss.setdefault(PREVIOUS_RUN, None)
    ss.setdefault(CATALOG_VERSION, 0)
    if ss.get(CATALOG) is None:
        ss[CATALOG] = catalog_file(DEFAULT_CATALOG_FILE)
        ss[CATALOG_LABEL] = PRESETS[DEFAULT_PRESET].catalog_label
    ss.setdefault(CATALOG_LABEL, "catalog")
    if CATALOG_TOKEN not in ss:
        ss[CATALOG_TOKEN] = frame_token(ss[CATALOG])
    if ss.get(COHORT) is None and ss.get(COHORT_KIND, "bundled") == "bundled":
        cohort, problems = load_bundled()
        ss[COHORT_ERROR] = problems
        if cohort is not None:
            set_cohort(cohort, BUNDLED_LABEL, "bundled")
        else:
            ss[COHORT] = None
            ss[COHORT_KIND] = "bundled"
    if ss.get(COHORT) is not None and COHORT_TOKEN not in ss:
        ss[COHORT_TOKEN] = frame_token(ss[COHORT])
    ss.setdefault(COHORT_LABEL, "uploaded data")
    ss.setdefault(COHORT_KIND, "injected")


def set_cohort(cohort: pd.DataFrame, label: str, kind: str) -> None:
    ss = st.session_state
    ss[COHORT] = cohort
    ss[COHORT_LABEL] = label
    ss[COHORT_KIND] = kind
    ss[COHORT_TOKEN] = frame_token(cohort)
    ss[COHORT_ERROR] = []


def use_bundled_cohort() -> list[str]:
    """Switch back to the bundled data (and the settings back to its size); returns the problems if it
    cannot be loaded."""
    cohort, problems = load_bundled()
    if cohort is not None:
        use_cohort(cohort, BUNDLED_LABEL, "bundled")
    return problems


def use_cohort(cohort: pd.DataFrame, label: str, kind: str) -> str | None:
    """Put a newly loaded cohort (an upload, the bundled data) in use and fit the settings to its size:
    a preset's values are scaled from its 250 customers, custom settings from the previous cohort's size.
    Returns the note telling the user what was scaled (None when nothing changed)."""
    ss = st.session_state
    previous = ss.get(COHORT)
    previous_size = len(previous) if previous is not None else None
    set_cohort(cohort, label, kind)
    preset = ss.get(PRESET)
    if preset in PRESETS or not previous_size:
        preset = preset if preset in PRESETS else DEFAULT_PRESET
        base, base_size, source = (
            PRESETS[preset].settings,
            scaling.BASE_CUSTOMERS,
            f"the {preset} preset's values",
        )
    else:
        base, base_size, source = ss[SETTINGS], previous_size, "your settings"
    settings, note = fit_settings(base, base_size, source)
    apply_fitted(settings, note)
    return note


def set_catalog(catalog: pd.DataFrame, label: str, *, restart_editor: bool = True) -> None:
    ss = st.session_state
    ss[CATALOG] = catalog
    ss[CATALOG_LABEL] = label
    ss[CATALOG_TOKEN] = frame_token(catalog)
    if restart_editor:
        ss[CATALOG_VERSION] = ss.get(CATALOG_VERSION, 0) + 1


def snap_up(value: float, step: float) -> float:
    """Round up to a multiple of `step` (a larger budget never breaks feasibility)."""
    return float(math.ceil(round(value / step, 9)) * step)


def fit_settings(base: PlanSettings, base_customers: int, source: str) -> tuple[PlanSettings, str | None]:
    """`base` (written for `base_customers`) for the cohort in use: budget and capacities scaled with the
    number of customers (`scaling.scale_settings`), the budget on the slider's step and raised to the least
    the coverage policies need when the scaled budget is short, so the first Run gives a plan. Same size:
    `base` unchanged and no note."""
    ss = st.session_state
    cohort, catalog = ss.get(COHORT), ss[CATALOG]
    if cohort is None or len(cohort) == base_customers:
        return base, None
    customers = len(cohort)
    settings = scaling.scale_settings(base, customers, base_customers)
    bounds = slider_bounds(ss[COHORT_TOKEN], ss[CATALOG_TOKEN], cohort, catalog)
    settings = settings.with_changes(budget=snap_up(settings.budget, bounds.budget_step))
    check = preflight(ss[COHORT_TOKEN], ss[CATALOG_TOKEN], settings_key(settings), cohort, catalog)
    raised_from = None
    if check.minimum_budget is not None and not check.feasible:
        raised_from = settings.budget
        settings = settings.with_changes(budget=snap_up(check.minimum_budget, bounds.budget_step))
    note = scaling.scaling_note(
        settings,
        customers,
        base_customers,
        source,
        raised_from=raised_from,
        no_budget_enough=check.minimum_budget is None,
    )
    return settings, note


def apply_fitted(settings: PlanSettings, note: str | None) -> None:
    """Store fitted settings with their note (shown while the settings stay as fitted)."""
    st.session_state[SETTINGS] = settings
    st.session_state[SETTINGS_NOTE] = (settings, note) if note else None


def settings_note() -> str | None:
    """How the current settings were fitted to the cohort, while they are unchanged since."""
    stored = st.session_state.get(SETTINGS_NOTE)
    if stored and stored[0] == st.session_state.get(SETTINGS):
        return stored[1]
    return None


def current_settings() -> PlanSettings:
    return st.session_state[SETTINGS]


def settings_key(settings: PlanSettings) -> tuple:
    """Hashable, cache-friendly form of the settings."""
    return tuple(sorted(settings.to_dict().items()))


def run_is_current(record) -> bool:
    """Does the last run match the current cohort, catalog and settings?"""
    ss = st.session_state
    return (
        record is not None
        and record.cohort_token == ss.get(COHORT_TOKEN)
        and record.catalog_token == ss.get(CATALOG_TOKEN)
        and record.settings == ss.get(SETTINGS)
    )


# --- ranges derived from the cohort and catalog -------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """Slider ranges for this cohort and catalog."""

    customers: int
    budget_max: float  # beyond this no plan for this cohort and catalog gains anything
    budget_step: float
    threshold_min: float
    threshold_max: float
    channels: frozenset[str]  # capacity groups some enabled action uses: "email", "push", "call"
    premium: int
    segments: dict[str, int]


def _nice_ceiling(value: float) -> float:
    """Smallest 1/2/5 x 10^k at or above value (at least 100)."""
    value = max(value, 100.0)
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * magnitude >= value - 1e-9:
            return float(factor * magnitude)
    return float(10 * magnitude)


def budget_step_for(upper: float) -> float:
    for step in (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000):
        if upper / step <= 800:
            return float(step)
    return 10000.0


@st.cache_data(max_entries=16, show_spinner=False)
def slider_bounds(
    cohort_token: str, catalog_token: str, _cohort: pd.DataFrame, _catalog: pd.DataFrame
) -> Bounds:
    """Ranges from the data: the budget slider ends where an unlimited plan stops spending (or where treating
    everyone with their cheapest action costs more), so it spans both binding and slack budgets."""
    cohort, catalog = _cohort, _catalog
    actions = active_actions(catalog)
    eligible = eligibility(cohort, actions)
    cost = actions["cost"].to_numpy(dtype=float)
    cheapest = np.where(eligible, cost[None, :], np.inf).min(axis=1) if eligible.size else np.array([])
    cheapest_all = float(cheapest[np.isfinite(cheapest)].sum()) if cheapest.size else 0.0
    unlimited = PlanSettings(
        budget=1e9,
        email_capacity=None,
        push_capacity=None,
        call_capacity=None,
        min_high_risk=0.0,
        min_premium=0.0,
        max_saturation=1.0,
        min_segment=0.0,
    )
    problem = problem_for(cohort_token, catalog_token, unlimited, cohort, catalog)
    free = solve_plan(cohort, catalog, unlimited, diagnose=False, problem=problem)
    free_spend = free.kpis.total_spend if free.kpis else 0.0
    upper = _nice_ceiling(1.1 * max(free_spend, cheapest_all))
    p = cohort["churn_probability"].to_numpy(dtype=float)
    threshold_max = max(0.05, min(0.95, math.floor((p.max() - 1e-9) * 20) / 20)) if len(p) else 0.95
    threshold_min = min(0.05, threshold_max)
    subscription = cohort["subscription_type"].astype(str)
    channels = frozenset(CAPACITY_OF_CHANNEL[c] for c in actions["channel"] if c in CAPACITY_OF_CHANNEL)
    return Bounds(
        customers=len(cohort),
        budget_max=upper,
        budget_step=budget_step_for(upper),
        threshold_min=threshold_min,
        threshold_max=threshold_max,
        channels=channels,
        premium=int(subscription.eq("Premium").sum()),
        segments={str(k): int(v) for k, v in subscription.value_counts().sort_index().items()},
    )


# --- preflight ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preflight:
    """Can these settings be met, before running? The least budget the policies need, and why not if not."""

    minimum_budget: float | None
    feasible: bool
    message: str
    conflict: str | None  # diagnosis text when no budget is enough


@st.cache_data(max_entries=64, show_spinner=False)
def preflight(
    cohort_token: str, catalog_token: str, key: tuple, _cohort: pd.DataFrame, _catalog: pd.DataFrame
) -> Preflight:
    settings = PlanSettings(**dict(key))
    problem = problem_for(cohort_token, catalog_token, settings, _cohort, _catalog)
    need = minimum_budget(_cohort, _catalog, settings, problem=problem)
    conflict = None
    if need.minimum_budget is None:
        # The budget is not the problem: diagnose with an unlimited budget to name the conflicting rules.
        probe = solve_plan(_cohort, _catalog, settings.with_changes(budget=1e9), problem=problem)
        conflict = probe.diagnosis.message if probe.diagnosis else need.message
    return Preflight(need.minimum_budget, need.feasible_at_current_budget, need.message, conflict)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_sweep(
    cohort_token: str,
    catalog_token: str,
    key: tuple,
    budgets: tuple[float, ...],
    _cohort: pd.DataFrame,
    _catalog: pd.DataFrame,
) -> pd.DataFrame:
    from optimizer import budget_sweep

    settings = PlanSettings(**dict(key))
    problem = problem_for(cohort_token, catalog_token, settings, _cohort, _catalog)
    return budget_sweep(_cohort, _catalog, settings, list(budgets), problem=problem)


SWEEP_BATCH = 2  # budgets per step of a large cohort's sweep (one per solver thread)


def sweep(
    cohort_token: str,
    catalog_token: str,
    settings: PlanSettings,
    budgets: list[float],
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    progress=None,
) -> pd.DataFrame:
    """The budget sweep; on a cohort the decomposition solves (too big for the exact MILP) in steps of
    `SWEEP_BATCH` budgets with `progress(fraction, text)` after each, since one budget can take seconds
    there. Each step is cached on its own, so a later range reuses the budgets already solved."""
    key = settings_key(settings)
    problem = problem_for(cohort_token, catalog_token, settings, cohort, catalog)
    if choose_solver(problem)[0] != "decomposition":
        return cached_sweep(cohort_token, catalog_token, key, tuple(budgets), cohort, catalog)
    parts = []
    for start in range(0, len(budgets), SWEEP_BATCH):
        step = tuple(budgets[start : start + SWEEP_BATCH])
        if progress is not None:
            budgets_now = " and ".join(esc(money(b, cents=False)) for b in step)
            progress(
                start / len(budgets),
                f"{start:,} of {len(budgets):,} budgets solved; solving {budgets_now} for "
                f"{len(cohort):,} customers…",
            )
        parts.append(cached_sweep(cohort_token, catalog_token, key, step, cohort, catalog))
    if progress is not None:
        progress(1.0, f"Solved {len(budgets):,} budgets.")
    return pd.concat(parts, ignore_index=True)
