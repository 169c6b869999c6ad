"""Two weeks in the app against a temporary plan history: week 1 saved with its first download, week 2
planned seven days later under the sidebar's contact policy. What week 2 may not do, the exclusion line's
counts and the excluded file are checked against week 1's saved treatment plan file, read on its own."""

from __future__ import annotations

import datetime as dt
import io

import app_support
import numpy as np
import pandas as pd
import pytest
from app_support import PAGES, all_text, app_session

from app_lib import contact_form, controller, session
from optimizer import PlanSettings, load_catalog
from optimizer.loop.history import HISTORY_URL_ENV, PlanHistory
from optimizer.loop.policies import ChannelCap, ContactPolicy, global_control_members

WEEK_1 = dt.date(2026, 3, 2)
WEEK_2 = WEEK_1 + dt.timedelta(days=7)


@pytest.fixture
def history_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{(tmp_path / 'history.sqlite').as_posix()}"
    monkeypatch.setenv(HISTORY_URL_ENV, url)
    return url


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_with_an_empty_history_the_plan_is_todays(history_url):
    inputs = controller.Inputs.of(app_support.bundled_cohort(), load_catalog())
    settings = PlanSettings()
    plain = controller.run(inputs, settings)
    week = controller.run(inputs, settings, policy=ContactPolicy(), plan_date=WEEK_1)
    assert week.history_note is None
    assert week.exclusions is not None and not week.exclusions.excluded.any()
    pd.testing.assert_frame_equal(week.result.assignments, plain.result.assignments)
    assert week.kpis == plain.kpis
    assert list(week.exports.files()) == [
        f"{kind}_{WEEK_1:%Y%m%d}.csv" for kind in ("treatment_plan", "email_list", "push_list", "call_queue")
    ]


def test_unreadable_history_plans_without_it_and_says_so(monkeypatch):
    monkeypatch.setenv(HISTORY_URL_ENV, "notadb://nowhere")
    inputs = controller.Inputs.of(app_support.bundled_cohort(), load_catalog())
    week = controller.run(inputs, PlanSettings(), policy=ContactPolicy(global_control=0.1), plan_date=WEEK_1)
    assert week.history_note and "planned without the contact history" in week.history_note
    assert week.result.has_plan and not week.exclusions.excluded.any()


