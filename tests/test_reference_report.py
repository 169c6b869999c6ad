"""The report-compatible run reproduces the published numbers (reads ../shared/reference/)."""

import pandas as pd
import pytest

from optimizer import PlanSettings, budget_sweep, solve_plan

REPORT_SETTINGS = PlanSettings(
    budget=150,
    email_capacity=120,
    push_capacity=100,
    call_capacity=20,
    min_high_risk=0.6,
    min_premium=0.4,
    max_saturation=0.5,
    min_segment=0.15,
    high_risk_threshold=0.7,
    coverage_rounding="floor",
)


def test_baseline_matches_report(reference_cohort, report_catalog):
    result = solve_plan(reference_cohort, report_catalog, REPORT_SETTINGS, solver="gurobi")
    k = result.kpis
    assert result.status == "optimal"
    assert k.customers_treated == 75
    assert k.total_spend == pytest.approx(150.0)
    assert round(k.expected_retained_clv, 2) == 3628.82
    assert round(k.net_value, 2) == 3478.82
    assert round(k.roi_pct, 1) == 2319.2
    assert round(k.expected_churn_reduction, 1) == 5.0
    assert k.budget_utilization_pct == pytest.approx(100.0)
    # The report's table: all 75 get the Personalized Email; 24 Premium, 19 Family, 17 Student, 15 Free.
    assert set(result.assignments.action_name) == {"Personalized Email"}
    assert result.assignments.subscription_type.value_counts().to_dict() == {
        "Premium": 24,
        "Family": 19,
        "Student": 17,
        "Free": 15,
    }
    report = result.constraints.set_index("key")
    # Floor rounding: 60% of 98 high-risk customers is 58.8 -> 58, met exactly (the report's "58 / 58").
    assert report.loc["high_risk_coverage", "group_size"] == 98
    assert report.loc["high_risk_coverage", "limit"] == 58
    assert report.loc["high_risk_coverage", "used"] == 58
    assert report.loc["premium_coverage", "limit"] == 24
    assert bool(report.loc["budget", "binding"])
    assert not bool(report.loc["email_capacity", "binding"])
    assert report.loc["email_capacity", "used"] == 75
    assert report.loc["push_capacity", "used"] == 0


def test_budget_sweep_matches_published_table(reference_dir, reference_cohort, report_catalog):
    published = pd.read_csv(reference_dir / "published_budget_sensitivity.csv")
    table = budget_sweep(reference_cohort, report_catalog, REPORT_SETTINGS, published.budget.tolist())
    assert (table.status == "optimal").all()
    expected = published.set_index("budget").net_value.to_dict()
    # The report stopped at Gurobi's default 0.01% gap at $750; the proven optimum is 9,596.47.
    expected[750] = 9596.47
    got = dict(zip(table.budget, table.net_value.round(2), strict=True))
    assert got == {float(b): v for b, v in expected.items()}
    assert table.customers_treated.tolist() == published.customers_treated.tolist()
    assert table.total_spend.round(0).tolist() == published.spend.astype(float).tolist()
    keep = published.budget != 750
    assert table.roi_pct.round(1)[keep.values].tolist() == published.roi_pct[keep].tolist()


def test_highs_reproduces_the_report_too(reference_cohort, report_catalog):
    result = solve_plan(reference_cohort, report_catalog, REPORT_SETTINGS, solver="highs")
    assert result.solver_report.solver == "highs"
    assert round(result.kpis.net_value, 2) == 3478.82


def test_default_catalog_and_rounding_give_corrected_plan(reference_cohort):
    """The shipped catalog (no CLV cap on value-tier offers, plus calls) and ceil rounding."""
    from optimizer import load_catalog

    result = solve_plan(reference_cohort, load_catalog(), PlanSettings())
    report = result.constraints.set_index("key")
    assert result.status == "optimal"
    assert report.loc["high_risk_coverage", "limit"] == 59  # ceil(0.6 * 98)
    assert report.loc["premium_coverage", "limit"] == 25  # ceil(0.4 * 62)
    assert report.loc["high_risk_coverage", "used"] >= 59
    assert round(result.kpis.net_value, 2) == 3414.63
    assert result.kpis.customers_treated == 72
