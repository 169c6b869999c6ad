"""The History page's logic outside the page: selection, callbacks, outcome uploads and draws (on a temporary
plan history, session state as a plain dict), and the sentences the page shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import app_support
import pandas as pd
import pytest

from app_lib import controller, history_store, loaders, presets, session
from app_lib import history_page as logic
from app_lib import history_view as view
from optimizer import PlanSettings, build_exports, load_catalog, solve_plan
from optimizer.loop.history import HISTORY_URL_ENV, PlanHistory
from optimizer.loop.outcomes import SufficiencyRule, outcomes_csv_bytes, simulate_outcomes


@pytest.fixture
def history_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{(tmp_path / 'history.sqlite').as_posix()}"
    monkeypatch.setenv(HISTORY_URL_ENV, url)
    return url


def saved_plan(url: str, budget: float = 400.0) -> int:
    cohort, catalog = app_support.bundled_cohort(), load_catalog()
    result = solve_plan(cohort, catalog, PlanSettings(budget=budget))
    exports = build_exports(result.assignments, plan_date=dt.date(2025, 11, 5))
    with PlanHistory(url) as history:
        return history.save_plan(result, exports, cohort, catalog, label=f"budget {budget:.0f}")


@dataclass
class FakeUpload:
    """What Streamlit's file uploader hands over: an id per upload, a name and the bytes."""

    file_id: str
    name: str
    content: bytes

    def getvalue(self) -> bytes:
        return self.content


@pytest.fixture
def ss():
    state = {session.COHORT: app_support.bundled_cohort(), session.COHORT_KIND: "injected"}
    session.init_state(state)
    return state


# --- selection ----------------------------------------------------------------------------------------


def test_selection_keeps_a_valid_choice_else_the_first():
    assert logic.selected([5, 3, 2], 3) == 3
    assert logic.selected([5, 3, 2], 4) == 5 and logic.selected([5, 3, 2], None) == 5
    assert logic.selected([], 1) is None


def test_comparison_defaults_to_the_newest_older_plan():
    ids = [5, 3, 2]  # newest first, as the page lists them
    assert logic.comparison_options(3, ids) == [5, 2]
    assert logic.comparison_default(3, ids, None) == 2, "the newest plan older than #3"
    assert logic.comparison_default(3, ids, 5) == 5, "a choice that is still another plan stays"
    assert logic.comparison_default(3, ids, 3) == 2, "never the plan itself"
    assert logic.comparison_default(2, ids, None) == 5, "no older plan: the first newer one"
    assert logic.comparison_default(2, [2], None) is None


# --- callbacks --------------------------------------------------------------------------------------


def test_save_run_saves_once_and_reports_failures_as_text(history_url, ss):
    planned = controller.run_current(ss=ss)
    ss[session.LAST_RUN] = controller.run(controller.current_inputs(ss), PlanSettings(budget=20))
    assert logic.save_run(ss[session.LAST_RUN], "res_save_error", ss=ss) is None
    assert ss["res_save_error"] == "ValueError: this run has no plan to save"
    ss[session.LAST_RUN] = planned  # the $150 plan
    ss[logic.LABEL] = "week 45"
    logic.save_latest(ss)
    assert ss[logic.PLAN] == 1 and ss[logic.TABS] == "Plan" and logic.SAVE_ERROR not in ss
    assert logic.save_run(planned, "res_save_error", ss=ss) == 1, "a run is saved once"
    assert "res_save_error" not in ss
    with PlanHistory(history_url) as history:
        plans = history.list_plans()
    assert plans["label"].tolist() == ["week 45"] and plans["budget"].tolist() == [150.0]


