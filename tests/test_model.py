"""The MILP on instances small enough to check by hand or by enumeration."""

import numpy as np
import pytest
from helpers import (
    assignment_of,
    brute_force,
    make_catalog,
    make_cohort,
    plan_violations,
    random_instance,
    random_settings,
)

from optimizer import PlanSettings, build_problem, minimum_budget, solve_plan
from optimizer.model import policy_count, saturation_count
from optimizer.solvers import gurobi_available

SOLVERS = ["highs"] + (["gurobi"] if gurobi_available() else [])

# Four customers: p, subscription, CLV. Value tiers: 1 High, 2 Low, 3 High, 4 Low.
# Email (cost 2, uplift 0.1, all): values 18, 7, 16, -1.5.
# Call (cost 30, uplift 0.3, high value): 30, -, 24, -.
HAND_COHORT = make_cohort(
    [0.5, 0.9, 0.2, 0.05], ["Premium", "Free", "Family", "Student"], [400, 100, 900, 100]
)
HAND_CATALOG = make_catalog(
    [
        (0, "No Action", "none", 0, 0, "all"),
        (1, "Email", "email", 2, 0.1, "all"),
        (2, "Call", "call", 30, 0.3, "high_value"),
    ]
)
FREE = PlanSettings(
    budget=35,
    email_capacity=None,
    push_capacity=None,
    call_capacity=None,
    min_high_risk=0,
    min_premium=0,
    max_saturation=1.0,
    min_segment=0,
    high_risk_threshold=0.7,
)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    ("changes", "expected", "net"),
    [
        ({}, {1: 2, 2: 1, 3: 1}, 53.0),  # call the Premium customer, email two; spend 34
        ({"budget": 33}, {1: 2, 3: 1}, 46.0),  # 34 no longer fits: drop the $7 email
        ({"max_saturation": 0.25}, {1: 2, 3: 1}, 46.0),  # at most 1 customer per action
        ({"budget": 100, "min_segment": 1.0}, {1: 2, 2: 1, 3: 2, 4: 1}, 59.5),  # forced -1.5
        ({"budget": 100, "min_segment": 1.0, "call_capacity": 1}, {1: 2, 2: 1, 3: 1, 4: 1}, 51.5),
        ({"budget": 32, "min_high_risk": 1.0}, {1: 1, 2: 1, 3: 1}, 41.0),  # customer 2 (p=0.9) forced
        ({"call_capacity": 0}, {1: 1, 2: 1, 3: 1}, 41.0),
    ],
)
def test_hand_solved_instances(solver, changes, expected, net):
    result = solve_plan(HAND_COHORT, HAND_CATALOG, FREE.with_changes(**changes), solver=solver)
    assert result.status == "optimal"
    assert assignment_of(result) == {str(c): a for c, a in expected.items()}  # ids are text
    assert result.kpis.net_value == pytest.approx(net)
    assert result.solver_report.solver == solver


def test_hand_instance_infeasible_and_minimum_budget():
    settings = FREE.with_changes(budget=7, min_segment=1.0)  # four emails cost 8
    result = solve_plan(HAND_COHORT, HAND_CATALOG, settings)
    assert result.status == "infeasible"
    assert result.kpis is None
    assert "budget" in result.diagnosis.conflicting_keys
    assert result.diagnosis.nearest.budget == 8.0
    need = minimum_budget(HAND_COHORT, HAND_CATALOG, settings)
    assert need.minimum_budget == 8.0 and not need.feasible_at_current_budget
    assert solve_plan(HAND_COHORT, HAND_CATALOG, settings.with_changes(budget=8)).status == "optimal"


def test_problem_size_and_rows():
    problem = build_problem(HAND_COHORT, HAND_CATALOG, 0.7)
    assert problem.n_variables == 6  # 4 emails + 2 calls
    keys = [row.key for row in problem.rows]
    assert keys == [
        "budget",
        "email_capacity",
        "push_capacity",
        "call_capacity",
        "high_risk_coverage",
        "premium_coverage",
        "saturation:1",
        "saturation:2",
        "fairness:Family",
        "fairness:Free",
        "fairness:Premium",
        "fairness:Student",
    ]
    assert problem.n_constraints == len(keys) + 4


@pytest.mark.parametrize(
    ("rate", "size", "ceil", "floor"),
    [
        (0.15, 60, 9, 9),
        (0.6, 98, 59, 58),
        (0.4, 62, 25, 24),
        (0.1, 30, 3, 3),
        (0.7, 10, 7, 7),
        (0.15, 63, 10, 9),
    ],
)
def test_policy_counts_are_robust_to_float_error(rate, size, ceil, floor):
    assert policy_count(rate, size, "ceil") == ceil
    assert policy_count(rate, size, "floor") == floor


def test_saturation_count():
    assert saturation_count(0.5, 250) == 125
    assert saturation_count(0.7, 10) == 7  # 0.7 * 10 = 7.000000000000001
    assert saturation_count(0.29, 100) == 29  # 28.999999999999996


@pytest.mark.parametrize("seed", range(25))
def test_milp_matches_brute_force_on_random_instances(seed):
    rng = np.random.default_rng(seed)
    cohort, catalog = random_instance(rng, n=5, n_actions=3)
    settings = random_settings(rng)
    best = brute_force(cohort, catalog, settings)
    for solver in SOLVERS:
        result = solve_plan(cohort, catalog, settings, solver=solver, diagnose=False)
        if best is None:
            assert result.status == "infeasible"
        else:
            assert result.status == "optimal"
            assert result.kpis.net_value == pytest.approx(best, abs=1e-6)
            assert plan_violations(assignment_of(result), cohort, catalog, settings) == []


@pytest.mark.parametrize("seed", range(8))
def test_gurobi_and_highs_agree_on_larger_random_instances(seed):
    if not gurobi_available():
        pytest.skip("gurobipy is not installed")
    rng = np.random.default_rng(1000 + seed)
    cohort, catalog = random_instance(rng, n=120, n_actions=6)
    settings = random_settings(rng).with_changes(
        budget=float(rng.integers(100, 900)), email_capacity=60, push_capacity=30, call_capacity=10
    )
    gurobi = solve_plan(cohort, catalog, settings, solver="gurobi", diagnose=False)
    highs = solve_plan(cohort, catalog, settings, solver="highs", diagnose=False)
    assert gurobi.status == highs.status
    if gurobi.status == "optimal":
        assert gurobi.kpis.net_value == pytest.approx(highs.kpis.net_value, abs=1e-5)
        for result in (gurobi, highs):
            assert plan_violations(assignment_of(result), cohort, catalog, settings) == []
            assert (
                result.solver_report.mip_gap <= 1e-9
                or result.solver_report.bound - result.kpis.net_value <= 1e-6
            )
