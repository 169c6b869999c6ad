"""Large cohorts in the app: settings scaled to the cohort's size, the solver's certificate in words,
paginated tables, export bytes built once per run."""

from __future__ import annotations

import app_support  # noqa: F401  (puts the repository on sys.path)
import numpy as np
import pandas as pd
import pytest
from app_support import all_text, app_session

from app_lib import controller, nice, presets, scaling, session, settings_form
from app_lib.bounds import snap_budget
from optimizer import PlanSettings, load_catalog, load_cohort, minimum_budget, solve_plan
from optimizer.data import bundled_data_dir

REPORT = PlanSettings(
    budget=150.0,
    email_capacity=120,
    push_capacity=100,
    call_capacity=None,
    coverage_rounding="floor",
)


def test_defaults_scale_with_the_number_of_customers():
    # 75,000 / 250 = 300: $150 -> $45,000, 120 -> 36,000, 100 -> 30,000, 20 -> 6,000; rates unchanged
    assert scaling.scale_settings(PlanSettings(), 75_000) == PlanSettings(
        budget=45_000.0, email_capacity=36_000, push_capacity=30_000, call_capacity=6_000
    )
    # the report's settings: no call limit stays none, floor rounding stays
    assert scaling.scale_settings(REPORT, 75_000) == REPORT.with_changes(
        budget=45_000.0, email_capacity=36_000, push_capacity=30_000
    )


def test_the_presets_own_size_is_left_exactly_as_it_is():
    assert scaling.scale_settings(PlanSettings(), 250) == PlanSettings()
    assert scaling.scale_settings(REPORT, 250) == REPORT


def test_scaled_amounts_are_rounded_up_to_a_nice_step():
    # 333 / 250 = 1.332: $199.80 -> $200 (step 2), 159.84 -> 160, 133.2 -> 134, 26.64 -> 27 (step 1)
    assert scaling.scale_settings(PlanSettings(), 333) == PlanSettings(
        budget=200.0, email_capacity=160, push_capacity=134, call_capacity=27
    )
    # 100 customers: x 0.4 -> $60, 48, 40, 8
    assert scaling.scale_settings(PlanSettings(), 100) == PlanSettings(
        budget=60.0, email_capacity=48, push_capacity=40, call_capacity=8
    )
    assert [nice.step_for(v) for v in (45_000, 199.8, 26.64, 1_104_081)] == [500, 2, 1, 25_000]
    assert nice.nice_up(45_001) == 45_500 and nice.nice_up(0) == 0


def test_the_note_says_what_was_scaled():
    settings = scaling.scale_settings(PlanSettings(), 75_000)
    note = scaling.scaling_note(settings, 75_000, 250, "the Default weekly plan preset's values")
    assert note == (
        "Settings scaled to 75,000 customers: budget $45,000 per week, email 36,000, push/in-app 30,000, "
        "calls 6,000 (the Default weekly plan preset's values for 250 customers × 300); coverage policies "
        "unchanged."
    )
    raised = scaling.scaling_note(
        REPORT.with_changes(budget=200.0),
        333,
        250,
        "your settings",
        raised_from=120.0,
        no_budget_enough=False,
    )
    assert "calls unlimited" in raised and "× 1.33" in raised
    assert raised.endswith("The budget was raised from $120 to $200, the least the coverage policies need.")
    assert [scaling.factor_text(n, 250) for n in (75_000, 333, 100, 1)] == ["300", "1.33", "0.4", "0.004"]


@pytest.mark.parametrize("customers", [1, 7, 250, 1_234, 75_000, 1_000_000])
def test_scaling_never_lowers_a_limit_below_its_proportional_share(customers):
    scaled = scaling.scale_settings(PlanSettings(), customers)
    factor = customers / 250
    assert scaled.budget >= 150 * factor - 1e-9
    assert scaled.email_capacity >= 120 * factor - 1e-9 and scaled.call_capacity >= 20 * factor - 1e-9
    assert scaled.budget <= 150 * factor * 1.03 + 1  # nice, not generous: within a 100th step (+ rounding)