def test_use_settings_and_reopen_put_the_saved_plan_in_the_planner(history_url, ss):
    plan_id = saved_plan(history_url, 400.0)
    logic.use_settings(plan_id, ss)
    assert ss[session.SETTINGS] == PlanSettings(budget=400.0)
    assert ss[session.PRESET] == presets.CUSTOM_PRESET
    assert logic.take_flash(plan_id + 1, ss) is None, "another plan's page shows nothing"
    assert logic.take_flash(plan_id, ss) == "Its settings are in the sidebar now: click Run optimization."
    assert logic.take_flash(plan_id, ss) is None, "shown once"

    token = ss[session.COHORT_TOKEN]
    logic.reopen(plan_id, ss)
    assert ss[session.COHORT_TOKEN] == token, "the same customers: the cohort stays (runs stay current)"
    assert ss[session.CATALOG_LABEL] == f"catalog of saved plan #{plan_id}"
    ss[session.COHORT] = ss[session.COHORT].iloc[:100]
    ss[session.COHORT_TOKEN] = loaders.frame_token(ss[session.COHORT])
    logic.reopen(plan_id, ss)
    assert len(ss[session.COHORT]) == 250 and ss[session.COHORT_LABEL] == f"saved plan #{plan_id}"
    assert ss[session.COHORT_KIND] == "uploaded" and ss[session.COHORT_TOKEN] == token
    assert "customer data, catalog and settings" in logic.take_flash(plan_id, ss)


# --- outcomes ---------------------------------------------------------------------------------------


def test_an_upload_with_problems_is_listed_once_then_a_good_file_is_kept(history_url, ss):
    plan = history_store.load_plan(saved_plan(history_url))
    some_id = str(plan.assignments["customer_id"].iloc[0])
    bad = FakeUpload("u1", "week45.csv", f"customer_id,churned\n{some_id},2\n".encode())
    assert logic.receive_outcomes(plan, None, ss) is False
    assert logic.receive_outcomes(plan, bad, ss) is False
    name, rows = ss[logic.problems_key(plan.id)]
    assert name == "week45.csv"
    assert rows == [
        {"Row": "2", "Column": "churned", "Problem": "churned must be 0 or 1 (1 = churned), got '2'"}
    ]
    ss.pop(logic.problems_key(plan.id))
    assert logic.receive_outcomes(plan, bad, ss) is False
    assert logic.problems_key(plan.id) not in ss, "the same upload is handled once"

    ss[logic.problems_key(plan.id)] = ("week45.csv", rows)
    good = FakeUpload("u2", "week45_fixed.csv", outcomes_csv_bytes(simulate_outcomes(plan, seed=3)))
    assert logic.receive_outcomes(plan, good, ss) is True
    kept = history_store.outcome_files(plan.id)["id"].tolist()
    assert len(kept) == 1 and ss[logic.outcome_key(plan.id)] == kept[0]
    assert logic.problems_key(plan.id) not in ss
    assert ss[logic.OUTCOME_FLASH] == f"week45_fixed.csv is kept with plan #{plan.id}."
    assert logic.receive_outcomes(plan, good, ss) is False, "a rerun does not keep it twice"
    assert len(history_store.outcome_files(plan.id)) == 1


def test_an_upload_the_database_refuses_is_one_problem(history_url, ss, monkeypatch):
    plan = history_store.load_plan(saved_plan(history_url))

    def unreachable(*args):
        raise ConnectionError("database is down")

    monkeypatch.setattr(history_store, "add_outcomes", unreachable)
    upload = FakeUpload("u1", "o.csv", outcomes_csv_bytes(simulate_outcomes(plan, seed=1)))
    assert logic.receive_outcomes(plan, upload, ss) is False
    assert ss[logic.problems_key(plan.id)] == (
        "o.csv",
        [{"Row": "", "Column": "", "Problem": "not stored (ConnectionError)"}],
    )


def test_drawn_outcomes_recalibration_and_the_new_catalog(history_url, ss):
    plan = history_store.load_plan(saved_plan(history_url))
    outcome_id = logic.draw_outcomes(plan, {1: 0.3}, 7, ss)
    assert ss[logic.outcome_key(plan.id)] == outcome_id
    assert history_store.measurement(plan.id, outcome_id).matched == len(plan.assignments)
    assert not logic.recalibration_shown(plan.id, outcome_id, ss)
    logic.request_recalibration(plan.id, outcome_id, ss)
    assert logic.recalibration_shown(plan.id, outcome_id, ss)
    assert not logic.recalibration_shown(plan.id, outcome_id + 1, ss)
    logic.use_catalog(plan.id, outcome_id, ss)
    assert ss[session.CATALOG_LABEL] == f"recalibrated from plan #{plan.id} (outcomes #{outcome_id})"
    assert ss[session.PRESET] == presets.CUSTOM_PRESET and logic.catalog_in_use(plan.id, outcome_id, ss)
    recalibrated, _ = history_store.recalibration(plan.id, outcome_id)
    assert ss[session.CATALOG_TOKEN] == loaders.frame_token(recalibrated.catalog)


