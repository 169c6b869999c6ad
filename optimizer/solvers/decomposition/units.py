"""The small LPs and MILPs of the decomposition, over "units": a customer, or a group of interchangeable
customers represented by one of them. Every other customer is fixed, so the coupling rows' right-hand sides
are what those leave."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from optimizer.solvers.base import ABSOLUTE_GAP, SolveStatus
from optimizer.solvers.highs import highspy_module, new_highs

if TYPE_CHECKING:
    from optimizer.model import Problem
    from optimizer.solvers.decomposition.pricing import Limits

_INTEGRAL = 1e-9  # an LP value this close to an integer counts as that integer


class Method(Enum):
    """How a units model was solved (internal; its status is a `SolveStatus`)."""

    LP = "LP"
    INTEGRAL_LP = "integral LP optimum"  # an integer model whose LP optimum is integral: the MILP's optimum
    ROUNDED = "LP optimum rounded"  # a plan, not proven optimal: no bound
    MILP = "MILP"


@dataclass(frozen=True)
class Sub:
    """A solved LP or MILP over some units (customers, or classes of interchangeable customers)."""

    status: SolveStatus  # of a rounded plan (`Method.ROUNDED`): TIME_LIMIT, a plan without a proven bound
    units: np.ndarray  # unit of each column
    actions: np.ndarray  # action position of each column
    values: np.ndarray | None
    objective: float | None
    bound: float | None
    duals: np.ndarray | None  # active coupling rows' duals (LP only)
    method: Method = Method.LP

    @property
    def rounded(self) -> bool:
        return self.method is Method.ROUNDED


class Units:
    """Builds and solves the units models of one problem, objective and set of limits, before a deadline."""

    def __init__(self, problem: Problem, profit: np.ndarray, limits: Limits, deadline: float):
        self.problem = problem
        self.profit = profit
        self.limits = limits
        self.deadline = deadline
        self.highspy = highspy_module(" (the decomposition's LPs and MILPs use it)")

    def highs(self, **options):
        """A HiGHS instance for these models (`new_highs`): no feasibility-jump heuristic, the time left."""
        remaining = self.deadline - time.perf_counter()
        time_limit = max(remaining, 0.01) if np.isfinite(remaining) else None
        return new_highs(time_limit=time_limit, feasibility_jump=False, **options)

    def solve(
        self,
        reps: np.ndarray,
        sizes: np.ndarray,
        allowed: np.ndarray,
        rhs: np.ndarray,
        *,
        integer: bool,
        zero: bool = False,
        must_act: np.ndarray | None = None,
        abs_gap: float = ABSOLUTE_GAP,
        presolve: bool = True,
        exact: bool = True,
    ) -> Sub:
        """max sum profit[k, rep] y[u, k] over units u (a customer, or `sizes[u]` interchangeable customers
        represented by `reps[u]`) and allowed actions k, subject to the active coupling rows with right-hand
        sides `rhs` and sum_k y[u, k] <= sizes[u] (= with `must_act`); 0 <= y <= sizes; integer if asked.

        Integer models solve the LP relaxation first: its optimum, if integral, is the MILP's. With
        `exact=False` a fractional LP optimum is rounded by `_round_lp` (`Method.ROUNDED`: a plan, no bound),
        and only if that finds nothing is the MILP solved."""
        p, highspy = self.problem, self.highspy
        units, actions = np.nonzero(allowed)
        customers = reps[units]
        active = self.limits.active
        coupling = p.action_coefficients[active][:, actions]
        for j, row in enumerate(p.customer_rows):
            position = np.flatnonzero(active == row)
            if len(position):
                coupling[position[0]] += p.customer_coefficients[j][customers]
        upper = self.limits.senses[active] == "<="
        row_lower = np.concatenate([np.where(upper, -np.inf, rhs), np.full(len(reps), -np.inf)])
        row_upper = np.concatenate([np.where(upper, rhs, np.inf), sizes.astype(float)])
        if must_act is not None:
            row_lower[len(active) :] = np.where(must_act, sizes, -np.inf)
        if len(units) == 0:  # HiGHS calls an empty model optimal whatever its row bounds
            feasible = bool(np.all(row_lower <= 1e-9) and np.all(row_upper >= -1e-9))
            if not feasible:
                return Sub(SolveStatus.INFEASIBLE, units, actions, None, None, None, None)
            return Sub(SolveStatus.OPTIMAL, units, actions, np.zeros(0), 0.0, 0.0, np.zeros(len(active)))
        # Column-wise: each column's coupling entries (rows ascending), then its unit's row (below them all).
        nz_col, nz_row = np.nonzero(coupling.T)
        rows = np.concatenate([nz_row, len(active) + units])
        cols = np.concatenate([nz_col, np.arange(len(units))])
        order = np.lexsort((rows, cols))
        start = np.zeros(len(units) + 1, dtype=np.int32)
        np.cumsum(np.bincount(cols, minlength=len(units)), out=start[1:])
        index = rows[order].astype(np.int32)
        coefficient = np.concatenate([coupling[nz_row, nz_col], np.ones(len(units))])[order]
        h = self.highs(mip_abs_gap=abs_gap, presolve=presolve)
        lp = highspy.HighsLp()
        lp.num_col_ = len(units)
        lp.num_row_ = len(active) + len(reps)
        lp.col_cost_ = np.zeros(len(units)) if zero else self.profit[actions, customers]
        lp.col_lower_ = np.zeros(len(units))
        lp.col_upper_ = sizes[units].astype(float)
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = start
        lp.a_matrix_.index_ = index
        lp.a_matrix_.value_ = coefficient
        lp.sense_ = highspy.ObjSense.kMaximize
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        ms = highspy.HighsModelStatus
        if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            return Sub(SolveStatus.INFEASIBLE, units, actions, None, None, None, None)  # the MILP too
        if integer:
            # The LP relaxation first: at most about one fractional unit per coupling row, and usually none.
            # An integral LP optimum is the MILP's optimum (the LP bounds the MILP), at a tenth of the
            # time of HiGHS's MILP machinery on these small models.
            solution = h.getSolution()
            if status == ms.kOptimal and solution.value_valid:
                relaxed = np.asarray(solution.col_value)
                rounded = np.rint(relaxed)
                fractional = np.abs(relaxed - rounded) > _INTEGRAL
                if not fractional.any():
                    integral = float(lp.col_cost_ @ rounded)
                    return Sub(
                        SolveStatus.OPTIMAL,
                        units,
                        actions,
                        rounded,
                        integral,
                        integral,
                        None,
                        Method.INTEGRAL_LP,
                    )
                if not exact:
                    found = self._round_lp(lp, units, fractional, rounded)
                    if found is not None:
                        value = float(lp.col_cost_ @ found)
                        return Sub(
                            SolveStatus.TIME_LIMIT, units, actions, found, value, None, None, Method.ROUNDED
                        )
            lp.integrality_ = np.full(len(units), highspy.HighsVarType.kInteger)
            h.passModel(lp)
            h.run()
            status = h.getModelStatus()
            if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
                return Sub(SolveStatus.INFEASIBLE, units, actions, None, None, None, None)
        info = h.getInfo()
        solution = h.getSolution()
        has_values = bool(solution.value_valid) and (not integer or info.primal_solution_status == 2)
        values = np.asarray(solution.col_value) if has_values else None
        objective = float(info.objective_function_value) if has_values else None
        optimal = status == ms.kOptimal
        if integer:
            bound = float(info.mip_dual_bound) if has_values else None
            duals = None
        else:
            bound = objective
            duals = np.asarray(solution.row_dual)[: len(active)] if optimal and solution.dual_valid else None
        if optimal:
            label = SolveStatus.OPTIMAL
        else:
            label = SolveStatus.TIME_LIMIT if has_values else SolveStatus.NO_SOLUTION
        method = Method.MILP if integer else Method.LP
        return Sub(label, units, actions, values, objective, bound, duals, method)

    def _round_lp(
        self, lp, units: np.ndarray, fractional: np.ndarray, rounded: np.ndarray
    ) -> np.ndarray | None:
        """Fix-and-solve: every unit whose LP values are all integral keeps them; a MILP over the few units
        with a fractional value (about one per coupling row) places those. None if that MILP has no
        solution (the fixed units leave the others no integral room)."""
        loose = np.isin(units, units[fractional])
        fixed = lp.col_lower_.copy(), lp.col_upper_.copy()
        lp.col_lower_ = np.where(loose, fixed[0], rounded)
        lp.col_upper_ = np.where(loose, fixed[1], rounded)
        lp.integrality_ = np.full(len(units), self.highspy.HighsVarType.kInteger)
        h = self.highs()
        h.passModel(lp)
        h.run()
        lp.col_lower_, lp.col_upper_ = fixed
        lp.integrality_ = []
        info, solution = h.getInfo(), h.getSolution()
        if not solution.value_valid or info.primal_solution_status != 2:
            return None
        return np.rint(np.asarray(solution.col_value))
