"""Gurobi backend: gurobipy's matrix API, one env per session (the pip license's size limit is translated)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Self

import numpy as np

from optimizer.solvers.base import (
    ABSOLUTE_GAP,
    GUROBI_SIZE_LIMIT,
    GUROBI_SIZE_LIMIT_ERROR,
    Solution,
    SolverUnavailable,
    SolveStatus,
    relative_gap,
)

if TYPE_CHECKING:
    from optimizer.model import Problem


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

    # gurobipy's stub types the MConstr/MVar attributes as scalars; on matrix objects they are arrays.
    def set_rhs(self, rhs: np.ndarray) -> None:
        self.constrs.RHS = self._finite(np.asarray(rhs, dtype=float))  # type: ignore[assignment]

    def set_objective(self, objective: np.ndarray, maximize: bool = True) -> None:
        self.x.Obj = objective  # type: ignore[assignment]
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
            return Solution(SolveStatus.INFEASIBLE, None, None, None, None, runtime)
        has_solution = self.model.SolCount > 0
        x = np.asarray(self.x.X) if has_solution else None
        objective = float(self.model.ObjVal) if has_solution else None
        if self.relax:
            duals = np.asarray(self.constrs.Pi) if status == GRB.OPTIMAL else None
            return Solution(
                SolveStatus.OPTIMAL if status == GRB.OPTIMAL else SolveStatus.TIME_LIMIT,
                x,
                objective,
                objective,
                0.0,
                runtime,
                duals,
            )
        bound = float(self.model.ObjBound) if has_solution or status == GRB.OPTIMAL else None
        if status == GRB.OPTIMAL:
            ended = SolveStatus.OPTIMAL
        else:
            ended = SolveStatus.TIME_LIMIT if has_solution else SolveStatus.NO_SOLUTION
        return Solution(ended, x, objective, bound, relative_gap(objective, bound), runtime)

    def close(self) -> None:
        self.model.dispose()
        self.env.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
