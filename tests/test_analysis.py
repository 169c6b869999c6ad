"""KPIs, the constraint report, marginal values, the sweep and the infeasibility diagnosis."""

import math

import pytest
from helpers import plan_violations
from test_model import FREE, HAND_CATALOG, HAND_COHORT

from optimizer import (
    PlanSettings,
    budget_sweep,
    build_problem,
    load_catalog,
    marginal_values,
    minimum_budget,
    solve_plan,
)
from optimizer.solvers import open_session


def test_kpis_by_hand():
    result = solve_plan(HAND_COHORT, HAND_CATALOG, FREE)  # call 1, email 2 and 3
    k = result.kpis
    assert k.customers_treated == 3 and k.customers == 4
    assert k.total_spend == 34.0
    assert k.expected_churn_reduction == pytest.approx(0.5 * 0.3 + 0.9 * 0.1 + 0.2 * 0.1)
    assert k.expected_retained_clv == pytest.approx(60 + 9 + 18)
    assert k.net_value == pytest.approx(53.0)
    assert k.roi_pct == pytest.approx(53 / 34 * 100)
    assert k.budget_utilization_pct == pytest.approx(34 / 35 * 100)


def test_assignments_by_hand_keep_the_cohort_and_catalog_types():
    result = solve_plan(HAND_COHORT, HAND_CATALOG, FREE)  # call 1, email 2 and 3
    frame = result.assignments
    assert frame["customer_id"].tolist() == HAND_COHORT["customer_id"].tolist()[:3]
    assert frame["net_value"].sum() == pytest.approx(53.0)
    assert (frame["net_value"] == frame["expected_retained_clv"] - frame["cost"]).all()
    problem = build_problem(HAND_COHORT, HAND_CATALOG)
    for column in ("customer_id", "subscription_type", "payment_plan", "risk_tier", "value_tier"):
        assert frame[column].dtype == problem.cohort[column].dtype, column
    for column in ("action_id", "action_name", "channel"):
        assert frame[column].dtype == problem.actions[column].dtype, column
    assert list(frame.index) == [0, 1, 2]
    assert sorted(result.chosen.tolist()) == result.chosen.tolist() and len(result.chosen) == 3


def test_constraint_report_by_hand():
    settings = FREE.with_changes(email_capacity=2, call_capacity=1, min_premium=1.0)
    result = solve_plan(HAND_COHORT, HAND_CATALOG, settings)  # call 1, email 2 and 3 again
    report = result.constraints.set_index("key")
    # Budget 35: the best plan spends 34 -> slack $1: binding (within $1); $1 buys no $2 email.
    assert report.loc["budget", "used"] == 34 and report.loc["budget", "slack"] == 1
    assert report.loc["budget", "binding"]
    assert "Budget fully used" in report.loc["budget", "recommendation"]
    # At $38 the $4 left buys nothing useful: emails are at capacity and a second call costs $30.
    roomy = solve_plan(HAND_COHORT, HAND_CATALOG, settings.with_changes(budget=38)).constraints.set_index(
        "key"
    )
    assert roomy.loc["budget", "slack"] == 4 and not roomy.loc["budget", "binding"]
    assert "would not help" in roomy.loc["budget", "recommendation"]
    # At $35.5 the $1.50 left is less than the cheapest action ($2): effectively used up.
    tight = solve_plan(HAND_COHORT, HAND_CATALOG, settings.with_changes(budget=35.5)).constraints.set_index(
        "key"
    )
    assert not tight.loc["budget", "binding"]
    assert "less than the cheapest action ($2.00)" in tight.loc["budget", "recommendation"]
    assert report.loc["email_capacity", "used"] == 2 and report.loc["email_capacity", "binding"]
    assert report.loc["call_capacity", "binding"]
    assert "full" in report.loc["email_capacity", "recommendation"]
    assert math.isnan(report.loc["push_capacity", "limit"])  # no limit set
    assert math.isnan(report.loc["push_capacity", "utilization_pct"])
    # Premium coverage 100% of 1 customer: met exactly, so binding; fairness floors are 0 here.
    assert report.loc["premium_coverage", "limit"] == 1 and report.loc["premium_coverage", "binding"]
    assert report.loc["fairness:Student", "limit"] == 0 and not report.loc["fairness:Student", "binding"]
    assert report.loc["fairness:Student", "used"] == 0
    # Infeasible settings give no usage but still list every limit.
    infeasible = solve_plan(HAND_COHORT, HAND_CATALOG, settings.with_changes(min_segment=1.0), diagnose=False)
    assert infeasible.constraints.used.isna().all()
    limits = infeasible.constraints.set_index("key").limit
    assert len(limits) == len(report) and limits["budget"] == 35 and limits["fairness:Student"] == 1


