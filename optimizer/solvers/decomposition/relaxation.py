"""LP relaxations over customers: the LP of a random sample (first multipliers for a general objective) and
sifting (the LP relaxation's optimum: an LP over the customers with the smallest margins, everyone else
fixed to their best action, until no fixed choice stops being best)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.solvers.base import SolveStatus
from optimizer.solvers.decomposition.classes import Structure
from optimizer.solvers.decomposition.options import Progress
from optimizer.solvers.decomposition.pricing import Limits, Prices, Pricing, smallest_margins
from optimizer.solvers.decomposition.units import Sub, Units


@dataclass(frozen=True)
class Relaxation:
    """The LP relaxation's optimum found by sifting."""

    prices: Prices  # at the LP's multipliers
    lowest: Prices  # the multipliers with the lowest L seen (the bound)
    fixed: np.ndarray  # choices of the customers outside the LP
    free: np.ndarray  # customers in the last LP
    sub: Sub
    rounds: int


def sample_multipliers(st: Structure, limits: Limits, units: Units, size: int) -> np.ndarray:
    """Duals of the LP relaxation of a random sample of `size` customers, right-hand sides scaled to it."""
    n = len(st.class_of)
    sample = np.sort(np.random.default_rng(0).choice(n, size=size, replace=False))
    rhs = limits.rhs[limits.active] * (size / n)
    sub = units.solve(sample, np.ones(size, dtype=np.int64), st.eligible[sample], rhs, integer=False)
    lam = np.zeros(len(limits.rhs))
    if sub.duals is not None:
        lam[limits.active] = sub.duals
    return lam


def sift(
    multipliers: np.ndarray,
    pricing: Pricing,
    st: Structure,
    limits: Limits,
    units: Units,
    working_set: int,
    deadline: float,
    say: Progress,
) -> Relaxation | None:
    """The LP relaxation's optimum: an LP over a working set, the other customers fixed to their best (None:
    the time limit, or no LP optimum)."""
    n = len(st.class_of)
    active = limits.active
    prices = pricing.price(multipliers, limits)
    lowest = prices
    fixed = prices.choice.copy()
    working = np.zeros(n, dtype=bool)
    grow = working_set
    tolerance = 1e-7 * pricing.objective.scale
    for round_ in range(1, 1000):
        if time.perf_counter() > deadline:
            return None
        working[smallest_margins(prices, grow, working)] = True
        free = np.flatnonzero(working)
        say(0.3 + 0.3 * (1 - 0.5**round_), f"LP relaxation, round {round_}: {len(free):,} customers free")
        rhs = limits.rhs[active] - pricing.activity(np.where(working, -1, fixed))[active]
        sub = units.solve(free, np.ones(len(free), dtype=np.int64), st.eligible[free], rhs, integer=False)
        if sub.status == SolveStatus.INFEASIBLE:  # the fixed customers leave the others no room: free more
            if np.isinf(np.where(working, np.inf, prices.margin)).all():
                return None  # everyone is free (only reachable through tolerances)
            grow = 4 * max(len(free), working_set)
            continue
        if sub.duals is None:
            return None
        lam = np.zeros(len(limits.rhs))
        lam[active] = sub.duals
        prices = pricing.price(lam, limits)
        if prices.bound < lowest.bound:
            lowest = prices
        outside = np.flatnonzero(~working)
        chosen = np.zeros(len(outside))
        acting = fixed[outside] >= 0
        chosen[acting] = pricing.reduced(prices, outside[acting], fixed[outside[acting]])
        violated = outside[prices.best[outside] - chosen > tolerance]
        if not len(violated):
            return Relaxation(prices, lowest, fixed, free, sub, round_)
        working[violated] = True
        fixed[violated] = -1
        grow = 0
    return None
