"""Public entry points: solve a weekly plan, sweep the budget, price the limits, explain infeasibility.

Size (about 600 lines): the four public entry points share the result types and the solve-and-analyse steps;
the diagnosis is the next part to move out (its elastic nearest combination lives in `elastic.py`).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from optimizer.analysis import (
    Kpis,
    chosen_pairs,
    compute_kpis,
    constraint_report,
    kpis_from_solution,
    pairs_frame,
)
from optimizer.model import SETTING_LABELS, PlanSettings, Problem, build_problem, policy_count
from optimizer.solvers import Solution, SolverSession, SolveStatus, choose_solver, open_session
from optimizer.solvers.decomposition import DecompositionSession, WarmStart

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is running now)

SWEEP_COLUMNS = [
    "budget",
    "status",
    "customers_treated",
    "total_spend",
    "expected_churn_reduction",
    "expected_retained_clv",
    "net_value",
    "roi_pct",
]


@dataclass(frozen=True)
class SolverReport:
    solver: str  # "gurobi" | "highs" | "decomposition"
    reason: str  # why this solver ran, in a sentence
    status: SolveStatus
    runtime_seconds: float
    objective: float | None
    bound: float | None  # proven bound on the optimum (upper when maximizing)
    mip_gap: float | None  # certified relative gap |bound - objective| / |objective|
    n_variables: int
    n_constraints: int
    detail: str = ""  # how the decomposition found and certified the plan
    multipliers: np.ndarray | None = field(default=None, repr=False)  # decomposition: per coupling row

    def __post_init__(self) -> None:  # the member, also when built from a stored string
        object.__setattr__(self, "status", SolveStatus(self.status))


@dataclass(frozen=True)
class Suggestion:
    """One setting changed alone to make the plan feasible."""

    setting: str
    current: float | None
    value: float
    text: str


@dataclass(frozen=True)
class Diagnosis:
    """Why settings are infeasible: the conflicting constraints and the nearest feasible settings."""

    conflicting: list[str]  # constraint labels of a minimal conflicting set
    conflicting_keys: list[str]
    message: str
    suggestions: list[Suggestion] = field(default_factory=list)
    nearest: PlanSettings | None = None  # the first suggestion applied, else the combined change
    # When no single setting is enough: the least weighted combined change (`optimizer.elastic`), verified
    # feasible by re-solving, and the sentence describing it.
    combined: PlanSettings | None = None
    combined_text: str = ""

    def to_dict(self) -> dict:
        return {
            "conflicting": self.conflicting,
            "conflicting_keys": self.conflicting_keys,
            "message": self.message,
            "suggestions": [asdict(s) for s in self.suggestions],
            "nearest": self.nearest.to_dict() if self.nearest else None,
            "combined": self.combined.to_dict() if self.combined else None,
            "combined_text": self.combined_text,
        }


@dataclass
class PlanResult:
    """A solved week: status, solver report, assignments (one row per treated customer), KPIs, constraints."""

    status: SolveStatus  # a StrEnum: its JSON value is "optimal", "infeasible", "time_limit" or "no_solution"
    settings: PlanSettings
    solver_report: SolverReport
    assignments: pd.DataFrame
    kpis: Kpis | None
    constraints: pd.DataFrame
    diagnosis: Diagnosis | None = None
    # The variables set to 1 in the built problem: what a warm start reuses (not part of the CLI contract).
    chosen: np.ndarray | None = field(default=None, repr=False)
    # The decomposition's warm-start data (multipliers, cuts, plan, derived arrays): a later `solve_plan` on
    # the same problem resumes from it (`warm_start=` this result). Never kept on the shared problem.
    warm: WarmStart | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.status = SolveStatus(self.status)

    @property
    def has_plan(self) -> bool:
        return self.kpis is not None

    def to_dict(self) -> dict:
        """JSON-ready summary (the CLI contract)."""
        k = self.kpis
        report = self.solver_report
        constraints = self.constraints.replace({np.inf: None, -np.inf: None})
        constraints = constraints.astype(object).where(constraints.notna(), None)
        out = {
            "status": self.status.value,
            "solver": report.solver,
            "solver_reason": report.reason,
            "net_value": round(k.net_value, 2) if k else None,
            "customers_treated": k.customers_treated if k else 0,
            "total_spend": round(k.total_spend, 2) if k else 0.0,
            "expected_retained_clv": round(k.expected_retained_clv, 2) if k else 0.0,
            "expected_churn_reduction": round(k.expected_churn_reduction, 4) if k else 0.0,
            "roi_pct": round(k.roi_pct, 2) if k and k.roi_pct is not None else None,
            "budget_utilization_pct": round(k.budget_utilization_pct, 2)
            if k and k.budget_utilization_pct is not None
            else None,
            "objective": report.objective,
            "bound": report.bound,
            "mip_gap": report.mip_gap,
            "solver_detail": report.detail,
            "solve_seconds": round(report.runtime_seconds, 4),
            "n_variables": report.n_variables,
            "n_constraints": report.n_constraints,
            "settings": self.settings.to_dict(),
            "constraints": constraints.to_dict(orient="records"),
        }
        if self.diagnosis is not None:
            out["diagnosis"] = self.diagnosis.to_dict()
        return out


@runtime_checkable
class PlanLike(Protocol):
    """What the app, the history and the learning loop read from a plan, whichever shape holds it: a solved
    `PlanResult`, a `SavedPlan` reopened from the history, or the app's `RunRecord`."""

    @property
    def status(self) -> SolveStatus: ...

    @property
    def settings(self) -> PlanSettings: ...

    @property
    def solver_report(self) -> SolverReport: ...

    @property
    def assignments(self) -> pd.DataFrame: ...  # one row per treated customer (`ASSIGNMENT_COLUMNS`)

    @property
    def kpis(self) -> Kpis | None: ...  # None when there is no plan


