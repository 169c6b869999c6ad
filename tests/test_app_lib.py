"""App-side helpers: formatting, summaries, sensitivity insights, settings <-> widgets, the run, access."""

from __future__ import annotations

import datetime as dt
import io
import re

import app_support
import numpy as np
import pandas as pd
import pytest

from app_lib import auth, bounds, insights, nice, settings_form, tables
from app_lib.bounds import Bounds, budget_step_for
from app_lib.formatting import count, esc, money, percent, share, signed_money
from app_lib.runner import run_plan
from optimizer import PlanSettings, build_exports, load_catalog, solve_plan, to_csv_bytes


def test_money_percent_count():
    assert money(3478.82030381) == "$3,478.82"
    assert money(1234567.891, cents=False) == "$1,234,568"
    assert money(-12) == "-$12.00"
    assert money(None) == "–" and money(float("nan")) == "–"
    assert signed_money(5) == "+$5.00" and signed_money(-5) == "-$5.00"
    assert signed_money(122_452.14, tile=True) == "+$122,452" and signed_money(-99.5, tile=True) == "-$99.50"
    assert percent(2319.2135) == "2,319.2%"
    assert percent(12.345, 0) == "12%"
    assert share(98, 250) == "39.2%" and share(1, 0) == "–"
    assert count(1234.4) == "1,234"


def test_esc_neutralizes_markdown_links_html_and_dollar_math():
    assert esc("$150 and $3,478") == "\\$150 and \\$3,478"
    hostile = "[click](http://x) <b>bold</b> ![img](y) *x*"
    escaped = esc(hostile)
    assert not re.search(r"(?<!\\)[\[\]()<>*!$]", escaped), "every special character is escaped"
    assert escaped.replace("\\", "") == hostile


BOUNDS = Bounds(
    customers=250,
    budget_max=3000.0,
    budget_step=5.0,
    threshold_min=0.05,
    threshold_max=0.95,
    channels=frozenset({"email", "push"}),
    premium=62,
    segments={"Free": 62},
)


@pytest.mark.parametrize(
    "settings",
    [
        PlanSettings(),
        PlanSettings(budget=150, call_capacity=None, coverage_rounding="floor"),
        PlanSettings(
            budget=275, email_capacity=0, push_capacity=None, min_segment=0.2, high_risk_threshold=0.5
        ),
    ],
)
def test_widgets_round_trip_settings(settings):
    values = settings_form.widget_values(settings, BOUNDS)
    assert settings_form.settings_from_widgets(values, BOUNDS) == settings


def test_capacity_at_cohort_size_means_no_limit():
    values = settings_form.widget_values(PlanSettings(email_capacity=10_000), BOUNDS)
    assert values[settings_form.EMAIL] == 250
    assert settings_form.settings_from_widgets(values, BOUNDS).email_capacity is None


def test_budget_slider_extends_to_a_larger_stored_budget():
    assert bounds.budget_slider_max(BOUNDS, PlanSettings(budget=100)) == 3000
    assert bounds.budget_slider_max(BOUNDS, PlanSettings(budget=4321)) == 4325
    assert bounds.snap_budget(141.2, BOUNDS) == 145 and bounds.snap_budget(145, BOUNDS) == 145


def test_budget_step_keeps_the_slider_fine_grained():
    assert budget_step_for(500) == 1
    assert budget_step_for(3000) == 5
    assert budget_step_for(50_000) == 100


def sweep_frame(budgets, values, roi=None):
    budgets = np.asarray(budgets, dtype=float)
    values = np.asarray(values, dtype=float)
    return pd.DataFrame(
        {
            "budget": budgets,
            "status": np.where(np.isnan(values), "infeasible", "optimal"),
            "customers_treated": np.where(np.isnan(values), np.nan, 10.0),
            "total_spend": budgets,
            "expected_churn_reduction": values / 1000,
            "expected_retained_clv": values + budgets,
            "net_value": values,
            "roi_pct": roi if roi is not None else values / budgets * 100,
        }
    )


