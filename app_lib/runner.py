"""One optimization run as the app needs it: solve, price the limits, build the export files.

Pure Python (no Streamlit): a `progress(fraction, text)` callback reports the stages, so the sidebar can show
them and tests can call `run_plan` directly.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from optimizer import (
    Exports,
    PlanResult,
    PlanSettings,
    build_exports,
    build_problem,
    marginal_values,
    solve_plan,
    to_csv_bytes,
)
from optimizer.analysis import Kpis
from optimizer.loop.policies import ContactPolicy, Exclusions
from optimizer.loop.weekly import week_problem
from optimizer.model import Problem
from optimizer.plan import SolverReport
from optimizer.solvers import SolveStatus

STAGES = (
    (0.2, ":material/fact_check: Preparing customer data…"),
    (0.4, ":material/build: Building the optimization model…"),
    (0.6, ":material/rocket_launch: Solving the model…"),
    (0.8, ":material/rule: Analysing the constraints…"),
    (0.9, ":material/download: Building the export files…"),
)


@dataclass
class RunRecord:
    """A finished run and what it was run on (tokens identify the cohort and catalog)."""

    settings: PlanSettings
    cohort_token: str
    catalog_token: str
    cohort_label: str
    catalog_label: str
    result: PlanResult
    marginal: pd.DataFrame | None
    exports: Exports | None
    seconds: float
    high_risk_customers: int
    finished_at: dt.datetime = field(default_factory=dt.datetime.now)
    number: int = 1  # the session's run counter
    cohort: pd.DataFrame | None = field(default=None, repr=False)  # what was solved (for marginal values)
    catalog: pd.DataFrame | None = field(default=None, repr=False)
    # The week's contact policy and what it excluded (None: planned without the contact history).
    contact_policy: ContactPolicy | None = None
    exclusions: Exclusions | None = None
    plan_date: dt.date | None = None
    history_note: str | None = None  # why the contact history was not used, when it could not be read
    saved_plan_id: int | None = None  # its id in the plan history once saved (a run is saved at most once)
    _file_bytes: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Held while the run is being saved: on a large cohort a save takes seconds, and download clicks in
    # quick succession can run their save callbacks in parallel script threads.
    save_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # The `PlanLike` fields (optimizer.plan), read from the solved result.
    @property
    def status(self) -> SolveStatus:
        return self.result.status

    @property
    def solver_report(self) -> SolverReport:
        return self.result.solver_report

    @property
    def assignments(self) -> pd.DataFrame:
        return self.result.assignments

    @property
    def kpis(self) -> Kpis | None:
        return self.result.kpis

    def ensure_marginal(self, problem: Problem | None = None) -> pd.DataFrame | None:
        """Marginal values of this run's limits, computed on first use (they take several re-solves);
        `problem`: this run's built model, if at hand."""
        if self.marginal is None and self.result.has_plan and self.cohort is not None:
            self.marginal = marginal_values(self.cohort, self.catalog, self.settings, problem=problem)
        return self.marginal

    def file_bytes(self, name: str) -> bytes:
        """The CSV bytes of one export file (`Exports.files()` name), serialized once per run: every later
        download of the same file reuses them."""
        if name not in self._file_bytes:
            self._file_bytes[name] = to_csv_bytes(self.exports.files()[name])
        return self._file_bytes[name]


def run_plan(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    settings: PlanSettings,
    *,
    cohort_token: str = "",
    catalog_token: str = "",
    cohort_label: str = "",
    catalog_label: str = "",
    plan_date: dt.date | None = None,
    progress: Callable[[float, str], None] | None = None,
    with_marginal: bool = True,
    problem: Problem | None = None,
    previous: RunRecord | None = None,
    exclusions: Exclusions | None = None,
) -> RunRecord:
    """Solve the week's plan; when there is a plan also build the export files and (unless
    `with_marginal` is False: the app computes them after showing the plan) the marginal values.
    `problem`: the model already built for this cohort, catalog and threshold (the app caches it).
    `previous`: the session's last run; when it solved the same problem, the decomposition starts from its
    multipliers and plan (a re-plan after moving a slider).
    `exclusions`: the week's contact-policy exclusions (`optimizer.loop.policies.contact_exclusions`); when
    they exclude anyone the model is the week's (`optimizer.loop.weekly.week_problem`), and the exports
    include the excluded list."""
    report = progress or (lambda fraction, text: None)
    started = time.perf_counter()

    def stage(index: int) -> None:
        report(*STAGES[index])

    stage(0)
    high_risk = int((cohort["churn_probability"].to_numpy(dtype=float) > settings.high_risk_threshold).sum())
    stage(1)
    restricted = exclusions is not None and len(exclusions.table) > 0
    if restricted:  # the policies' exclusions as eligibility, coverage floors over the contactable customers
        problem = week_problem(cohort, catalog, settings.high_risk_threshold, exclusions)
    elif problem is None:
        problem = build_problem(cohort, catalog, settings.high_risk_threshold)
    stage(2)
    solving, text = STAGES[2]
    same_problem = (
        previous is not None
        and previous.result.has_plan
        and (previous.cohort_token, previous.catalog_token) == (cohort_token, catalog_token)
        and bool(cohort_token and catalog_token)
        and previous.settings.high_risk_threshold == settings.high_risk_threshold
        and not restricted
        and (previous.exclusions is None or len(previous.exclusions.table) == 0)
    )
    result = solve_plan(
        cohort,
        catalog,
        settings,
        problem=problem,
        warm_start=previous.result if same_problem else None,
        # The solver's own steps (the decomposition reports each one on large cohorts) fill the solving stage.
        progress=lambda fraction, step: report(solving + 0.2 * fraction, f"{text} {step}"),
    )
    stage(3)
    marginal = None
    exports = None
    if result.has_plan:
        if with_marginal:
            marginal = marginal_values(cohort, catalog, settings, problem=problem)
        stage(4)
        exports = build_exports(
            result.assignments,
            plan_date=plan_date,
            # the fifth file when the policies excluded anyone (else the four files, exactly as before)
            excluded=exclusions.table if restricted else None,
        )
    seconds = time.perf_counter() - started
    if result.has_plan:
        report(1.0, f":material/check_circle: Optimization complete in {seconds:.2f} s")
    else:
        report(1.0, f":material/block: No feasible plan ({seconds:.2f} s): see the diagnosis")
    return RunRecord(
        settings=settings,
        cohort_token=cohort_token,
        catalog_token=catalog_token,
        cohort_label=cohort_label,
        catalog_label=catalog_label,
        result=result,
        marginal=marginal,
        exports=exports,
        seconds=seconds,
        high_risk_customers=high_risk,
        cohort=cohort,
        catalog=catalog,
        contact_policy=None if exclusions is None else exclusions.policy,
        exclusions=exclusions,
        plan_date=plan_date,
    )
