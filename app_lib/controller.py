"""The app's one controller: everything the pages ask the solver for, from `PlanSettings`.

Widgets produce settings (`settings_form`); this module runs plans, marginal values, the preflight check,
the slider ranges and budget sweeps on the cached built model, fits settings to a cohort's size, and holds
the actions that change what the planner works on (a cohort, a preset, a catalog, a run request). Views
render its results and never import the sidebar.

The computing functions take an `Inputs` (the cohort and catalog with their content tokens), so they are
called the same way from a page and from a test; the actions take the session state as `ss` (default
`st.session_state`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st

from app_lib import bounds as ranges
from app_lib import history_store, loaders, scaling, session
from app_lib.bounds import Bounds
from app_lib.formatting import esc, money
from app_lib.presets import DEFAULT_PRESET, PRESETS
from app_lib.runner import RunRecord, run_plan
from optimizer import PlanSettings, budget_sweep, minimum_budget, solve_plan
from optimizer.loop.history import HistoryError
from optimizer.loop.policies import ContactPolicy, Exclusions, contact_exclusions
from optimizer.loop.weekly import week_problem
from optimizer.model import Problem
from optimizer.solvers import choose_solver

Progress = Callable[[float, str], None]
SWEEP_BATCH = 2  # budgets per step of a large cohort's sweep (one per solver thread)


@dataclass(frozen=True, eq=False)
class Inputs:
    """What a plan is computed from: the cohort and catalog, their content tokens (cache keys) and labels."""

    cohort: pd.DataFrame
    catalog: pd.DataFrame
    cohort_token: str
    catalog_token: str
    cohort_label: str = ""
    catalog_label: str = ""

    @classmethod
    def of(cls, cohort: pd.DataFrame, catalog: pd.DataFrame, cohort_label="", catalog_label="") -> Inputs:
        """Inputs with tokens computed from the frames' contents."""
        return cls(
            cohort,
            catalog,
            loaders.frame_token(cohort),
            loaders.frame_token(catalog),
            cohort_label,
            catalog_label,
        )

    @classmethod
    def of_record(cls, record: RunRecord) -> Inputs | None:
        """What a run was solved on (None when it does not carry its data and tokens)."""
        if record is None or record.cohort is None or not (record.cohort_token and record.catalog_token):
            return None
        return cls(
            record.cohort,
            record.catalog,
            record.cohort_token,
            record.catalog_token,
            record.cohort_label,
            record.catalog_label,
        )


def current_inputs(ss: MutableMapping | None = None) -> Inputs | None:
    """The cohort and catalog in use (None while no cohort is loaded)."""
    ss = session.get_state(ss)
    if ss.get(session.COHORT) is None:
        return None
    return Inputs(
        ss[session.COHORT],
        ss[session.CATALOG],
        ss[session.COHORT_TOKEN],
        ss[session.CATALOG_TOKEN],
        ss.get(session.COHORT_LABEL, ""),
        ss.get(session.CATALOG_LABEL, ""),
    )


def settings_key(settings: PlanSettings) -> tuple:
    """Hashable, cache-friendly form of the settings."""
    return tuple(sorted(settings.to_dict().items()))


def problem_for(inputs: Inputs, settings: PlanSettings) -> Problem:
    """The cached built model for these inputs and the settings' high-risk threshold."""
    return loaders.cached_problem(
        inputs.cohort_token,
        inputs.catalog_token,
        float(settings.high_risk_threshold),
        inputs.cohort,
        inputs.catalog,
    )


# --- slider ranges and the preflight check -------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner=False)
def _slider_bounds(cohort_token: str, catalog_token: str, _inputs: Inputs) -> Bounds:
    problem = problem_for(_inputs, ranges.UNLIMITED)
    free = solve_plan(_inputs.cohort, _inputs.catalog, ranges.UNLIMITED, diagnose=False, problem=problem)
    return ranges.compute_bounds(_inputs.cohort, _inputs.catalog, free.kpis.total_spend if free.kpis else 0.0)


