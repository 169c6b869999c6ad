"""Large cohorts in the app: settings scaled to the cohort's size, the solver's certificate in words,
paginated tables, export bytes built once per run."""

from __future__ import annotations

import app_support  # noqa: F401  (puts the repository on sys.path)
import pytest

from app_lib import scaling
from optimizer import PlanSettings

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
    assert [scaling.round_step(v) for v in (45_000, 199.8, 26.64, 1_104_081)] == [500, 2, 1, 25_000]
    assert scaling.nice_up(45_001) == 45_500 and scaling.nice_up(0) == 0


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


def test_the_built_model_is_cached_per_cohort_catalog_and_threshold(reference_cohort):
    from app_lib import state
    from app_lib.runner import run_plan
    from optimizer import load_catalog

    catalog = load_catalog()
    problem = state.cached_problem("scale-test-cohort", "scale-test-catalog", 0.7, reference_cohort, catalog)
    again = state.problem_for(
        "scale-test-cohort", "scale-test-catalog", PlanSettings(), reference_cohort, catalog
    )
    assert again is problem, "the same data and threshold reuse the built model"
    other = state.cached_problem("scale-test-cohort", "scale-test-catalog", 0.6, reference_cohort, catalog)
    assert other is not problem and other.high_risk_threshold == 0.6
    # a run on the shared model is the README's corrected plan ($3,414.63 at $150), twice (nothing in the
    # shared model changes between runs)
    for _ in range(2):
        record = run_plan(reference_cohort, catalog, PlanSettings(), problem=problem)
        assert round(record.result.kpis.net_value, 2) == 3414.63
    # +$10 of budget on the shared model: $3,729.83 - $3,414.63
    assert round(record.ensure_marginal(problem).set_index("key").loc["budget", "exact_gain"], 2) == 315.20
