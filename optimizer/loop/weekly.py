"""Planning one week of a weekly program: the contact policies applied against the contact history.

`plan_week` turns the policies' exclusions (`optimizer.loop.policies`) into eligibility of the model (excluded
customers get no variable, capped channels lose theirs; array operations over customers x actions) and
coverage floors over the contactable customers, then solves as `solve_plan` does. With an empty history and
no control group the plan is exactly `solve_plan`'s.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimizer.catalog import active_actions
from optimizer.loop.policies import CONTACT_COLUMNS, ContactPolicy, Exclusions, contact_exclusions
from optimizer.model import PlanSettings, Problem, build_problem
from optimizer.plan import PlanResult, Suggestion, solve_plan
from optimizer.solvers import SolveStatus


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
    if result.status is SolveStatus.INFEASIBLE and result.diagnosis is not None and policy.active:
        found = policy_suggestions(cohort, catalog, settings, plan_date, policy, contacts, salt)
        if found:
            result.diagnosis = replace(
                result.diagnosis,
                suggestions=[*found, *result.diagnosis.suggestions],
                message=result.diagnosis.message
                + f" Contact policy: {int(exclusions.excluded.sum()):,} customers excluded, "
                + f"{exclusions.counts['channel_cap']:,} with a capped channel; the week is feasible if you "
                + ", or ".join(s.text for s in found)
                + ".",
            )
    return WeekPlan(plan_date, result, exclusions)


def _feasible(cohort, catalog, settings, plan_date, policy, contacts, salt) -> bool:
    exclusions = contact_exclusions(cohort["customer_id"].to_numpy(), contacts, plan_date, policy, salt)
    problem = week_problem(cohort, catalog, settings.high_risk_threshold, exclusions)
    return solve_plan(cohort, catalog, settings, problem=problem, diagnose=False).has_plan


def _with_window(policy: ContactPolicy, name: str, days: int) -> ContactPolicy:
    if name == "holdout_window_days":
        return replace(policy, holdout_window_days=days)
    return replace(policy, cooldown_days=days)


def policy_suggestions(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    settings: PlanSettings,
    plan_date: dt.date,
    policy: ContactPolicy,
    contacts: pd.DataFrame | None,
    salt: str | None,
) -> list[Suggestion]:
    """For an infeasible week: each contact policy changed alone to the nearest value that makes it feasible.

    A window only changes who is excluded at the ages of the earlier plans, so those are the candidates
    (nearest first); a channel cap is tried one contact higher, then dropped; the control group off.
    Relaxing a policy is not always easier (the floors count over more customers), so every candidate is
    solved.
    """
    ages: list[int] = []
    if contacts is not None and len(contacts):
        dates = pd.to_datetime(contacts["plan_date"])
        ages = sorted({int(a) for a in (pd.Timestamp(plan_date) - dates).dt.days if a > 0}, reverse=True)
    found: list[Suggestion] = []

    def window(name: str, label: str) -> None:
        current = getattr(policy, name)
        for days in [a for a in ages if a < current] + [0]:
            if _feasible(
                cohort, catalog, settings, plan_date, _with_window(policy, name, days), contacts, salt
            ):
                text = f"turn the {label} off" if days == 0 else f"shorten the {label} to {days} days"
                found.append(Suggestion(name, float(current), float(days), text))
                return

    if policy.holdout_window_days:
        window("holdout_window_days", "holdout window")
    if policy.cooldown_days:
        window("cooldown_days", "cool-down")
    for cap in policy.channel_caps:
        others = tuple(c for c in policy.channel_caps if c is not cap)
        looser = replace(policy, channel_caps=(*others, replace(cap, max_contacts=cap.max_contacts + 1)))
        if _feasible(cohort, catalog, settings, plan_date, looser, contacts, salt):
            text = f"allow {cap.max_contacts + 1} {cap.channel} contacts in {cap.window_days} days"
            found.append(
                Suggestion(
                    f"channel_cap:{cap.channel}", float(cap.max_contacts), cap.max_contacts + 1.0, text
                )
            )
        elif _feasible(
            cohort, catalog, settings, plan_date, replace(policy, channel_caps=others), contacts, salt
        ):
            found.append(
                Suggestion(
                    f"channel_cap:{cap.channel}",
                    float(cap.max_contacts),
                    math.nan,  # no cap
                    f"drop the {cap.channel} cap",
                )
            )
    if policy.global_control and _feasible(
        cohort, catalog, settings, plan_date, replace(policy, global_control=0.0), contacts, salt
    ):
        found.append(
            Suggestion(
                "global_control", policy.global_control, 0.0, "leave the global control group out this week"
            )
        )
    return found


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
