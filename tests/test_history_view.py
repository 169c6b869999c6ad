"""The History page's pure tables and figures, built from a real saved, measured and recalibrated plan."""

import datetime as dt

import numpy as np
import pytest

from app_lib import history_view as view
from optimizer import PlanSettings, build_exports, load_catalog, solve_plan
from optimizer.loop.comparison import compare_plans
from optimizer.loop.history import PlanHistory
from optimizer.loop.outcomes import load_outcomes, measure_uplift, outcomes_csv_bytes, simulate_outcomes
from optimizer.loop.recalibrate import recalibrate_catalog, reoptimize


@pytest.fixture(scope="module")
def loop(bundled_cohort, tmp_path_factory):
    catalog = load_catalog()
    url = f"sqlite:///{(tmp_path_factory.mktemp('h') / 'h.sqlite').as_posix()}"
    with PlanHistory(url) as history:
        for budget in (150, 400):
            result = solve_plan(bundled_cohort, catalog, PlanSettings(budget=budget))
            exports = build_exports(result.assignments, plan_date=dt.date(2025, 11, 5))
            history.save_plan(result, exports, bundled_cohort, catalog, label=f"${budget}")
        plans = history.list_plans()
        first, second = history.load_plan(1), history.load_plan(2)
    outcomes = simulate_outcomes(second, {1: 0.05}, seed=4)
    measurement = measure_uplift(second, load_outcomes(outcomes_csv_bytes(outcomes), "o.csv"))
    recalibration = recalibrate_catalog(second.catalog, measurement)
    return plans, first, second, measurement, recalibration


def test_plans_table(loop):
    plans, first, second, *_ = loop
    table = view.plans_table(plans)
    assert table["Plan"].tolist() == [2, 1]
    assert table["Label"].tolist() == ["$400", "$150"]
    assert table["Capacities (email/push/call)"].iloc[0] == "120/100/20"
    assert table["Policies (high-risk/Premium/saturation/segment)"].iloc[0] == "60%/40%/50%/15%"
    assert table["Net value"].iloc[0] == pytest.approx(second.kpis.net_value)
    assert view.plan_choice_label(plans.iloc[0]) == (
        f"#2 · 2025-11-05 · $400 · budget $400 · net ${second.kpis.net_value:,.2f}"
    )


def test_plan_action_mix(loop):
    _, _, second, *_ = loop
    mix = view.plan_action_mix(second.plan_rows)
    assert mix["Customers"].sum() == second.kpis.customers_treated
    assert mix["Held out"].sum() == second.holdout.sum()
    assert mix["Spend"].sum() == pytest.approx(second.kpis.total_spend)


def test_comparison_views(loop):
    _, first, second, *_ = loop
    comparison = compare_plans(first, second, labels=("#1", "#2"))
    kpis = view.comparison_kpis(comparison)
    assert list(kpis.columns) == ["KPI", "#1", "#2", "Change"]
    net = kpis.set_index("KPI").loc["Net value ($)"]
    assert net["Change"] == pytest.approx(second.kpis.net_value - first.kpis.net_value)
    settings = view.comparison_settings(comparison).set_index("Setting")
    assert settings.loc["Budget ($)"].tolist() == ["$150.00", "$400.00", "changed"]
    assert settings.loc["High-risk threshold", "#1"] == "p > 0.70"
    assert settings.loc["Coverage rounding", "#2"] == "ceil"
    assert settings.loc["Min high-risk coverage"].tolist() == ["60%", "60%", ""]
    assert settings.loc["Call capacity", "#1"] == "20"
    fig = view.action_mix_figure(comparison)
    assert [t.name for t in fig.data] == ["#1", "#2"]
    assert sum(fig.data[1].x) == second.kpis.customers_treated


