"""The certificate: reduced-cost fixing. A plan better than the incumbent only uses choices whose loss
(best reduced profit minus the choice's) is below bound - value; when those are few, the exact MILP over
them gives the global optimum, and its bound bounds every better plan."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.solvers.base import ABSOLUTE_GAP, SolveStatus
from optimizer.solvers.decomposition.classes import Structure
from optimizer.solvers.decomposition.neighbourhood import Base
from optimizer.solvers.decomposition.options import DecompositionOptions, Progress, certified_gap
from optimizer.solvers.decomposition.pricing import Prices, Pricing
from optimizer.solvers.decomposition.units import Units


@dataclass(frozen=True)
class Certificate:
    improved: tuple[np.ndarray, np.ndarray] | None  # changes from the base plan, if better than the incumbent
    value: float
    bound: float
    note: str


def certify(
    prices: Prices,
    base: Base,
    value: float,
    pricing: Pricing,
    st: Structure,
    units: Units,
    options: DecompositionOptions,
    deadline: float,
    say: Progress,
) -> Certificate | None:
    """Reduced-cost fixing around the incumbent of value `value`: None when skipped or inconclusive."""
    gap = prices.bound - value
    if gap <= ABSOLUTE_GAP or time.perf_counter() > deadline:
        return None
    slack = gap * (1 + 1e-9) + 1e-9 * pricing.objective.scale
    free = np.flatnonzero(prices.margin <= slack)  # customers with a second option within the gap
    if len(free) * pricing.problem.n_actions > 4 * options.certify_limit:
        return None
    if len(free) > options.neighbourhood and certified_gap(value, prices.bound) <= options.target_gap:
        return None  # the target is met; closing the rest over this many customers can take seconds
    loss = prices.best[free][:, None] - pricing.reduced_table(prices, free)
    candidate = np.column_stack([loss <= slack, prices.best[free] <= slack])  # last: no action allowed
    members, reps, sizes, allowed = st.identical_groups(pricing.profit, free, candidate)
    if int(allowed[:, :-1].sum()) > options.certify_limit:
        return None
    say(0.9, f"reduced-cost fixing: exact MILP over {len(free):,} customers")
    rhs = base.rhs_for(free)
    must_act = ~allowed[:, -1]
    sub = units.solve(reps, sizes, allowed[:, :-1], rhs, integer=True, must_act=must_act, presolve=False)
    if sub.status != SolveStatus.OPTIMAL or sub.values is None or sub.bound is None:
        return None  # (infeasible only through tolerances: the incumbent uses candidates only)
    choices = base.spread(free, members, sizes, sub)
    improved_value, feasible = base.evaluate(free, choices)
    improved = None
    if improved_value > value and feasible:
        improved, value = (free, choices), improved_value
    # Every plan better than the incumbent lies in this MILP: its bound bounds them all.
    bound = max(value, min(prices.bound, base.value - base.value_of(free) + sub.bound))
    note = f"reduced-cost fixing: exact MILP over {len(free):,} customers"
    return Certificate(improved, value, bound, note)
