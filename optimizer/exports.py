"""Treatment plan, email list, push/in-app list and call queue, with a reproducible holdout.

The holdout is exactly round(rate * n_k) customers of each action k (halves round up), drawn from a seeded
random generator over the action's customers in customer_id order; the seed is written into every row of the
treatment plan. Holdout customers have `execute_treatment = FALSE` and never appear in a channel list.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.csvout import csv_bytes, write_files

DEFAULT_HOLDOUT_RATE = 0.10
DEFAULT_SEED = 20251105

TREATMENT_PLAN_COLUMNS = [
    "plan_date",
    "customer_id",
    "subscription_type",
    "payment_plan",
    "risk_tier",
    "value_tier",
    "churn_probability",
    "clv",
    "action_id",
    "action_name",
    "channel",
    "cost",
    "uplift",
    "expected_churn_reduction",
    "expected_retained_clv",
    "net_value",
    "holdout",
    "execute_treatment",
    "holdout_seed",
]
EMAIL_COLUMNS = ["customer_id", "action_id", "action_name", "subscription_type", "plan_date"]
PUSH_COLUMNS = ["customer_id", "action_id", "action_name", "channel", "subscription_type", "plan_date"]
CALL_COLUMNS = [
    "call_priority",
    "customer_id",
    "action_name",
    "clv",
    "churn_probability",
    "subscription_type",
    "risk_tier",
    "plan_date",
]


def holdout_size(n: int, rate: float) -> int:
    """round(rate * n) with halves rounded up, robust to float error (10% of 75 -> 8, of 74 -> 7)."""
    return int(math.floor(round(rate * n, 9) + 0.5))


def holdout_flags(
    assignments: pd.DataFrame, rate: float = DEFAULT_HOLDOUT_RATE, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """Boolean per assignment row: is this customer in the holdout? Deterministic for (plan, rate, seed)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"holdout rate must be between 0 and 1, got {rate}")
    flags = np.zeros(len(assignments), dtype=bool)
    rng = np.random.default_rng(seed)
    ids = assignments["customer_id"].astype(str).to_numpy()
    actions = assignments["action_id"].to_numpy()
    for action in np.unique(actions):  # ascending action_id
        members = np.flatnonzero(actions == action)
        members = members[np.argsort(ids[members], kind="stable")]
        take = holdout_size(len(members), rate)
        if take:
            flags[members[rng.choice(len(members), size=take, replace=False)]] = True
    return flags


@dataclass(frozen=True)
class Exports:
    """The four export files as frames, with their dated file names; a fifth, `excluded_YYYYMMDD.csv`
    (customer_id, reason, the plan that caused it, until when), when the week was planned with contact
    policies against the history."""

    plan_date: dt.date
    holdout_rate: float
    seed: int
    treatment_plan: pd.DataFrame
    email_list: pd.DataFrame
    push_list: pd.DataFrame
    call_queue: pd.DataFrame
    excluded: pd.DataFrame | None = None

    @property
    def stamp(self) -> str:
        return self.plan_date.strftime("%Y%m%d")

    def files(self) -> dict[str, pd.DataFrame]:
        """File name -> frame, e.g. treatment_plan_20251105.csv."""
        return {
            f"treatment_plan_{self.stamp}.csv": self.treatment_plan,
            f"email_list_{self.stamp}.csv": self.email_list,
            f"push_list_{self.stamp}.csv": self.push_list,
            f"call_queue_{self.stamp}.csv": self.call_queue,
            **({f"excluded_{self.stamp}.csv": self.excluded} if self.excluded is not None else {}),
        }

    @property
    def holdout_count(self) -> int:
        return int((self.treatment_plan["holdout"] == "TRUE").sum())


def _bool_text(values: np.ndarray) -> np.ndarray:
    return np.where(values, "TRUE", "FALSE")


def build_exports(
    assignments: pd.DataFrame,
    *,
    holdout_rate: float = DEFAULT_HOLDOUT_RATE,
    seed: int = DEFAULT_SEED,
    plan_date: dt.date | None = None,
    excluded: pd.DataFrame | None = None,
) -> Exports:
    """Build the export frames from a plan's assignments (`PlanResult.assignments`)."""
    plan_date = plan_date or dt.date.today()
    holdout = holdout_flags(assignments, holdout_rate, seed)
    plan = assignments.copy()
    plan["plan_date"] = plan_date.isoformat()
    plan["holdout"] = _bool_text(holdout)
    plan["execute_treatment"] = _bool_text(~holdout)
    plan["holdout_seed"] = int(seed)
    plan = plan[TREATMENT_PLAN_COLUMNS]
    execute = plan[~holdout]
    email = execute[execute["channel"] == "email"][EMAIL_COLUMNS]
    push = execute[execute["channel"].isin(["in_app", "push"])][PUSH_COLUMNS]
    call = execute[execute["channel"] == "call"].sort_values(
        ["clv", "customer_id"], ascending=[False, True], kind="stable"
    )
    call = call.assign(call_priority=np.arange(1, len(call) + 1))[CALL_COLUMNS]
    return Exports(
        plan_date=plan_date,
        holdout_rate=holdout_rate,
        seed=int(seed),
        treatment_plan=plan.reset_index(drop=True),
        email_list=email.reset_index(drop=True),
        push_list=push.reset_index(drop=True),
        call_queue=call.reset_index(drop=True),
        excluded=None if excluded is None else excluded.reset_index(drop=True),
    )


_ROUNDING = {
    "clv": 2,
    "cost": 2,
    "expected_churn_reduction": 6,
    "expected_retained_clv": 2,
    "net_value": 2,
}


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV bytes of an export frame or a download: money to cents, formula cells neutralized, line
    breaks inside a value quoted, UTF-8 (`optimizer.csvout.csv_bytes`)."""
    rounded = frame.copy(deep=False)
    for column, digits in _ROUNDING.items():
        if column in rounded.columns:
            rounded[column] = rounded[column].astype(float).round(digits)
    return csv_bytes(rounded)


def write_exports(exports: Exports, out_dir: str | os.PathLike) -> list[Path]:
    """Write all four files into `out_dir`, all or nothing (`optimizer.csvout.write_files`): a failure
    leaves the folder as it was and raises a `WriteError` naming the file and the cause."""
    return write_files({name: to_csv_bytes(frame) for name, frame in exports.files().items()}, out_dir)
