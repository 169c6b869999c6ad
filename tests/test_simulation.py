"""The multi-week simulation: deterministic, and each week keeps the contact policies of earlier weeks."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.loop.policies import ChannelCap, ContactPolicy, global_control_members
from optimizer.loop.simulation import TRUE_UPLIFT, simulate_weeks, week_line

POLICY = ContactPolicy(cooldown_days=14, channel_caps=(ChannelCap("email", 2, 28),), global_control=0.05)


@pytest.fixture(scope="module")
def simulation():
    return simulate_weeks(7, 250, seed=3, policy=POLICY, recalibrate_week=7)


def test_the_same_seed_gives_the_same_weeks(simulation):
    again = simulate_weeks(7, 250, seed=3, policy=POLICY, recalibrate_week=7)
    assert [w.to_dict() for w in again.weeks] == [w.to_dict() for w in simulation.weeks]


def test_every_week_keeps_the_policies_against_the_earlier_weeks(simulation):
    contacts = simulation.contacts.assign(plan_date=lambda f: pd.to_datetime(f["plan_date"]))
    treated = contacts[~contacts["holdout"] & (contacts["action_id"] > 0)]
    held = contacts[contacts["holdout"]]
    assert len(treated) > 200 and len(held) > 20
    for _, row in treated.iterrows():
        earlier = contacts[
            (contacts["customer_id"] == row.customer_id) & (contacts["plan_date"] < row.plan_date)
        ]
        age = (row.plan_date - earlier["plan_date"]).dt.days
        assert not (earlier["holdout"] & (age < 30)).any(), "treated inside an open holdout window"
        assert not (~earlier["holdout"] & (age < 14)).any(), "treated during the cool-down"
        if row.channel == "email":
            emails = (~earlier["holdout"] & (earlier["channel"] == "email") & (age < 28)).sum()
            assert emails <= 1, "third email within 28 days"
    # The control group is a fixed set of customers, never contacted.
    assert simulation.control and not set(contacts["customer_id"]) & simulation.control
    salt = f"{3:016x}"
    assert all(global_control_members(list(simulation.control), salt, 0.05))


def test_rows_report_measurement_and_value(simulation):
    last = simulation.weeks[-1]
    assert last.measured_weeks == 2  # weeks 1 and 2 are at least 30 days before week 7
    assert set(last.uplift["action_id"]) <= set(TRUE_UPLIFT)
    assert (last.uplift["true"] == last.uplift["action_id"].map(TRUE_UPLIFT)).all()
    assert last.recalibrated and last.cumulative_true_net_value == pytest.approx(
        sum(w.true_net_value for w in simulation.weeks)
    )
    assert simulation.weeks[0].measured_weeks == 0 and "2026-01-05" in week_line(simulation.weeks[0])


def test_a_history_backed_simulation_saves_every_week_and_plans_the_same(tmp_path):
    from optimizer.loop.history import PlanHistory

    policy = ContactPolicy(cooldown_days=14, global_control=0.05)
    in_memory = simulate_weeks(3, 250, seed=5, policy=policy)
    with PlanHistory(f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}") as history:
        saved = simulate_weeks(3, 250, seed=5, policy=policy, history=history)
        plans = history.list_plans()
        assert len(plans) == 3 and plans["outcome_files"].tolist() == [1, 1, 1]
        contacts = history.contacts()
        assert len(contacts) == sum(w.treated + w.held_out for w in saved.weeks)
        assert history.contact_policy(int(plans["id"].iloc[0]))["cooldown_days"] == 14
    # The history's salt differs from the in-memory run's, so the control groups (and plans) may differ;
    # with the same salt nothing else differs: compare the weeks' sizes where the control group is off.
    plain = ContactPolicy(cooldown_days=14)
    with PlanHistory(f"sqlite:///{(tmp_path / 'h2.sqlite').as_posix()}") as history:
        a = simulate_weeks(3, 250, seed=5, policy=plain, history=history)
    b = simulate_weeks(3, 250, seed=5, policy=plain)
    assert [w.to_dict() for w in a.weeks] == [w.to_dict() for w in b.weeks]
    assert in_memory.weeks[0].excluded["global_control"] > 0
