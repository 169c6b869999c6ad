"""Pooled measurement over several measured weeks, and the program's lift against the global control group.

Per action (and overall) the treated and holdout customers of every measured week are pooled and compared as
one plan (`measure_uplift`), so the statistics are those of the concatenated outcomes. The unit is a
customer-week: a customer measured in several weeks counts once per week, as an observation of that week's
action (its 30-day outcome after that week's plan). The holdout-integrity policy is what makes this valid:
a customer held out in a week is not treated again while that holdout's 30-day window is open, so a holdout
observation is never contaminated by a later treatment. How many customers appear in more than one pooled
week is reported (`repeated_customers`), so an analyst can see how much the weeks overlap.

The program's lift. The persistent global control group is a random sample of the customer base (a keyed
hash of the customer id) that is never treated, so every other customer of the same cohorts is comparable
with it: `program` compares the churn of all non-control customers with outcomes (the program's population,
contacted or not: an intention-to-treat estimate of what the whole program is worth) with the control
group's churn, with the same intervals as the per-action uplift. `contacted_vs_control` compares only the
customers the plans treated with the control group; they were selected for their risk, so that comparison
is descriptive, not causal, and says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.loop.outcomes import ALPHA, Measurement, SufficiencyRule, compare_groups, measure_uplift

_KEY_SEPARATOR = "\x1f"  # between plan id and customer id in a customer-week key (never in an id)


@dataclass(frozen=True)
class MeasuredWeek:
    """One saved week with its outcomes.

    `plan_rows`: customer_id, action_id, churn_probability, holdout (and optionally action_name, uplift), one
    row per customer the plan assigned an action. `outcomes`: customer_id, churned for plan customers and,
    when known, for the rest of the cohort. `control`: the ids of this week's cohort customers in the global
    control group (empty when the week had none).
    """

    plan_id: int
    plan_rows: pd.DataFrame
    outcomes: pd.DataFrame
    control: Sequence[str] = ()


@dataclass(frozen=True)
class PooledMeasurement:
    measurement: Measurement  # per action and overall, pooled over the weeks
    plan_ids: list[int]
    repeated_customers: int  # customers measured in more than one of the pooled weeks
    program: dict | None  # non-control customers vs the control group (None without a control group)
    contacted_vs_control: dict | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = self.measurement.to_dict()
        out["plans"] = self.plan_ids
        out["repeated_customers"] = self.repeated_customers
        out["program_lift"] = _clean(self.program)
        out["contacted_vs_control"] = _clean(self.contacted_vs_control)
        out["notes"] = out["notes"] + self.notes
        return out


def _clean(stats: dict | None) -> dict | None:
    if stats is None:
        return None
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in stats.items()}


def _keyed(plan_id: int, ids: pd.Series) -> pd.Series:
    return f"{plan_id}{_KEY_SEPARATOR}" + ids.astype(str)


def measure_pooled(
    weeks: Sequence[MeasuredWeek], *, rule: SufficiencyRule | None = None, alpha: float = ALPHA
) -> PooledMeasurement:
    """Treated vs holdout per action pooled over `weeks`, and the program's lift against the control group."""
    if not weeks:
        raise ValueError("no measured week to pool")
    rows, outcomes = [], []
    program_t = program_c = contacted = 0
    program_tc = program_cc = contacted_c = 0
    has_control = False
    seen: list[np.ndarray] = []
    for week in weeks:
        plan_rows = week.plan_rows.reset_index(drop=True)
        ids = plan_rows["customer_id"].astype(str)
        outcome_ids = week.outcomes["customer_id"].astype(str)
        churned = week.outcomes["churned"].to_numpy(dtype="int64")
        in_plan = outcome_ids.isin(ids).to_numpy()
        rows.append(plan_rows.assign(customer_id=_keyed(week.plan_id, ids)))
        outcomes.append(
            pd.DataFrame(
                {"customer_id": _keyed(week.plan_id, outcome_ids[in_plan]), "churned": churned[in_plan]}
            )
        )
        seen.append(outcome_ids[in_plan].to_numpy(dtype=object))
        control = outcome_ids.isin(pd.Index(np.asarray(week.control, dtype=object).astype(str))).to_numpy()
        has_control = has_control or bool(len(week.control))
        program_t += int((~control).sum())
        program_tc += int(churned[~control].sum())
        program_c += int(control.sum())
        program_cc += int(churned[control].sum())
        treated_ids = ids[~plan_rows["holdout"].astype(bool).to_numpy()]
        treated = outcome_ids.isin(treated_ids).to_numpy()
        contacted += int(treated.sum())
        contacted_c += int(churned[treated].sum())
    pooled_rows = pd.concat(rows, ignore_index=True)
    pooled_outcomes = pd.concat(outcomes, ignore_index=True)
    pooled_outcomes.attrs["file"] = "pooled outcomes"
    measurement = measure_uplift(pooled_rows, pooled_outcomes, rule=rule, alpha=alpha)
    counts = pd.Series(np.concatenate(seen) if seen else np.array([], dtype=object)).value_counts()
    notes = []
    program = contacted_stats = None
    if has_control:
        program = compare_groups(program_tc, program_t, program_cc, program_c, alpha)
        contacted_stats = compare_groups(contacted_c, contacted, program_cc, program_c, alpha)
        notes.append(
            "Program lift: every non-control customer with an outcome against the global control group "
            "(intention to treat). Contacted vs control is descriptive only: contacted customers were "
            "selected for their risk."
        )
    else:
        notes.append("No week had a global control group: the program's lift cannot be measured.")
    return PooledMeasurement(
        measurement=measurement,
        plan_ids=[int(week.plan_id) for week in weeks],
        repeated_customers=int((counts > 1).sum()),
        program=program,
        contacted_vs_control=contacted_stats,
        notes=notes,
    )
