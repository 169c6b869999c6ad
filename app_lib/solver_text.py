"""Which solver path produced a plan, why, and what it proved, in sentences for the pages (no Streamlit)."""

from __future__ import annotations

from dataclasses import dataclass

from app_lib.formatting import money
from optimizer.plan import SolverReport
from optimizer.solvers import GUROBI_SIZE_LIMIT, SolveStatus

SOLVER_NAMES = {
    "gurobi": "Gurobi, exact MILP",
    "highs": "HiGHS, exact MILP (open-source)",
    "decomposition": "Decomposition",
}


@dataclass(frozen=True)
class SolverSummary:
    """`headline`: the solver path and its proof; `figures`: objective, bound and gap; `reason`: why this
    path ran; `detail`: how the decomposition found and certified the plan ('' for the MILP solvers)."""

    headline: str
    figures: str
    reason: str
    detail: str


def gap_text(gap: float | None) -> str:
    """A relative gap as a percentage with two decimals (0.00%), a nonzero one below 0.01% with one
    significant digit (0.0003%) so that it never reads as zero; '–' when unknown."""
    if gap is None:
        return "–"
    if 0 < gap < 1e-4:
        return f"{100 * gap:.1g}%" if 100 * gap >= 1e-4 else "< 0.0001%"
    return f"{100 * gap:,.2f}%"


def proven_optimal(report: SolverReport) -> bool:
    """Optimal with nothing left to close (the decomposition may stop at a tiny, certified gap)."""
    return report.status == SolveStatus.OPTIMAL and not (report.mip_gap or 0.0) > 0.0


def _proof(report: SolverReport) -> str:
    if report.status == SolveStatus.OPTIMAL:
        if proven_optimal(report):
            return "proven optimal"
        return f"optimal within its certified gap of {gap_text(report.mip_gap)}"
    if report.status == SolveStatus.INFEASIBLE:
        return "proven infeasible (no plan meets every setting)"
    if report.status == SolveStatus.TIME_LIMIT:
        return "stopped at the time limit"
    return f"no plan found ({report.status})"


def solver_summary(report: SolverReport, customers: int) -> SolverSummary:
    """The solver's certificate as the Results and Plan pages show it, e.g. 'Decomposition (open-source,
    75,000 customers: 461,910 variables exceed gurobipy's 2,000-variable license limit): certified gap
    0.00%, proven optimal'."""
    name = SOLVER_NAMES.get(report.solver, report.solver)
    over_limit = report.n_variables > GUROBI_SIZE_LIMIT or report.n_constraints > GUROBI_SIZE_LIMIT
    if report.solver == "decomposition":
        why = (
            f"open-source, {customers:,} customers: {report.n_variables:,} variables exceed gurobipy's "
            f"{GUROBI_SIZE_LIMIT:,}-variable license limit"
            if over_limit and report.reason != "requested"
            else "open-source"
        )
        name = f"{name} ({why})"
    headline = f"{name}: {_proof(report)}"
    if report.objective is not None:
        figures = f"Objective (net value) {money(report.objective)}"
        if report.bound is not None:
            figures += f", upper bound {money(report.bound)}, certified gap {gap_text(report.mip_gap)}"
        figures += f"; {report.runtime_seconds:,.2f} s of solver time."
    else:
        figures = f"{report.runtime_seconds:,.2f} s of solver time."
    if report.reason == "requested":
        reason = (
            f"This solver was requested; the model has {report.n_variables:,} variables and "
            f"{report.n_constraints:,} constraints."
        )
    else:
        reason = f"Why this solver: {report.reason}."
    return SolverSummary(headline=headline, figures=figures, reason=reason, detail=report.detail or "")