def test_knee_is_the_last_budget_whose_step_returned_enough():
    # returns per $1: 100->200: 10, 200->300: 3, 300->400: 1.5, 400->500: 0.5
    sweep = sweep_frame([50, 100, 200, 300, 400, 500], [np.nan, 1000, 2000, 2300, 2450, 2500])
    found = insights.sweep_insights(sweep, threshold=2.0)
    assert found.knee_budget == 300 and found.knee_net_value == 2300
    assert found.return_after_knee == pytest.approx(1.5)
    assert found.best_budget == 500 and found.best_net_value == 2500
    assert found.roi_at_best == pytest.approx(500.0)
    assert found.infeasible_budgets == 1 and found.first_feasible_budget == 100
    assert (
        "$300" in found.sentence and "$1.50 per dollar" in found.sentence and "ROI of 500%" in found.sentence
    )
    assert "1 budget level below $100 cannot meet" in found.sentence
    # a stricter threshold moves the knee left
    assert insights.sweep_insights(sweep, threshold=5.0).knee_budget == 200


def test_knee_beyond_range_and_plateau():
    rising = insights.sweep_insights(sweep_frame([100, 200, 300], [1000, 2000, 3000]), threshold=2.0)
    assert rising.knee_budget is None and "beyond this range" in rising.sentence
    flat = insights.sweep_insights(sweep_frame([100, 200, 300], [1000, 1000, 1000]), threshold=2.0)
    assert flat.knee_budget == 100 and flat.best_budget == 100  # smallest budget reaching the maximum
    none = insights.sweep_insights(sweep_frame([10, 20], [np.nan, np.nan]))
    assert none.best_budget is None and "No budget" in none.sentence


def test_budget_levels_and_nice_step():
    assert insights.budget_levels(100, 300, 50) == [100, 150, 200, 250, 300]
    assert insights.budget_levels(100, 320, 100) == [100, 200, 300, 320]
    with pytest.raises(ValueError, match="above the minimum"):
        insights.budget_levels(300, 100, 10)
    with pytest.raises(ValueError, match="larger step"):
        insights.budget_levels(0, 10_000, 1)
    assert nice.sweep_step(2750, 12) == 250
    assert nice.sweep_step(2860, 12) == 250
    assert nice.sweep_step(1100, 12) == 100
    assert len(insights.budget_levels(145, 3000, nice.sweep_step(3000 - 145, 12))) >= 12


def test_summaries_of_a_plan():
    assignments = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "subscription_type": ["Free", "Premium", "Family"],
            "churn_probability": [0.9, 0.8, 0.4],
            "clv": [300.0, 500.0, 200.0],
            "action_name": ["Email", "Email", "Call"],
            "channel": ["email", "email", "call"],
            "cost": [2.0, 2.0, 35.0],
            "uplift": [0.08, 0.08, 0.3],
            "expected_retained_clv": [21.6, 32.0, 24.0],
            "net_value": [19.6, 30.0, -11.0],
            "risk_tier": ["High", "High", "Medium"],
            "value_tier": ["Medium", "High", "Medium"],
        }
    )
    by_action = tables.action_summary(assignments)
    assert list(by_action["Action"]) == ["Email", "Call"]
    assert list(by_action["Customers"]) == [2, 1]
    assert by_action["Net value"].iloc[0] == pytest.approx(49.6)
    assert by_action["Share"].iloc[0] == pytest.approx(2 / 3)
    by_segment = tables.segment_summary(assignments)
    assert list(zip(by_segment["Risk"], by_segment["Value"], strict=True)) == [
        ("High", "High"),
        ("High", "Medium"),
        ("Medium", "Medium"),
    ]
    top = tables.top_customers(assignments, 2)
    assert list(top["Customer ID"]) == ["2", "1"]


def test_marginal_table_hides_limits_that_are_worth_nothing():
    marginal = pd.DataFrame(
        {
            "key": ["high_risk_coverage", "budget", "email_capacity"],
            "constraint": ["High-risk coverage", "Budget", "Email capacity"],
            "unit": ["customers", "$", "customers"],
            "limit": [59.0, 150.0, 120.0],
            "lp_dual": [42.19, 33.28, 0.0],
            "step": [np.nan, 10.0, 5.0],
            "exact_gain": [np.nan, 315.2, 0.0],
            "gain_per_unit": [np.nan, 31.52, 0.0],
        }
    )
    table = tables.marginal_table(marginal)
    assert list(table["Constraint"]) == ["High-risk coverage", "Budget"]
    assert list(table["One more unit"]) == ["1 fewer required", "+$1 budget"]


