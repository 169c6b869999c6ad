"""Settings from the sidebar's widgets, and back: the one place widget values become `PlanSettings`.

Widget values persist across pages through the canonical `PlanSettings` in session state: each page draw
writes the stored settings into the widget keys before the widgets are created (`widget_values`), and every
widget's callback writes the widgets back into the store (`store_widget_settings`), since a widget's own
state does not survive a page switch. Labels come from `optimizer.model.SETTING_LABELS`.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from app_lib import session
from app_lib.bounds import Bounds, budget_slider_max
from optimizer import PlanSettings
from optimizer.model import SETTING_LABELS

BUDGET = "sb_budget"
EMAIL = "sb_email"
PUSH = "sb_push"
CALL = "sb_call"
THRESHOLD = "sb_threshold"
HIGH_RISK = "sb_high_risk"
PREMIUM = "sb_premium"
SATURATION = "sb_saturation"
SEGMENT = "sb_segment"
ROUNDING = "sb_rounding"
BOUNDS = "sb_bounds"  # the ranges the widgets were last drawn with (read by the callbacks)

CAPACITY_KEYS = {"email_capacity": EMAIL, "push_capacity": PUSH, "call_capacity": CALL}
RATE_KEYS = {
    "min_high_risk": HIGH_RISK,
    "min_premium": PREMIUM,
    "max_saturation": SATURATION,
    "min_segment": SEGMENT,
}
KEYS = {
    "budget": BUDGET,
    **CAPACITY_KEYS,
    "high_risk_threshold": THRESHOLD,
    **RATE_KEYS,
    "coverage_rounding": ROUNDING,
}
ROUNDING_LABELS = {"ceil": "Round up (at least the share)", "floor": "Round down (as in the 2025 report)"}


def widget_label(field: str) -> str:
    """A setting's widget label: its name (`SETTING_LABELS`) with the unit the widget moves in."""
    name = SETTING_LABELS[field]
    if field == "budget":
        return f"Weekly {name.lower()} ($)"
    if field in CAPACITY_KEYS:
        return f"{name} (per week)"
    if field in RATE_KEYS:
        return f"{name} (%)"
    if field == "high_risk_threshold":
        return f"{name} (churn probability)"
    return name


def widget_values(settings: PlanSettings, bounds: Bounds) -> dict:
    """The widget values showing these settings (no capacity limit shows as the number of customers)."""
    n = bounds.customers
    values = {
        BUDGET: float(min(max(settings.budget, 0.0), budget_slider_max(bounds, settings))),
        THRESHOLD: float(min(max(settings.high_risk_threshold, bounds.threshold_min), bounds.threshold_max)),
        ROUNDING: settings.coverage_rounding,
    }
    for field, key in CAPACITY_KEYS.items():
        limit = getattr(settings, field)
        values[key] = n if limit is None else int(min(max(limit, 0), n))
    for field, key in RATE_KEYS.items():
        values[key] = int(round(getattr(settings, field) * 100))
    return values


def settings_from_widgets(values: dict, bounds: Bounds) -> PlanSettings:
    """PlanSettings from widget values; a capacity at its maximum (every customer) means no limit."""
    n = bounds.customers
    capacities = {
        field: (None if int(values[key]) >= n else int(values[key])) for field, key in CAPACITY_KEYS.items()
    }
    rates = {field: int(values[key]) / 100 for field, key in RATE_KEYS.items()}
    return PlanSettings(
        budget=float(values[BUDGET]),
        high_risk_threshold=round(float(values[THRESHOLD]), 4),
        coverage_rounding=values[ROUNDING],
        **capacities,
        **rates,
    )


def show_settings(settings: PlanSettings, bounds: Bounds, ss: MutableMapping | None = None) -> None:
    """Put the settings into the widget keys (before the widgets are drawn) with the ranges they use."""
    ss = session.get_state(ss)
    ss[BOUNDS] = bounds
    ss.update(widget_values(settings, bounds))


def store_widget_settings(ss: MutableMapping | None = None) -> None:
    """Widget callback: the widgets' values become the current (custom) settings."""
    ss = session.get_state(ss)
    bounds = ss.get(BOUNDS)
    if bounds is None:
        return
    session.set_settings(settings_from_widgets({key: ss[key] for key in KEYS.values()}, bounds), ss=ss)