def test_the_built_model_is_cached_per_cohort_catalog_and_threshold(bundled_cohort):
    from app_lib import loaders
    from app_lib.runner import run_plan
    from optimizer import load_catalog

    catalog = load_catalog()
    tokens = ("scale-test-cohort", "scale-test-catalog")
    problem = loaders.cached_problem(*tokens, 0.7, bundled_cohort, catalog)
    again = controller.problem_for(controller.Inputs(bundled_cohort, catalog, *tokens), PlanSettings())
    assert again is problem, "the same data and threshold reuse the built model"
    other = loaders.cached_problem(*tokens, 0.6, bundled_cohort, catalog)
    assert other is not problem and other.high_risk_threshold == 0.6
    # a run on the shared model is the defaults' optimum on the bundled cohort ($3,896.66 at $150; Gurobi,
    # HiGHS and a separate scipy MILP written from the rule definitions agree), twice (nothing in the shared
    # model changes between runs)
    for _ in range(2):
        record = run_plan(bundled_cohort, catalog, PlanSettings(), problem=problem)
        assert round(record.result.kpis.net_value, 2) == 3896.66
    # +$10 of budget on the shared model: $4,231.16 - $3,896.66 (both optima cross-checked the same way)
    assert round(record.ensure_marginal(problem).set_index("key").loc["budget", "exact_gain"], 2) == 334.50


# --- the app with a large upload ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort_20k(tmp_path_factory) -> tuple[bytes, bytes]:
    """20,000 simulated customers scored by the committed churn model (predictions and features bytes)."""
    from optimizer.churn.export import features_csv, predictions_csv
    from optimizer.churn.generate import generate_customers
    from optimizer.churn.score import score_customers

    scored = score_customers(generate_customers(20_000, 45), source="simulated customers")
    return predictions_csv(scored).encode(), features_csv(scored).encode()


def upload(at, predictions: bytes, features: bytes, names=("week_p.csv", "week_f.csv")):
    at.file_uploader(key="data_predictions").set_value((names[0], predictions, "text/csv"))
    at.file_uploader(key="data_features").set_value((names[1], features, "text/csv")).run()
    at.button(key="data_load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_20000_customer_upload_gets_scaled_settings_and_a_certified_plan_on_the_first_run(
    cohort_20k, tmp_path
):
    at = upload(app_session("data", cohort=False).run(), *cohort_20k)
    assert at.session_state[session.COHORT_KIND] == "uploaded"
    # 20,000 / 250 = 80: $150 x 80 = $12,000, 120 x 80 = 9,600, 100 x 80 = 8,000, 20 x 80 = 1,600
    scaled = PlanSettings(budget=12_000.0, email_capacity=9_600, push_capacity=8_000, call_capacity=1_600)
    assert at.session_state[session.SETTINGS] == scaled
    note = (
        "Settings scaled to 20,000 customers: budget $12,000 per week, email 9,600, push/in-app 8,000, "
        "calls 1,600 (the Default weekly plan preset's values for 250 customers × 80); coverage policies "
        "unchanged."
    )
    assert note in all_text(at), "the Data page says what was scaled"
    assert any(note in c.value.replace("\\", "") for c in at.sidebar.caption), "and so does the sidebar"
    assert (
        at.sidebar.slider(key="sb_email").value == 9_600 and at.sidebar.slider(key="sb_email").max == 20_000
    )
    assert at.sidebar.slider(key="sb_budget").value == 12_000

    at.sidebar.button(key="sb_run").click().run()
    assert not at.exception
    record = at.session_state[session.LAST_RUN]
    report = record.result.solver_report
    assert record.status == "optimal" and report.solver == "decomposition"
    assert report.mip_gap is not None and report.mip_gap <= 1e-4
    # the same plan as the core on the same files and settings
    (tmp_path / "p.csv").write_bytes(cohort_20k[0])
    (tmp_path / "f.csv").write_bytes(cohort_20k[1])
    core = solve_plan(load_cohort(tmp_path / "p.csv", tmp_path / "f.csv"), load_catalog(), scaled)
    assert round(record.result.kpis.net_value, 2) == round(core.kpis.net_value, 2)
    assert record.result.kpis.total_spend <= 12_000 + 1e-6
    # the Results page names the solver path, why, and its certificate
    at.switch_page("pages/2_Results.py").run()
    assert not at.exception
    text = all_text(at)
    assert (
        "Solver: Decomposition (open-source, 20,000 customers: "
        f"{report.n_variables:,} variables exceed gurobipy's 2,000-variable license limit): proven optimal."
    ) in text
    assert f"upper bound ${report.bound:,.2f}, certified gap " in text

    # back to the bundled data: the defaults exactly as they were, and no note
    at.switch_page("pages/5_Data.py").run()
    at.button(key="data_bundled").click().run()
    assert at.session_state[session.SETTINGS] == PlanSettings()
    assert "Settings scaled" not in all_text(at)


