"""Budget-sensitivity insights in words an executive reads: the knee, the best budget, the ROI there."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app_lib.formatting import money, percent
from optimizer.solvers import SolveStatus


@dataclass(frozen=True)
class SweepInsights:
    threshold: float  # $ of net value per extra $1 below which extra budget is not worth it
    knee_budget: float | None  # last budget whose step still returned >= threshold per $1
    knee_net_value: float | None
    return_after_knee: float | None  # $ per $1 of the first step below the threshold
    best_budget: float | None  # smallest budget reaching the highest net value in the range
    best_net_value: float | None
    roi_at_best: float | None
    first_feasible_budget: float | None
    infeasible_budgets: int
    sentence: str


def step_returns(sweep: pd.DataFrame) -> pd.DataFrame:
    """Feasible scenarios by budget with `return_per_dollar`: extra net value per extra $1 from the previous
    feasible budget (NaN for the first)."""
    feasible = sweep[sweep["net_value"].notna()].sort_values("budget").reset_index(drop=True)
    budgets = feasible["budget"].to_numpy(dtype=float)
    values = feasible["net_value"].to_numpy(dtype=float)
    returns = np.full(len(feasible), np.nan)
    if len(feasible) > 1:
        returns[1:] = np.diff(values) / np.diff(budgets)
    return feasible.assign(return_per_dollar=returns)


def sweep_insights(sweep: pd.DataFrame, threshold: float = 2.0) -> SweepInsights:
    """Find the knee (where an extra dollar of budget returns less than `threshold` dollars of net value),
    the highest net value and its ROI, and say it in a sentence."""
    feasible = step_returns(sweep)
    infeasible = int(sweep["net_value"].isna().sum())
    if feasible.empty:
        return SweepInsights(
            threshold,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            infeasible,
            "No budget in this range meets the policies: raise the maximum budget or relax the policies.",
        )
    budgets = feasible["budget"].to_numpy(dtype=float)
    values = feasible["net_value"].to_numpy(dtype=float)
    returns = feasible["return_per_dollar"].to_numpy(dtype=float)
    best_value = float(values.max())
    best_index = int(np.flatnonzero(values >= best_value - 0.005)[0])
    best_budget = float(budgets[best_index])
    roi = feasible["roi_pct"].iloc[best_index]
    roi_at_best = float(roi) if pd.notna(roi) else None

    below = np.flatnonzero(returns[1:] < threshold) + 1
    knee_budget = knee_value = after = None
    if len(below):
        j = int(below[0])
        knee_budget, knee_value, after = float(budgets[j - 1]), float(values[j - 1]), float(returns[j])

    parts = []
    if knee_budget is not None:
        parts.append(
            f"Up to a weekly budget of {money(knee_budget, cents=False)}, each extra dollar returns at least "
            f"{money(threshold)} of net value; the next step returns only {money(after)} per dollar, so "
            f"{money(knee_budget, cents=False)} is the knee of the curve "
            f"(net value {money(knee_value)})."
        )
    elif len(budgets) > 1:
        parts.append(
            f"Every step up to {money(float(budgets[-1]), cents=False)} still returns at least "
            f"{money(threshold)} of net value per extra dollar: the knee lies beyond this range, so widen it "
            "to find where extra budget stops paying."
        )
    else:
        parts.append("Only one budget in the range has a plan: widen the range to see the curve.")
    roi_text = f" with an ROI of {percent(roi_at_best, 0)}" if roi_at_best is not None else ""
    parts.append(
        f"The highest net value in the range, {money(best_value)}, comes at a budget of "
        f"{money(best_budget, cents=False)}{roi_text}."
    )
    if infeasible:
        parts.append(
            f"{infeasible} budget level{'s' if infeasible != 1 else ''} below "
            f"{money(float(budgets[0]), cents=False)} cannot meet the coverage policies."
        )
    return SweepInsights(
        threshold=threshold,
        knee_budget=knee_budget,
        knee_net_value=knee_value,
        return_after_knee=after,
        best_budget=best_budget,
        best_net_value=best_value,
        roi_at_best=roi_at_best,
        first_feasible_budget=float(budgets[0]),
        infeasible_budgets=infeasible,
        sentence=" ".join(parts),
    )


def budget_levels(low: float, high: float, step: float, limit: int = 60) -> list[float]:
    """low, low+step, ..., up to high (inclusive, high always included). Raises ValueError on a bad range."""
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(step)):
        raise ValueError("The budget range must be finite numbers.")
    if low < 0:
        raise ValueError("The minimum budget cannot be negative.")
    if high <= low:
        raise ValueError("The maximum budget must be above the minimum budget.")
    if step <= 0:
        raise ValueError("The step must be positive.")
    n = int(math.floor((high - low) / step + 1e-9)) + 1
    levels = [round(low + i * step, 2) for i in range(n)]
    if levels[-1] < high - 1e-9:
        levels.append(round(high, 2))
    if len(levels) > limit:
        raise ValueError(f"That is {len(levels)} budget levels; use a larger step (at most {limit} levels).")
    return levels


def scenario_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The scenario comparison table: one row per budget, ascending."""
    frame = sweep.sort_values("budget").reset_index(drop=True)
    return pd.DataFrame(
        {
            "Budget": frame["budget"].to_numpy(dtype=float),
            "Status": frame["status"]
            .map({SolveStatus.OPTIMAL: "Optimal", SolveStatus.INFEASIBLE: "Infeasible"})
            .fillna(frame["status"]),
            "Customers": frame["customers_treated"].astype("Float64").to_numpy(),
            "Churn prevented": frame["expected_churn_reduction"].astype(float).to_numpy(),
            "Total spend": frame["total_spend"].astype(float).to_numpy(),
            "Retained CLV": frame["expected_retained_clv"].astype(float).to_numpy(),
            "Net value": frame["net_value"].astype(float).to_numpy(),
            "ROI": frame["roi_pct"].astype(float).to_numpy(),
        }
    )
