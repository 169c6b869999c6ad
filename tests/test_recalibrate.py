"""Recalibration (measured uplift where sufficient, the estimate elsewhere), re-optimization, comparison."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from helpers import make_catalog, make_cohort

from optimizer import PlanSettings, build_exports, load_catalog, solve_plan
from optimizer.loop.comparison import compare_plans
from optimizer.loop.history import PlanHistory
from optimizer.loop.outcomes import load_outcomes, measure_uplift, outcomes_csv_bytes, simulate_outcomes
from optimizer.loop.recalibrate import KPI_COLUMNS, recalibrate_catalog, reoptimize, revalue

CATALOG = [
    (0, "No Action", "none", 0, 0, "all"),
    (1, "Free trial", "in_app", 1, 0.12, "Free"),
    (2, "Premium email", "email", 1, 0.20, "Premium"),
    (3, "Free email", "email", 1, 0.10, "Free"),
    (4, "Retention call", "call", 30, 0.30, "Family"),
    (5, "Discount", "email", 5, 0.15, "all"),
]
UNCONSTRAINED = PlanSettings(
    budget=1e6,
    email_capacity=None,
    push_capacity=None,
    call_capacity=None,
    min_high_risk=0,
    min_premium=0,
    max_saturation=1.0,
    min_segment=0,
)


def counted_rows(groups):
    """Plan rows and outcomes from (action_id, treated churned, treated n, holdout churned, holdout n)."""
    rows, outcomes = [], []
    for action, t_churned, t_n, h_churned, h_n in groups:
        for holdout, churned, n in ((False, t_churned, t_n), (True, h_churned, h_n)):
            for i in range(n):
                rows.append((len(rows) + 1, action, f"Action {action}", 0.5, holdout))
                outcomes.append((len(outcomes) + 1, int(i < churned)))
    frame = pd.DataFrame(
        rows, columns=["customer_id", "action_id", "action_name", "churn_probability", "holdout"]
    )
    frame["uplift"] = frame["action_id"].map({a[0]: a[4] for a in CATALOG})
    result = pd.DataFrame(outcomes, columns=["customer_id", "churned"])
    return frame, load_outcomes(outcomes_csv_bytes(result), "o.csv")


def test_measured_where_sufficient_estimate_elsewhere():
    rows, outcomes = counted_rows(
        [
            (1, 900, 3000, 150, 300),  # 0.30 vs 0.50: uplift 0.40, interval narrow enough
            (2, 10, 40, 3, 5),  # 5 holdout customers: too small, the estimate stays
            (5, 3300, 6000, 300, 600),  # 0.55 vs 0.50: churn went up; measured -0.10 becomes 0
        ]
    )
    measurement = measure_uplift(rows, outcomes)
    assert measurement.table.set_index("action_id")["sufficient"].to_dict() == {1: True, 2: False, 5: True}
    catalog = make_catalog(CATALOG)
    result = recalibrate_catalog(catalog, measurement)
    changes = result.changes.set_index("action_id")
    assert result.catalog.set_index("action_id")["uplift"].to_dict() == {
        0: 0.0,
        1: 0.4,
        2: 0.2,
        3: 0.1,
        4: 0.3,
        5: 0.0,
    }
    assert changes["source"].to_dict() == {
        0: "estimate",
        1: "measured",
        2: "estimate",
        3: "estimate",
        4: "estimate",
        5: "measured",
    }
    assert changes.loc[1, "reason"].startswith("Measured 0.4000 (95% CI")
    assert "300 holdout and 3000 treated" in changes.loc[1, "reason"]
    assert changes.loc[2, "reason"].startswith(
        "Too small to conclude anything: only 5 customers in the holdout"
    )
    assert changes.loc[3, "reason"] == "Not in the measured plan: the estimate is kept."
    assert changes.loc[5, "measured"] == pytest.approx(-0.1)
    assert changes.loc[5, "reason"].endswith("Treatment raised churn: the uplift is set to 0.")
    assert result.measured_actions == [1, 5]
    # Costs, channels and eligibility are untouched; the CSV loads back to the same catalog.
    untouched = ["action_id", "action_name", "channel", "cost", "eligible_segment", "enabled"]
    pd.testing.assert_frame_equal(result.catalog[untouched], catalog[untouched])
    pd.testing.assert_frame_equal(load_catalog(result.catalog_csv(), "new.csv"), result.catalog)


def test_revalue_uses_the_new_uplifts(bundled_cohort):
    catalog = load_catalog()
    plan = solve_plan(bundled_cohort, catalog, PlanSettings())
    same, kpis = revalue(plan.assignments, catalog, plan.kpis.customers, plan.settings.budget)
    assert kpis == plan.kpis
    halved = catalog.assign(uplift=catalog["uplift"] / 2)
    _, lower = revalue(plan.assignments, halved, plan.kpis.customers, plan.settings.budget)
    assert lower.expected_retained_clv == pytest.approx(plan.kpis.expected_retained_clv / 2)
    assert lower.total_spend == plan.kpis.total_spend


@pytest.fixture(scope="module")
def big_week():
    """4,000 Free and 300 Premium customers; the plan gives every Free customer the Free trial (est. 0.12)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.9, 4300).round(4)
    cohort = make_cohort(p, ["Free"] * 4000 + ["Premium"] * 300, np.full(4300, 500.0))
    catalog = make_catalog(CATALOG[:5])
    result = solve_plan(cohort, catalog, UNCONSTRAINED)
    assert result.assignments["action_id"].value_counts().to_dict() == {1: 4000, 2: 300}
    return cohort, catalog, result