def test_a_replan_after_moving_the_budget_starts_warm_and_matches_a_cold_solve(cohort_20k, tmp_path):
    at = upload(app_session("data", cohort=False).run(), *cohort_20k)
    at.sidebar.button(key="sb_run").click().run()
    record = at.session_state[session.LAST_RUN]
    assert record.result.solver_report.detail.startswith("Lagrangian decomposition: cold start")
    (tmp_path / "p.csv").write_bytes(cohort_20k[0])
    (tmp_path / "f.csv").write_bytes(cohort_20k[1])
    scaled = at.session_state[session.SETTINGS]
    # a re-plan after moving the budget slider starts from the first run's multipliers and plan, and is the
    # core's cold plan for the new budget
    at.sidebar.slider(key="sb_budget").set_value(13_000).run()
    at.sidebar.button(key="sb_run").click().run()
    assert not at.exception
    second = at.session_state[session.LAST_RUN].result
    assert second.solver_report.detail.startswith("Lagrangian decomposition: warm start")
    cold = solve_plan(
        load_cohort(tmp_path / "p.csv", tmp_path / "f.csv"),
        load_catalog(),
        scaled.with_changes(budget=13_000),
    )
    assert cold.solver_report.detail.startswith("Lagrangian decomposition: cold start")
    assert abs(second.kpis.net_value - cold.kpis.net_value) <= 1e-4 * cold.kpis.net_value
    assert second.kpis.net_value >= record.result.kpis.net_value  # more budget never loses value


def test_the_report_preset_scales_on_a_large_cohort_and_is_exact_on_250(cohort_20k):
    at = upload(app_session("data", cohort=False).run(), *cohort_20k)
    at.sidebar.selectbox(key="sb_preset").set_value(presets.REPORT_PRESET).run()
    assert not at.exception
    report = presets.PRESETS[presets.REPORT_PRESET].settings
    assert at.session_state[session.SETTINGS] == report.with_changes(
        budget=12_000.0, email_capacity=9_600, push_capacity=8_000
    )
    assert at.session_state[session.CATALOG_LABEL] == presets.PRESETS[presets.REPORT_PRESET].catalog_label
    at.button(key="data_bundled").click().run()  # the preset stays selected: its exact 250-customer values
    assert at.session_state[session.SETTINGS] == report


def test_a_scaled_budget_too_small_for_the_policies_is_raised_to_what_they_need(tmp_path):
    """500 customers, all high risk (the bundled cohort twice, churn probability at least 0.72): $150 x 2 =
    $300 cannot meet 60% high-risk coverage; the policies need $960, so the budget starts there."""
    folder = bundled_data_dir()
    predictions = pd.read_csv(folder / "prediction_250.csv")
    features = pd.read_csv(folder / "test_250.csv")
    twice = pd.concat([predictions, predictions.assign(customer_id=predictions["customer_id"] + 10**6)])
    twice["churn_probability"] = np.maximum(twice["churn_probability"], 0.72)
    features = pd.concat([features, features.assign(customer_id=features["customer_id"] + 10**6)])
    twice.to_csv(tmp_path / "p.csv", index=False)
    features.to_csv(tmp_path / "f.csv", index=False)
    scaled = PlanSettings(budget=300.0, email_capacity=240, push_capacity=200, call_capacity=40)
    need = minimum_budget(load_cohort(tmp_path / "p.csv", tmp_path / "f.csv"), load_catalog(), scaled)
    assert need.minimum_budget == 960.0

    at = upload(
        app_session("data", cohort=False).run(),
        (tmp_path / "p.csv").read_bytes(),
        (tmp_path / "f.csv").read_bytes(),
    )
    bounds = at.session_state[settings_form.BOUNDS]
    assert at.session_state[session.SETTINGS] == scaled.with_changes(budget=snap_budget(960.0, bounds))
    assert "The budget was raised from $300 to $960, the least the coverage policies need." in all_text(at)
    at.sidebar.button(key="sb_run").click().run()
    assert at.session_state[session.LAST_RUN].status == "optimal"


