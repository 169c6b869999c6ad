"""The History page in AppTest, by widget key: saving with the first download (once per run) or explicitly,
the list, reopening, comparing two plans, outcomes (uploaded through the file uploader, or simulated), the
uplift table, recalibration and the recalibrated catalog flowing into the planner. Each test has its own
temporary history database."""

from __future__ import annotations

import datetime as dt

import app_support
import pandas as pd
import pytest
from app_support import PAGES, all_text, app_session, metrics

from app_lib import history_store, session
from app_lib.formatting import money
from optimizer import InputError, PlanSettings, build_exports, load_catalog, solve_plan, to_csv_bytes
from optimizer.loop.history import HISTORY_URL_ENV, PlanHistory
from optimizer.loop.outcomes import outcomes_csv_bytes, simulate_outcomes

OUTCOMES_TAB = "Outcomes & measured uplift"


@pytest.fixture
def history_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{(tmp_path / 'history.sqlite').as_posix()}"
    monkeypatch.setenv(HISTORY_URL_ENV, url)
    return url


def saved_plans(url: str, budgets=(150.0, 400.0)) -> list[int]:
    """Plans saved straight through the core (as `python -m optimizer plan --save` does)."""
    cohort, catalog = app_support.bundled_cohort(), load_catalog()
    ids = []
    with PlanHistory(url) as history:
        for budget in budgets:
            result = solve_plan(cohort, catalog, PlanSettings(budget=budget))
            exports = build_exports(result.assignments, plan_date=dt.date(2025, 11, 5))
            ids.append(history.save_plan(result, exports, cohort, catalog, label=f"budget {budget:.0f}"))
    return ids


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame_with(at, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def open_tab(at, label: str):
    at.session_state["hist_tabs"] = label
    return ok(at.run())


def test_empty_history_opened_directly_says_how_plans_get_there(history_url):
    at = ok(app_session("history").run())
    text = all_text(at)
    assert "Plan history" in at.title[0].value
    assert "No saved plans yet" in text and "saved here automatically with its first download" in text
    assert history_url.removeprefix("sqlite:///") in text, "says where the history is stored"


def test_first_download_saves_the_run_once_with_its_exact_files(history_url):
    at = ok(app_session("plan").run())
    ok(at.sidebar.button(key="sb_run").click().run())
    ok(at.switch_page(PAGES["results"]).run())
    assert "The first download saves this plan" in all_text(at)
    at.download_button(key="res_download_treatment_plan").click()
    ok(at.run())
    assert "Saved as plan #1 in the plan history" in all_text(at)
    at.download_button(key="res_download_email_list").click()
    ok(at.run())
    record = at.session_state[session.LAST_RUN]
    with PlanHistory(history_url) as history:
        assert history.plan_ids() == [1], "one run, one saved plan"
        files = history.plan_files(1)
    assert files == {name: to_csv_bytes(frame) for name, frame in record.exports.files().items()}

    # A new run is a new plan, saved with its first download
    ok(at.sidebar.slider(key="sb_budget").set_value(300.0).run())
    ok(at.sidebar.button(key="sb_run").click().run())
    assert "Saved as plan" not in all_text(at)
    ok(at.download_button(key="res_download_call_queue").click().run())
    assert "Saved as plan #2" in all_text(at)

    ok(at.switch_page(PAGES["history"]).run())
    listed = frame_with(at, "Net value")
    assert listed["Plan"].tolist() == [2, 1]
    assert listed["Budget"].tolist() == [300.0, 150.0]
    assert "Your latest plan (run #2" in all_text(at) and "is saved as plan #2" in all_text(at)
    shown = metrics(at)
    kpis = at.session_state[session.LAST_RUN].result.kpis
    assert shown["Net value"] == money(kpis.net_value)
    assert shown["Customers treated"] == f"{kpis.customers_treated:,}"
    labels = [b.label for b in at.download_button if b.key.startswith("hist_download_")]
    assert labels == ["Treatment plan", "Email list", "Push/in-app list", "Call queue"]
    captions = [c.value.replace("\\", "") for c in at.caption]
    assert all(name in captions for name in at.session_state[session.LAST_RUN].exports.files())


def test_explicit_save_with_a_label_reopen_and_load_settings(history_url):
    at = ok(app_session("plan").run())
    ok(at.sidebar.slider(key="sb_budget").set_value(400.0).run())
    ok(at.sidebar.button(key="sb_run").click().run())
    ok(at.switch_page(PAGES["history"]).run())
    assert "is not saved yet" in all_text(at)
    at.text_input(key="hist_label").input("week 45")
    submit = next(b for b in at.button if b.label == "Save the latest plan")
    ok(submit.click().run())
    assert "is saved as plan #1" in all_text(at)
    assert frame_with(at, "Label")["Label"].tolist() == ["week 45"]
    settings = frame_with(at, "Setting").set_index("Setting")["Value"]
    assert settings["Budget ($)"] == "$400.00" and settings["Min high-risk coverage"] == "60%"
    customers = frame_with(at, "Churn risk")
    assert len(customers) == at.session_state[session.LAST_RUN].result.kpis.customers_treated
    assert 0 < customers["Held out"].sum() < len(customers)

    # Back to a default budget, then load the saved plan's settings into the sidebar
    ok(at.sidebar.slider(key="sb_budget").set_value(150.0).run())
    ok(at.button(key="hist_use_settings").click().run())
    assert at.session_state[session.SETTINGS].budget == 400.0
    assert at.sidebar.slider(key="sb_budget").value == 400.0
    assert "Its settings are in the sidebar now" in all_text(at)
    ok(at.button(key="hist_reopen").click().run())
    assert at.session_state[session.CATALOG_LABEL] == "catalog of saved plan #1"
    record = at.session_state[session.LAST_RUN]  # reopened: exactly what this run was made from
    assert record.cohort_token == at.session_state[session.COHORT_TOKEN]
    assert record.catalog_token == at.session_state[session.CATALOG_TOKEN]
    assert record.settings == at.session_state[session.SETTINGS]
    assert "changed since this run" not in all_text(at)


def test_compare_two_saved_plans_side_by_side(history_url):
    first, second = saved_plans(history_url)
    at = ok(app_session("history").run())
    assert at.selectbox(key="hist_plan").value == second, "the newest plan opens first"
    open_tab(at, "Compare")
    assert at.selectbox(key="hist_other").value == first
    settings = frame_with(at, "Changed").set_index("Setting")
    assert list(settings.columns) == [f"#{first}", f"#{second}", "Changed"], "the older plan first"
    assert settings.loc["Budget ($)"].tolist() == ["$150.00", "$400.00", "changed"]
    kpis = frame_with(at, "Change").set_index("KPI")
    with PlanHistory(history_url) as history:
        a, b = history.load_plan(first).kpis, history.load_plan(second).kpis
    assert kpis.loc["Net value"].tolist() == [
        money(a.net_value),
        money(b.net_value),
        "+" + money(b.net_value - a.net_value),
    ]
    assert kpis.loc["ROI", f"#{second}"] == f"{b.roi_pct:,.1f}%"
    assert kpis.loc["Customers treated", "Change"] == f"+{b.customers_treated - a.customers_treated}"
    assert "with the same action" in all_text(at)


def test_uploaded_outcomes_with_problems_are_listed_then_a_good_file_is_measured(history_url):
    (plan_id,) = saved_plans(history_url, budgets=(400.0,))
    at = ok(app_session("history").run())
    open_tab(at, OUTCOMES_TAB)
    assert "No outcomes for this plan yet" in all_text(at)
    bad = b"customer_id,churned\nNOPE,1\nNOPE,0\n"
    with PlanHistory(history_url) as history:
        plan = history.load_plan(plan_id)
    some_id = str(plan.assignments["customer_id"].iloc[0])
    bad += f"{some_id},2\n".encode()
    at.get("file_uploader")[0].upload("week45.csv", bad, "text/csv")
    ok(at.run())
    text = all_text(at)
    assert "week45.csv was not used: 4 problem(s)" in text
    error = next(e.value for e in at.error if "was not used" in e.value).replace("\\", "")
    listed = [line for line in error.splitlines() if line.startswith("- ")]
    assert listed == [
        "- row 2, column customer_id: customer_id 'NOPE' is not in plan #1 (neither treated, held out nor "
        "in its cohort): is this the right plan?",
        "- row 3, column customer_id: duplicate customer_id 'NOPE' (first seen in row 2)",
        "- row 3, column customer_id: customer_id 'NOPE' is not in plan #1 (neither treated, held out nor "
        "in its cohort): is this the right plan?",
        "- row 4, column churned: churned must be 0 or 1 (1 = churned), got '2'",
    ]
    with PlanHistory(history_url) as history:
        assert history.list_outcomes(plan_id).empty, "a file with problems is not kept"

    good = outcomes_csv_bytes(simulate_outcomes(plan, {1: 0.05}, seed=3))
    at.get("file_uploader")[0].upload("week45_fixed.csv", good, "text/csv")
    ok(at.run())
    assert "week45_fixed.csv is kept with plan #1" in all_text(at)
    assert frame_with(at, "Outcome files")["Outcome files"].tolist() == [1], "the list counts it at once"
    assert "was not used" not in all_text(at)
    table = frame_with(at, "Measured uplift")
    assert len(table) == plan.plan_rows["action_id"].nunique()
    assert table["Treated"].sum() + table["Holdout"].sum() == len(plan.assignments)
    assert list(table.columns) == [
        "Action",
        "Measured uplift",
        "95% CI",
        "Catalog estimate",
        "Enough evidence",
        "Treated",
        "Treated churn",
        "Holdout",
        "Holdout churn",
        "Churn prevented",
    ]
    assert table["95% CI"].str.fullmatch(r"-?[\d,]+\.\d% to -?[\d,]+\.\d%|–").all()
    assert "Too small to conclude anything" in all_text(at)


def test_the_upload_function_names_every_problem_and_keeps_only_good_files(history_url):
    """`add_outcomes` is what the page's uploader calls (outside a page here)."""
    (plan_id,) = saved_plans(history_url, budgets=(150.0,))
    plan = history_store.load_plan(plan_id)
    first = str(plan.assignments["customer_id"].iloc[0])
    with pytest.raises(InputError, match=r"o\.csv, row 2, column 'churned': churned must be 0 or 1"):
        history_store.add_outcomes(plan, f"customer_id,churned\n{first},yes\n".encode(), "o.csv")
    with pytest.raises(InputError, match=r"o\.csv, column 'churned': required column is missing"):
        history_store.add_outcomes(plan, f"customer_id,churn\n{first},0\n".encode(), "o.csv")
    with pytest.raises(InputError, match=r"o\.csv: not a readable CSV|o\.csv: the file"):
        history_store.add_outcomes(plan, b"", "o.csv")
    assert history_store.outcome_files(plan_id).empty
    good = outcomes_csv_bytes(simulate_outcomes(plan, seed=1))
    outcome_id = history_store.add_outcomes(plan, good, "o.csv")
    assert history_store.outcome_files(plan_id)["id"].tolist() == [outcome_id]
    assert history_store.measurement(plan_id, outcome_id).matched == len(plan.assignments)


def test_simulated_outcomes_uplift_table_recalibration_and_the_new_catalog_in_the_planner(history_url):
    (plan_id,) = saved_plans(history_url, budgets=(400.0,))
    at = ok(app_session("history").run())
    open_tab(at, "Recalibrate")
    assert "Upload or simulate this plan's outcomes first" in all_text(at)
    open_tab(at, OUTCOMES_TAB)
    at.number_input(key=f"hist_truth_{plan_id}_1").set_value(0.3)
    at.number_input(key=f"hist_seed_{plan_id}").set_value(7)
    ok(next(b for b in at.button if b.label == "Draw outcomes").click().run())
    assert "Simulated outcomes drawn" in all_text(at)
    table = frame_with(at, "Measured uplift")
    assert (table["Enough evidence"] == "no").all()
    estimate = table.set_index("Action")["Catalog estimate"]
    assert (estimate > 0).all() and (estimate <= 100).all(), "uplifts are shown in percent"
    assert at.get("plotly_chart"), "the measured vs estimated uplift chart"

    open_tab(at, "Recalibrate")
    ok(at.button(key="hist_recalibrate").click().run())
    text = all_text(at)
    assert "No action has enough evidence yet" in text
    assert "Re-optimized with the new catalog" in text
    recalibrated = frame_with(at, "New uplift")
    assert (recalibrated["Source"] == "estimate").all()
    reoptimized = frame_with(at, "Re-optimized, new uplifts").set_index("KPI")
    assert reoptimized.loc["Net value"].str.startswith("$").all()
    ok(at.button(key="hist_use_catalog").click().run())
    assert "The planner now uses the recalibrated catalog" in all_text(at)
    label = at.session_state[session.CATALOG_LABEL]
    assert label.startswith(f"recalibrated from plan #{plan_id}")
    ok(at.switch_page(PAGES["catalog"]).run())
    assert f"recalibrated from plan #{plan_id}" in all_text(at)
