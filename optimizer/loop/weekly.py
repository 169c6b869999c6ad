"""Planning one week of a weekly program: the contact policies applied against the contact history.

`plan_week` turns the policies' exclusions (`optimizer.loop.policies`) into eligibility of the model (excluded
customers get no variable, capped channels lose theirs; array operations over customers x actions) and
coverage floors over the contactable customers, then solves as `solve_plan` does. With an empty history and
no control group the plan is exactly `solve_plan`'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.catalog import active_actions
from optimizer.loop.policies import CONTACT_COLUMNS, ContactPolicy, Exclusions, contact_exclusions
from optimizer.model import PlanSettings, Problem, build_problem
from optimizer.plan import PlanResult, solve_plan


@dataclass(frozen=True)
class WeekPlan:
    """A planned week: the plan, and who the contact policies excluded from it and why."""

    plan_date: dt.date
    result: PlanResult
    exclusions: Exclusions

    def to_dict(self) -> dict:
        """The plan's JSON (the CLI contract) with `excluded` counts and the `contact_policy` used."""
        out = self.result.to_dict()
        out["excluded"] = self.exclusions.counts
        out["contact_policy"] = self.exclusions.policy.to_dict()
        return out


def week_problem(
    cohort: pd.DataFrame, catalog: pd.DataFrame, high_risk_threshold: float, exclusions: Exclusions
) -> Problem:
    """The week's model: the policies' exclusions as eligibility, floors over the contactable customers."""
    channels = active_actions(catalog)["channel"].to_numpy(dtype=object)
    return build_problem(
        cohort,
        catalog,
        high_risk_threshold,
        allowed=exclusions.allowed(channels),
        contactable=~exclusions.excluded,
    )


def plan_week(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    settings: PlanSettings | None = None,
    *,
    plan_date: dt.date,
    policy: ContactPolicy | None = None,
    contacts: pd.DataFrame | None = None,
    salt: str | None = None,
    **solve_options,
) -> WeekPlan:
    """Plan the week dated `plan_date` under `policy` against `contacts` (see `contact_exclusions`)."""
    settings = settings or PlanSettings()
    policy = policy or ContactPolicy()
    exclusions = contact_exclusions(cohort["customer_id"].to_numpy(), contacts, plan_date, policy, salt)
    problem = week_problem(cohort, catalog, settings.high_risk_threshold, exclusions)
    result = solve_plan(cohort, catalog, settings, problem=problem, **solve_options)
    return WeekPlan(plan_date, result, exclusions)


def contacts_of_plan(
    plan_id: int, plan_date: dt.date, assignments: pd.DataFrame, holdout: np.ndarray
) -> pd.DataFrame:
    """The contact-history rows of one plan: each assigned customer, its action and channel, holdout flag."""
    return pd.DataFrame(
        {
            "plan_id": np.full(len(assignments), plan_id, dtype=np.int64),
            "plan_date": pd.Timestamp(plan_date),
            "customer_id": assignments["customer_id"].astype(str).to_numpy(),
            "action_id": assignments["action_id"].to_numpy(dtype=np.int64),
            "channel": assignments["channel"].astype(str).to_numpy(),
            "holdout": np.asarray(holdout, dtype=bool),
        },
        columns=CONTACT_COLUMNS,
    )