def test_the_sensitivity_range_follows_a_newly_loaded_cohort(cohort_20k):
    at = app_session("sensitivity", cohort=False).run()
    assert at.session_state["sens_max"] < 12_000, "the bundled cohort's range"
    at.switch_page("pages/5_Data.py").run()
    upload(at, *cohort_20k)
    at.switch_page("pages/3_Sensitivity.py").run()
    assert not at.exception
    bounds = at.session_state[settings_form.BOUNDS]
    # from the least budget the scaled policies need ($9,986, on the slider's step) to the data's maximum
    assert at.session_state["sens_min"] == snap_budget(9_986.0, bounds)
    assert at.session_state["sens_max"] == bounds.budget_max


# --- the solver's certificate in words --------------------------------------------------------------------


def test_certificate_of_an_exact_milp(bundled_cohort):
    from app_lib.solver_text import solver_summary
    from optimizer.solvers import gurobi_available

    # the product defaults on the bundled cohort: $3,896.66 (cross-checked as above); by hand, one variable
    # per eligible (customer, action): 250 x 3 all-customer actions + 61 Free (trial) + 63 Premium (upgrade)
    # + 217 high-value x 3 = 1,525; constraints: 250 one-action rows + budget + 3 channels + 8 saturation
    # + high-risk + Premium + 4 fairness = 268
    assert (bundled_cohort.value_tier == "High").sum() == 217
    report = solve_plan(bundled_cohort, load_catalog(), PlanSettings()).solver_report
    summary = solver_summary(report, len(bundled_cohort))
    if gurobi_available():
        assert summary.headline == "Gurobi, exact MILP: proven optimal"
        assert summary.reason == (
            "Why this solver: the model (1,525 variables and 268 constraints) fits gurobipy's size-limited "
            "license."
        )
    else:
        assert summary.headline == "HiGHS, exact MILP (open-source): proven optimal"
    assert summary.figures.startswith(
        "Objective (net value) $3,896.66, upper bound $3,896.66, certified gap 0.00%; "
    )
    assert summary.detail == ""
    infeasible = solve_plan(bundled_cohort, load_catalog(), PlanSettings(budget=10)).solver_report
    assert solver_summary(infeasible, 250).headline.endswith(
        "proven infeasible (no plan meets every setting)"
    )


def test_certificate_of_the_decomposition_over_the_license_limit():
    from app_lib.solver_text import solver_summary
    from optimizer.plan import SolverReport

    report = SolverReport(
        solver="decomposition",
        reason="the model has 461,910 variables and 75,018 constraints, over the 2,000 limit of gurobipy's "
        "size-limited pip license, so the decomposition over the coupling constraints ran (certified gap)",
        status="optimal",
        runtime_seconds=0.1332,
        objective=1_104_081.4187,
        bound=1_104_081.4187,
        mip_gap=0.0,
        n_variables=461_910,
        n_constraints=75_018,
        detail="Lagrangian decomposition: cold start, 76 dual evaluations",
    )
    summary = solver_summary(report, 75_000)
    assert summary.headline == (
        "Decomposition (open-source, 75,000 customers: 461,910 variables exceed gurobipy's 2,000-variable "
        "license limit): proven optimal"
    )
    assert summary.figures == (
        "Objective (net value) $1,104,081.42, upper bound $1,104,081.42, certified gap 0.00%; "
        "0.13 s of solver time."
    )
    assert summary.detail == "Lagrangian decomposition: cold start, 76 dual evaluations"
    # a gap left open by a time limit is shown as it is: (1,105,185.50 - 1,104,081.42) / 1,104,081.42
    stopped = solver_summary(
        SolverReport(**{**report.__dict__, "status": "time_limit", "bound": 1_105_185.50, "mip_gap": 0.001}),
        75_000,
    )
    assert stopped.headline.endswith("stopped at the time limit")
    assert "upper bound $1,105,185.50, certified gap 0.10%" in stopped.figures
    # a tiny gap the decomposition left open once the 0.01% target was met: $3.41 on $1,104,081.42
    tiny = solver_summary(
        SolverReport(**{**report.__dict__, "bound": 1_104_084.83, "mip_gap": 3.41 / 1_104_081.4187}), 75_000
    )
    assert tiny.headline.endswith("license limit): optimal within its certified gap of 0.0003%")
    assert "upper bound $1,104,084.83, certified gap 0.0003%" in tiny.figures


