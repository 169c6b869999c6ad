"""One optimization run as the app needs it: solve, price the limits, build the export files.

Pure Python (no Streamlit): a `progress(fraction, text)` callback reports the stages, so the sidebar can show
them and tests can call `run_plan` directly.
"""

from __future__ import annotations

import datetime as dt
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
)

STAGES = (
    (0.2, "📋 Preparing customer data…"),
    (0.4, "🔧 Building the optimization model…"),
    (0.6, "🚀 Solving the model…"),
    (0.8, "🎯 Analysing constraints and marginal values…"),
    (0.9, "📥 Building the export files…"),
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
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.result.status


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
) -> RunRecord:
    """Solve the week's plan; when there is a plan also compute marginal values and the export files."""
    report = progress or (lambda fraction, text: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def stage(index: int) -> None:
        timings[STAGES[index][1]] = time.perf_counter() - started
        report(*STAGES[index])

    stage(0)
    high_risk = int((cohort["churn_probability"].to_numpy(dtype=float) > settings.high_risk_threshold).sum())
    stage(1)
    problem = build_problem(cohort, catalog, settings.high_risk_threshold)
    stage(2)
    result = solve_plan(cohort, catalog, settings, problem=problem)
    stage(3)
    marginal = None
    exports = None
    if result.has_plan:
        marginal = marginal_values(cohort, catalog, settings, problem=problem)
        stage(4)
        exports = build_exports(result.assignments, plan_date=plan_date)
    seconds = time.perf_counter() - started
    report(1.0, f"✅ Optimization complete in {seconds:.2f} s")
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
        stage_seconds=timings,
    )
