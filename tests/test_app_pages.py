"""AppTest over every page: each runs without exceptions in a fresh session opened directly on it (like its
URL), with the shared sidebar present; missing bundled data is explained, not a traceback; access control."""

from __future__ import annotations

import app_support
import pytest
from app_support import PAGES, all_text, app_session, metrics

from app_lib import loaders, presets, session
from optimizer.data import bundled_data_dir

TITLES = {
    "plan": "PlaylistPro Retention Optimizer",
    "results": "Optimization results",
    "sensitivity": "Budget sensitivity",
    "catalog": "Action catalog",
    "data": "Customer data",
    "churn": "Churn model",
    "history": "Plan history",
}


@pytest.mark.parametrize("page", list(PAGES))
def test_page_opened_directly_runs_with_the_shared_sidebar(page):
    at = app_session(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert TITLES[page] in at.title[0].value
    for key in ("sb_budget", "sb_email", "sb_push", "sb_call", "sb_high_risk", "sb_premium", "sb_segment"):
        assert at.sidebar.slider(key=key) is not None
    assert at.sidebar.button(key="sb_run").label.endswith("Run optimization")
    assert at.sidebar.selectbox(key="sb_preset").value == presets.DEFAULT_PRESET


def test_every_page_after_a_run_and_navigation_keeps_settings():
    at = app_session("plan").run()
    at.sidebar.slider(key="sb_budget").set_value(300.0).run()
    at.sidebar.button(key="sb_run").click().run()
    assert not at.exception
    for page in PAGES:
        at.switch_page(PAGES[page]).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.sidebar.slider(key="sb_budget").value == 300.0, page
        assert at.sidebar.selectbox(key="sb_preset").value == presets.CUSTOM_PRESET, page
    assert at.session_state[session.SETTINGS].budget == 300.0


def test_plan_page_shows_the_eight_overview_kpis_and_three_tabs():
    cohort = app_support.bundled_cohort()
    at = app_session("plan").run()
    shown = metrics(at)
    p = cohort["churn_probability"]
    high = int((p > 0.7).sum())
    assert shown["Total customers"] == f"{len(cohort):,}"
    assert shown["High risk (p > 0.70)"] == f"{high:,}"
    assert shown["Avg churn probability"] == f"{100 * p.mean():.1f}%"
    assert shown["At-risk CLV"] == f"${(p * cohort['clv']).sum():,.0f}"
    assert shown["Premium customers"] == f"{(cohort['subscription_type'] == 'Premium').sum():,}"
    assert shown["Yearly plans"] == f"{(cohort['payment_plan'] == 'Yearly').sum():,}"
    assert shown["Avg weekly hours"] == f"{cohort['weekly_hours'].mean():.1f} h"
    assert shown["Avg playlists created"] == f"{cohort['num_playlists_created'].mean():.1f}"
    tiers = cohort["risk_tier"].value_counts()
    assert shown["Low risk (≤ 30%)"] == str(tiers.get("Low", 0))
    assert shown["High risk (> 70%)"] == str(tiers.get("High", 0))
    assert [t.label for t in at.tabs] == ["Risk distribution", "Segmentation", "Subscription mix"]
    assert "Loaded 250 customers" in all_text(at)
    assert "Policies need $134.00 of your" in all_text(at)  # by hand: see test_analysis


def test_missing_bundled_data_is_explained_on_every_page(monkeypatch, tmp_path):
    import optimizer.data

    monkeypatch.setattr(optimizer.data, "bundled_data_dir", lambda: tmp_path)
    loaders._bundled_cohort.clear()
    try:
        for page in PAGES:
            at = app_session(page, cohort=False).run()
            assert not at.exception, (page, [e.value for e in at.exception])
            text = all_text(at)
            if page in ("plan", "results", "sensitivity"):
                assert "Unable to load customer data" in text and "prediction_250.csv" in text, page
            if page == "data":
                assert "No customer data is loaded" in text
    finally:
        loaders._bundled_cohort.clear()


@pytest.mark.skipif(
    not (bundled_data_dir() / "prediction_250.csv").is_file(), reason="bundled data not in this checkout yet"
)
def test_bundled_data_loads_with_no_other_step():
    at = app_session("plan", cohort=False).run()
    assert not at.exception
    assert metrics(at)["Total customers"] == "250"
    assert "bundled data" in all_text(at)


def test_password_gate_hides_customer_data_until_signed_in():
    at = app_session("plan", secrets={"password": "let-me-in"}).run()
    assert not at.exception
    assert not at.metric, "no KPI before signing in"
    assert not at.sidebar.slider, "no settings before signing in"
    at.text_input(key="auth_password").input("wrong")
    at.button[0].click().run()
    assert "Wrong password" in all_text(at) and not at.metric
    at.text_input(key="auth_password").input("let-me-in")
    at.button[0].click().run()
    assert not at.exception
    assert metrics(at)["Total customers"] == "250"
    assert at.session_state["auth_password"] == "", "the password is not kept"


def test_direct_results_page_without_a_run_says_what_to_do():
    at = app_session("results").run()
    assert "No plan yet" in all_text(at)