def test_gap_text_never_shows_a_nonzero_gap_as_zero():
    from app_lib.solver_text import gap_text

    assert [gap_text(g) for g in (None, 0.0, 0.001, 1e-4, 3.1e-6, 8.9e-5, 4e-10)] == [
        "–",
        "0.00%",
        "0.10%",
        "0.01%",
        "0.0003%",
        "0.009%",
        "< 0.0001%",
    ]


# --- paginated tables -------------------------------------------------------------------------------------


def test_page_slices_of_75000_rows():
    from app_lib.ui import page_slice

    first = page_slice(75_000, 500, 1)
    assert (first.start, first.stop, first.pages) == (0, 500, 150)
    assert first.label == "rows 1–500 of 75,000"
    last = page_slice(75_000, 1_000, 75)
    assert (last.start, last.stop, last.label) == (74_000, 75_000, "rows 74,001–75,000 of 75,000")
    # a partial last page, and pages beyond the end or before the start clamp to the ends
    assert page_slice(1_234, 500, 3).label == "rows 1,001–1,234 of 1,234"
    assert page_slice(1_234, 500, 9).page == 3 and page_slice(1_234, 500, 0).page == 1
    assert page_slice(0, 50, 1).label == "no rows" and page_slice(0, 50, 1).pages == 1
    with pytest.raises(ValueError, match="page size"):
        page_slice(10, 0, 1)