def test_simulated_loop_recalibrates_and_reoptimizes(big_week, tmp_path):
    cohort, catalog, result = big_week
    exports = build_exports(result.assignments, seed=11, plan_date=dt.date(2025, 11, 5))
    with PlanHistory(f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}") as history:
        plan = history.load_plan(history.save_plan(result, exports, cohort, catalog))
    truth = {1: 0.0, 2: 0.20}  # the trial does not work at all
    outcomes = simulate_outcomes(plan, truth, seed=3)
    measurement = measure_uplift(plan, load_outcomes(outcomes_csv_bytes(outcomes), "o.csv"))
    table = measurement.table.set_index("action_id")
    assert table.loc[1, "holdout_n"] == 400 and table.loc[2, "holdout_n"] == 30
    assert table.loc[1, "uplift_ci_low"] <= 0.0 <= table.loc[1, "uplift_ci_high"]
    assert table.loc[1, "sufficient"] and not table.loc[2, "sufficient"]

    recalibration = recalibrate_catalog(plan.catalog, measurement)
    new = recalibration.catalog.set_index("action_id")["uplift"]
    assert new[1] == pytest.approx(max(0.0, table.loc[1, "measured_uplift"]), abs=5e-5)
    assert new[1] < 0.10  # now below the Free email's 0.10
    assert new[2] == 0.20 and new[3] == 0.10  # kept: not sufficient / not in the plan

    change = reoptimize(plan, recalibration.catalog)
    assert change.after.status == "optimal"
    mix = change.comparison.action_mix.set_index("action_id")
    assert mix.loc[1, "customers_b"] == 0 and mix.loc[3, "customers_b"] == 4000  # Free customers switch
    assert change.comparison.switched == 4000 and change.comparison.same == 300
    assert list(change.kpis.columns) == ["metric", "label", *KPI_COLUMNS]
    kpis = change.kpis.set_index("metric")
    assert kpis.loc["net_value", KPI_COLUMNS[0]] == pytest.approx(plan.kpis.net_value)
    assert kpis.loc["net_value", KPI_COLUMNS[1]] < kpis.loc["net_value", KPI_COLUMNS[0]]
    assert change.net_value_gain > 0
    assert kpis.loc["net_value", KPI_COLUMNS[2]] == pytest.approx(
        kpis.loc["net_value", KPI_COLUMNS[1]] + change.net_value_gain
    )


def test_compare_two_plans(bundled_cohort):
    catalog = load_catalog()
    a = solve_plan(bundled_cohort, catalog, PlanSettings(budget=150))
    b = solve_plan(bundled_cohort, catalog, PlanSettings(budget=400))
    c = compare_plans(a, b, labels=("$150", "$400"))
    changed = c.settings[c.settings["changed"]]
    assert changed["setting"].tolist() == ["budget"]
    assert changed[["a", "b"]].iloc[0].tolist() == [150.0, 400.0]
    kpis = c.kpis.set_index("metric")
    assert kpis.loc["net_value", "change"] == pytest.approx(b.kpis.net_value - a.kpis.net_value)
    assert kpis.loc["customers_treated", "a"] == a.kpis.customers_treated
    assert c.action_mix["customers_a"].sum() == len(a.assignments)
    assert c.action_mix["customers_b"].sum() == len(b.assignments)
    assert (c.action_mix["change"] == c.action_mix["customers_b"] - c.action_mix["customers_a"]).all()
    assert c.same + c.switched + c.only_a == len(a.assignments)
    assert c.same + c.switched + c.only_b == len(b.assignments)
    assert len(c.customers) == c.switched + c.only_a + c.only_b
    assert set(c.customers["change"]) <= {"switched", "no longer treated", "newly treated"}
    itself = compare_plans(a, a)
    assert (itself.same, itself.switched, itself.only_a, itself.only_b) == (len(a.assignments), 0, 0, 0)
    assert math.isclose(itself.kpis.set_index("metric").loc["net_value", "change"], 0.0)
