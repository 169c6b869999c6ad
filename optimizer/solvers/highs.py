"""HiGHS backend: the whole model passed to highspy as column-wise arrays, and `new_highs`, the one HiGHS
setup every HiGHS model of the project uses (this backend, the decomposition's LPs, MILPs and dual master)."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Self

import numpy as np

from optimizer.solvers.base import ABSOLUTE_GAP, Solution, SolverUnavailable, SolveStatus, relative_gap

if TYPE_CHECKING:
    from types import ModuleType

    from optimizer.model import Problem


def highspy_module(purpose: str = "") -> ModuleType:
    """The `highspy` module, or `SolverUnavailable` saying what needed it."""
    try:
        import highspy
    except ImportError as exc:
        raise SolverUnavailable(f"highspy is not installed{purpose}") from exc
    return highspy


def new_highs(
    *,
    time_limit: float | None = None,
    mip_rel_gap: float = 0.0,
    mip_abs_gap: float = ABSOLUTE_GAP,
    presolve: bool | None = None,
    feasibility_jump: bool = True,
):
    """A `highspy.Highs` instance set up the project's way: no output, one thread, seed 0 (deterministic
    results), exact MIP gaps (`mip_rel_gap` 0, `mip_abs_gap` `ABSOLUTE_GAP`), a time limit in seconds (none:
    unlimited). `presolve`: on, off, or None for HiGHS's own choice. `feasibility_jump`: HiGHS 1.15 runs this
    primal heuristic before every MILP's root, 15 ms even on an 8-column model (the decomposition's small,
    near-integral MILPs switch it off)."""
    h = highspy_module().Highs()
    options: dict[str, object] = {
        "output_flag": False,
        "threads": 1,
        "random_seed": 0,
        "mip_rel_gap": mip_rel_gap,
        "mip_abs_gap": mip_abs_gap,
        "time_limit": float(time_limit) if time_limit else math.inf,
    }
    if presolve is not None:
        options["presolve"] = "on" if presolve else "off"
    if not feasibility_jump:
        options["mip_heuristic_run_feasibility_jump"] = False
    for option, value in options.items():
        h.setOptionValue(option, value)
    return h


class HighsSession:
    """highspy model, passed whole as column-wise arrays."""

    name = "highs"

    def __init__(self, problem: Problem, rhs: np.ndarray, *, relax: bool = False):
        highspy = highspy_module()
        self._highspy = highspy
        self.relax = relax
        self.senses = problem.senses()
        self.n_rows = problem.n_constraints
        h = new_highs()
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
            return Solution(SolveStatus.INFEASIBLE, None, None, None, None, runtime)
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
            ended = SolveStatus.OPTIMAL if optimal else SolveStatus.TIME_LIMIT
            return Solution(ended, x, objective, objective, 0.0, runtime, duals)
        bound = float(info.mip_dual_bound) if has_solution else None
        if optimal:
            ended = SolveStatus.OPTIMAL
        else:
            ended = SolveStatus.TIME_LIMIT if has_solution else SolveStatus.NO_SOLUTION
        return Solution(ended, x, objective, bound, relative_gap(objective, bound), runtime)

    def close(self) -> None:
        self.h.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
