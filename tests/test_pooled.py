"""Pooled measurement: hand-counted weeks, the concatenation identity, coverage, the program's lift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.loop.outcomes import compare_groups, measure_uplift, simulate_outcomes
from optimizer.loop.pooled import MeasuredWeek, measure_pooled


def plan_rows(ids, action, holdout, p=0.5, uplift=0.2) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ids,
            "action_id": action,
            "action_name": [f"Action {a}" for a in np.broadcast_to(action, len(ids))],
            "churn_probability": p,
            "uplift": uplift,
            "holdout": holdout,
        }
    )


def outcomes(ids, churned) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ids, "churned": churned})


def test_two_hand_counted_weeks_pool_as_one():
    # Week 1, action 1: treated a-d (1 churned), holdout e-f (1 churned).
    w1 = MeasuredWeek(
        1,
        plan_rows(list("abcdef"), 1, [False] * 4 + [True] * 2),
        outcomes(list("abcdef"), [1, 0, 0, 0, 1, 0]),
    )
    # Week 2, action 1: treated g, h and a again (0 churned), holdout i (churned).
    w2 = MeasuredWeek(
        2,
        plan_rows(["g", "h", "a", "i"], 1, [False, False, False, True]),
        outcomes(["g", "h", "a", "i"], [0, 0, 0, 1]),
    )
    pooled = measure_pooled([w1, w2])
    row = pooled.measurement.table.iloc[0]
    assert (row["treated_n"], row["treated_churned"], row["holdout_n"], row["holdout_churned"]) == (
        7,
        1,
        3,
        2,
    )
    assert row["measured_uplift"] == pytest.approx(1 - (1 / 7) / (2 / 3))  # 11/14
    assert row["uplift_ci_low"] == pytest.approx(compare_groups(1, 7, 2, 3)["uplift_ci_low"])
    assert pooled.repeated_customers == 1  # customer a, measured in both weeks, counted in each
    assert pooled.plan_ids == [1, 2] and pooled.program is None
    assert pooled.to_dict()["program_lift"] is None


def test_pooled_equals_the_measurement_of_the_concatenated_outcomes():
    rng = np.random.default_rng(11)
    weeks, all_rows, all_outcomes = [], [], []
    for plan_id in (3, 4, 5):
        n = 90
        ids = [f"{plan_id}-{i}" for i in range(n)]
        action = rng.choice([1, 2, 5], size=n)
        held = rng.random(n) < 0.2
        rows = plan_rows(ids, action, held, p=rng.uniform(0.2, 0.9, n))
        churn = (rng.random(n) < 0.4).astype(int)
        weeks.append(MeasuredWeek(plan_id, rows, outcomes(ids, churn)))
        all_rows.append(rows)
        all_outcomes.append(outcomes(ids, churn))
    pooled = measure_pooled(weeks).measurement
    direct = measure_uplift(
        pd.concat(all_rows, ignore_index=True), pd.concat(all_outcomes, ignore_index=True)
    )
    columns = ["action_id", "treated_n", "treated_churned", "holdout_n", "holdout_churned", "measured_uplift"]
    pd.testing.assert_frame_equal(pooled.table[columns], direct.table[columns])
    assert pooled.overall["measured_uplift"] == pytest.approx(direct.overall["measured_uplift"])


def test_pooled_interval_covers_the_true_uplift_at_about_the_nominal_rate():
    """200 simulated 4-week programs (true uplift 0.30): the pooled 95% interval covers it in ~95% of them."""
    true = 0.30
    covered = 0
    runs = 200
    for seed in range(runs):
        weeks = []
        for week in range(4):
            ids = [f"w{week}-{i}" for i in range(150)]
            held = np.arange(150) < 40
            rows = plan_rows(ids, 1, held, p=0.5, uplift=0.1)
            drawn = simulate_outcomes(rows, {1: true}, seed=seed * 10 + week)
            weeks.append(MeasuredWeek(week, rows, drawn))
        row = measure_pooled(weeks).measurement.table.iloc[0]
        covered += row["uplift_ci_low"] <= true <= row["uplift_ci_high"]
    # Binomial(200, 0.95): mean 190, sd 3.1; 0.90-0.99 is about -3.2 to +2.6 sd.
    assert 0.90 <= covered / runs <= 0.99


def test_program_lift_against_the_global_control_group():
    # Cohort of 10: plan treats a-c (a churned), holds out d (churned); e-h untreated (f churned);
    # i, j in the global control group (both churned).
    rows = plan_rows(list("abcd"), 1, [False, False, False, True])
    drawn = outcomes(list("abcdefghij"), [1, 0, 0, 1, 0, 1, 0, 0, 1, 1])
    pooled = measure_pooled([MeasuredWeek(7, rows, drawn, control=["i", "j"])])
    program = pooled.program
    assert (program["treated_n"], program["treated_churned"]) == (8, 3)  # every non-control customer
    assert (program["holdout_n"], program["holdout_churned"]) == (2, 2)
    assert program["measured_uplift"] == pytest.approx(1 - (3 / 8) / 1.0)
    contacted = pooled.contacted_vs_control
    assert (contacted["treated_n"], contacted["treated_churned"]) == (3, 1)
    assert pooled.to_dict()["program_lift"]["holdout_n"] == 2
    assert any("descriptive" in note for note in pooled.notes)


def test_nothing_to_pool_is_refused():
    with pytest.raises(ValueError, match="no measured week"):
        measure_pooled([])