def slider_bounds(inputs: Inputs) -> Bounds:
    """The sidebar's slider ranges for this cohort and catalog (one unlimited solve, cached)."""
    return _slider_bounds(inputs.cohort_token, inputs.catalog_token, inputs)


@dataclass(frozen=True)
class Preflight:
    """Can these settings be met, before running? The least budget the policies need, and why not if not."""

    minimum_budget: float | None
    feasible: bool
    message: str
    conflict: str | None  # diagnosis text when no budget is enough


@st.cache_data(max_entries=64, show_spinner=False)
def _preflight(cohort_token: str, catalog_token: str, key: tuple, _inputs: Inputs) -> Preflight:
    settings = PlanSettings(**dict(key))
    problem = problem_for(_inputs, settings)
    need = minimum_budget(_inputs.cohort, _inputs.catalog, settings, problem=problem)
    conflict = None
    if need.minimum_budget is None:
        # The budget is not the problem: diagnose with an unlimited budget to name the conflicting rules.
        probe = solve_plan(
            _inputs.cohort, _inputs.catalog, settings.with_changes(budget=1e9), problem=problem
        )
        conflict = probe.diagnosis.message if probe.diagnosis else need.message
    return Preflight(need.minimum_budget, need.feasible_at_current_budget, need.message, conflict)


def preflight(inputs: Inputs, settings: PlanSettings) -> Preflight:
    """The least budget these settings' policies need, and whether the budget covers it (cached)."""
    return _preflight(inputs.cohort_token, inputs.catalog_token, settings_key(settings), inputs)


def fit_settings(
    inputs: Inputs, base: PlanSettings, base_customers: int, source: str
) -> tuple[PlanSettings, str | None]:
    """`base` (written for `base_customers`) for this cohort: budget and capacities scaled with the number of
    customers (`scaling.scale_settings`), the budget on the slider's step and raised to the least the
    coverage policies need when the scaled budget is short, so the first Run gives a plan. Same size:
    `base` unchanged and no note."""
    customers = len(inputs.cohort)
    if customers == base_customers:
        return base, None
    settings = scaling.scale_settings(base, customers, base_customers)
    bounds = slider_bounds(inputs)
    settings = settings.with_changes(budget=ranges.snap_budget(settings.budget, bounds))
    check = preflight(inputs, settings)
    raised_from = None
    if check.minimum_budget is not None and not check.feasible:
        raised_from = settings.budget
        settings = settings.with_changes(budget=ranges.snap_budget(check.minimum_budget, bounds))
    note = scaling.scaling_note(
        settings,
        customers,
        base_customers,
        source,
        raised_from=raised_from,
        no_budget_enough=check.minimum_budget is None,
    )
    return settings, note


# --- runs ------------------------------------------------------------------------------------------


def week_exclusions(
    inputs: Inputs, policy: ContactPolicy, plan_date: dt.date
) -> tuple[Exclusions, str | None]:
    """What the contact policy excludes from the week dated `plan_date`, against the app's plan history
    (read through `history_store`), and a note when the history could not be read: the week is then planned
    without it (only the global control group, which needs the history's salt, cannot apply either)."""
    ids = inputs.cohort["customer_id"].to_numpy()
    try:
        contacts, salt = history_store.week_contacts(plan_date, policy)
    except HistoryError as error:
        note = f"The plan history cannot be used ({error}): planned without the contact history."
        unsalted = replace(policy, global_control=0.0)
        return contact_exclusions(ids, None, plan_date, unsalted), note
    return contact_exclusions(ids, contacts, plan_date, policy, salt), None


