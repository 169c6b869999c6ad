"""Settings for a cohort of any size: the presets are written for a 250-customer week, so a larger (or
smaller) upload gets the budget and channel capacities in proportion. Pure Python (no Streamlit).

Rates (coverage, saturation, fairness), the high-risk threshold and the rounding are shares of the cohort and
stay as they are; the budget and the capacities are amounts per week and scale with the number of customers.
"""

from __future__ import annotations

import math

from app_lib.formatting import money
from optimizer import PlanSettings

BASE_CUSTOMERS = 250  # the presets' cohort size (the bundled and the report's weekly cohorts)
_STEPS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000)
CAPACITY_FIELDS = (
    ("email_capacity", "email"),
    ("push_capacity", "push/in-app"),
    ("call_capacity", "calls"),
)


def round_step(value: float, points: int = 100) -> float:
    """The step a scaled amount is rounded to: the smallest 1/2/5/10/25/50 x 10^k step that leaves at most
    `points` steps below the value (45,000 -> 500, 199.8 -> 2, 26.6 -> 1)."""
    for step in _STEPS:
        if value / step <= points:
            return float(step)
    return float(_STEPS[-1])


def nice_up(value: float, points: int = 100) -> float:
    """Round up to `round_step` (rounding up never makes a budget or a capacity harder to meet)."""
    if value <= 0:
        return 0.0
    step = round_step(value, points)
    return float(math.ceil(round(value / step, 9)) * step)


def scale_settings(settings: PlanSettings, customers: int, base: int = BASE_CUSTOMERS) -> PlanSettings:
    """`settings` written for `base` customers, for `customers`: budget and capacities x customers / base,
    rounded up to a nice number; no capacity limit stays none; everything else unchanged. The same size
    gives the settings back unchanged."""
    if customers == base or customers <= 0 or base <= 0:
        return settings
    factor = customers / base
    changes: dict[str, float | None] = {"budget": nice_up(settings.budget * factor)}
    for field, _ in CAPACITY_FIELDS:
        limit = getattr(settings, field)
        changes[field] = None if limit is None else int(nice_up(limit * factor))
    return settings.with_changes(**changes)


def factor_text(customers: int, base: int) -> str:
    """'300' / '1.33' / '0.4' / '0.00333': the scale factor as people write it."""
    factor = customers / base
    if abs(factor - round(factor)) < 1e-9 or factor >= 100:
        return f"{round(factor):,}"
    if factor >= 1:
        return f"{factor:.2f}".rstrip("0").rstrip(".")
    return f"{factor:.3g}"


def scaling_note(
    settings: PlanSettings,
    customers: int,
    base: int,
    source: str,
    *,
    raised_from: float | None = None,
    no_budget_enough: bool = False,
) -> str:
    """What the user is told after the settings were fitted to a cohort, e.g.
    'Settings scaled to 75,000 customers: budget $45,000 per week, email 36,000, push/in-app 30,000, calls
    6,000 (the Default weekly plan preset's values for 250 customers x 300); coverage policies unchanged.'"""
    parts = [f"budget {money(settings.budget, cents=False)} per week"]
    for field, label in CAPACITY_FIELDS:
        limit = getattr(settings, field)
        parts.append(f"{label} {'unlimited' if limit is None else f'{limit:,.0f}'}")
    text = (
        f"Settings scaled to {customers:,} customers: {', '.join(parts)} ({source} for {base:,} "
        f"customers × {factor_text(customers, base)}); coverage policies unchanged."
    )
    if raised_from is not None:
        text += (
            f" The budget was raised from {money(raised_from, cents=False)} to "
            f"{money(settings.budget, cents=False)}, the least the coverage policies need."
        )
    if no_budget_enough:
        text += " Even so, no budget can meet these policies with these capacities: see the sidebar."
    return text
