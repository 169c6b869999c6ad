"""Slider ranges derived from the cohort and catalog, and the budget on the slider's step.

Pure Python (no Streamlit, no solver): `controller.slider_bounds` solves the unlimited plan these ranges
need and caches them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app_lib import nice
from optimizer import PlanSettings
from optimizer.catalog import CAPACITY_OF_CHANNEL, active_actions, eligibility

# No limit and no policy: what a plan spends when nothing but the value of each action holds it back.
UNLIMITED = PlanSettings(
    budget=1e9,
    email_capacity=None,
    push_capacity=None,
    call_capacity=None,
    min_high_risk=0.0,
    min_premium=0.0,
    max_saturation=1.0,
    min_segment=0.0,
)
BUDGET_POINTS = 800  # the budget slider has at most this many steps


@dataclass(frozen=True)
class Bounds:
    """Slider ranges for this cohort and catalog."""

    customers: int
    budget_max: float  # beyond this no plan for this cohort and catalog gains anything
    budget_step: float
    threshold_min: float
    threshold_max: float
    channels: frozenset[str]  # capacity groups some enabled action uses: "email", "push", "call"
    premium: int
    segments: dict[str, int]


def budget_step_for(upper: float) -> float:
    """The budget slider's step for a slider ending at `upper` ($3,000 -> $5)."""
    return nice.step_for(upper, BUDGET_POINTS)


def cheapest_treatment_cost(cohort: pd.DataFrame, catalog: pd.DataFrame) -> float:
    """What treating every customer with their cheapest eligible action costs."""
    actions = active_actions(catalog)
    eligible = eligibility(cohort, actions)
    if not eligible.size:
        return 0.0
    cost = actions["cost"].to_numpy(dtype=float)
    cheapest = np.where(eligible, cost[None, :], np.inf).min(axis=1)
    return float(cheapest[np.isfinite(cheapest)].sum())


def compute_bounds(cohort: pd.DataFrame, catalog: pd.DataFrame, unlimited_spend: float) -> Bounds:
    """Ranges from the data: the budget slider ends where an unlimited plan stops spending (`unlimited_spend`,
    the spend of the plan with `UNLIMITED` settings) or where treating everyone with their cheapest action
    costs more, with 10% room, so it spans both binding and slack budgets."""
    upper = nice.decade_ceil(max(1.1 * max(unlimited_spend, cheapest_treatment_cost(cohort, catalog)), 100.0))
    p = cohort["churn_probability"].to_numpy(dtype=float)
    threshold_max = max(0.05, min(0.95, math.floor((p.max() - 1e-9) * 20) / 20)) if len(p) else 0.95
    subscription = cohort["subscription_type"].astype(str)
    channels = active_actions(catalog)["channel"]
    return Bounds(
        customers=len(cohort),
        budget_max=upper,
        budget_step=budget_step_for(upper),
        threshold_min=min(0.05, threshold_max),
        threshold_max=threshold_max,
        channels=frozenset(CAPACITY_OF_CHANNEL[c] for c in channels if c in CAPACITY_OF_CHANNEL),
        premium=int(subscription.eq("Premium").sum()),
        segments={str(k): int(v) for k, v in subscription.value_counts().sort_index().items()},
    )


def snap_budget(value: float, bounds: Bounds) -> float:
    """A budget rounded up to the slider's step (a larger budget never breaks feasibility)."""
    return nice.ceil_to(value, bounds.budget_step)


def budget_slider_max(bounds: Bounds, settings: PlanSettings) -> float:
    """The budget slider's end: the data-derived maximum, extended if a preset or suggestion asks for more."""
    return max(bounds.budget_max, snap_budget(settings.budget, bounds))


def sweep_range(bounds: Bounds, minimum_budget: float | None, points: int = 12) -> tuple[float, float, float]:
    """The sensitivity page's default (low, high, step): from the least budget the policies need (on the
    slider's step) to where extra budget stops mattering, in about `points` round steps."""
    low = snap_budget(float(minimum_budget or 0.0), bounds)
    high = float(max(bounds.budget_max, low + bounds.budget_step))
    return low, high, nice.sweep_step(high - low, points)