def run(
    inputs: Inputs,
    settings: PlanSettings,
    *,
    previous: RunRecord | None = None,
    progress: Progress | None = None,
    policy: ContactPolicy | None = None,
    plan_date: dt.date | None = None,
) -> RunRecord:
    """Solve the week's plan on the cached model (warm-started from `previous` when it solved the same
    model); numbered one after `previous`. With a contact `policy` the week dated `plan_date` (default
    today) is planned against the plan history (`week_exclusions`, as `optimizer.loop.weekly.plan_week`
    does). Marginal values are left for `marginal_values`, so the plan is on screen first."""
    exclusions, note = (None, None)
    if policy is not None:
        plan_date = plan_date or dt.date.today()
        exclusions, note = week_exclusions(inputs, policy, plan_date)
    record = run_plan(
        inputs.cohort,
        inputs.catalog,
        settings,
        problem=problem_for(inputs, settings),
        cohort_token=inputs.cohort_token,
        catalog_token=inputs.catalog_token,
        cohort_label=inputs.cohort_label,
        catalog_label=inputs.catalog_label,
        progress=progress,
        with_marginal=False,
        previous=previous,
        plan_date=plan_date,
        exclusions=exclusions,
    )
    record.history_note = note
    if previous is not None:
        record.number = previous.number + 1
    return record


def run_current(progress: Progress | None = None, ss: MutableMapping | None = None) -> RunRecord:
    """Run the current settings on the data in use and make it the latest run (the one before it becomes
    the previous run, for the pages' deltas)."""
    ss = session.get_state(ss)
    inputs = current_inputs(ss)
    if inputs is None:
        raise ValueError("no customer data is loaded")
    previous = ss.get(session.LAST_RUN)
    record = run(
        inputs,
        ss[session.SETTINGS],
        previous=previous,
        progress=progress,
        policy=ss.get(session.CONTACT_POLICY) or ContactPolicy(),
        plan_date=ss.get(session.PLAN_DATE),
    )
    if previous is not None:
        ss[session.PREVIOUS_RUN] = previous
    ss[session.LAST_RUN] = record
    return record


def marginal_values(record: RunRecord) -> pd.DataFrame | None:
    """The run's marginal values, computed once on the cached model it was solved on."""
    inputs = Inputs.of_record(record)
    if inputs is None:
        return record.ensure_marginal(None)
    exclusions = record.exclusions
    if exclusions is not None and len(exclusions.table):  # the week's own model, not the cached one
        threshold = record.settings.high_risk_threshold
        return record.ensure_marginal(week_problem(inputs.cohort, inputs.catalog, threshold, exclusions))
    return record.ensure_marginal(problem_for(inputs, record.settings))


def nearest_settings(record: RunRecord) -> PlanSettings | None:
    """The diagnosis's nearest feasible settings for an infeasible run, a changed budget rounded up to the
    slider's step (so the sidebar shows exactly what runs); None without a suggestion."""
    diagnosis = record.result.diagnosis
    if diagnosis is None or diagnosis.nearest is None:
        return None
    nearest = diagnosis.nearest
    inputs = Inputs.of_record(record)
    if inputs is not None and nearest.budget != record.settings.budget:
        nearest = nearest.with_changes(budget=ranges.snap_budget(nearest.budget, slider_bounds(inputs)))
    return nearest


# --- sweeps ----------------------------------------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner=False)
def _sweep(
    cohort_token: str, catalog_token: str, key: tuple, budgets: tuple[float, ...], _inputs: Inputs
) -> pd.DataFrame:
    settings = PlanSettings(**dict(key))
    problem = problem_for(_inputs, settings)
    return budget_sweep(_inputs.cohort, _inputs.catalog, settings, list(budgets), problem=problem)


def sweep(
    inputs: Inputs, settings: PlanSettings, budgets: list[float], progress: Progress | None = None
) -> pd.DataFrame:
    """The budget sweep; on a cohort the decomposition solves (too big for the exact MILP) in steps of
    `SWEEP_BATCH` budgets with `progress(fraction, text)` after each, since one budget can take seconds
    there. Each step is cached on its own, so a later range reuses the budgets already solved."""
    key = settings_key(settings)
    tokens = (inputs.cohort_token, inputs.catalog_token)
    if choose_solver(problem_for(inputs, settings))[0] != "decomposition":
        return _sweep(*tokens, key, tuple(budgets), inputs)
    parts = []
    for start in range(0, len(budgets), SWEEP_BATCH):
        step = tuple(budgets[start : start + SWEEP_BATCH])
        if progress is not None:
            budgets_now = " and ".join(esc(money(b, cents=False)) for b in step)
            progress(
                start / len(budgets),
                f"{start:,} of {len(budgets):,} budgets solved; solving {budgets_now} for "
                f"{len(inputs.cohort):,} customers…",
            )
        parts.append(_sweep(*tokens, key, step, inputs))
    if progress is not None:
        progress(1.0, f"Solved {len(budgets):,} budgets.")
    return pd.concat(parts, ignore_index=True)


