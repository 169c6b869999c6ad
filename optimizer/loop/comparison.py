"""Two plans side by side: settings, KPIs, action mix and the customers whose action changed.

Works on any `PlanLike` (a `PlanResult`, a saved plan, the app's run record): it reads `settings`, `kpis` and
`assignments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer import model

if TYPE_CHECKING:
    from optimizer.analysis import Kpis
    from optimizer.plan import PlanLike

KPI_LABELS = {
    "customers_treated": "Customers treated",
    "total_spend": "Spend ($)",
    "expected_churn_reduction": "Expected churn prevented (customers)",
    "expected_retained_clv": "Expected retained CLV ($)",
    "net_value": "Net value ($)",
    "roi_pct": "ROI (%)",
    "budget_utilization_pct": "Budget used (%)",
}
# The comparison table's row per setting: the sidebar's name (`model.SETTING_LABELS`), with the unit where the
# value needs one. The call capacity keeps the table's short name (the sidebar says "Call center capacity").
_TABLE_NAMES = {"call_capacity": "Call capacity"}
_UNITS = {"budget": "$"}
SETTING_LABELS = {
    name: _TABLE_NAMES.get(name, label) + (f" ({_UNITS[name]})" if name in _UNITS else "")
    for name, label in model.SETTING_LABELS.items()
}


@dataclass(frozen=True)
class PlanComparison:
    """Plan A vs plan B. Changes are B - A."""

    labels: tuple[str, str]
    settings: pd.DataFrame  # setting, label, a, b, changed
    kpis: pd.DataFrame  # metric, label, a, b, change
    action_mix: pd.DataFrame  # action_id, action_name, customers_a, customers_b, change, spend_a, spend_b
    customers: pd.DataFrame  # customers whose action differs: customer_id, action_a, action_b, change
    same: int  # customers with the same action in both
    switched: int  # treated in both, with different actions
    only_a: int  # treated in A only
    only_b: int  # treated in B only


def kpi_table(kpis: Mapping[str, Kpis | None]) -> pd.DataFrame:
    """One row per KPI, one column per plan (`kpis`: column label -> Kpis or None)."""
    rows = []
    for metric, label in KPI_LABELS.items():
        row: dict[str, object] = {"metric": metric, "label": label}
        for column, k in kpis.items():
            row[column] = getattr(k, metric) if k is not None else None
        rows.append(row)
    return pd.DataFrame.from_records(rows)


def _difference(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return b - a


def compare_plans(a: PlanLike, b: PlanLike, labels: tuple[str, str] = ("A", "B")) -> PlanComparison:
    """Compare two plans: settings that differ, KPI changes, action mix and customer-level changes."""
    settings_a, settings_b = a.settings.to_dict(), b.settings.to_dict()
    settings = pd.DataFrame.from_records(
        [
            {
                "setting": name,
                "label": label,
                "a": settings_a[name],
                "b": settings_b[name],
                "changed": settings_a[name] != settings_b[name],
            }
            for name, label in SETTING_LABELS.items()
        ]
    )
    kpis = pd.DataFrame.from_records(
        [
            {
                "metric": metric,
                "label": label,
                "a": getattr(a.kpis, metric) if a.kpis else None,
                "b": getattr(b.kpis, metric) if b.kpis else None,
                "change": _difference(
                    getattr(a.kpis, metric) if a.kpis else None, getattr(b.kpis, metric) if b.kpis else None
                ),
            }
            for metric, label in KPI_LABELS.items()
        ]
    )
    mix = _action_mix(a.assignments, b.assignments)
    customers, counts = _customer_changes(a.assignments, b.assignments)
    return PlanComparison(labels, settings, kpis, mix, customers, **counts)


def _action_mix(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    def per_action(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
        grouped = frame.groupby("action_id").agg(
            action_name=("action_name", "first"), customers=("customer_id", "size"), spend=("cost", "sum")
        )
        return grouped.rename(columns={"customers": f"customers_{suffix}", "spend": f"spend_{suffix}"})

    left, right = per_action(a, "a"), per_action(b, "b")
    mix = left.join(right.drop(columns="action_name"), how="outer")
    names = pd.concat([left["action_name"], right["action_name"]])
    mix["action_name"] = names[~names.index.duplicated()].reindex(mix.index)
    for column in ("customers_a", "customers_b"):
        mix[column] = mix[column].fillna(0).astype(int)
    for column in ("spend_a", "spend_b"):
        mix[column] = mix[column].fillna(0.0)
    mix["change"] = mix["customers_b"] - mix["customers_a"]
    mix = mix.reset_index()
    return mix[["action_id", "action_name", "customers_a", "customers_b", "change", "spend_a", "spend_b"]]


def _customer_changes(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    left = a[["customer_id", "action_name"]].rename(columns={"action_name": "action_a"})
    right = b[["customer_id", "action_name"]].rename(columns={"action_name": "action_b"})
    left = left.assign(key=left["customer_id"].astype(str))
    right = right.assign(key=right["customer_id"].astype(str)).drop(columns="customer_id")
    merged = left.merge(right, on="key", how="outer")
    merged["customer_id"] = merged["customer_id"].fillna(
        merged["key"].map(dict(zip(b["customer_id"].astype(str), b["customer_id"], strict=True)))
    )
    in_a, in_b = merged["action_a"].notna().to_numpy(), merged["action_b"].notna().to_numpy()
    same_action = (merged["action_a"].astype(object) == merged["action_b"].astype(object)).to_numpy()
    change = np.select(
        [in_a & in_b & same_action, in_a & in_b, in_a],
        ["same", "switched", "no longer treated"],
        default="newly treated",
    )
    merged["change"] = change
    counts = {
        "same": int((change == "same").sum()),
        "switched": int((change == "switched").sum()),
        "only_a": int((change == "no longer treated").sum()),
        "only_b": int((change == "newly treated").sum()),
    }
    changed = merged[change != "same"][["customer_id", "action_a", "action_b", "change"]]
    return changed.reset_index(drop=True), counts
