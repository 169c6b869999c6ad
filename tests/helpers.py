"""Test helpers that do not use the model code: tiny cohorts, an independent plan checker, brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from optimizer.data import finish_cohort
from optimizer.model import PlanSettings

SEGMENTS = ["Free", "Premium", "Family", "Student"]


def make_cohort(p, subscription, clv, plan=None) -> pd.DataFrame:
    """A cohort with given probabilities, subscription types and CLVs (ids 1..n)."""
    n = len(p)
    frame = pd.DataFrame(
        {
            "customer_id": [str(i + 1) for i in range(n)],  # ids are text: "1", "2", ...
            "churn_probability": np.asarray(p, dtype=float),
            "subscription_type": list(subscription),
            "payment_plan": list(plan) if plan is not None else ["Monthly"] * n,
            "clv": np.asarray(clv, dtype=float),
        }
    )
    return finish_cohort(frame)


def make_catalog(rows) -> pd.DataFrame:
    """rows: (action_id, name, channel, cost, uplift, segment[, min_clv, max_clv])."""
    from optimizer.catalog import validate_catalog

    records = []
    for row in rows:
        action_id, name, channel, cost, uplift, segment, *bounds = row
        low, high = (bounds + [None, None])[:2]
        records.append(
            {
                "action_id": action_id,
                "action_name": name,
                "channel": channel,
                "cost": cost,
                "uplift": uplift,
                "eligible_segment": segment,
                "min_clv": low,
                "max_clv": high,
                "description": "",
            }
        )
    return validate_catalog(pd.DataFrame(records), "test catalog")


def random_instance(rng: np.random.Generator, n: int, n_actions: int):
    """A random cohort and catalog (action 0 = no action, then n_actions actions)."""
    p = rng.uniform(0.05, 0.95, n).round(3)
    subscription = rng.choice(SEGMENTS, n)
    clv = rng.uniform(80, 900, n).round(2)
    cohort = make_cohort(p, subscription, clv)
    channels = ["email", "in_app", "push", "call"]
    segments = ["all", "all", "high_value", "Premium", "Free", "medium_value"]
    rows = [(0, "No Action", "none", 0, 0, "all")]
    for k in range(1, n_actions + 1):
        rows.append(
            (
                k,
                f"Action {k}",
                channels[rng.integers(len(channels))],
                float(rng.integers(1, 40)),
                round(float(rng.uniform(0.05, 0.35)), 3),
                segments[rng.integers(len(segments))] if k > 1 else "all",
            )
        )
    return cohort, make_catalog(rows)


def random_settings(rng: np.random.Generator) -> PlanSettings:
    return PlanSettings(
        budget=float(rng.integers(10, 120)),
        email_capacity=int(rng.integers(1, 6)),
        push_capacity=int(rng.integers(0, 6)),
        call_capacity=int(rng.integers(0, 4)),
        min_high_risk=float(rng.choice([0.0, 0.3, 0.5])),
        min_premium=float(rng.choice([0.0, 0.25, 0.5])),
        max_saturation=float(rng.choice([0.4, 0.6, 1.0])),
        min_segment=float(rng.choice([0.0, 0.2])),
        high_risk_threshold=0.6,
        coverage_rounding=str(rng.choice(["ceil", "floor"])),
    )


def _need(rate: float, size: int, rounding: str) -> int:
    exact = round(rate * size, 9)
    return math.ceil(exact) if rounding == "ceil" else math.floor(exact)


def eligible(cohort_row, action) -> bool:
    segment = str(action.eligible_segment).lower()
    tiers = {"high_value": "High", "medium_value": "Medium", "low_value": "Low"}
    if segment == "all":
        ok = True
    elif segment in tiers:
        ok = cohort_row.value_tier == tiers[segment]
    else:
        ok = cohort_row.subscription_type.lower() == segment
    if not pd.isna(action.min_clv):
        ok = ok and cohort_row.clv > action.min_clv
    if not pd.isna(action.max_clv):
        ok = ok and cohort_row.clv <= action.max_clv
    return bool(ok)


def plan_violations(
    assignment: dict, cohort: pd.DataFrame, catalog: pd.DataFrame, settings: PlanSettings
) -> list[str]:
    """Every rule a plan breaks, checked straight from the definitions (no model code).

    `assignment` maps customer_id -> action_id for treated customers.
    """
    out = []
    actions = catalog.set_index("action_id")
    by_id = cohort.set_index("customer_id")
    n = len(cohort)
    for customer, action in assignment.items():
        if action == 0 or not actions.loc[action, "enabled"]:
            out.append(f"{customer}: action {action} is not a treatment")
        elif not eligible(by_id.loc[customer], actions.loc[action]):
            out.append(f"{customer}: not eligible for action {action}")
    chosen = [actions.loc[a] for a in assignment.values()]
    spend = sum(a.cost for a in chosen)
    if spend > settings.budget + 1e-6:
        out.append(f"budget: {spend} > {settings.budget}")
    for capacity, channels in (
        ("email_capacity", {"email"}),
        ("push_capacity", {"in_app", "push"}),
        ("call_capacity", {"call"}),
    ):
        limit = getattr(settings, capacity)
        used = sum(a.channel in channels for a in chosen)
        if limit is not None and used > limit + 1e-9:
            out.append(f"{capacity}: {used} > {limit}")
    treated = set(assignment)
    high = [
        c
        for c, p in zip(cohort.customer_id, cohort.churn_probability, strict=True)
        if p > settings.high_risk_threshold
    ]
    if high and sum(c in treated for c in high) < _need(
        settings.min_high_risk, len(high), settings.coverage_rounding
    ):
        out.append("high-risk coverage")
    premium = list(cohort.customer_id[cohort.subscription_type == "Premium"])
    if premium and sum(c in treated for c in premium) < _need(
        settings.min_premium, len(premium), settings.coverage_rounding
    ):
        out.append("premium coverage")
    cap = math.floor(round(settings.max_saturation * n, 9))
    for action in set(assignment.values()):
        if list(assignment.values()).count(action) > cap:
            out.append(f"saturation of action {action}")
    for segment in cohort.subscription_type.unique():
        members = list(cohort.customer_id[cohort.subscription_type == segment])
        if sum(c in treated for c in members) < _need(
            settings.min_segment, len(members), settings.coverage_rounding
        ):
            out.append(f"fairness {segment}")
    return out


def plan_value(assignment: dict, cohort: pd.DataFrame, catalog: pd.DataFrame) -> float:
    actions = catalog.set_index("action_id")
    by_id = cohort.set_index("customer_id")
    total = 0.0
    for customer, action in assignment.items():
        c, a = by_id.loc[customer], actions.loc[action]
        total += c.churn_probability * a.uplift * c.clv - a.cost
    return total


def brute_force(cohort: pd.DataFrame, catalog: pd.DataFrame, settings: PlanSettings):
    """Best objective over every assignment, by enumeration (None when none is feasible).

    Checks the rules from their definitions with plain Python, independently of the model code.
    """
    treatments = [a for a in catalog.itertuples() if a.action_id != 0 and a.enabled]
    customers = list(cohort.itertuples())
    n = len(customers)
    options = [[None] + [a for a in treatments if eligible(c, a)] for c in customers]
    rounding = settings.coverage_rounding
    high = [i for i, c in enumerate(customers) if c.churn_probability > settings.high_risk_threshold]
    premium = [i for i, c in enumerate(customers) if c.subscription_type == "Premium"]
    segments = {}
    for i, c in enumerate(customers):
        segments.setdefault(c.subscription_type, []).append(i)
    floors = [(high, _need(settings.min_high_risk, len(high), rounding))] if high else []
    if premium:
        floors.append((premium, _need(settings.min_premium, len(premium), rounding)))
    floors += [(m, _need(settings.min_segment, len(m), rounding)) for m in segments.values()]
    cap = math.floor(round(settings.max_saturation * n, 9))
    limits = {
        "email": settings.email_capacity,
        "in_app": settings.push_capacity,
        "push": settings.push_capacity,
        "call": settings.call_capacity,
    }
    best = None
    for combo in itertools.product(*options):
        chosen = [a for a in combo if a is not None]
        if sum(a.cost for a in chosen) > settings.budget + 1e-9:
            continue
        ok = True
        for channels, limit in (
            (("email",), limits["email"]),
            (("in_app", "push"), limits["push"]),
            (("call",), limits["call"]),
        ):
            if limit is not None and sum(a.channel in channels for a in chosen) > limit:
                ok = False
        counts = {}
        for a in chosen:
            counts[a.action_id] = counts.get(a.action_id, 0) + 1
        if any(v > cap for v in counts.values()):
            ok = False
        for members, need in floors:
            if sum(combo[i] is not None for i in members) < need:
                ok = False
        if not ok:
            continue
        value = sum(
            customers[i].churn_probability * a.uplift * customers[i].clv - a.cost
            for i, a in enumerate(combo)
            if a is not None
        )
        if best is None or value > best:
            best = value
    return best


def assignment_of(result) -> dict:
    """customer_id (text) -> action_id of a plan's treated customers."""
    return dict(zip(result.assignments.customer_id, result.assignments.action_id, strict=True))
