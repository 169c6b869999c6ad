"""The main flows, driven by widget key in AppTest: run with defaults and compare with the core, change the
budget, an infeasible setting, the published-report preset, catalog and data uploads."""

from __future__ import annotations

import app_support
import pytest
from app_support import all_text, app_session, metrics

from app_lib import presets, session, settings_form
from app_lib.formatting import money, percent
from optimizer import PlanSettings, load_catalog, solve_plan


def run_from(at):
    at.sidebar.button(key="sb_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def net_value_text(at) -> str:
    return next(s.value for s in at.success if "Net value" in s.value).replace("\\", "")


def test_run_with_defaults_shows_the_core_kpis():
    cohort = app_support.bundled_cohort()
    direct = solve_plan(cohort, load_catalog(), PlanSettings()).kpis
    at = run_from(app_session("plan").run())
    for page in ("plan", "results"):  # the plan appears in place on the Plan page, in full on Results
        if page == "results":
            at.switch_page(app_support.PAGES["results"]).run()
            assert "Optimization results" in at.title[0].value
        shown = metrics(at)
        assert shown["Customers treated"] == f"{direct.customers_treated:,}"
        assert shown["Weekly spend"] == money(direct.total_spend)
        assert shown["Churn prevented"] == f"{direct.expected_churn_reduction:,.1f}"
        assert shown["Expected retained CLV"] == money(direct.expected_retained_clv)
        assert shown["ROI"] == percent(direct.roi_pct, 0)
        assert f"Net value: {money(direct.net_value)}" in net_value_text(at)
    record = at.session_state[session.LAST_RUN]
    assert record.result.kpis.net_value == pytest.approx(direct.net_value, abs=1e-6)
    assert [t.label for t in at.tabs] == ["By action", "By segment", "By channel", "Top customers"]
    downloads = [b.label for b in at.get("download_button")] if at.get("download_button") else []
    text = all_text(at)
    assert "held out for A/B measurement" in text
    assert "Binding constraints" in text and "Marginal values" in text and "Biggest bottleneck" in text
    del downloads


def test_changing_the_budget_changes_the_plan():
    at = run_from(app_session("plan").run())
    first = at.session_state[session.LAST_RUN].result
    at.sidebar.slider(key="sb_budget").set_value(400.0).run()
    assert "changed since this run" in all_text(at), "the plan is marked stale when settings change"
    at.switch_page(app_support.PAGES["results"]).run()
    assert "out of date" in all_text(at)
    run_from(at)
    second = at.session_state[session.LAST_RUN].result
    assert second.settings.budget == 400.0
    assert second.kpis.customers_treated > first.kpis.customers_treated
    assert second.kpis.net_value > first.kpis.net_value
    assert metrics(at)["Customers treated"] == f"{second.kpis.customers_treated:,}"
    assert "vs the previous run" in net_value_text(at)
    assert "out of date" not in all_text(at)


def test_infeasible_settings_are_explained_before_and_after_the_run_and_fixed_in_one_click():
    at = app_session("plan").run()
    at.sidebar.slider(key="sb_budget").set_value(20.0).run()
    before = all_text(at)
    # $134.00: derived by hand in test_analysis.test_diagnosis_on_the_bundled_cohort
    assert "These policies need at least $134.00" in before, "preflight explains before the run"
    run_from(at)
    text = all_text(at)
    assert "These settings cannot all be met" in text
    assert "Conflicting constraints" in text and "Budget" in text
    assert "raise the budget to $134.00" in text
    at.button(key="res_apply_nearest").click().run()
    assert not at.exception
    record = at.session_state[session.LAST_RUN]
    assert record.status == "optimal"
    assert record.settings.budget >= 134.0
    assert at.sidebar.slider(key="sb_budget").value == record.settings.budget
    assert "Net value" in net_value_text(at)


def test_no_single_fix_offers_the_combined_change_and_applies_it():
    at = app_session("plan").run()
    at.sidebar.slider(key="sb_budget").set_value(20.0).run()
    at.sidebar.slider(key="sb_email").set_value(5).run()
    at.sidebar.slider(key="sb_push").set_value(5).run()
    at.sidebar.slider(key="sb_call").set_value(0).run()
    run_from(at)
    diagnosis = at.session_state[session.LAST_RUN].result.diagnosis
    assert diagnosis.suggestions == [] and diagnosis.combined is not None
    text = all_text(at)
    assert "smallest combined change" in text and "Nearest feasible combination" in text
    at.button(key="res_apply_nearest").click().run()
    assert not at.exception
    record = at.session_state[session.LAST_RUN]
    assert record.status == "optimal"
    assert record.settings == diagnosis.combined
    assert at.sidebar.slider(key=settings_form.RATE_KEYS["min_segment"]).value == round(
        diagnosis.combined.min_segment * 100
    )


def test_no_budget_is_enough_names_the_conflict_in_the_preflight():
    at = app_session("plan").run()
    at.sidebar.slider(key="sb_email").set_value(0).run()
    at.sidebar.slider(key="sb_push").set_value(0).run()
    at.sidebar.slider(key="sb_call").set_value(0).run()
    text = all_text(at)
    assert "No budget can meet these settings" in text
    assert "Fairness" in text


def test_raise_budget_button_in_the_preflight():
    at = app_session("plan").run()
    at.sidebar.slider(key="sb_budget").set_value(100.0).run()
    at.sidebar.button(key="sb_raise_budget").click().run()
    assert at.session_state[session.SETTINGS].budget >= 134.0
    assert "Policies need $134.00 of your" in all_text(at)


def test_report_preset_reproduces_the_published_baseline(reference_cohort):
    cohort = reference_cohort.copy()
    at = app_session("plan", cohort=cohort).run()
    at.sidebar.selectbox(key="sb_preset").set_value(presets.REPORT_PRESET).run()
    assert at.session_state[session.SETTINGS] == presets.PRESETS[presets.REPORT_PRESET].settings
    assert at.sidebar.slider(key="sb_call").value == len(cohort), "no call limit"
    run_from(at)
    assert "Net value: $3,478.82" in net_value_text(at)
    shown = metrics(at)
    assert shown["Customers treated"] == "75"
    assert shown["Weekly spend"] == "$150.00"
    assert shown["ROI"] == "2,319%"
    # moving any control leaves the preset
    at.sidebar.slider(key="sb_premium").set_value(30).run()
    assert at.sidebar.selectbox(key="sb_preset").value == presets.CUSTOM_PRESET


def test_report_catalog_file_equals_the_reference_catalog(report_catalog):
    shipped = load_catalog(app_support.ROOT / "data" / presets.REPORT_CATALOG_FILE)
    assert shipped.equals(report_catalog)


def test_sensitivity_runs_and_explains_the_knee():
    at = app_session("sensitivity").run()
    assert not at.exception
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, [e.value for e in at.exception]
    outcome = at.session_state["sens_result"]
    assert len(outcome["sweep"]) >= 10
    text = all_text(at)
    assert "highest net value in the range" in text
    assert "Scenario comparison" in text
    shown = metrics(at)
    assert shown["Maximum net value"].startswith("$")
    assert shown["ROI at the maximum"].endswith("%")


def test_sensitivity_rejects_a_bad_range():
    at = app_session("sensitivity").run()
    at.number_input(key="sens_min").set_value(500.0)
    at.number_input(key="sens_max").set_value(100.0)
    at.button[0].click().run()
    assert "maximum budget must be above the minimum" in all_text(at)


CATALOG_EMAIL_ONLY = (
    b"action_id,action_name,channel,cost,uplift,eligible_segment,min_clv,max_clv,description\n"
    b"0,No Action,none,0,0,all,,,\n"
    b"1,Personalized Email,email,2,0.08,all,,,\n"
)


def test_uploaded_catalog_applies_to_the_next_run():
    at = app_session("catalog").run()
    assert not at.exception
    at.file_uploader(key="cat_upload").set_value(("email_only.csv", CATALOG_EMAIL_ONLY, "text/csv")).run()
    assert not at.exception
    assert len(at.session_state[session.CATALOG]) == 2
    assert "uploaded catalog (email_only.csv)" in at.session_state[session.CATALOG_LABEL]
    run_from(at)
    names = set(at.session_state[session.LAST_RUN].result.assignments["action_name"])
    assert names == {"Personalized Email"}
    at.switch_page(app_support.PAGES["catalog"]).run()
    at.button(key="cat_reset").click().run()
    assert len(at.session_state[session.CATALOG]) == 9


def test_invalid_catalog_upload_lists_every_problem_and_keeps_the_catalog():
    bad = (
        b"action_id,action_name,channel,cost,uplift,eligible_segment\n"
        b"0,No Action,none,0,0,all\n"
        b"1,Email,pigeon,-2,1.5,all\n"
        b"1,<b>Dup</b>,email,2,0.1,\n"
    )
    at = app_session("catalog").run()
    at.file_uploader(key="cat_upload").set_value(("bad.csv", bad, "text/csv")).run()
    assert not at.exception
    assert len(at.session_state[session.CATALOG]) == 9, "the catalog in use did not change"
    assert "bad.csv was not loaded" in all_text(at)
    problems = at.dataframe[-1].value
    found = set(zip(problems["Row"], problems["Column"], strict=True))
    assert {
        ("3", "channel"),
        ("3", "cost"),
        ("3", "uplift"),
        ("4", "action_id"),
        ("4", "eligible_segment"),
    } <= found


def test_data_upload_errors_name_row_and_column_and_bundled_way_back():
    predictions = b"customer_id,churn_probability\n1,0.5\n2,1.7\n2,0.3\n"
    features = b"customer_id,subscription_type,payment_plan\n1,Free,Monthly\n3,Premium,\n"
    at = app_session("data").run()
    at.file_uploader(key="data_predictions").set_value(("p.csv", predictions, "text/csv"))
    at.file_uploader(key="data_features").set_value(("f.csv", features, "text/csv")).run()
    at.button(key="data_load").click().run()
    assert not at.exception
    problems = next(d.value for d in at.dataframe if "File" in d.value.columns)
    rows = set(zip(problems["File"], problems["Row"], problems["Column"], strict=True))
    assert ("p.csv", "3", "churn_probability") in rows
    assert ("p.csv", "4", "customer_id") in rows
    assert ("f.csv", "3", "payment_plan") in rows
    assert "files were not loaded" in all_text(at)
    assert at.session_state[session.COHORT_KIND] == "injected", "the data in use did not change"


def test_data_upload_replaces_the_cohort():
    predictions = (app_support.ROOT / "data" / "prediction_250.csv").read_bytes()
    features = (app_support.ROOT / "data" / "test_250.csv").read_bytes()
    at = app_session("data").run()
    at.file_uploader(key="data_predictions").set_value(("week.csv", predictions, "text/csv"))
    at.file_uploader(key="data_features").set_value(("features.csv", features, "text/csv")).run()
    at.button(key="data_load").click().run()
    assert not at.exception
    assert at.session_state[session.COHORT_KIND] == "uploaded"
    assert "uploaded files (week.csv + features.csv)" in all_text(at)


def test_slider_ranges_come_from_the_cohort():
    cohort = app_support.bundled_cohort()
    at = app_session("plan").run()
    bounds = at.session_state[settings_form.BOUNDS]
    assert at.sidebar.slider(key="sb_email").max == len(cohort)
    budget = at.sidebar.slider(key="sb_budget")
    assert budget.min == 0 and budget.max == bounds.budget_max
    # the range holds slack budgets (the plan stops growing) and binding ones (the default binds)
    top = solve_plan(cohort, load_catalog(), PlanSettings(budget=bounds.budget_max)).kpis
    assert top.total_spend < bounds.budget_max
    assert solve_plan(cohort, load_catalog(), PlanSettings()).kpis.budget_utilization_pct > 95
