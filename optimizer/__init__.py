"""PlaylistPro Retention Optimizer: churn predictions in, an optimal weekly treatment plan out.

Public API (the app, the CLI and the tests all use these):
    load_cohort, load_bundled_cohort, load_catalog, validate_catalog  -- inputs
    PlanSettings, build_problem                                       -- the model
    solve_plan, budget_sweep, marginal_values, minimum_budget          -- solving and analysis
    build_exports, write_exports                                       -- treatment plan and channel lists
"""

from optimizer.analysis import Kpis, compute_kpis, constraint_report
from optimizer.catalog import load_catalog, validate_catalog
from optimizer.data import load_bundled_cohort, load_cohort
from optimizer.errors import InputError, InputProblem
from optimizer.exports import Exports, build_exports, to_csv_bytes, write_exports
from optimizer.model import PlanSettings, build_problem
from optimizer.plan import (
    BudgetNeed,
    Diagnosis,
    PlanResult,
    SolverReport,
    budget_sweep,
    marginal_values,
    minimum_budget,
    solve_plan,
)

__all__ = [
    "BudgetNeed",
    "Diagnosis",
    "Exports",
    "InputError",
    "Kpis",
    "PlanResult",
    "PlanSettings",
    "InputProblem",
    "SolverReport",
    "budget_sweep",
    "build_exports",
    "build_problem",
    "compute_kpis",
    "constraint_report",
    "load_bundled_cohort",
    "load_catalog",
    "load_cohort",
    "marginal_values",
    "minimum_budget",
    "solve_plan",
    "to_csv_bytes",
    "validate_catalog",
    "write_exports",
]