def test_measurement_views(loop):
    *_, measurement, _ = loop
    table = view.uplift_table(measurement)
    assert len(table) == len(measurement.table)
    assert (table["Enough evidence"] == "no").all()  # a 250-customer week: every holdout is too small
    assert table["Treated"].sum() + table["Holdout"].sum() == measurement.matched
    warnings = view.measurement_warnings(measurement)
    assert any("Too small to conclude anything" in w for w in warnings)
    fig = view.uplift_figure(measurement)
    assert [t.name for t in fig.data] == ["Measured (95% CI)", "Catalog estimate"]
    assert list(fig.data[1].x) == measurement.table["catalog_uplift"].tolist()
    minus = np.asarray(fig.data[0].error_x.arrayminus, dtype=float)
    assert (minus >= 0).all() and (np.asarray(fig.data[0].x, dtype=float) - minus >= -1.0 - 1e-9).all()


def test_recalibration_views(loop):
    *_, second, _, recalibration = loop
    table = view.recalibration_table(recalibration)
    assert list(table.columns) == ["Action", "Estimate", "Measured", "New uplift", "Source", "Why"]
    assert (table["Source"] == "estimate").all() and (table["Estimate"] == table["New uplift"]).all()
    change = reoptimize(second, recalibration.catalog)
    kpis = view.reoptimization_kpis(change)
    assert list(kpis.columns) == [
        "KPI",
        "Saved plan, estimated uplifts",
        "Saved plan, new uplifts",
        "Re-optimized, new uplifts",
    ]
    summary = view.reoptimization_summary(change)
    assert summary.startswith(
        f"Re-optimized with the new catalog: {second.kpis.customers_treated} customers keep"
    )
    assert "$0.00 more net value" in summary


def test_settings_assignments_and_kpis_as_text(loop):
    _, first, second, *_ = loop
    settings = view.settings_table(second.settings).set_index("Setting")["Value"]
    assert settings["Budget ($)"] == "$400.00" and settings["Call capacity"] == "20"
    assert settings["High-risk threshold"] == "p > 0.70" and settings["Min segment coverage"] == "15%"
    customers = view.assignments_table(second.plan_rows)
    assert len(customers) == second.kpis.customers_treated
    assert customers["Held out"].sum() == second.holdout.sum()
    assert customers["Churn risk"].max() <= 100 and customers["Churn risk"].max() > 1, "in percent"
    kpis = view.kpi_text_table(view.comparison_kpis(compare_plans(first, second, labels=("#1", "#2"))))
    rows = kpis.set_index("KPI")
    assert list(rows.index) == [
        "Customers treated",
        "Spend",
        "Expected churn prevented",
        "Expected retained CLV",
        "Net value",
        "ROI",
        "Budget used",
    ]
    assert rows.loc["Spend"].tolist() == [
        f"${first.kpis.total_spend:,.2f}",
        f"${second.kpis.total_spend:,.2f}",
        f"+${second.kpis.total_spend - first.kpis.total_spend:,.2f}",
    ]
    assert rows.loc["ROI", "#1"] == f"{first.kpis.roi_pct:,.1f}%"
    assert rows.loc["ROI", "Change"] == f"{second.kpis.roi_pct - first.kpis.roi_pct:,.1f} pts"
    assert view.kpi_text(None, "money") == "–"
    assert view.kpi_text(-3.0, "count", change=True) == "-3"


def test_uplift_table_puts_the_measured_uplift_beside_the_estimate(loop):
    *_, measurement, _ = loop
    table = view.uplift_table(measurement)
    t = measurement.table
    measured = (100 * t["measured_uplift"]).tolist()
    assert table["Measured uplift"].tolist() == pytest.approx(measured, nan_ok=True)
    assert table["Catalog estimate"].tolist() == pytest.approx((100 * t["catalog_uplift"]).tolist())
    first = t.iloc[0]
    if np.isfinite(first["uplift_ci_low"]):
        assert table["95% CI"].iloc[0] == (
            f"{100 * first['uplift_ci_low']:,.1f}% to {100 * first['uplift_ci_high']:,.1f}%"
        )
    assert (table["Treated"] == t["treated_n"]).all() and (table["Holdout"] == t["holdout_n"]).all()
