"""Solver backends behind one small interface.

A backend opens a `Session` on a built `Problem`: the model is built once, then re-solved after changing
right-hand sides (`set_rhs`) or the objective (`set_objective`). Each session owns its own solver
environment (one Gurobi env per session, never shared between threads or Streamlit sessions).

Status is a value, not an exception: a `Solution` says optimal / infeasible / time_limit / no_solution.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from optimizer.model import Problem

# gurobipy from pip carries a size-limited license.
GUROBI_SIZE_LIMIT = 2000
GUROBI_SIZE_LIMIT_ERROR = 10010
# Set to 1 when a full Gurobi license is installed, so large models are not sent to HiGHS.
UNLIMITED_GUROBI_ENV = "PLAYLISTPRO_GUROBI_UNLIMITED"
ABSOLUTE_GAP = 1e-6


class SolverUnavailable(RuntimeError):
    """The requested solver cannot solve this model here (not installed, or the license forbids it)."""


@dataclass
class Solution:
    status: str  # "optimal" | "infeasible" | "time_limit" | "no_solution"
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    mip_gap: float | None
    runtime: float
    row_duals: np.ndarray | None = None  # LP relaxation only: d objective / d rhs, per matrix row
    multipliers: np.ndarray | None = None  # decomposition: per coupling row, d objective / d rhs
    detail: str = ""  # how the solution was found (the decomposition's method and sizes)

    @property
    def has_plan(self) -> bool:
        return self.x is not None


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|bound - objective| / max(|objective|, 1e-10): the usual MIP relative gap."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(bound - objective) / max(abs(objective), 1e-10)


def gurobi_available() -> bool:
    try:
        import gurobipy  # noqa: F401
    except ImportError:
        return False
    return True


def highs_available() -> bool:
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def within_gurobi_license(problem: Problem) -> bool:
    if os.environ.get(UNLIMITED_GUROBI_ENV) == "1":
        return True
    return problem.n_variables <= GUROBI_SIZE_LIMIT and problem.n_constraints <= GUROBI_SIZE_LIMIT


def choose_solver(problem: Problem, requested: str = "auto") -> tuple[str, str]:
    """Which backend solves this problem, and why (a sentence for the user).

    "auto": Gurobi within its pip license limit; above it the decomposition (`optimizer.decomposition`);
    HiGHS's MILP for a small model when gurobipy is not installed.
    """
    size = f"{problem.n_variables:,} variables and {problem.n_constraints:,} constraints"
    if requested in ("gurobi", "highs", "decomposition"):
        return requested, "requested"
    if requested != "auto":
        raise ValueError(f"unknown solver {requested!r}; use auto, gurobi, highs or decomposition")
    if not within_gurobi_license(problem):
        return "decomposition", (
            f"the model has {size}, over the 2,000 limit of gurobipy's size-limited pip license, "
            "so the decomposition over the coupling constraints ran (certified gap)"
        )
    if not gurobi_available():
        return "highs", "gurobipy is not installed, so the open-source HiGHS solver ran"
    return "gurobi", f"the model ({size}) fits gurobipy's size-limited license"


def open_session(
    problem: Problem, rhs: np.ndarray, solver: str, *, relax: bool = False, progress=None, options=None
):
    """Open a solver session (a context manager) for `problem` with right-hand sides `rhs`.

    `progress(fraction, message)` and `options` (a `DecompositionOptions`) tune the decomposition; the MILP
    solvers ignore them.
    """
    if solver == "gurobi":
        return GurobiSession(problem, rhs, relax=relax)
    if solver == "highs":
        return HighsSession(problem, rhs, relax=relax)
    if solver == "decomposition":
        from optimizer.decomposition import DecompositionSession

        return DecompositionSession(problem, rhs, relax=relax, options=options, progress=progress)
    raise ValueError(f"unknown solver {solver!r}")


class GurobiSession:
    """gurobipy matrix-API model; one env per session."""

    name = "gurobi"

    def __init__(self, problem: Problem, rhs: np.ndarray, *, relax: bool = False):
        try:
            import gurobipy as gp
            from gurobipy import GRB
        except ImportError as exc:
            raise SolverUnavailable("gurobipy is not installed") from exc
        self._gp, self._GRB = gp, GRB
        self.relax = relax
        self.senses = problem.senses()
        try:
            self.env = gp.Env(params={"OutputFlag": 0})
        except gp.GurobiError as exc:
            raise SolverUnavailable(f"Gurobi could not start: {exc}") from exc
        self.model = gp.Model("retention_plan", env=self.env)
        self.model.Params.MIPGap = 0.0
        self.model.Params.MIPGapAbs = ABSOLUTE_GAP
        self.model.Params.Seed = 0
        self.model.Params.Threads = 1 if problem.n_variables <= GUROBI_SIZE_LIMIT else 0
        vtype = GRB.CONTINUOUS if relax else GRB.BINARY
        self.x = self.model.addMVar(
            problem.n_variables, lb=0.0, ub=1.0, vtype=vtype, obj=problem.objective, name="x"
        )
        self.model.ModelSense = GRB.MAXIMIZE
        sense = np.where(self.senses == "<=", GRB.LESS_EQUAL, GRB.GREATER_EQUAL)
        self.constrs = self.model.addMConstr(problem.matrix, self.x, sense, self._finite(rhs), name="row")

    def _finite(self, rhs: np.ndarray) -> np.ndarray:
        big = self._GRB.INFINITY
        return np.where(np.isposinf(rhs), big, np.where(np.isneginf(rhs), -big, rhs))

    def set_rhs(self, rhs: np.ndarray) -> None:
        self.constrs.RHS = self._finite(np.asarray(rhs, dtype=float))

    def set_objective(self, objective: np.ndarray, maximize: bool = True) -> None:
        self.x.Obj = objective
        self.model.ModelSense = self._GRB.MAXIMIZE if maximize else self._GRB.MINIMIZE

    def solve(self, time_limit: float | None = None) -> Solution:
        GRB = self._GRB
        self.model.Params.TimeLimit = time_limit if time_limit else GRB.INFINITY
        started = time.perf_counter()
        try:
            self.model.optimize()
        except self._gp.GurobiError as exc:
            if exc.errno == GUROBI_SIZE_LIMIT_ERROR:
                raise SolverUnavailable(
                    "the model is too large for gurobipy's size-limited license (2,000 variables and "
                    "2,000 constraints); use the HiGHS solver or install a full Gurobi license"
                ) from exc
            raise SolverUnavailable(f"Gurobi failed: {exc}") from exc
        runtime = time.perf_counter() - started
        status = self.model.Status
        if status in (GRB.INFEASIBLE, GRB.INF_OR_UNBD):
            return Solution("infeasible", None, None, None, None, runtime)
        has_solution = self.model.SolCount > 0
        x = np.asarray(self.x.X) if has_solution else None
        objective = float(self.model.ObjVal) if has_solution else None
        if self.relax:
            duals = np.asarray(self.constrs.Pi) if status == GRB.OPTIMAL else None
            return Solution(
                "optimal" if status == GRB.OPTIMAL else "time_limit",
                x,
                objective,
                objective,
                0.0,
                runtime,
                duals,
            )
        bound = float(self.model.ObjBound) if has_solution or status == GRB.OPTIMAL else None
        if status == GRB.OPTIMAL:
            label = "optimal"
        else:
            label = "time_limit" if has_solution else "no_solution"
        return Solution(label, x, objective, bound, relative_gap(objective, bound), runtime)

    def close(self) -> None:
        self.model.dispose()
        self.env.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HighsSession:
    """highspy model, passed whole as column-wise arrays."""

    name = "highs"

    def __init__(self, problem: Problem, rhs: np.ndarray, *, relax: bool = False):
        try:
            import highspy
        except ImportError as exc:
            raise SolverUnavailable("highspy is not installed") from exc
        self._highspy = highspy
        self.relax = relax
        self.senses = problem.senses()
        self.n_rows = problem.n_constraints
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", ABSOLUTE_GAP)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("threads", 1)
        lp = highspy.HighsLp()
        n = problem.n_variables
        lp.num_col_ = n
        lp.num_row_ = self.n_rows
        lp.col_cost_ = problem.objective.astype(float)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.ones(n)
        lower, upper = self._bounds(rhs)
        lp.row_lower_ = lower
        lp.row_upper_ = upper
        csc = problem.matrix.tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(float)
        lp.sense_ = highspy.ObjSense.kMaximize
        if not relax:
            lp.integrality_ = np.full(n, highspy.HighsVarType.kInteger)
        h.passModel(lp)
        self.h = h

    def _bounds(self, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rhs = np.asarray(rhs, dtype=float)
        upper_rows = self.senses == "<="
        lower = np.where(upper_rows, -np.inf, rhs)
        upper = np.where(upper_rows, rhs, np.inf)
        return lower, upper

    def set_rhs(self, rhs: np.ndarray) -> None:
        lower, upper = self._bounds(rhs)
        self.h.changeRowsBounds(self.n_rows, np.arange(self.n_rows, dtype=np.int32), lower, upper)

    def set_objective(self, objective: np.ndarray, maximize: bool = True) -> None:
        n = len(objective)
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(objective, dtype=float))
        sense = self._highspy.ObjSense
        self.h.changeObjectiveSense(sense.kMaximize if maximize else sense.kMinimize)

    def solve(self, time_limit: float | None = None) -> Solution:
        highspy = self._highspy
        self.h.setOptionValue("time_limit", float(time_limit) if time_limit else math.inf)
        started = time.perf_counter()
        self.h.run()
        runtime = time.perf_counter() - started
        status = self.h.getModelStatus()
        ms = highspy.HighsModelStatus
        if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            return Solution("infeasible", None, None, None, None, runtime)
        info = self.h.getInfo()
        solution = self.h.getSolution()
        has_solution = bool(solution.value_valid) and (
            self.relax or info.primal_solution_status == 2  # kSolutionStatusFeasible
        )
        x = np.asarray(solution.col_value) if has_solution else None
        objective = float(info.objective_function_value) if has_solution else None
        optimal = status == ms.kOptimal
        if self.relax:
            duals = np.asarray(solution.row_dual) if optimal and solution.dual_valid else None
            return Solution(
                "optimal" if optimal else "time_limit", x, objective, objective, 0.0, runtime, duals
            )
        bound = float(info.mip_dual_bound) if has_solution else None
        label = "optimal" if optimal else ("time_limit" if has_solution else "no_solution")
        return Solution(label, x, objective, bound, relative_gap(objective, bound), runtime)

    def close(self) -> None:
        self.h.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
