"""The nearest feasible combination (optimizer.elastic) against a brute force over a grid of settings."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from helpers import brute_force, eligible, make_catalog, make_cohort

from optimizer.elastic import nearest_combination
from optimizer.model import PlanSettings, build_problem
from optimizer.plan import solve_plan
from optimizer.solvers import SolveStatus

CATALOG = make_catalog(
    [
        (0, "No Action", "none", 0, 0, "all"),
        (1, "Email", "email", 2, 0.1, "all"),
        (2, "Call", "call", 10, 0.3, "all"),
        (3, "Push", "push", 1, 0.05, "all"),
        (4, "Premium gift", "in_app", 3, 0.2, "Premium"),
    ]
)
COHORT = make_cohort(
    [0.9, 0.8, 0.3, 0.75, 0.2, 0.6],
    ["Free", "Premium", "Free", "Premium", "Student", "Student"],
    [300, 500, 200, 400, 150, 250],
)


def _need(rate: float, size: int, rounding: str) -> int:
    exact = round(rate * size, 9)
    return math.ceil(exact) if rounding == "ceil" else math.floor(exact)


def _move(new: float, old: float) -> float:
    return abs(new - old) / max(abs(old), 1.0)


def grid_optimum(cohort, catalog, settings: PlanSettings) -> float:
    """Least weighted change over the grid: budget in whole dollars up to +$60, capacities up to n,
    every rate in whole-point steps from its current value (floors down, saturation up).

    The cost of a grid point is the sum over the rules of |new right-hand side - current| / max(current, 1)
    (computed here from the definitions). It is a sum of one term per setting, and whether a given assignment
    fits depends on each setting alone, so the grid minimum is the minimum over assignments of the sum of
    per-setting minima: exactly the minimum over the grid's product, enumerated without the product."""
    customers = list(cohort.itertuples())
    treatments = [a for a in catalog.itertuples() if a.action_id != 0 and a.enabled]
    n = len(customers)
    rounding = settings.coverage_rounding
    high = [i for i, c in enumerate(customers) if c.churn_probability > settings.high_risk_threshold]
    premium = [i for i, c in enumerate(customers) if c.subscription_type == "Premium"]
    segments: dict[str, list[int]] = {}
    for i, c in enumerate(customers):
        segments.setdefault(c.subscription_type, []).append(i)
    floors = {
        "min_high_risk": [high] if high else [],
        "min_premium": [premium] if premium else [],
        "min_segment": list(segments.values()),
    }

    @functools.cache
    def floor_cost(setting: str, covered: tuple[int, ...]) -> float:
        rate0 = getattr(settings, setting)
        best = math.inf
        for points in range(0, int(round(rate0 * 100)) + 1):
            rate = round(rate0 - points / 100, 9)
            needs = [_need(rate, len(g), rounding) for g in floors[setting]]
            if all(c >= need for c, need in zip(covered, needs, strict=True)):
                cost = sum(
                    _move(need, _need(rate0, len(g), rounding))
                    for need, g in zip(needs, floors[setting], strict=True)
                )
                best = min(best, cost)
        return best

    @functools.cache
    def saturation_cost(most: int) -> float:
        cap0 = math.floor(round(settings.max_saturation * n, 9))
        best = math.inf
        for points in range(0, 101 - int(round(settings.max_saturation * 100))):
            cap = math.floor(round((settings.max_saturation + points / 100) * n, 9))
            if most <= cap:
                best = min(best, len(treatments) * _move(cap, cap0))
        return best

    @functools.cache
    def budget_cost(spend: float) -> float:
        grid = np.arange(settings.budget, settings.budget + 61)
        return min((_move(b, settings.budget) for b in grid if spend <= b), default=math.inf)

    best = math.inf
    options = [[None] + [a for a in treatments if eligible(c, a)] for c in customers]
    for combo in itertools.product(*options):
        chosen = [a for a in combo if a is not None]
        spend = sum(a.cost for a in chosen)
        cost = min(
            (
                _move(b, settings.budget)
                for b in np.arange(settings.budget, settings.budget + 61)
                if spend <= b
            ),
            default=math.inf,
        )
        for setting, channels in (
            ("email_capacity", {"email"}),
            ("push_capacity", {"in_app", "push"}),
            ("call_capacity", {"call"}),
        ):
            limit, used = getattr(settings, setting), sum(a.channel in channels for a in chosen)
            if limit is not None:
                cost += min(_move(c, limit) for c in range(int(limit), n + 1) if used <= c)
        counts = [sum(a.action_id == t.action_id for a in chosen) for t in treatments]
        cost += saturation_cost(max(counts))
        for setting, groups in floors.items():
            if groups:
                cost += floor_cost(setting, tuple(sum(combo[i] is not None for i in g) for g in groups))
        best = min(best, cost)
    return best


