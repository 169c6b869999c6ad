"""Two weeks of the weekly program on the bundled cohort: policies kept, floors over contactable customers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from optimizer import PlanSettings, load_bundled_cohort, load_catalog, solve_plan
from optimizer.exports import holdout_flags
from optimizer.loop.policies import ChannelCap, ContactPolicy
from optimizer.loop.weekly import contacts_of_plan, plan_week
from optimizer.model import policy_count

WEEK1 = dt.date(2026, 3, 2)
WEEK2 = WEEK1 + dt.timedelta(days=7)


@pytest.fixture(scope="module")
def week1():
    cohort, catalog = load_bundled_cohort(), load_catalog()
    result = solve_plan(cohort, catalog, PlanSettings())
    held = holdout_flags(result.assignments, 0.10, seed=7)
    return cohort, catalog, result, contacts_of_plan(1, WEEK1, result.assignments, held)


def test_with_an_empty_history_the_week_is_todays_plan(week1):
    cohort, catalog, result, _ = week1
    week = plan_week(cohort, catalog, PlanSettings(), plan_date=WEEK1, policy=ContactPolicy(cooldown_days=14))
    assert week.result.kpis.net_value == pytest.approx(result.kpis.net_value, abs=1e-9)
    assert week.result.assignments["customer_id"].tolist() == result.assignments["customer_id"].tolist()
    assert len(result.assignments) > 50
    assert week.exclusions.counts == {
        "holdout_window": 0,
        "cooldown": 0,
        "channel_cap": 0,
        "global_control": 0,
    }
    assert week.to_dict()["excluded"] == week.exclusions.counts


def test_week_two_spares_the_open_holdout_and_the_cooled_down(week1):
    cohort, catalog, first, contacts = week1
    settings = PlanSettings(budget=300)
    policy = ContactPolicy(holdout_window_days=30, cooldown_days=14)
    week = plan_week(cohort, catalog, settings, plan_date=WEEK2, policy=policy, contacts=contacts)
    assert week.result.has_plan
    held = set(contacts.loc[contacts["holdout"], "customer_id"])
    treated = set(contacts.loc[~contacts["holdout"], "customer_id"])
    week2 = set(week.result.assignments["customer_id"].astype(str))
    assert week2 and not week2 & held and not week2 & treated
    assert week.exclusions.counts["holdout_window"] == len(held)
    assert week.exclusions.counts["cooldown"] == len(treated)
    # The floors count over the contactable customers, computed here independently of the model code.
    contactable = ~cohort["customer_id"].astype(str).isin(held | treated).to_numpy()
    high_risk = cohort["churn_probability"].to_numpy() > settings.high_risk_threshold
    constraints = week.result.constraints.set_index("key")
    row = constraints.loc["high_risk_coverage"]
    assert row["group_size"] == (high_risk & contactable).sum()
    assert row["excluded_by_policy"] == (high_risk & ~contactable).sum() > 0
    assert row["limit"] == policy_count(settings.min_high_risk, int((high_risk & contactable).sum()))
    treated_high_risk = week.result.assignments["churn_probability"].to_numpy() > settings.high_risk_threshold
    assert treated_high_risk.sum() >= row["limit"]
    assert "contactable high-risk customers" in row["recommendation"]
    assert f"{row['excluded_by_policy']} excluded by contact policy" in row["recommendation"]
    for segment, members in cohort.groupby("subscription_type")["customer_id"]:
        fair = constraints.loc[f"fairness:{segment}"]
        assert fair["group_size"] == (~members.astype(str).isin(held | treated)).sum()


def test_a_channel_cap_closes_only_that_channel(week1):
    cohort, catalog, _, contacts = week1
    policy = ContactPolicy(holdout_window_days=0, channel_caps=(ChannelCap("email", 1, 14),))
    week = plan_week(
        cohort, catalog, PlanSettings(budget=300), plan_date=WEEK2, policy=policy, contacts=contacts
    )
    emailed = set(contacts.loc[~contacts["holdout"] & (contacts["channel"] == "email"), "customer_id"])
    assignments = week.result.assignments.assign(customer_id=lambda f: f["customer_id"].astype(str))
    assert emailed and not set(assignments.loc[assignments["channel"] == "email", "customer_id"]) & emailed
    assert week.exclusions.counts["channel_cap"] == len(emailed)
    # Capped customers may still get another channel's action.
    others = assignments[assignments["customer_id"].isin(emailed)]
    assert len(others) and (others["channel"] != "email").all()


def test_a_plan_dated_after_the_week_does_not_count(week1):
    cohort, catalog, _, contacts = week1
    earlier = WEEK1 - dt.timedelta(days=7)
    week = plan_week(
        cohort, catalog, plan_date=earlier, policy=ContactPolicy(cooldown_days=28), contacts=contacts
    )
    assert not week.exclusions.excluded.any()


def test_excluded_customers_get_no_variable(week1):
    cohort, catalog, _, contacts = week1
    from optimizer.loop.policies import contact_exclusions
    from optimizer.loop.weekly import week_problem

    policy = ContactPolicy(cooldown_days=14)
    exclusions = contact_exclusions(cohort["customer_id"], contacts, WEEK2, policy)
    problem = week_problem(cohort, catalog, 0.7, exclusions)
    excluded_positions = np.flatnonzero(exclusions.excluded)
    assert len(excluded_positions) and not np.isin(problem.pair_customer, excluded_positions).any()
    assert isinstance(exclusions.table, pd.DataFrame) and len(exclusions.table) == len(excluded_positions)


def test_an_infeasible_week_names_the_policy_and_the_nearest_setting_that_works(week1):
    """Week 1 emailed many customers; capping email at 1 in 14 days leaves them only dearer actions, so the
    least budget of the policies no longer suffices: the diagnosis says which policy change would."""
    from optimizer.plan import minimum_budget

    cohort, catalog, _, contacts = week1
    least = minimum_budget(cohort, catalog, PlanSettings()).minimum_budget
    settings = PlanSettings(budget=least)
    capped = ContactPolicy(holdout_window_days=0, channel_caps=(ChannelCap("email", 1, 14),))
    week = plan_week(cohort, catalog, settings, plan_date=WEEK2, policy=capped, contacts=contacts)
    assert week.result.status == "infeasible"
    found = [s for s in week.result.diagnosis.suggestions if s.setting == "channel_cap:email"]
    assert len(found) == 1 and "email" in found[0].text
    assert "Contact policy: 0 customers excluded, " in week.result.diagnosis.message
    assert f"the week is feasible if you {found[0].text}" in week.result.diagnosis.message
    # The suggested change works, checked by planning with it.
    looser = (
        ContactPolicy(holdout_window_days=0)
        if found[0].value != found[0].value  # nan: drop the cap
        else ContactPolicy(
            holdout_window_days=0, channel_caps=(ChannelCap("email", int(found[0].value), 14),)
        )
    )
    again = plan_week(cohort, catalog, settings, plan_date=WEEK2, policy=looser, contacts=contacts)
    assert again.result.has_plan