# --- actions: what the planner works on ----------------------------------------------------------


def use_cohort(cohort: pd.DataFrame, label: str, kind: str, ss: MutableMapping | None = None) -> str | None:
    """Put a newly loaded cohort (an upload, the bundled data) in use and fit the settings to its size:
    a preset's values are scaled from its 250 customers, custom settings from the previous cohort's size.
    Returns the note telling the user what was scaled (None when nothing changed)."""
    ss = session.get_state(ss)
    previous = ss.get(session.COHORT)
    previous_size = len(previous) if previous is not None else None
    session.set_cohort(cohort, label, kind, ss=ss)
    preset = ss.get(session.PRESET)
    if preset in PRESETS or not previous_size:
        preset = preset if preset in PRESETS else DEFAULT_PRESET
        base, base_size = PRESETS[preset].settings, scaling.BASE_CUSTOMERS
        source = f"the {preset} preset's values"
    else:
        base, base_size, source = ss[session.SETTINGS], previous_size, "your settings"
    settings, note = fit_settings(current_inputs(ss), base, base_size, source)
    session.apply_fitted(settings, note, ss=ss)
    return note


def use_bundled_cohort(ss: MutableMapping | None = None) -> list[str]:
    """Switch back to the bundled data (and the settings back to its size); returns the problems if it
    cannot be loaded."""
    cohort, problems = loaders.load_bundled()
    if cohort is not None:
        use_cohort(cohort, loaders.BUNDLED_LABEL, "bundled", ss=ss)
    return problems


def apply_preset(name: str, ss: MutableMapping | None = None) -> None:
    """Load a preset's catalog and settings, the settings fitted to the cohort's size (exactly the preset's
    values on a 250-customer cohort)."""
    ss = session.get_state(ss)
    preset = PRESETS.get(name)
    if preset is None:
        return
    session.set_catalog(loaders.catalog_file(preset.catalog_file), preset.catalog_label, ss=ss)
    inputs = current_inputs(ss)
    settings, note = (
        fit_settings(inputs, preset.settings, scaling.BASE_CUSTOMERS, f"the {name} preset's values")
        if inputs is not None
        else (preset.settings, None)
    )
    session.apply_fitted(settings, note, ss=ss)
    ss[session.PRESET] = name


def reset_catalog(ss: MutableMapping | None = None) -> None:
    """Back to the default catalog (the settings stay as they are, so the preset shows Custom)."""
    ss = session.get_state(ss)
    preset = PRESETS[DEFAULT_PRESET]
    session.set_catalog(loaders.catalog_file(preset.catalog_file), preset.catalog_label, ss=ss)


def raise_budget(value: float, ss: MutableMapping | None = None) -> None:
    """Callback: the current settings with this budget."""
    ss = session.get_state(ss)
    session.set_settings(ss[session.SETTINGS].with_changes(budget=float(value)), ss=ss)


def request_run(settings: PlanSettings, ss: MutableMapping | None = None) -> None:
    """Callback: apply settings (e.g. the nearest feasible ones) and run at once (the sidebar runs it)."""
    ss = session.get_state(ss)
    session.set_settings(settings, ss=ss)
    ss[session.RUN_REQUESTED] = True


def take_run_request(ss: MutableMapping | None = None) -> bool:
    """Was a run requested since the last page draw? (Clears the request.)"""
    return bool(session.get_state(ss).pop(session.RUN_REQUESTED, False))