def test_budget_sweep_equals_independent_solves():
    budgets = [0, 6, 20, 33, 35, 100]
    table = budget_sweep(HAND_COHORT, HAND_CATALOG, FREE, budgets)
    for budget, net in zip(table.budget, table.net_value, strict=True):
        alone = solve_plan(HAND_COHORT, HAND_CATALOG, FREE.with_changes(budget=budget))
        assert net == pytest.approx(alone.kpis.net_value)
    # $6 buys three emails (41); $32 a call and an email (46); $34 a call and two emails (53);
    # $62 two calls and an email (30 + 24 + 7).
    assert table.net_value.tolist() == pytest.approx([0.0, 41.0, 41.0, 46.0, 53.0, 61.0])
    assert table.customers_treated.tolist()[-1] == 3


def test_sweep_reports_infeasible_points():
    table = budget_sweep(HAND_COHORT, HAND_CATALOG, FREE.with_changes(min_segment=1.0), [7, 8])
    assert table.status.tolist() == ["infeasible", "optimal"]
    # $8 buys the four forced emails: 18 + 7 + 16 - 1.5.
    assert math.isnan(table.net_value.iloc[0]) and table.net_value.iloc[1] == pytest.approx(39.5)


def test_marginal_values_exact_and_lp():
    settings = FREE.with_changes(budget=33, call_capacity=1)
    values = marginal_values(HAND_COHORT, HAND_CATALOG, settings, steps={"budget": 1.0, "call_capacity": 1.0})
    rows = values.set_index("key")
    # Budget 33 -> 34 makes the third email affordable: 46 -> 53.
    assert rows.loc["budget", "exact_gain"] == pytest.approx(7.0)
    assert rows.loc["budget", "gain_per_unit"] == pytest.approx(7.0)
    # A second call: budget 33 still allows only one call, so the exact gain is 0.
    assert rows.loc["call_capacity", "exact_gain"] == pytest.approx(0.0)
    assert values.key.iloc[0] == "budget"  # biggest bottleneck first
    # LP dual of the budget equals the LP's own finite difference.
    problem = build_problem(HAND_COHORT, HAND_CATALOG, settings.high_risk_threshold)
    rhs = problem.rhs(settings)
    with open_session(problem, rhs, "highs", relax=True) as lp:
        base = lp.solve().objective
        rhs[problem.row_index("budget")] += 0.01
        lp.set_rhs(rhs)
        raised = lp.solve().objective
    assert rows.loc["budget", "lp_dual"] == pytest.approx((raised - base) / 0.01, rel=1e-6)


@pytest.mark.parametrize("solver", ["gurobi", "highs"])
def test_lp_duals_are_valid_on_the_bundled_cohort(solver, bundled_cohort, bundled_report_catalog):
    """The LP may have several optimal duals; each must lie between the value function's slopes."""
    settings = PlanSettings(coverage_rounding="floor")
    values = marginal_values(bundled_cohort, bundled_report_catalog, settings, solver=solver).set_index("key")
    problem = build_problem(bundled_cohort, bundled_report_catalog, settings.high_risk_threshold)
    rhs = problem.rhs(settings)
    row = problem.row_index("budget")
    slopes = []
    with open_session(problem, rhs, "highs", relax=True) as lp:
        objective = {}
        for delta in (-0.5, 0.0, 0.5):
            changed = rhs.copy()
            changed[row] += delta
            lp.set_rhs(changed)
            objective[delta] = lp.solve().objective
        slopes = [(objective[0.0] - objective[-0.5]) / 0.5, (objective[0.5] - objective[0.0]) / 0.5]
    assert min(slopes) - 1e-6 <= values.loc["budget", "lp_dual"] <= max(slopes) + 1e-6
    assert values.loc["budget", "lp_dual"] > 0
    assert values.loc["high_risk_coverage", "lp_dual"] > 0  # requiring fewer is worth something
    # Exact gain of +$10: the MILP optimum at $160 minus the one at $150 ($3,755.482706 on the bundled
    # cohort with the report's catalog and floor rounding: Gurobi, HiGHS and a separate scipy MILP written
    # from the rule definitions agree).
    at_160 = solve_plan(bundled_cohort, bundled_report_catalog, settings.with_changes(budget=160)).kpis
    assert values.loc["budget", "exact_gain"] == pytest.approx(at_160.net_value - 3755.482706, abs=1e-4)