# --- what the page says -----------------------------------------------------------------------------


def test_problem_text_and_message():
    assert (
        view.problem_text({"Row": "3", "Column": "churned", "Problem": "bad"}) == "row 3, column churned: bad"
    )
    assert (
        view.problem_text({"Row": "", "Column": "churned", "Problem": "missing"}) == "column churned: missing"
    )
    assert view.problem_text({"Row": "", "Column": "", "Problem": "not stored"}) == "not stored"
    rows = [{"Row": str(r), "Column": "churned", "Problem": "bad"} for r in range(2, 27)]  # 25 problems
    message = view.problems_message("o_1.csv", rows)
    assert message.startswith("o\\_1\\.csv was not used: 25 problem(s).")
    assert message.count("\n- ") == 20 and "row 21" in message and "row 22" not in message
    assert message.endswith("… and 5 more (all in the table below).")
    assert "more" not in view.problems_message("o.csv", rows[:20]).split("\n")[-1]


def test_outcome_labels_file_labels_and_the_evidence_rule():
    files = pd.DataFrame(
        {
            "id": [2, 1],
            "file_name": ["b.csv", "a.csv"],
            "uploaded_at": ["2025-12-05T09:12:30", "2025-12-01T08:00"],
        }
    )
    assert view.outcome_labels(files) == {
        2: "#2 b.csv (uploaded 2025-12-05 09:12 UTC)",
        1: "#1 a.csv (uploaded 2025-12-01 08:00 UTC)",
    }
    assert view.file_label("call_queue_2025-11-05.csv") == "Call queue"
    assert view.file_label("treatment_plan_2025-11-05.csv") == "Treatment plan"
    assert view.file_label("other.csv") == "other.csv"
    rule = SufficiencyRule()
    assert view.evidence_rule_text(rule) == (
        f"at least {rule.min_holdout} holdout and {rule.min_treated} treated customers and a 95% interval "
        f"at most {rule.max_ci_width:.2f} wide"
    )


def test_plan_caption_and_measurement_overview(history_url):
    plan = history_store.load_plan(saved_plan(history_url))
    caption = view.plan_caption(plan)
    assert caption.startswith("Plan date 2025-11-05, saved ")
    assert f"{int(plan.holdout.sum()):,} customers held out" in caption
    assert f"seed {plan.holdout_seed}" in caption and plan.input_fingerprint[:16] in caption
    outcome_id = history_store.add_simulated_outcomes(plan, {}, 1)
    measurement = history_store.measurement(plan.id, outcome_id)
    o = measurement.overall
    text = view.measurement_overview(measurement)
    assert text.startswith(
        f"{measurement.outcome_rows:,} outcome rows; {len(plan.assignments):,} of the plan"
    )
    assert f"({o['treated_churned']:,} of {o['treated_n']:,})" in text
    assert o["treated_n"] + o["holdout_n"] == len(plan.assignments)


def test_two_saved_plans_compare_older_first(history_url):
    first, second = saved_plan(history_url, 150.0), saved_plan(history_url, 400.0)
    for a, b in ((second, first), (first, second)):
        comparison = logic.compare_saved(a, b)
        assert comparison.labels == ("#1", "#2"), "the older plan first, whichever is open"
    plans = [history_store.load_plan(i) for i in (first, second)]
    treated = [set(p.assignments["customer_id"].astype(str)) for p in plans]
    assert comparison.only_a + comparison.same + comparison.switched == len(treated[0])
    assert comparison.only_b + comparison.same + comparison.switched == len(treated[1])
    changed = view.changed_customers_table(comparison)
    assert list(changed.columns) == ["Customer", "Action in #1", "Action in #2", "Change"]
    assert len(changed) == comparison.switched + comparison.only_a + comparison.only_b
    assert changed["Customer"].is_unique


def test_simulation_form_starts_at_the_catalog_estimates(history_url):
    plan = history_store.load_plan(saved_plan(history_url))
    actions = view.simulation_actions(plan)
    used = sorted(set(plan.plan_rows["action_id"]))
    assert [a for a, _, _ in actions] == used
    catalog = plan.catalog.set_index("action_id")
    for action_id, name, estimate in actions:
        assert name == catalog.loc[action_id, "action_name"] and estimate == catalog.loc[action_id, "uplift"]