def test_per_customer_tables_of_a_large_cohort_are_paginated(cohort_20k):
    at = upload(app_session("data", cohort=False).run(), *cohort_20k)
    # the Data page: 500 of the 20,000 customers per page
    shown = next(d.value for d in at.dataframe if "churn_probability" in d.value.columns)
    assert len(shown) == 500
    assert "rows 1–500 of 20,000 (page 1 of 40)" in all_text(at)
    at.selectbox(key="data_preview_size").set_value(1_000).run()
    at.number_input(key="data_preview_page").set_value(3).run()
    shown = next(d.value for d in at.dataframe if "churn_probability" in d.value.columns)
    assert len(shown) == 1_000 and "rows 2,001–3,000 of 20,000 (page 3 of 20)" in all_text(at)
    cohort = at.session_state[session.COHORT]
    assert list(shown["customer_id"]) == cohort["customer_id"].astype(str).iloc[2_000:3_000].tolist()

    # the Results page: every treated customer, best first, a page at a time
    at.sidebar.button(key="sb_run").click().run()
    at.switch_page("pages/2_Results.py").run()
    at.session_state["res_tabs"] = "Top customers"  # open the tab
    at.run()
    assert not at.exception
    treated = at.session_state[session.LAST_RUN].result.assignments
    top = next(d.value for d in at.dataframe if "Customer ID" in d.value.columns)
    assert len(top) == 500
    assert f"rows 1–500 of {len(treated):,}" in all_text(at)
    best = treated.sort_values(["net_value", "customer_id"], ascending=[False, True]).iloc[0]
    assert top["Customer ID"].iloc[0] == str(best["customer_id"])
    # a larger page size while on a later page keeps a valid page (the last one)
    at.number_input(key="res_top_page").set_value(10).run()
    at.selectbox(key="res_top_size").set_value(5_000).run()
    assert not at.exception
    pages = -(-len(treated) // 5_000)
    assert pages < 10 and at.number_input(key="res_top_page").value == pages
    top = next(d.value for d in at.dataframe if "Customer ID" in d.value.columns)
    assert len(top) == len(treated) - 5_000 * (pages - 1)


def test_small_tables_are_shown_whole(bundled_cohort):
    at = app_session("data").run()
    shown = next(d.value for d in at.dataframe if "churn_probability" in d.value.columns)
    assert len(shown) == len(bundled_cohort) == 250
    assert not [w for w in at.number_input if w.key == "data_preview_page"], "no page controls"


# --- downloads --------------------------------------------------------------------------------------------


def test_export_bytes_are_built_once_per_run(bundled_cohort, monkeypatch):
    from app_lib import runner
    from optimizer import to_csv_bytes

    record = runner.run_plan(bundled_cohort, load_catalog(), PlanSettings(), with_marginal=False)
    calls = []

    def counting(frame):
        calls.append(len(frame))
        return to_csv_bytes(frame)

    monkeypatch.setattr(runner, "to_csv_bytes", counting)
    names = list(record.exports.files())
    first = {name: record.file_bytes(name) for name in names}
    again = {name: record.file_bytes(name) for name in names}
    assert len(calls) == 4, "one serialization per file, however often it is downloaded"
    assert all(again[name] is first[name] for name in names)
    plan = first[names[0]].decode().splitlines()
    assert len(plan) == 1 + record.result.kpis.customers_treated == 70  # header + the 69 treated customers
    assert first[names[0]] == to_csv_bytes(record.exports.treatment_plan)


def test_metric_money_drops_cents_from_seven_figures():
    from app_lib.formatting import metric_money

    assert metric_money(3_414.6302) == "$3,414.63"
    assert metric_money(99_999.994) == "$99,999.99"
    assert metric_money(1_149_081.4187) == "$1,149,081"
    assert metric_money(-250_000.5) == "-$250,000" and metric_money(None) == "–"


def test_download_clicks_during_a_slow_save_save_the_run_once(bundled_cohort, monkeypatch, tmp_path):
    """At 75,000 customers a save takes seconds and the save callbacks of quick download clicks can run in
    parallel script threads: the run is still saved once, and every click gets its id."""
    import threading
    import time

    from app_lib import history_store
    from app_lib.runner import run_plan
    from optimizer.loop.history import HISTORY_URL_ENV, PlanHistory

    url = f"sqlite:///{(tmp_path / 'history.sqlite').as_posix()}"
    monkeypatch.setenv(HISTORY_URL_ENV, url)
    store = history_store.plan_history()
    slow_save = store.save_plan

    def save_slowly(*args, **kwargs):
        time.sleep(0.3)  # as long as the clicks are apart: both would find the run unsaved
        return slow_save(*args, **kwargs)

    monkeypatch.setattr(store, "save_plan", save_slowly)
    record = run_plan(bundled_cohort, load_catalog(), PlanSettings(), with_marginal=False)
    ids = []
    clicks = [threading.Thread(target=lambda: ids.append(history_store.save_run(record))) for _ in range(3)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    with PlanHistory(url) as history:
        assert len(history.list_plans()) == 1
    assert ids == [record.saved_plan_id] * 3


def test_a_large_cohort_sweeps_in_steps_with_progress(cohort_20k, tmp_path):
    from optimizer import budget_sweep

    (tmp_path / "p.csv").write_bytes(cohort_20k[0])
    (tmp_path / "f.csv").write_bytes(cohort_20k[1])
    cohort, catalog = load_cohort(tmp_path / "p.csv", tmp_path / "f.csv"), load_catalog()
    settings = PlanSettings(budget=12_000.0, email_capacity=9_600, push_capacity=8_000, call_capacity=1_600)
    budgets = [9_000.0, 12_000.0, 20_000.0]
    steps = []
    swept = controller.sweep(
        controller.Inputs(cohort, catalog, "sweep-test-20k", "sweep-test-catalog"),
        settings,
        budgets,
        progress=lambda fraction, text: steps.append((round(fraction, 3), text)),
    )
    # two budgets per step: 0 of 3 solved, then 2 of 3, then done
    assert [fraction for fraction, _ in steps] == [0.0, 0.667, 1.0]
    assert steps[1][1] == "2 of 3 budgets solved; solving \\$20,000 for 20,000 customers…"
    whole = budget_sweep(cohort, catalog, settings, budgets)
    assert swept["budget"].tolist() == budgets
    # $9,000 is below the $9,986 the policies need
    assert swept["status"].tolist() == whole["status"].tolist() == ["infeasible", "optimal", "optimal"]
    assert swept["net_value"].round(2).tolist()[1:] == whole["net_value"].round(2).tolist()[1:]


def test_custom_settings_scale_from_the_previous_cohort_size(cohort_20k):
    at = app_session("data", cohort=False).run()
    at.sidebar.slider(key="sb_budget").set_value(200.0).run()  # a custom budget for the 250 bundled customers
    assert at.session_state[session.PRESET] == presets.CUSTOM_PRESET
    upload(at, *cohort_20k)
    # x 80: $200 -> $16,000, the capacities as the defaults
    assert at.session_state[session.SETTINGS] == PlanSettings(
        budget=16_000.0, email_capacity=9_600, push_capacity=8_000, call_capacity=1_600
    )
    assert "(your settings for 250 customers × 80)" in all_text(at)
    # the same file again: same size, nothing to scale
    upload(at, *cohort_20k)
    assert at.session_state[session.SETTINGS].budget == 16_000.0
    assert "Settings scaled" not in all_text(at)
