"""A `Solution` (the solver contract) from a plan (every customer's choice) or from an LP relaxation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from optimizer.solvers.base import Solution, SolveStatus
from optimizer.solvers.decomposition.options import certified_gap

if TYPE_CHECKING:
    from optimizer.model import Problem
    from optimizer.solvers.decomposition.classes import Structure
    from optimizer.solvers.decomposition.relaxation import Relaxation


def plan_solution(
    st: Structure,
    n_variables: int,
    status: SolveStatus,
    choice: np.ndarray | None,
    value: float | None,
    bound: float | None,
    detail: str,
    sign: float,
    multipliers: np.ndarray | None = None,
) -> Solution:
    """The solution of a plan of value `value` (maximized; `sign` -1 turns a minimization back)."""
    if choice is None or value is None:
        return Solution(status, None, None, None, None, 0.0, detail=detail)
    x = np.zeros(n_variables)
    treated = np.flatnonzero(choice >= 0)
    x[st.pair_of[treated, choice[treated]]] = 1.0
    return Solution(
        status,
        x,
        sign * value,
        None if bound is None else sign * bound,
        None if bound is None else certified_gap(value, bound),
        0.0,
        multipliers=None if multipliers is None else sign * multipliers,
        detail=detail,
    )


def lp_solution(
    problem: Problem, st: Structure, profit: np.ndarray, maximize: bool, relaxation: Relaxation
) -> Solution:
    """The LP relaxation's optimum found by sifting, with its row duals (coupling rows, then customers)."""
    sub, free, fixed, prices = relaxation.sub, relaxation.free, relaxation.fixed, relaxation.prices
    x = np.zeros(problem.n_variables)
    treated = np.flatnonzero(fixed >= 0)
    x[st.pair_of[treated, fixed[treated]]] = 1.0
    x[st.pair_of[free[sub.units], sub.actions]] = sub.values
    value = float(profit[problem.pair_action, problem.pair_customer] @ x)
    sign = 1.0 if maximize else -1.0
    return Solution(
        SolveStatus.OPTIMAL,
        x,
        sign * value,
        sign * relaxation.lowest.bound,
        0.0,
        0.0,
        sign * np.concatenate([prices.multipliers, prices.best]),
        multipliers=sign * prices.multipliers,
        detail=f"LP relaxation by sifting ({relaxation.rounds} rounds, {len(free):,} customers free)",
    )
