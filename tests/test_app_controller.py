"""The app's controller and its helpers (bounds, nice numbers, settings <-> widgets), called outside a page:
the bundled cohort (data/) with the default catalog, session state as a plain dict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app_lib import bounds, controller, loaders, nice, presets, scaling, session, settings_form
from optimizer import PlanSettings, budget_sweep, load_catalog, minimum_budget, solve_plan
from optimizer.model import SETTING_LABELS


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def inputs(bundled_cohort, catalog):
    return controller.Inputs.of(bundled_cohort, catalog, "bundled cohort", "default catalog")


@pytest.fixture
def ss(bundled_cohort):
    """A fresh session with the bundled cohort injected (as the AppTests do)."""
    state = {
        session.COHORT: bundled_cohort,
        session.COHORT_LABEL: "bundled",
        session.COHORT_KIND: "injected",
    }
    session.init_state(state)
    return state


# --- nice numbers -------------------------------------------------------------------------------------


def test_nice_numbers():
    assert nice.ceil_to(141.2, 5) == 145 and nice.ceil_to(145, 5) == 145
    assert [nice.step_for(v, 800) for v in (500, 3000, 50_000)] == [1, 5, 100]
    assert nice.nice_up(75) == 75 and nice.nice_up(45_001) == 45_500 and nice.nice_up(-3) == 0
    # slider ends: 1.1 x $2,611 = $2,872.10 -> $3,000; $3,001 -> $4,000; at least the factor itself
    assert [nice.decade_ceil(v) for v in (2872.1, 3001, 100, 101, 8100)] == [3000, 4000, 100, 150, 10_000]
    assert [nice.decade_floor(v) for v in (260, 99, 100, 0.26)] == [250, 50, 100, 0.25]
    # a $2,855 span in 12 levels: 11 steps of at least $259.5 -> $250 ... the largest round step not above
    assert nice.sweep_step(2855, 12) == 250 and nice.sweep_step(1100, 12) == 100 and nice.sweep_step(0) == 1


# --- bounds, preflight --------------------------------------------------------------------------------


def best_action_spend(cohort, catalog) -> float:
    """By hand, without the model: with no limit and no policy every customer takes the eligible action of
    largest value p * uplift * CLV - cost if that is positive; what those actions cost."""
    actions = catalog[catalog["action_id"] != 0]
    segment = actions["eligible_segment"].to_numpy()
    subscription, tier = cohort["subscription_type"].to_numpy(), cohort["value_tier"].to_numpy()
    eligible = (
        (segment[None, :] == "all")
        | (segment[None, :] == subscription[:, None])
        | ((segment[None, :] == "high_value") & (tier[:, None] == "High"))
    )
    p, clv = cohort["churn_probability"].to_numpy(), cohort["clv"].to_numpy()
    value = p[:, None] * actions["uplift"].to_numpy()[None, :] * clv[:, None] - actions["cost"].to_numpy()
    value = np.where(eligible, value, -np.inf)
    treated = value.max(axis=1) > 0
    return float(actions["cost"].to_numpy()[value.argmax(axis=1)][treated].sum())


def test_the_policies_minimum_by_hand(bundled_cohort, catalog):
    """The facts behind the $134 the policies need (defaults: 60% of high-risk, 40% of Premium, 15% of each
    subscription type; every action but the $2 email costs more): 106 customers have p > 0.7 -> 64;
    63 Premium -> 26, but only 23 of them are high-risk, so 3 more; 61..64 per type -> 10 each, and every
    type has at least 19 high-risk customers to give them. 64 + 3 = 67 customers at $2 = $134 (email
    capacity 120 and the saturation cap 125 do not bind)."""
    high_risk = bundled_cohort["churn_probability"] > 0.7
    subscription = bundled_cohort["subscription_type"]
    assert int(high_risk.sum()) == 106 and math.ceil(0.6 * 106) == 64
    assert int(subscription.eq("Premium").sum()) == 63 and math.ceil(0.4 * 63) == 26
    assert subscription[high_risk].value_counts().to_dict() == {
        "Free": 32,
        "Student": 32,
        "Premium": 23,
        "Family": 19,
    }
    assert sorted(subscription.value_counts()) == [61, 62, 63, 64]
    assert {math.ceil(0.15 * n) for n in (61, 62, 63, 64)} == {10}
    assert (
        catalog.loc[catalog["action_id"] != 0, "cost"].min()
        == 2
        == catalog.set_index("action_id").loc[1, "cost"]
    )
    assert (64 + (26 - 23)) * 2 == 134
    # and with email 60 / push 50 / calls 10 (the defaults for 500 customers on 250): 60 at $2, the other 7
    # high-value customers (217 of 250, 79 of the high-risk) on the $8 in-app offer: 120 + 56 = $176
    assert int(bundled_cohort.loc[high_risk, "value_tier"].eq("High").sum()) == 79
    assert 60 * 2 + 7 * 8 == 176
    # a second solver agrees at the edge: a dollar less is infeasible, the minimum itself is optimal
    defaults, scaled = PlanSettings(), scaling.scale_settings(PlanSettings(), 250, 500)
    for settings, need in ((defaults, 134.0), (scaled, 176.0)):
        assert minimum_budget(bundled_cohort, catalog, settings).minimum_budget == need
        below = solve_plan(bundled_cohort, catalog, settings.with_changes(budget=need - 1), solver="highs")
        at = solve_plan(bundled_cohort, catalog, settings.with_changes(budget=need), solver="highs")
        assert (below.status, at.status, at.kpis.total_spend) == ("infeasible", "optimal", need)


def test_slider_bounds_come_from_the_unlimited_plan(bundled_cohort, catalog, inputs):
    found = controller.slider_bounds(inputs)
    free = solve_plan(bundled_cohort, catalog, bounds.UNLIMITED).kpis.total_spend
    cheapest = bounds.cheapest_treatment_cost(bundled_cohort, catalog)
    # 1.1 x max($2,393 unlimited spend, $500 everyone's cheapest action) = $2,632.30 -> $3,000, in $5 steps
    assert (
        (round(free, 2), round(cheapest, 2))
        == (2393.0, 500.0)
        == (best_action_spend(bundled_cohort, catalog), 250 * 2.0)
    )
    assert (found.budget_max, found.budget_step) == (3000.0, 5.0)
    assert found == bounds.compute_bounds(bundled_cohort, catalog, free)
    assert found.customers == 250 and found.premium == 63
    assert found.segments == {"Family": 64, "Free": 61, "Premium": 63, "Student": 62}
    assert found.channels == {"email", "push", "call"}


def test_preflight_says_what_the_policies_need(inputs):
    check = controller.preflight(inputs, PlanSettings())
    assert (check.minimum_budget, check.feasible, check.conflict) == (134.0, True, None)
    short = controller.preflight(inputs, PlanSettings(budget=100))
    assert (short.minimum_budget, short.feasible) == (134.0, False)
    closed = controller.preflight(inputs, PlanSettings(email_capacity=0, push_capacity=0, call_capacity=0))
    assert closed.minimum_budget is None and not closed.feasible
    assert "Email capacity (at most 0 customers)" in closed.conflict


def test_sweep_range_starts_at_the_policies_need_on_the_slider_step(inputs):
    found = controller.slider_bounds(inputs)
    # $134 -> $135 (step $5) to $3,000: a $2,865 span in 12 levels, 11 steps of at least $260.45 -> $250
    assert bounds.sweep_range(found, 134.0) == (135.0, 3000.0, 250.0)
    assert bounds.sweep_range(found, None) == (0.0, 3000.0, 250.0)
    assert bounds.snap_budget(141.2, found) == 145.0


# --- fitting settings to a cohort --------------------------------------------------------------------


def test_fit_settings_same_size_is_unchanged(inputs):
    assert controller.fit_settings(inputs, PlanSettings(), 250, "x") == (PlanSettings(), None)


def test_fit_settings_scales_and_puts_the_budget_on_the_slider_step(bundled_cohort, catalog):
    half = controller.Inputs.of(bundled_cohort.iloc[:125].reset_index(drop=True), catalog)
    settings, note = controller.fit_settings(half, PlanSettings(), 250, "the defaults")
    # x 0.5: $150 -> $75, on the $2 step of a 125-customer slider -> $76; 120/100/20 -> 60/50/10
    assert controller.slider_bounds(half).budget_step == 2.0
    assert settings == PlanSettings(budget=76.0, email_capacity=60, push_capacity=50, call_capacity=10)
    assert minimum_budget(half.cohort, catalog, settings).feasible_at_current_budget
    assert note.startswith("Settings scaled to 125 customers: budget $76 per week, email 60")


def test_fit_settings_raises_a_short_budget_to_what_the_policies_need(bundled_cohort, catalog, inputs):
    settings, note = controller.fit_settings(inputs, PlanSettings(), 500, "settings for 500")
    scaled = scaling.scale_settings(PlanSettings(), 250, 500)  # $75, 60/50/10
    need = minimum_budget(bundled_cohort, catalog, scaled).minimum_budget
    assert need == 176.0  # by hand in test_the_policies_minimum_by_hand
    assert settings == scaled.with_changes(budget=180.0)  # $176 on the $5 step
    assert "The budget was raised from $75 to $180, the least the coverage policies need." in note


# --- runs, marginal values, the nearest feasible settings, sweeps ----------------------------------------


def test_run_numbers_runs_and_marginal_values_use_the_cached_model(inputs):
    first = controller.run(inputs, PlanSettings())
    assert round(first.result.kpis.net_value, 2) == 3896.66 and first.number == 1
    assert first.marginal is None, "marginal values come after the plan is on screen"
    second = controller.run(inputs, PlanSettings(), previous=first)
    assert second.number == 2 and round(second.result.kpis.net_value, 2) == 3896.66
    # +$10 of budget: $4,231.16 - $3,896.66 (see test_the_default_plan_agrees_across_solvers)
    marginal = controller.marginal_values(second)
    assert round(marginal.set_index("key").loc["budget", "exact_gain"], 2) == 334.50
    assert controller.marginal_values(second) is marginal, "computed once per run"


def test_nearest_settings_are_on_the_slider_step(inputs):
    record = controller.run(inputs, PlanSettings(budget=20))
    assert record.status == "infeasible"
    assert record.result.diagnosis.nearest.budget == 134.0
    assert controller.nearest_settings(record) == PlanSettings(budget=135.0)
    assert controller.nearest_settings(controller.run(inputs, PlanSettings())) is None


def test_the_default_plan_agrees_across_solvers(bundled_cohort, catalog):
    """The $150 plan and the one at $160 (the marginal value of budget): Gurobi, HiGHS, the decomposition."""
    for solver in ("gurobi", "highs", "decomposition"):
        plan = solve_plan(bundled_cohort, catalog, PlanSettings(), solver=solver)
        more = solve_plan(bundled_cohort, catalog, PlanSettings(budget=160.0), solver=solver)
        assert (plan.kpis.customers_treated, round(plan.kpis.net_value, 2)) == (69, 3896.66), solver
        assert round(more.kpis.net_value - plan.kpis.net_value, 2) == 334.50, solver


def test_sweep_matches_the_core_sweep(bundled_cohort, catalog, inputs):
    budgets = [100.0, 150.0, 400.0]
    swept = controller.sweep(inputs, PlanSettings(), budgets)
    whole = budget_sweep(bundled_cohort, catalog, PlanSettings(), budgets)
    assert swept["status"].tolist() == whole["status"].tolist() == ["infeasible", "optimal", "optimal"]
    assert round(swept["net_value"].iloc[1], 2) == 3896.66
    assert swept["net_value"].round(2).tolist()[1:] == whole["net_value"].round(2).tolist()[1:]


# --- actions on the session --------------------------------------------------------------------------


def test_run_current_keeps_the_latest_and_the_previous_run(ss):
    first = controller.run_current(ss=ss)
    assert ss[session.LAST_RUN] is first and ss[session.PREVIOUS_RUN] is None
    assert session.run_is_current(first, ss)
    second = controller.run_current(ss=ss)
    assert ss[session.LAST_RUN] is second and ss[session.PREVIOUS_RUN] is first and second.number == 2
    controller.raise_budget(400.0, ss=ss)
    assert ss[session.SETTINGS].budget == 400.0 and ss[session.PRESET] == presets.CUSTOM_PRESET
    assert not session.run_is_current(second, ss)


def test_run_requests_are_taken_once(ss):
    nearest = PlanSettings(budget=135.0)
    controller.request_run(nearest, ss=ss)
    assert ss[session.SETTINGS] == nearest and ss[session.PRESET] == presets.CUSTOM_PRESET
    assert controller.take_run_request(ss) and not controller.take_run_request(ss)


def test_presets_and_a_new_cohort(bundled_cohort, ss):
    controller.apply_preset(presets.REPORT_PRESET, ss=ss)
    report = presets.PRESETS[presets.REPORT_PRESET]
    assert ss[session.SETTINGS] == report.settings, "250 customers: exactly the preset's values"
    assert ss[session.CATALOG_LABEL] == report.catalog_label and len(ss[session.CATALOG]) == 8
    assert ss[session.PRESET] == presets.REPORT_PRESET and session.settings_note(ss) is None
    controller.reset_catalog(ss=ss)
    assert len(ss[session.CATALOG]) == 9 and ss[session.PRESET] == presets.CUSTOM_PRESET
    assert ss[session.SETTINGS] == report.settings, "the catalog reset keeps the settings"
    # custom settings scale from the previous cohort's size: $150 x 0.5 on the $2 step
    note = controller.use_cohort(bundled_cohort.iloc[:125].reset_index(drop=True), "half", "uploaded", ss=ss)
    assert ss[session.SETTINGS].budget == 76.0 and ss[session.SETTINGS].email_capacity == 60
    assert ss[session.COHORT_KIND] == "uploaded" and "your settings for 250 customers × 0.5" in note
    assert session.settings_note(ss) == note
    assert controller.use_bundled_cohort(ss=ss) == []
    # back to 250 customers, x 2: $76 -> $152, on the $5 step of the 250-customer slider -> $155
    assert len(ss[session.COHORT]) == 250 and ss[session.SETTINGS].budget == 155.0
    assert ss[session.COHORT_LABEL] == loaders.BUNDLED_LABEL


# --- settings <-> widgets ----------------------------------------------------------------------------


def test_widget_labels_come_from_the_setting_labels():
    assert settings_form.widget_label("budget") == "Weekly budget ($)"
    assert settings_form.widget_label("call_capacity") == "Call center capacity (per week)"
    assert settings_form.widget_label("min_premium") == "Min Premium coverage (%)"
    assert settings_form.widget_label("high_risk_threshold") == "High-risk threshold (churn probability)"
    assert set(settings_form.KEYS) == set(SETTING_LABELS) == set(PlanSettings().to_dict())


def test_widget_callback_stores_custom_settings(inputs, ss):
    found = controller.slider_bounds(inputs)
    settings_form.show_settings(PlanSettings(), found, ss)
    assert ss[settings_form.BUDGET] == 150.0 and ss[settings_form.CALL] == 20
    ss[settings_form.BUDGET] = 300.0
    ss[settings_form.CALL] = 250  # every customer: no limit
    settings_form.store_widget_settings(ss)
    assert ss[session.SETTINGS] == PlanSettings(budget=300.0, call_capacity=None)
    assert ss[session.PRESET] == presets.CUSTOM_PRESET