def test_two_weeks_in_the_app(history_url):
    at = ok(app_session("plan").run())
    ok(at.sidebar.date_input(key=contact_form.PLAN_DATE).set_value(WEEK_1).run())
    ok(at.sidebar.button(key="sb_run").click().run())
    assert "0 customers excluded by contact policy" in all_text(at)
    ok(at.switch_page(PAGES["results"]).run())
    ok(at.download_button(key="res_download_treatment_plan").click().run())
    assert "Saved as plan #1" in all_text(at)

    # Week 1 as saved, read from its own treatment plan file.
    with PlanHistory(history_url) as history:
        week_1 = pd.read_csv(
            io.BytesIO(history.plan_files(1)[f"treatment_plan_{WEEK_1:%Y%m%d}.csv"]),
            dtype={"customer_id": str},
        )
        salt = history.control_salt()
    week_1 = week_1[week_1["action_id"] > 0]
    held = set(week_1.loc[week_1["holdout"].astype(str).str.upper() == "TRUE", "customer_id"])
    executed = week_1[week_1["execute_treatment"].astype(str).str.upper() == "TRUE"]
    emailed = set(executed.loc[executed["channel"] == "email", "customer_id"])
    assert held and emailed, "the bundled week has holdout and email customers"

    # Week 2, seven days later: holdout window 30 days, email at most 1 in 28 days, a 10% control group.
    ok(at.switch_page(PAGES["plan"]).run())
    ok(at.sidebar.date_input(key=contact_form.PLAN_DATE).set_value(WEEK_2).run())
    ok(at.sidebar.number_input(key=contact_form.EMAIL_MAX).set_value(1).run())
    ok(at.sidebar.slider(key=contact_form.CONTROL).set_value(10).run())
    ok(at.sidebar.slider(key="sb_budget").set_value(300.0).run())
    assert at.session_state[session.CONTACT_POLICY] == ContactPolicy(
        holdout_window_days=30, channel_caps=(ChannelCap("email", 1, 28),), global_control=0.1
    )
    ok(at.sidebar.button(key="sb_run").click().run())
    record = at.session_state[session.LAST_RUN]
    assert record.plan_date == WEEK_2
    assert record.result.has_plan, record.result.diagnosis

    ids = app_support.bundled_cohort()["customer_id"].astype(str).to_numpy()
    control = set(ids[global_control_members(ids, salt, 0.1)])
    holdout_window = held - control
    capped = emailed - control - held
    assert len(control) > 0 and len(holdout_window) > 0 and len(capped) > 0
    total = len(control) + len(holdout_window)
    expected_line = (
        f"{total} customers excluded by contact policy: {len(holdout_window)} in an open holdout window, "
        f"0 in cool-down, {len(control)} in the global control group; {len(capped)} with a capped channel"
    )
    assert expected_line in all_text(at)

    # Week 2 treats nobody of week 1's holdout nor of the control group, and emails nobody capped.
    week_2 = record.result.assignments
    week_2 = week_2[week_2["action_id"] > 0]
    treated_2 = set(week_2["customer_id"].astype(str))
    assert not treated_2 & held and not treated_2 & control
    assert not set(week_2.loc[week_2["channel"] == "email", "customer_id"].astype(str)) & capped

    # The excluded list: on Results with the other files, one row per exclusion, each with its cause.
    ok(at.switch_page(PAGES["results"]).run())
    assert expected_line in all_text(at)
    name = f"excluded_{WEEK_2:%Y%m%d}.csv"
    assert any(b.key == "res_download_excluded" for b in at.download_button)
    excluded = pd.read_csv(
        io.BytesIO(record.file_bytes(name)), dtype={"customer_id": str}, keep_default_na=False
    )
    columns = [
        excluded["customer_id"],
        excluded["reason"],
        excluded["plan_id"].astype(str),
        excluded["until"],
    ]
    rows = set(zip(*columns, strict=True))
    until_holdout = (WEEK_1 + dt.timedelta(days=30)).isoformat()
    until_cap = (WEEK_1 + dt.timedelta(days=28)).isoformat()
    assert rows == (
        {(c, "global_control", "", "") for c in control}
        | {(c, "holdout_window", "1", until_holdout) for c in holdout_window}
        | {(c, "channel_cap:email", "1", until_cap) for c in capped}
    )
    assert len(excluded) == len(rows)
    ok(at.download_button(key="res_download_excluded").click().run())
    assert "Saved as plan #2" in all_text(at)
    assert np.array_equal(
        np.sort(excluded["customer_id"].unique()), np.sort(record.exclusions.table["customer_id"].unique())
    )


def test_cooldown_and_a_replanned_old_week_through_the_controller(history_url):
    """Week 1 saved; week 2 with a 14-day cool-down excludes week 1's treated customers (its holdout by the
    holdout window); re-planning week 1's own date sees no history (only plans dated before it count)."""
    cohort, catalog = app_support.bundled_cohort(), load_catalog()
    inputs = controller.Inputs.of(cohort, catalog)
    first = controller.run(inputs, PlanSettings(), policy=ContactPolicy(), plan_date=WEEK_1)
    with PlanHistory(history_url) as history:
        history.save_plan(first.result, first.exports, cohort, catalog)
    plan = first.exports.treatment_plan
    plan = plan[plan["action_id"] > 0]
    held = set(plan.loc[plan["holdout"] == "TRUE", "customer_id"].astype(str))
    executed = set(plan.loc[plan["execute_treatment"] == "TRUE", "customer_id"].astype(str))

    policy = ContactPolicy(cooldown_days=14)
    second = controller.run(inputs, PlanSettings(budget=300.0), policy=policy, plan_date=WEEK_2)
    counts = second.exclusions.counts
    assert counts == {
        "holdout_window": len(held),
        "cooldown": len(executed),
        "channel_cap": 0,
        "global_control": 0,
    }
    assert second.result.has_plan
    treated = set(second.result.assignments.query("action_id > 0")["customer_id"].astype(str))
    assert not treated & (held | executed)

    again = controller.run(inputs, PlanSettings(), policy=policy, plan_date=WEEK_1)
    assert not again.exclusions.excluded.any()
    pd.testing.assert_frame_equal(again.result.assignments, first.result.assignments)