def _problem_for(
    cohort: pd.DataFrame, catalog: pd.DataFrame, settings: PlanSettings, problem: Problem | None
) -> Problem:
    """The given built problem (checked to match the settings' threshold), or a new one."""
    if problem is None:
        return build_problem(cohort, catalog, settings.high_risk_threshold)
    if problem.high_risk_threshold != settings.high_risk_threshold:
        raise ValueError(
            "the built problem uses high-risk threshold "
            f"{problem.high_risk_threshold}, the settings {settings.high_risk_threshold}: rebuild it"
        )
    return problem


def _result_from_solution(
    problem: Problem, settings: PlanSettings, solver: str, reason: str, solution: Solution
) -> PlanResult:
    report = SolverReport(
        solver=solver,
        reason=reason,
        status=solution.status,
        runtime_seconds=solution.runtime,
        objective=solution.objective,
        bound=solution.bound,
        mip_gap=solution.mip_gap,
        n_variables=problem.n_variables,
        n_constraints=problem.n_constraints,
        detail=solution.detail,
        multipliers=solution.multipliers,
    )
    chosen = chosen_pairs(solution.x) if solution.x is not None else None
    assignments = pairs_frame(problem, chosen if chosen is not None else np.zeros(0, dtype=np.int64))
    kpis = compute_kpis(assignments, problem.n_customers, settings.budget) if chosen is not None else None
    constraints = constraint_report(problem, settings, solution.x, solution.status)
    return PlanResult(solution.status, settings, report, assignments, kpis, constraints, chosen=chosen)


def solve_plan(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    settings: PlanSettings | None = None,
    *,
    solver: str = "auto",
    time_limit: float | None = None,
    diagnose: bool = True,
    problem: Problem | None = None,
    progress: Progress | None = None,
    warm_start: PlanResult | np.ndarray | None = None,
) -> PlanResult:
    """Solve the week's MILP and analyse the plan.

    `solver`: "auto" (Gurobi within its pip license limit, the decomposition above it), "gurobi", "highs"
    or "decomposition" (`optimizer.solvers.decomposition`: any size, a plan within a certified 0.01% gap).
    `progress(fraction, message)` is called as the solve advances (several times for the decomposition).
    `warm_start`: an earlier result on the same problem (or its `solver_report.multipliers`): the
    decomposition starts from its multipliers and cutting planes (`PlanResult.warm`), and skips its
    feasibility check when the earlier plan still satisfies the new settings. Pass `problem=` to reuse a
    built model.
    Infeasible settings give status "infeasible" and, with `diagnose`, a `Diagnosis`.
    """
    settings = settings or PlanSettings()
    if progress is not None:
        progress(0.0, "building the model")
    problem = _problem_for(cohort, catalog, settings, problem)
    name, reason = choose_solver(problem, solver)
    if progress is not None:
        progress(0.01, f"solving with {name}")
    with open_session(problem, problem.rhs(settings), name, progress=progress) as session:
        if isinstance(session, DecompositionSession) and warm_start is not None:
            if isinstance(warm_start, PlanResult):
                if not session.resume(warm_start.warm):  # none, or from another problem
                    session.warm_start(warm_start.solver_report.multipliers, plan=warm_start.chosen)
            else:
                session.warm_start(warm_start)
        solution = session.solve(time_limit)
        result = _result_from_solution(problem, settings, name, reason, solution)
        if isinstance(session, DecompositionSession):
            result.warm = session.warm_state()
        if solution.status is SolveStatus.INFEASIBLE and diagnose:
            if progress is not None:
                progress(0.95, "explaining the infeasibility")
            result.diagnosis = _diagnose(problem, settings, session)
    if progress is not None:
        progress(1.0, f"{result.status} ({name})")
    return result


