"""Recalibration: a new action catalog with the measured uplifts where the evidence is sufficient.

For each action of the catalog:
- the measurement is sufficient (`SufficiencyRule`, see `optimizer.loop.outcomes`): the new uplift is the
  measured relative uplift 1 - r_T / r_H, rounded to 4 decimals and clipped to [0, 1] (the catalog's uplift
  is a reduction; a measured increase in churn becomes 0, so the optimizer stops paying for that action);
- otherwise (too few customers, too wide an interval, the action not in the measured plan, No Action):
  the catalog's estimate is kept.

`reoptimize` then solves the saved plan's cohort and settings again with the new catalog and compares:
the saved plan valued at its estimated uplifts, the same plan valued at the new uplifts, and the
re-optimized plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimizer.analysis import Kpis, compute_kpis
from optimizer.catalog import NO_ACTION_ID, catalog_csv_bytes, validate_catalog
from optimizer.loop.comparison import PlanComparison, compare_plans, kpi_table
from optimizer.loop.history import SavedPlan
from optimizer.loop.outcomes import Measurement, SufficiencyRule
from optimizer.plan import PlanResult, solve_plan

UPLIFT_DECIMALS = 4
CHANGE_COLUMNS = [
    "action_id",
    "action_name",
    "estimate",
    "measured",
    "ci_low",
    "ci_high",
    "holdout_n",
    "treated_n",
    "new_uplift",
    "source",
    "reason",
]


@dataclass(frozen=True)
class Recalibration:
    """The new catalog and, per action, where its uplift comes from."""

    catalog: pd.DataFrame  # validated, same actions, costs and eligibility; uplifts recalibrated
    changes: pd.DataFrame  # CHANGE_COLUMNS; source is "measured" or "estimate"
    rule: SufficiencyRule

    @property
    def measured_actions(self) -> list[int]:
        return [int(a) for a in self.changes.loc[self.changes["source"] == "measured", "action_id"]]

    def catalog_csv(self) -> bytes:
        """The new catalog as a CSV file (the format `load_catalog` reads), formula text neutralized."""
        return catalog_csv_bytes(self.catalog)


def recalibrate_catalog(catalog: pd.DataFrame, measurement: Measurement) -> Recalibration:
    """A copy of `catalog` with the measured uplifts where `measurement` says they are sufficient."""
    measured = measurement.table.set_index("action_id")
    new_catalog = catalog.copy()
    records = []
    for position, row in enumerate(catalog.itertuples(index=False)):
        action_id = int(row.action_id)
        record = {
            "action_id": action_id,
            "action_name": row.action_name,
            "estimate": float(row.uplift),
            "measured": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "holdout_n": 0,
            "treated_n": 0,
            "new_uplift": float(row.uplift),
            "source": "estimate",
            "reason": "",
        }
        if action_id == NO_ACTION_ID:
            record["reason"] = "No Action: the baseline, uplift 0 by definition."
        elif action_id not in measured.index:
            record["reason"] = "Not in the measured plan: the estimate is kept."
        else:
            m = measured.loc[action_id]
            record.update(
                measured=float(m["measured_uplift"]),
                ci_low=float(m["uplift_ci_low"]),
                ci_high=float(m["uplift_ci_high"]),
                holdout_n=int(m["holdout_n"]),
                treated_n=int(m["treated_n"]),
            )
            if bool(m["sufficient"]):
                value = round(min(1.0, max(0.0, float(m["measured_uplift"]))), UPLIFT_DECIMALS)
                record.update(new_uplift=value, source="measured")
                record["reason"] = (
                    f"Measured {m['measured_uplift']:.4f} (95% CI {m['uplift_ci_low']:.4f} to "
                    f"{m['uplift_ci_high']:.4f}) on {int(m['holdout_n'])} holdout and "
                    f"{int(m['treated_n'])} treated customers."
                )
                if m["measured_uplift"] < 0:
                    record["reason"] += " Treatment raised churn: the uplift is set to 0."
                new_catalog.loc[new_catalog.index[position], "uplift"] = value
            else:
                record["reason"] = str(m["warning"]) or "Not sufficient: the estimate is kept."
        records.append(record)
    new_catalog = validate_catalog(new_catalog, "recalibrated catalog")
    changes = pd.DataFrame.from_records(records, columns=CHANGE_COLUMNS)
    return Recalibration(new_catalog, changes, measurement.rule)


# --- re-optimization ----------------------------------------------------------------------------------


def revalue(
    assignments: pd.DataFrame, catalog: pd.DataFrame, customers: int, budget: float
) -> tuple[pd.DataFrame, Kpis]:
    """The same assignments valued with `catalog`'s uplifts: (assignments, KPIs)."""
    uplift = dict(zip(catalog["action_id"].astype(int), catalog["uplift"].astype(float), strict=True))
    out = assignments.copy()
    p = out["churn_probability"].to_numpy(dtype=float)
    v = out["clv"].to_numpy(dtype=float)
    u = out["action_id"].map(uplift).to_numpy(dtype=float)
    out["uplift"] = u
    out["expected_churn_reduction"] = p * u
    out["expected_retained_clv"] = p * u * v
    out["net_value"] = p * u * v - out["cost"].to_numpy(dtype=float)
    return out, compute_kpis(out, customers, budget)


@dataclass(frozen=True)
class Reoptimization:
    """How the plan changes when re-optimized with the recalibrated catalog."""

    before: SavedPlan  # the saved plan, as exported
    before_revalued: Kpis  # the saved plan valued at the new uplifts
    after: PlanResult  # re-solved: same cohort and settings, new catalog
    kpis: pd.DataFrame  # metric, label, then one column per plan/valuation (KPI_COLUMNS)
    comparison: PlanComparison  # saved plan (new uplifts) vs re-optimized: action mix, customers

    @property
    def net_value_gain(self) -> float | None:
        """Net value of the re-optimized plan minus the saved plan's, both at the new uplifts."""
        if self.after.kpis is None:
            return None
        return self.after.kpis.net_value - self.before_revalued.net_value


KPI_COLUMNS = ("saved plan, estimated uplifts", "saved plan, new uplifts", "re-optimized, new uplifts")


def reoptimize(saved: SavedPlan, catalog: pd.DataFrame, *, solver: str = "auto") -> Reoptimization:
    """Solve the saved plan's cohort and settings with `catalog` and compare with the saved plan."""
    after = solve_plan(saved.cohort, catalog, saved.settings, solver=solver)
    revalued, revalued_kpis = revalue(saved.assignments, catalog, saved.kpis.customers, saved.settings.budget)
    kpis = kpi_table(dict(zip(KPI_COLUMNS, (saved.kpis, revalued_kpis, after.kpis), strict=True)))
    # The saved plan as it would have done at the new uplifts: the same plan, revalued.
    before = replace(saved.to_plan_result(), assignments=revalued, kpis=revalued_kpis)
    comparison = compare_plans(before, after, labels=("saved plan", "re-optimized"))
    return Reoptimization(saved, revalued_kpis, after, kpis, comparison)


def uplift_changes_summary(recalibration: Recalibration) -> str:
    """One line per action whose uplift changed, e.g. 'Personalized Email: 0.080 -> 0.052 (measured)'."""
    changed = recalibration.changes[
        ~np.isclose(recalibration.changes["estimate"], recalibration.changes["new_uplift"])
    ]
    if changed.empty:
        return "No uplift changed: no action had sufficient evidence."
    return "\n".join(
        f"{r.action_name}: {r.estimate:.3f} -> {r.new_uplift:.3f} (measured)" for r in changed.itertuples()
    )
