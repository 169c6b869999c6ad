"""Settings for a cohort of any size: the presets are written for a 250-customer week, so a larger (or
smaller) upload gets the budget and channel capacities in proportion. Pure Python (no Streamlit).

Rates (coverage, saturation, fairness), the high-risk threshold and the rounding are shares of the cohort and
stay as they are; the budget and the capacities are amounts per week and scale with the number of customers.
"""

from __future__ import annotations

from app_lib.formatting import money
from app_lib.nice import nice_up
from optimizer import PlanSettings

BASE_CUSTOMERS = 250  # the presets' cohort size (the bundled and the report's weekly cohorts)
CAPACITY_FIELDS = (
    ("email_capacity", "email"),
    ("push_capacity", "push/in-app"),
    ("call_capacity", "calls"),
)


def scale_settings(settings: PlanSettings, customers: int, base: int = BASE_CUSTOMERS) -> PlanSettings:
    """`settings` written for `base` customers, for `customers`: budget and capacities x customers / base,
    rounded up to a nice number (`nice.nice_up`); no capacity limit stays none; everything else unchanged.
    The same size gives the settings back unchanged."""
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
