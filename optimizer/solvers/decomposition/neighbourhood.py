"""The neighbourhood plan: every customer at its best choice at the multipliers, then a plan over the most
ambiguous customers (smallest margins, each offered its three best options), everyone else fixed."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from optimizer.solvers.decomposition.classes import Structure, spread
from optimizer.solvers.decomposition.options import DecompositionOptions, Progress, certified_gap
from optimizer.solvers.decomposition.pricing import Limits, Prices, Pricing, smallest_margins
from optimizer.solvers.decomposition.units import Method, Sub, Units


class Base:
    """A full plan (every customer's choice) with its value and row activity, and plans that differ from it
    on a few customers evaluated in time proportional to those."""

    def __init__(self, pricing: Pricing, limits: Limits, choice: np.ndarray):
        self.problem = pricing.problem
        self.profit = pricing.profit
        self.limits = limits
        self.choice = choice
        self.activity = pricing.activity(choice)
        self.value = pricing.value(choice)
        self._scratch = np.full(len(choice), -1, dtype=np.int64)

    def activity_of(self, customers: np.ndarray, choices: np.ndarray | None = None) -> np.ndarray:
        p = self.problem
        choices = self.choice[customers] if choices is None else choices
        acting = choices >= 0
        activity = p.action_coefficients @ np.bincount(choices[acting], minlength=p.n_actions).astype(float)
        if len(p.customer_rows):
            activity[p.customer_rows] += p.customer_coefficients[:, customers[acting]].sum(axis=1)
        return activity

    def value_of(self, customers: np.ndarray, choices: np.ndarray | None = None) -> float:
        choices = self.choice[customers] if choices is None else choices
        acting = choices >= 0
        return float(self.profit[choices[acting], customers[acting]].sum())

    def without(self, customers: np.ndarray) -> np.ndarray:
        """Row activity of everyone else's base choices."""
        return self.activity - self.activity_of(customers)

    def rhs_for(self, customers: np.ndarray) -> np.ndarray:
        """The active rows' right-hand sides left to `customers` by everyone else's base choices."""
        active = self.limits.active
        return self.limits.rhs[active] - self.without(customers)[active]

    def spread(self, customers: np.ndarray, members: np.ndarray, sizes: np.ndarray, sub: Sub) -> np.ndarray:
        """The choices of `customers` in a units solution over their groups."""
        spread(members, sizes, sub, self._scratch)
        choices = self._scratch[customers].copy()
        self._scratch[customers] = -1
        return choices

    def evaluate(self, customers: np.ndarray, choices: np.ndarray) -> tuple[float, bool]:
        """Value and feasibility (every active row) of the base plan with `customers` changed."""
        feasible = self.limits.within(self.without(customers) + self.activity_of(customers, choices))
        return self.value - self.value_of(customers) + self.value_of(customers, choices), feasible


@dataclass(frozen=True)
class Neighbourhood:
    """The best plan found over the freed customers: `changes` (customers, choices) from the base plan, or
    None when no MILP finished."""

    changes: tuple[np.ndarray, np.ndarray] | None
    value: float
    freed: int  # customers freed in the last round
    method: Method


def plan_neighbourhood(
    prices: Prices,
    base: Base,
    pricing: Pricing,
    st: Structure,
    units: Units,
    options: DecompositionOptions,
    deadline: float,
    say: Progress,
) -> Neighbourhood:
    """A plan over the most ambiguous customers (their LP optimum, its rounding, or their exact MILP),
    everyone else at their best choice `prices.choice` (the `base`), the neighbourhood x4 per round until
    the target gap or `max_rounds`.

    Candidate plans differ from the base only on the freed customers, so their value and row activity are
    updated from the base plan's in time proportional to those customers.
    """
    n = len(prices.choice)
    bound = prices.bound
    best, best_value = None, -math.inf  # (customers, choices) changed from the base plan
    size, freed, method = options.neighbourhood, 0, Method.MILP
    for round_ in range(1, options.max_rounds + 1):
        if time.perf_counter() > deadline:
            break
        customers = smallest_margins(prices, size, None)
        freed = len(customers)
        say(0.6 + 0.05 * round_, f"plan over the {freed:,} most ambiguous customers")
        members, reps, sizes, allowed = st.identical_groups(
            pricing.profit, customers, pricing.best_options(prices, customers)
        )
        rhs = base.rhs_for(customers)
        # Their LP optimum, rounded when fractional; their exact MILP when that plan is not within
        # `rounding_gap` (on knapsack-like neighbourhoods HiGHS's root alone can take seconds).
        for exact in (False, True):
            sub = units.solve(
                reps,
                sizes,
                allowed,
                rhs,
                integer=True,
                abs_gap=1e-3 * options.target_gap * max(abs(bound), 1.0),
                presolve=False,  # HiGHS's presolve costs 3x the solve on these small, near-integral MILPs
                exact=exact,
            )
            if sub.values is not None:
                choices = base.spread(customers, members, sizes, sub)
                value, feasible = base.evaluate(customers, choices)
                if value > best_value and feasible:
                    best, best_value, method = (customers, choices), value, sub.method
            gap = certified_gap(best_value, bound)
            reached = gap <= options.target_gap
            if gap <= options.rounding_gap or not sub.rounded:
                break
        if reached or freed >= n:
            break
        size *= 4
    return Neighbourhood(best, best_value, freed, method)