def own_cost(cohort, catalog, old: PlanSettings, new: PlanSettings) -> float:
    """The weighted change of `new` from the definitions (the grid's cost of that point)."""
    n = len(cohort)
    rounding = old.coverage_rounding
    total = _move(new.budget, old.budget)
    for setting in ("email_capacity", "push_capacity", "call_capacity"):
        if getattr(old, setting) is not None:
            total += _move(getattr(new, setting), getattr(old, setting))
    high = int((cohort.churn_probability > old.high_risk_threshold).sum())
    premium = int((cohort.subscription_type == "Premium").sum())
    sizes = {"min_high_risk": [high] if high else [], "min_premium": [premium] if premium else []}
    sizes["min_segment"] = list(cohort.subscription_type.value_counts())
    for setting, groups in sizes.items():
        for size in groups:
            total += _move(
                _need(getattr(new, setting), size, rounding), _need(getattr(old, setting), size, rounding)
            )
    n_treatments = int((catalog.action_id != 0).sum())
    caps = [math.floor(round(s.max_saturation * n, 9)) for s in (new, old)]
    return total + n_treatments * _move(*caps)


CASES = [
    # rates only: saturation 20% of 6 is 1 per action, every floor at 100%
    PlanSettings(
        budget=30, email_capacity=6, push_capacity=6, call_capacity=6, min_high_risk=1.0, min_premium=1.0,
        max_saturation=0.2, min_segment=1.0, high_risk_threshold=0.7,
    ),
    # budget, capacities and floors all short
    PlanSettings(
        budget=3, email_capacity=1, push_capacity=1, call_capacity=0, min_high_risk=1.0, min_premium=1.0,
        max_saturation=0.5, min_segment=0.5, high_risk_threshold=0.7,
    ),
    # round down, a fractional current rate, no call capacity limit
    PlanSettings(
        budget=5, email_capacity=1, push_capacity=0, call_capacity=None, min_high_risk=0.9, min_premium=0.75,
        max_saturation=0.34, min_segment=0.505, high_risk_threshold=0.5, coverage_rounding="floor",
    ),
]  # fmt: skip


@pytest.mark.parametrize("settings", CASES)
def test_combined_change_is_the_grid_optimum_and_feasible(settings):
    assert brute_force(COHORT, CATALOG, settings) is None  # the settings are infeasible
    problem = build_problem(COHORT, CATALOG, settings.high_risk_threshold)
    found = nearest_combination(problem, settings)
    assert found is not None
    expected = grid_optimum(COHORT, CATALOG, settings)
    assert math.isfinite(expected) and expected > 0
    assert found.weighted_change == pytest.approx(expected, abs=1e-6)
    assert own_cost(COHORT, CATALOG, settings, found.settings) == pytest.approx(expected, abs=1e-6)
    assert brute_force(COHORT, CATALOG, found.settings) is not None  # feasible, checked independently
    # nothing moves the wrong way
    assert found.settings.budget >= settings.budget
    assert found.settings.max_saturation >= settings.max_saturation
    for rate in ("min_high_risk", "min_premium", "min_segment"):
        assert getattr(found.settings, rate) <= getattr(settings, rate)


def test_diagnosis_offers_the_combination_when_no_single_setting_is_enough():
    settings = CASES[1]
    result = solve_plan(COHORT, CATALOG, settings, solver="highs")
    assert result.status is SolveStatus.INFEASIBLE
    diagnosis = result.diagnosis
    assert diagnosis.suggestions == []
    assert diagnosis.combined is not None and diagnosis.nearest == diagnosis.combined
    assert "Nearest feasible combination" in diagnosis.message
    assert diagnosis.to_dict()["combined"] == diagnosis.combined.to_dict()
    assert solve_plan(COHORT, CATALOG, diagnosis.combined, solver="highs").status is SolveStatus.OPTIMAL


def test_a_single_setting_fix_keeps_todays_suggestion():
    # $1 pays for no email: one Premium customer needs $2 more budget, a push slot, or no Premium floor
    settings = PlanSettings(
        budget=1, email_capacity=6, push_capacity=0, call_capacity=0, min_high_risk=0.0, min_premium=0.5,
        max_saturation=1.0, min_segment=0.0,
    )  # fmt: skip
    diagnosis = solve_plan(COHORT, CATALOG, settings, solver="highs").diagnosis
    assert [s.setting for s in diagnosis.suggestions] == ["budget", "push_capacity", "min_premium"]
    assert diagnosis.suggestions[0].value == 2.0
    assert diagnosis.nearest == settings.with_changes(budget=2.0)
    assert diagnosis.combined is None and diagnosis.to_dict()["combined"] is None


def test_large_cohort_with_small_capacities():
    """75,000 customers with 250-customer channel capacities and the unscaled $150 budget: the floors go."""
    from optimizer.catalog import load_catalog

    n = 75_000
    rng = np.random.default_rng(0)
    cohort = make_cohort(
        rng.beta(0.8, 1.2, n).round(4),
        rng.choice(["Free", "Premium", "Family", "Student"], n),
        rng.uniform(80, 900, n).round(2),
    )
    catalog = load_catalog()
    settings = PlanSettings(email_capacity=250, push_capacity=250, call_capacity=250)
    problem = build_problem(cohort, catalog, settings.high_risk_threshold)
    found = nearest_combination(problem, settings)
    assert found is not None
    # Every floor needs thousands of customers; $150 and 750 contacts cover at most a few hundred, and
    # even a 1% segment floor (4 x 188 = 752 customers) is out of reach: each of the 6 floor rows drops
    # to zero at a cost of 1, cheaper than raising capacities or the budget by a factor of ten.
    assert found.settings == settings.with_changes(min_high_risk=0.0, min_premium=0.0, min_segment=0.0)
    assert found.weighted_change == pytest.approx(6.0)