def test_run_plan_matches_the_core_and_builds_exports():
    cohort = app_support.bundled_cohort()
    catalog = load_catalog()
    settings = PlanSettings()
    stages = []
    record = run_plan(
        cohort, catalog, settings, plan_date=dt.date(2025, 11, 5), progress=lambda f, t: stages.append(f)
    )
    direct = solve_plan(cohort, catalog, settings)
    assert record.status == "optimal"
    assert record.result.kpis.net_value == pytest.approx(direct.kpis.net_value, abs=1e-6)
    assert stages == sorted(stages) and stages[-1] == 1.0
    assert {0.2, 0.4, 0.6, 0.8, 0.9} <= set(stages)  # the five named stages
    # The solver's own steps (model built, solving, done) report inside the solving stage [0.6, 0.8].
    assert len(stages) == 6 + 3 and sum(0.6 <= f <= 0.8 for f in stages) == 2 + 3
    files = record.exports.files()
    assert list(files) == [
        "treatment_plan_20251105.csv",
        "email_list_20251105.csv",
        "push_list_20251105.csv",
        "call_queue_20251105.csv",
    ]
    assert record.marginal is not None and len(record.marginal)
    assert record.high_risk_customers == int((cohort["churn_probability"] > 0.7).sum())


def test_download_bytes_have_the_holdout_and_no_holdout_in_channel_lists():
    cohort = app_support.bundled_cohort()
    result = solve_plan(cohort, load_catalog(), PlanSettings(budget=600))
    exports = build_exports(result.assignments, plan_date=dt.date(2025, 11, 5))
    plan = pd.read_csv(io.BytesIO(to_csv_bytes(exports.treatment_plan)), dtype={"customer_id": str})
    email = pd.read_csv(io.BytesIO(to_csv_bytes(exports.email_list)), dtype={"customer_id": str})
    held = set(plan.loc[plan["holdout"].astype(str).str.upper() == "TRUE", "customer_id"])
    assert len(plan) == result.kpis.customers_treated
    assert len(held) == exports.holdout_count
    assert 0.05 <= len(held) / len(plan) <= 0.15
    assert held.isdisjoint(set(email["customer_id"]))


def test_infeasible_run_has_a_diagnosis_and_no_exports():
    cohort = app_support.bundled_cohort()
    record = run_plan(cohort, load_catalog(), PlanSettings(budget=20))
    assert record.status == "infeasible"
    assert record.exports is None and record.marginal is None
    assert record.result.diagnosis.nearest.budget > 20


def test_access_configuration():
    assert auth.configured_password({}) is None
    assert auth.configured_password({"password": "s3cret"}) == "s3cret"
    assert auth.configured_password({"app": {"password": "x"}}) == "x"
    assert auth.configured_password({"password": ""}) is None
    assert auth.oidc_configured({"auth": {"redirect_uri": "u", "google": {"client_id": "c"}}})
    assert not auth.oidc_configured({"password": "x"})
    assert auth.password_matches("s3cret", "s3cret") and not auth.password_matches("s3cre", "s3cret")


def test_catalog_editor_edits_validate_with_table_row_numbers():
    from optimizer import InputError, validate_catalog

    edited = load_catalog().astype(object)  # the editor hands back mixed cells
    edited.loc[2, "cost"] = -5.0  # third table row
    edited.loc[len(edited)] = [None] * len(edited.columns)  # a new, empty row added in the editor
    with pytest.raises(InputError) as caught:
        validate_catalog(edited, "action catalog")
    rows = tables.problem_rows(caught.value, table_rows=True)
    found = {(r["Row"], r["Column"]) for r in rows}
    assert ("3", "cost") in found
    assert ("10", "action_id") in found and ("10", "action_name") in found
    unchanged = validate_catalog(load_catalog(), "action catalog")
    from app_lib.loaders import frame_token

    assert frame_token(unchanged) == frame_token(load_catalog()), "an untouched editor saves nothing"
