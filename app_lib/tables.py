"""Pure pandas summaries behind the pages' tables and metrics (no Streamlit here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.model import RowFamily

TIERS_HIGH_FIRST = ["High", "Medium", "Low"]


@dataclass(frozen=True)
class Overview:
    """The Plan page's 8 cohort KPIs."""

    customers: int
    high_risk: int
    high_risk_threshold: float
    avg_churn: float  # fraction
    at_risk_clv: float  # sum p * v
    premium: int
    yearly: int
    avg_weekly_hours: float | None
    avg_playlists: float | None


def overview(cohort: pd.DataFrame, high_risk_threshold: float) -> Overview:
    p = cohort["churn_probability"].to_numpy(dtype=float)
    v = cohort["clv"].to_numpy(dtype=float)
    hours = cohort["weekly_hours"].astype(float)
    playlists = cohort["num_playlists_created"].astype(float)
    return Overview(
        customers=len(cohort),
        high_risk=int((p > high_risk_threshold).sum()),
        high_risk_threshold=high_risk_threshold,
        avg_churn=float(p.mean()) if len(p) else 0.0,
        at_risk_clv=float((p * v).sum()),
        premium=int(cohort["subscription_type"].astype(str).eq("Premium").sum()),
        yearly=int(cohort["payment_plan"].astype(str).str.lower().eq("yearly").sum()),
        avg_weekly_hours=float(hours.mean()) if hours.notna().any() else None,
        avg_playlists=float(playlists.mean()) if playlists.notna().any() else None,
    )


def problem_rows(error, table_rows: bool = False) -> list[dict]:
    """Every problem of an `InputError` as a row (Row, Column, Problem); `table_rows` numbers rows as an
    editable table shows them (1 = first row) instead of as a spreadsheet (header = row 1)."""
    shift = 1 if table_rows else 0
    return [
        {
            "Row": str(p.row - shift) if p.row is not None else "",
            "Column": p.column or "",
            "Problem": p.message,
        }
        for p in error.problems
    ]


def roi_grade(roi_pct: float | None) -> str | None:
    """The guide's reading of ROI: 200%+ excellent, 100-200% good, 50-100% acceptable, below concerning."""
    if roi_pct is None:
        return None
    if roi_pct >= 200:
        return "excellent"
    if roi_pct >= 100:
        return "good"
    return "acceptable" if roi_pct >= 50 else "concerning"


def risk_breakdown(cohort: pd.DataFrame) -> dict[str, int]:
    """Customers per risk tier: Low (p <= 0.3), Medium (0.3-0.7), High (> 0.7)."""
    counts = cohort["risk_tier"].value_counts()
    return {tier: int(counts.get(tier, 0)) for tier in ("Low", "Medium", "High")}


def churn_by_type(cohort: pd.DataFrame) -> pd.DataFrame:
    grouped = cohort.groupby(cohort["subscription_type"].astype(str)).agg(
        customers=("customer_id", "size"), avg_churn=("churn_probability", "mean")
    )
    grouped = grouped.sort_values("avg_churn", ascending=False).reset_index()
    return grouped.rename(columns={"subscription_type": "Subscription"})


def action_summary(assignments: pd.DataFrame) -> pd.DataFrame:
    """Per action: customers, share of treated, cost, retained CLV, net value, uplift; best first."""
    if assignments.empty:
        return pd.DataFrame(
            columns=[
                "Action",
                "Channel",
                "Customers",
                "Share",
                "Total cost",
                "Retained CLV",
                "Net value",
                "Uplift",
            ]
        )
    grouped = assignments.groupby(["action_name", "channel"], sort=False).agg(
        customers=("customer_id", "size"),
        cost=("cost", "sum"),
        retained=("expected_retained_clv", "sum"),
        net=("net_value", "sum"),
        uplift=("uplift", "mean"),
    )
    grouped = grouped.reset_index().sort_values("net", ascending=False, kind="stable")
    return pd.DataFrame(
        {
            "Action": grouped["action_name"].to_numpy(),
            "Channel": grouped["channel"].to_numpy(),
            "Customers": grouped["customers"].to_numpy(),
            "Share": grouped["customers"].to_numpy() / len(assignments),
            "Total cost": grouped["cost"].to_numpy(),
            "Retained CLV": grouped["retained"].to_numpy(),
            "Net value": grouped["net"].to_numpy(),
            "Uplift": grouped["uplift"].to_numpy(),
        }
    )