def budget_sweep(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    settings: PlanSettings,
    budgets: Iterable[float],
    *,
    solver: str = "auto",
    problem: Problem | None = None,
    workers: int | None = None,
    time_limit: float | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """One model built once, re-solved per budget by changing only the budget row's right-hand side.

    The budgets are split into `workers` contiguous chunks (default: one per CPU core, at most 2), each solved
    in its own thread with its own solver session (its own Gurobi env); the solvers release the GIL.
    `time_limit` caps each budget's solve (a point stopped without a plan has status "no_solution");
    `progress(fraction, message)` is called after each point (from the solving threads).
    """
    problem = _problem_for(cohort, catalog, settings, problem)
    name, _ = choose_solver(problem, solver)
    budgets = [float(b) for b in budgets]
    workers = max(1, min(workers or min(os.cpu_count() or 1, 2), len(budgets)))
    chunks = [list(chunk) for chunk in np.array_split(np.arange(len(budgets)), workers) if len(chunk)]
    done = itertools.count(1)  # next() is atomic under the GIL: a shared counter for the progress lines
    derived = _derived_arrays(problem, problem.rhs(settings), name) if len(chunks) > 1 else None

    def solve_chunk(positions: list[int]) -> list[dict]:
        rhs = problem.rhs(settings)
        budget_row = problem.row_index("budget")
        records = []
        with open_session(problem, rhs, name) as session:
            if isinstance(session, DecompositionSession):
                session.resume(derived)  # each chunk's own multipliers and cuts, the arrays shared
            for position in positions:
                budget = budgets[position]
                rhs[budget_row] = budget
                session.set_rhs(rhs)
                solution = session.solve(time_limit)
                record = {"budget": budget, "status": solution.status}
                if solution.x is not None:
                    kpis = kpis_from_solution(problem, solution.x, budget)
                    record.update({column: getattr(kpis, column) for column in SWEEP_COLUMNS[2:]})
                records.append(record)
                if progress is not None:
                    finished = next(done)
                    progress(finished / len(budgets), f"budget ${budget:,.2f}: {solution.status}")
        return records

    if len(chunks) == 1:
        records = solve_chunk(chunks[0])
    else:
        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            records = [r for part in pool.map(solve_chunk, chunks) for r in part]
    return pd.DataFrame.from_records(records, columns=SWEEP_COLUMNS)


def _derived_arrays(problem: Problem, rhs: np.ndarray, name: str) -> WarmStart | None:
    """The decomposition's derived arrays of `problem` (customer classes, prepared objective), for the
    sessions of one call to share (read-only); None for the other solvers."""
    if name != "decomposition":
        return None
    with open_session(problem, rhs, name) as session:
        assert isinstance(session, DecompositionSession)
        session.prepare()
        return session.warm_state().derived()


# --- marginal values -----------------------------------------------------------------------------

DEFAULT_STEPS = {"budget": 10.0, "email_capacity": 5.0, "push_capacity": 5.0, "call_capacity": 5.0}


def marginal_values(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    settings: PlanSettings,
    *,
    solver: str = "auto",
    steps: dict[str, float] | None = None,
    problem: Problem | None = None,
) -> pd.DataFrame:
    """What relaxing each limit is worth, biggest bottleneck first.

    - `lp_dual`: the LP relaxation's dual value, net value per unit of right-hand side (per $ for the
      budget, per customer for a capacity or a policy floor; for a floor, the value of requiring one fewer).
    - `exact_gain`: for the budget and channel capacities, the exact change in the MILP optimum when the
      limit is raised by `step` (re-solved with only that right-hand side changed);
      `gain_per_unit` = gain / step.
    """
    steps = {**DEFAULT_STEPS, **(steps or {})}
    problem = _problem_for(cohort, catalog, settings, problem)
    name, _ = choose_solver(problem, solver)
    rhs = problem.rhs(settings)
    derived = None
    with open_session(problem, rhs, name, relax=True) as lp:
        relaxed = lp.solve()
        if isinstance(lp, DecompositionSession):
            derived = lp.warm_state().derived()
    duals = relaxed.row_duals[: problem.n_coupling] if relaxed.row_duals is not None else None
    records = []
    with open_session(problem, rhs, name) as session:
        if isinstance(session, DecompositionSession):
            session.resume(derived)  # the LP session's derived arrays; the plan solve starts cold
        base = session.solve()
        for i, row in enumerate(problem.rows):
            dual = float(duals[i]) if duals is not None else math.nan
            if row.sense == ">=":
                dual = -dual  # value of requiring one customer fewer
            record = {
                "key": row.key,
                "constraint": row.label,
                "unit": row.unit,
                "limit": rhs[i] if math.isfinite(rhs[i]) else None,
                "lp_dual": dual,
                "step": None,
                "exact_gain": None,
                "gain_per_unit": None,
            }
            step = steps.get(row.key)
            if step and math.isfinite(rhs[i]) and base.has_plan:
                changed = rhs.copy()
                changed[i] += step
                session.set_rhs(changed)
                raised = session.solve()
                session.set_rhs(rhs)
                if raised.objective is not None and base.objective is not None:
                    gain = raised.objective - base.objective
                    record.update(step=step, exact_gain=gain, gain_per_unit=gain / step)
            records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame["_rank"] = frame["gain_per_unit"].astype(float).fillna(frame["lp_dual"].abs())
    frame = frame.sort_values("_rank", ascending=False, kind="stable").drop(columns="_rank")
    return frame.reset_index(drop=True)


# --- infeasibility -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetNeed:
    """The least budget the other limits and policies need (None when no budget is enough)."""

    minimum_budget: float | None
    feasible_at_current_budget: bool
    message: str


def minimum_budget(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    settings: PlanSettings,
    *,
    solver: str = "auto",
    problem: Problem | None = None,
) -> BudgetNeed:
    """The cheapest plan that meets every coverage, fairness, capacity and saturation rule (a MILP)."""
    problem = _problem_for(cohort, catalog, settings, problem)
    name, _ = choose_solver(problem, solver)
    with open_session(problem, problem.rhs(settings), name) as session:
        need = _minimum_of_row(problem, settings, session, "budget")
    if need is None:
        message = (
            "No budget is enough: the coverage and fairness policies conflict with the channel capacities "
            "or the saturation cap."
        )
        return BudgetNeed(None, False, message)
    ok = need <= settings.budget + 1e-6
    message = f"The chosen policies need at least ${need:,.2f} of budget"
    message += "." if ok else f", more than the ${settings.budget:,.2f} set."
    return BudgetNeed(need, ok, message)


def _relaxed_rhs(problem: Problem, rhs: np.ndarray, keys: Iterable[str]) -> np.ndarray:
    out = rhs.copy()
    for key in keys:
        i = problem.row_index(key)
        out[i] = math.inf if problem.rows[i].sense == "<=" else -math.inf
    return out


def _feasible(problem: Problem, session: SolverSession, rhs: np.ndarray) -> bool:
    session.set_rhs(rhs)
    return session.solve().status is not SolveStatus.INFEASIBLE


def _minimum_of_row(
    problem: Problem, settings: PlanSettings, session: SolverSession, key: str
) -> float | None:
    """Least activity of a '<=' row (e.g. the spend) subject to all other rows; None if infeasible."""
    i = problem.row_index(key)
    row_coefficients = problem.row_coefficients(i)
    session.set_rhs(_relaxed_rhs(problem, problem.rhs(settings), [key]))
    session.set_objective(row_coefficients, maximize=False)
    try:
        solution = session.solve()
    finally:
        session.set_objective(problem.objective, maximize=True)
    if solution.x is None:
        return None
    return float(row_coefficients @ np.round(solution.x))


def _best_rate(
    problem: Problem, settings: PlanSettings, session: SolverSession, setting: str, lower_is_easier: bool
) -> float | None:
    """Nearest feasible rate (whole percent) for one rate setting, others unchanged; None if none works."""
    current = round(getattr(settings, setting) * 100)
    candidates = list(range(current, -1, -1) if lower_is_easier else range(current, 101))

    def works(percent: int) -> bool:
        trial = settings.with_changes(**{setting: percent / 100})
        return _feasible(problem, session, problem.rhs(trial))

    if not candidates or not works(candidates[-1]):
        return None
    lo, hi = 0, len(candidates) - 1  # candidates[hi] works; find the first that works
    while lo < hi:
        mid = (lo + hi) // 2
        if works(candidates[mid]):
            hi = mid
        else:
            lo = mid + 1
    return candidates[lo] / 100


def _conflict_set(problem: Problem, rhs: np.ndarray, session: SolverSession) -> list[int]:
    """Deletion filter over the coupling rows: a minimal set of rows that cannot hold together."""
    dropped: set[int] = set()
    for i in range(problem.n_coupling):
        trial = _relaxed_rhs(problem, rhs, [problem.rows[j].key for j in dropped | {i}])
        if not _feasible(problem, session, trial):
            dropped.add(i)
    return [i for i in range(problem.n_coupling) if i not in dropped]


def _diagnose(problem: Problem, settings: PlanSettings, session: SolverSession) -> Diagnosis:
    rhs = problem.rhs(settings)
    session.set_objective(np.zeros(problem.n_variables), maximize=True)  # feasibility only
    try:
        conflict = _conflict_set(problem, rhs, session)
    finally:
        session.set_objective(problem.objective, maximize=True)
    rows = [problem.rows[i] for i in conflict]
    limits = problem.coupling_rhs(settings)
    described = []
    for i, row in zip(conflict, rows, strict=True):
        limit = limits[i]
        amount = f"${limit:,.2f}" if row.unit == "$" else f"{limit:,.0f} customers"
        described.append(f"{row.label} ({'at most' if row.sense == '<=' else 'at least'} {amount})")

    suggestions: list[Suggestion] = []
    settings_in_conflict: list[str] = []
    for row in rows:
        if row.setting and row.setting not in settings_in_conflict:
            settings_in_conflict.append(row.setting)
    for setting in settings_in_conflict:
        suggestion = _suggest(problem, settings, session, setting)
        if suggestion is not None:
            suggestions.append(suggestion)
    combined, combined_text = (None, "") if suggestions else _combined(problem, settings, session)
    session.set_rhs(rhs)
    message = "These settings cannot all be met: " + "; ".join(described) + "."
    if suggestions:
        message += " Nearest feasible: " + " Or: ".join(s.text for s in suggestions)
    elif combined is not None:
        message += " No single setting change makes the plan feasible. " + combined_text
    else:
        message += " No single setting change makes the plan feasible; relax several policies."
    nearest = (
        settings.with_changes(**{suggestions[0].setting: suggestions[0].value}) if suggestions else combined
    )
    return Diagnosis(
        conflicting=[row.label for row in rows],
        conflicting_keys=[row.key for row in rows],
        message=message,
        suggestions=suggestions,
        nearest=nearest,
        combined=combined,
        combined_text=combined_text,
    )


def _combined(
    problem: Problem, settings: PlanSettings, session: SolverSession
) -> tuple[PlanSettings | None, str]:
    """The elastic model's nearest feasible combination, kept only if re-solving confirms a plan exists."""
    from optimizer.elastic import describe_changes, nearest_combination

    found = nearest_combination(problem, settings)
    if found is None:
        return None, ""
    session.set_objective(np.zeros(problem.n_variables), maximize=True)
    try:
        ok = _feasible(problem, session, problem.rhs(found.settings))
    finally:
        session.set_objective(problem.objective, maximize=True)
    if not ok:
        return None, ""
    text = f"Nearest feasible combination: {describe_changes(settings, found.settings)}."
    return found.settings, text


# The rate settings a suggestion can change, named as the sidebar shows them.
_RATE_LABELS = {
    setting: SETTING_LABELS[setting]
    for setting in ("min_high_risk", "min_premium", "min_segment", "max_saturation")
}


def _suggest(
    problem: Problem, settings: PlanSettings, session: SolverSession, setting: str
) -> Suggestion | None:
    current = getattr(settings, setting)
    if setting == "budget":
        need = _minimum_of_row(problem, settings, session, "budget")
        if need is None:
            return None
        value = math.ceil(need * 100 - 1e-6) / 100
        return Suggestion(
            setting, current, value, f"raise the budget to ${value:,.2f} (the least the policies need)."
        )
    if setting.endswith("_capacity"):
        need = _minimum_of_row(problem, settings, session, setting)
        if need is None:
            return None
        value = float(math.ceil(need - 1e-6))
        label = {"email_capacity": "email", "push_capacity": "push/in-app", "call_capacity": "call"}[setting]
        return Suggestion(setting, current, value, f"raise the {label} capacity to {value:,.0f}.")
    if setting in _RATE_LABELS:
        lower_is_easier = setting != "max_saturation"
        rate = _best_rate(problem, settings, session, setting, lower_is_easier)
        if rate is None:
            return None
        verb = "lower" if lower_is_easier else "raise"
        return Suggestion(setting, current, rate, f"{verb} {_RATE_LABELS[setting]} to {rate:.0%}.")
    return None


def required_count(rate: float, size: int, settings: PlanSettings) -> int:
    """Customers a policy rate requires under the settings' rounding (re-exported for the UI)."""
    return policy_count(rate, size, settings.coverage_rounding)