def bundled_policy_counts(cohort) -> dict:
    """The counts the bundled cohort's policy floors are derived from by hand (asserted where used)."""
    high = cohort.churn_probability > 0.7
    by_type = cohort.groupby("subscription_type")
    return {
        "high_risk": int(high.sum()),
        "size": by_type.size().to_dict(),
        "high_risk_by_type": high.groupby(cohort.subscription_type).sum().to_dict(),
    }


def test_diagnosis_on_the_bundled_cohort(bundled_cohort):
    catalog = load_catalog()
    settings = PlanSettings(budget=100)
    # By hand, with ceil rounding: 106 high-risk -> 64; Premium 40% of 63 -> 26; 15% of each type
    # (Family 64, Free 61, Premium 63, Student 62) -> 10 each. Only 23 Premium customers are high-risk, so
    # the 26 Premium treatments cover 23 high-risk at most and 64 - 23 = 41 more come from the other types
    # (each has >= 10 high-risk, which also meets their floors of 10): 26 + 41 = 67 customers, each at the
    # cheapest action ($2 email, open to all; 67 <= 120 emails and <= the 125-per-action saturation): $134.
    assert bundled_policy_counts(bundled_cohort) == {
        "high_risk": 106,
        "size": {"Family": 64, "Free": 61, "Premium": 63, "Student": 62},
        "high_risk_by_type": {"Family": 19, "Free": 32, "Premium": 23, "Student": 32},
    }
    result = solve_plan(bundled_cohort, catalog, settings)
    assert result.status == "infeasible"
    diagnosis = result.diagnosis
    assert "budget" in diagnosis.conflicting_keys
    need = minimum_budget(bundled_cohort, catalog, settings)
    assert need.minimum_budget == 134.0
    assert diagnosis.nearest.budget == 134.0
    assert "$134.00" in diagnosis.message
    assert solve_plan(bundled_cohort, catalog, diagnosis.nearest).status == "optimal"
    assert solve_plan(bundled_cohort, catalog, settings.with_changes(budget=133.99)).status == "infeasible"


def test_diagnosis_when_capacity_conflicts_with_coverage(bundled_cohort):
    catalog = load_catalog()
    # 60% of 106 high-risk customers need 64 treatments; 20 emails + 10 push + 5 calls cannot reach it.
    settings = PlanSettings(budget=5000, email_capacity=20, push_capacity=10, call_capacity=5, min_segment=0)
    result = solve_plan(bundled_cohort, catalog, settings)
    assert result.status == "infeasible"
    keys = set(result.diagnosis.conflicting_keys)
    assert {"email_capacity", "push_capacity", "call_capacity"} <= keys
    assert "budget" not in keys
    suggested = {s.setting: s.value for s in result.diagnosis.suggestions}
    assert minimum_budget(bundled_cohort, catalog, settings).minimum_budget is None
    # Lowering the high-risk floor alone fixes it: 35 contacts, of which the Premium floor takes 26 while only
    # 23 Premium customers are high-risk, cover at most 35 - 3 = 32 of 106 high-risk -> 30.2%.
    assert bundled_policy_counts(bundled_cohort)["high_risk_by_type"]["Premium"] == 23
    assert suggested["min_high_risk"] <= 32 / 106
    fixed = settings.with_changes(min_high_risk=suggested["min_high_risk"])
    assert solve_plan(bundled_cohort, catalog, fixed).status == "optimal"
    too_far = settings.with_changes(min_high_risk=suggested["min_high_risk"] + 0.01)
    assert solve_plan(bundled_cohort, catalog, too_far).status == "infeasible"


def test_every_bundled_plan_satisfies_every_rule(bundled_cohort):
    catalog = load_catalog()
    for budget in (150, 400, 1000):
        settings = PlanSettings(budget=budget)
        result = solve_plan(bundled_cohort, catalog, settings)
        plan = dict(zip(result.assignments.customer_id, result.assignments.action_id, strict=True))
        assert plan_violations(plan, bundled_cohort, catalog, settings) == []


def test_parallel_sweep_equals_sequential(bundled_cohort, bundled_report_catalog):
    settings = PlanSettings(coverage_rounding="floor")
    budgets = [150, 175, 200, 225, 250, 300, 350]
    one = budget_sweep(bundled_cohort, bundled_report_catalog, settings, budgets, workers=1)
    two = budget_sweep(bundled_cohort, bundled_report_catalog, settings, budgets, workers=2)
    assert one.budget.tolist() == [float(b) for b in budgets]
    assert one.equals(two)