def segment_summary(assignments: pd.DataFrame) -> pd.DataFrame:
    """Per (risk, value) tier of treated customers, high risk and value first; empty tiers left out."""
    grouped = assignments.groupby(["risk_tier", "value_tier"]).agg(
        customers=("customer_id", "size"),
        cost=("cost", "sum"),
        retained=("expected_retained_clv", "sum"),
        net=("net_value", "sum"),
    )
    grouped = grouped.reset_index()
    order = {tier: i for i, tier in enumerate(TIERS_HIGH_FIRST)}
    grouped = grouped.sort_values(
        ["risk_tier", "value_tier"], key=lambda s: s.map(order), kind="stable"
    ).reset_index(drop=True)
    return pd.DataFrame(
        {
            "Risk": grouped["risk_tier"].to_numpy(),
            "Value": grouped["value_tier"].to_numpy(),
            "Customers": grouped["customers"].to_numpy(dtype=int),
            "Cost": grouped["cost"].to_numpy(),
            "Retained CLV": grouped["retained"].to_numpy(),
            "Net value": grouped["net"].to_numpy(),
        }
    )


def top_customers(assignments: pd.DataFrame, n: int | None = 50) -> pd.DataFrame:
    """The n treated customers with the highest net value (all of them, best first, when n is None)."""
    top = assignments.sort_values(["net_value", "customer_id"], ascending=[False, True], kind="stable")
    if n is not None:
        top = top.head(n)
    return pd.DataFrame(
        {
            "Customer ID": top["customer_id"].astype(str).to_numpy(),
            "Subscription": top["subscription_type"].to_numpy(),
            "Churn risk": top["churn_probability"].to_numpy(dtype=float),
            "CLV": top["clv"].to_numpy(dtype=float),
            "Action": top["action_name"].to_numpy(),
            "Cost": top["cost"].to_numpy(dtype=float),
            "Retained CLV": top["expected_retained_clv"].to_numpy(dtype=float),
            "Net value": top["net_value"].to_numpy(dtype=float),
        }
    )


def binding_constraints(constraints: pd.DataFrame) -> pd.DataFrame:
    """Binding rows (within one unit of the limit), limits first, then policy floors."""
    family_order = {str(family): family.order for family in RowFamily}
    rows = constraints[constraints["binding"]].copy()
    rows["_order"] = rows["family"].map(family_order).fillna(9)
    return rows.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


RELAXATION_SENTENCES = {
    "+$1 budget": "One more dollar of budget adds",
    "+1 slot": "One more slot on this channel adds",
    "+1 allowed": "Allowing this action for one more customer adds",
    "1 fewer required": "Requiring one customer fewer adds",
}


def marginal_table(marginal: pd.DataFrame) -> pd.DataFrame:
    """The marginal values as users read them: what one unit of relaxation is worth, biggest first.

    Rows with no value at all (zero dual and no exact gain) are left out: those limits are not bottlenecks.
    """
    records = []
    for row in marginal.itertuples(index=False):
        dual = float(row.lp_dual) if pd.notna(row.lp_dual) else np.nan
        exact = float(row.gain_per_unit) if pd.notna(row.gain_per_unit) else np.nan
        if (np.isnan(dual) or abs(dual) < 1e-9) and (np.isnan(exact) or abs(exact) < 1e-9):
            continue
        if row.unit == "$":
            relax = "+$1 budget"
        elif str(row.key).endswith("_capacity"):
            relax = "+1 slot"
        elif str(row.key).startswith("saturation:"):
            relax = "+1 allowed"
        else:
            relax = "1 fewer required"
        records.append(
            {"Constraint": row.constraint, "One more unit": relax, "LP dual": dual, "Exact (re-solve)": exact}
        )
    return pd.DataFrame.from_records(
        records, columns=["Constraint", "One more unit", "LP dual", "Exact (re-solve)"]
    )
