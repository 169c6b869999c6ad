"""The decomposition path against the exact MILP: feasible plans, valid bounds, honest gaps, same answers.

Small options force every stage (dual, neighbourhood MILP, reduced-cost fixing) on instances small enough
for the exact MILP, which HiGHS (and Gurobi, within its license) solves for comparison. Plans are checked
with the independent checker in helpers.py, never with the model's own row activity.
"""

import numpy as np
import pytest
from helpers import make_catalog, make_cohort, plan_violations, random_instance, random_settings

from optimizer import PlanSettings, build_problem, load_catalog, minimum_budget, solve_plan
from optimizer.solvers import choose_solver, gurobi_available, open_session, within_gurobi_license
from optimizer.solvers.decomposition import DecompositionOptions, DecompositionSession

# Every stage on tiny instances: no whole-MILP shortcut, a 2-customer neighbourhood, one MILP round.
FORCED = DecompositionOptions(exact_limit=0, working_set=3, neighbourhood=2, max_rounds=1, sample_size=8)
FREE_SETTINGS = PlanSettings(
    email_capacity=None, push_capacity=None, call_capacity=None, min_high_risk=0, min_premium=0, min_segment=0
)
NO_CERTIFICATE = DecompositionOptions(
    exact_limit=0, working_set=3, neighbourhood=2, max_rounds=1, sample_size=8, certify_limit=0
)


def plan_of(problem, x) -> dict:
    """customer_id -> action_id of the treated customers in a solution vector."""
    picked = np.flatnonzero(x > 0.5)
    ids = problem.cohort["customer_id"].to_numpy()[problem.pair_customer[picked]]
    actions = problem.actions["action_id"].to_numpy()[problem.pair_action[picked]]
    return {i: int(a) for i, a in zip(ids, actions, strict=True)}


def exact(problem, settings):
    solver = "gurobi" if gurobi_available() and within_gurobi_license(problem) else "highs"
    with open_session(problem, problem.rhs(settings), solver) as session:
        return session.solve()


def decompose(problem, settings, options=FORCED):
    with open_session(problem, problem.rhs(settings), "decomposition", options=options) as session:
        return session.solve()


def random_case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 45))
    cohort, catalog = random_instance(rng, n, int(rng.integers(1, 6)))
    settings = random_settings(rng).with_changes(
        budget=float(rng.integers(10, 15 * n + 20)),
        email_capacity=int(rng.integers(1, n)),
        push_capacity=int(rng.integers(0, n)),
        call_capacity=int(rng.integers(0, n // 2 + 1)),
    )
    return cohort, catalog, settings


@pytest.mark.parametrize("options", [FORCED, NO_CERTIFICATE], ids=["certified", "no-certificate"])
@pytest.mark.parametrize("seed", range(24))
def test_random_instances_against_the_exact_milp(seed, options):
    cohort, catalog, settings = random_case(seed)
    problem = build_problem(cohort, catalog, settings.high_risk_threshold)
    best = exact(problem, settings)
    found = decompose(problem, settings, options)
    if best.status == "infeasible":
        assert found.status == "infeasible"
        return
    assert found.has_plan
    plan = plan_of(problem, found.x)
    assert plan_violations(plan, cohort, catalog, settings) == []
    assert found.objective == pytest.approx(problem.objective @ found.x, abs=1e-6)
    assert found.bound >= best.objective - 1e-6  # a valid bound
    assert found.objective <= best.objective + 1e-6
    assert best.objective - found.objective <= found.bound - found.objective + 1e-6  # within its gap
    reported = (found.bound - found.objective) / max(abs(found.objective), 1e-10)
    assert found.mip_gap == pytest.approx(reported, abs=1e-9) or found.mip_gap == 0.0
    if options is FORCED:
        assert found.objective == pytest.approx(best.objective, abs=1e-6)  # the certificate closes


def test_the_gap_is_honest_when_uncertified():
    """Without reduced-cost fixing the LP bound stays above the optimum, and the status says so."""
    statuses = set()
    for seed in range(24):
        cohort, catalog, settings = random_case(seed)
        problem = build_problem(cohort, catalog, settings.high_risk_threshold)
        found = decompose(problem, settings, NO_CERTIFICATE)
        if found.has_plan:
            assert (found.status == "optimal") == (found.mip_gap <= NO_CERTIFICATE.target_gap)
            statuses.add(found.status)
    assert statuses == {"optimal", "time_limit"}  # both outcomes occur on these instances


@pytest.mark.parametrize("rounding", ["ceil", "floor"])
def test_bundled_cohort_identical_to_the_exact_solve(bundled_cohort, bundled_report_catalog, rounding):
    for catalog in (load_catalog(), bundled_report_catalog):
        problem = build_problem(bundled_cohort, catalog)
        for budget in (150, 175, 750):
            settings = PlanSettings(budget=budget, coverage_rounding=rounding)
            found = decompose(problem, settings, DecompositionOptions(exact_limit=0, neighbourhood=20))
            assert found.objective == pytest.approx(exact(problem, settings).objective, abs=1e-6)
            assert found.mip_gap == 0.0 and found.status == "optimal"


def test_solve_plan_auto_uses_it_above_the_license_limit():
    rng = np.random.default_rng(7)
    cohort, catalog = random_instance(rng, 800, 6)
    problem = build_problem(cohort, catalog)
    assert problem.n_variables > 2000
    name, reason = choose_solver(problem, "auto")
    if not within_gurobi_license(problem):
        assert name == "decomposition" and "license" in reason
    settings = PlanSettings(
        budget=2000,
        email_capacity=300,
        push_capacity=250,
        call_capacity=40,
        min_high_risk=0.3,
        min_premium=0.3,
    )
    messages = []
    result = solve_plan(
        cohort,
        catalog,
        settings,
        solver="decomposition",
        problem=problem,
        progress=lambda f, m: messages.append(f),
    )
    assert result.solver_report.solver == "decomposition"
    assert result.status == "optimal" and result.solver_report.mip_gap <= 1e-4
    assert result.solver_report.bound >= result.kpis.net_value - 1e-6
    assert messages[0] == 0.0 and messages[-1] == 1.0 and messages == sorted(messages)
    assert result.solver_report.multipliers.shape == (problem.n_coupling,)
    assert "Lagrangian decomposition" in result.solver_report.detail


def test_medium_instance_passes_the_independent_checker():
    """3,000 customers with the product's catalog: a feasible plan within 0.01% of the LP bound."""
    rng = np.random.default_rng(11)
    n = 3000
    cohort = make_cohort(
        rng.uniform(0.01, 0.99, n).round(4),
        rng.choice(["Free", "Premium", "Family", "Student"], n),
        rng.uniform(60, 1500, n).round(2),
    )
    catalog = load_catalog()
    settings = PlanSettings(budget=1800, email_capacity=1440, push_capacity=1200, call_capacity=240)
    result = solve_plan(cohort, catalog, settings, solver="decomposition")
    assert result.status == "optimal"
    plan = dict(zip(result.assignments.customer_id, result.assignments.action_id, strict=True))
    assert plan_violations(plan, cohort, catalog, settings) == []
    problem = build_problem(cohort, catalog)
    with open_session(problem, problem.rhs(settings), "highs", relax=True) as lp:
        relaxation = lp.solve()
    report = result.solver_report
    assert report.bound >= relaxation.objective - 1e-6  # L(lam) >= the LP optimum for any multipliers
    assert report.objective <= relaxation.objective + 1e-6
    assert (relaxation.objective - report.objective) / report.objective <= 1e-4


def test_infeasible_settings_are_found_and_explained(bundled_cohort):
    catalog = load_catalog()
    settings = PlanSettings(budget=20)
    found = solve_plan(bundled_cohort, catalog, settings, solver="decomposition")
    assert found.status == "infeasible" and found.kpis is None
    expected = solve_plan(bundled_cohort, catalog, settings, solver="highs")
    assert found.diagnosis.conflicting_keys == expected.diagnosis.conflicting_keys
    assert found.diagnosis.suggestions == expected.diagnosis.suggestions
    need = minimum_budget(bundled_cohort, catalog, settings, solver="decomposition")
    assert (
        need.minimum_budget
        == minimum_budget(bundled_cohort, catalog, settings, solver="highs").minimum_budget
    )


def test_results_are_deterministic():
    cohort, catalog, settings = random_case(3)
    problem = build_problem(cohort, catalog, settings.high_risk_threshold)
    first, second = decompose(problem, settings), decompose(build_problem(cohort, catalog, 0.6), settings)
    assert np.array_equal(first.x, second.x)
    assert (first.objective, first.bound, first.detail) == (second.objective, second.bound, second.detail)


def test_warm_start_reaches_the_same_optimum():
    rng = np.random.default_rng(5)
    cohort, catalog = random_instance(rng, 60, 5)
    problem = build_problem(cohort, catalog)
    base = PlanSettings(budget=300, email_capacity=40, push_capacity=30, call_capacity=5, min_segment=0.1)
    options = DecompositionOptions(exact_limit=0, neighbourhood=5)
    with open_session(problem, problem.rhs(base), "decomposition", options=options) as session:
        session.solve()
        session.set_rhs(problem.rhs(base.with_changes(budget=360)))
        warm = session.solve()
        assert "warm start" in warm.detail
        multipliers = warm.multipliers
    cold = decompose(problem, base.with_changes(budget=360), options)
    assert warm.objective == pytest.approx(cold.objective, abs=1e-6)
    assert warm.objective == pytest.approx(exact(problem, base.with_changes(budget=360)).objective, abs=1e-6)
    with open_session(
        problem, problem.rhs(base.with_changes(budget=360)), "decomposition", options=options
    ) as s:
        s.warm_start(multipliers)
        seeded = s.solve()
    assert "warm start" in seeded.detail and seeded.objective == pytest.approx(cold.objective, abs=1e-6)


def test_warm_start_plan_skips_the_feasibility_check_only_while_it_fits(monkeypatch):
    """A previous plan that satisfies the new limits proves feasibility (no class MILP); after a budget cut it
    no longer fits and the exact feasibility check runs again. Both re-plans reach the exact optimum."""
    rng = np.random.default_rng(11)
    cohort, catalog = random_instance(rng, 60, 5)
    problem = build_problem(cohort, catalog)
    base = PlanSettings(budget=300, email_capacity=40, push_capacity=30, call_capacity=5, min_segment=0.1)
    options = DecompositionOptions(exact_limit=0, neighbourhood=5)
    first = decompose(problem, base, options)
    chosen = np.flatnonzero(first.x > 0.5)
    calls = []
    original = DecompositionSession._feasible_plan
    monkeypatch.setattr(
        DecompositionSession, "_feasible_plan", lambda self: calls.append(1) or original(self)
    )
    for budget, checks in ((360, 0), (200, 1)):
        settings = base.with_changes(budget=budget)
        with open_session(problem, problem.rhs(settings), "decomposition", options=options) as session:
            session.warm_start(first.multipliers, plan=chosen)
            again = session.solve()
        assert len(calls) == checks, budget
        assert again.objective == pytest.approx(exact(problem, settings).objective, abs=1e-6)
        assert plan_violations(plan_of(problem, again.x), cohort, catalog, settings) == []
        calls.clear()


def test_warm_start_rejects_a_plan_from_another_problem():
    cohort, catalog, settings = random_case(4)
    problem = build_problem(cohort, catalog, settings.high_risk_threshold)
    with open_session(problem, problem.rhs(settings), "decomposition") as session:
        with pytest.raises(ValueError, match="variable indices"):
            session.warm_start(None, plan=np.array([problem.n_variables]))


@pytest.mark.parametrize(
    "seed, neighbourhood, method, closed",
    [
        (1, 100, "integral LP optimum", True),
        (3, 100, "MILP", True),
        (4, 100, "LP optimum rounded", True),  # rounded, then the certificate closes the gap
        (5, 20, "MILP", False),  # target met; the certificate would free more than 20 customers: skipped
    ],
)
def test_each_way_to_the_neighbourhood_plan_is_certified(seed, neighbourhood, method, closed):
    """The neighbourhood's plan comes from its integral LP optimum, a rounded LP optimum or its MILP (800
    customers); the certificate closes the gap, or is skipped once the target is met and it would be large.
    Either way the exact optimum (HiGHS's MILP) lies between the plan's value and its bound."""
    rng = np.random.default_rng(seed)
    cohort, catalog = random_instance(rng, 800, 5)
    problem = build_problem(cohort, catalog)
    settings = PlanSettings(
        budget=float(rng.integers(1600, 4800)),
        email_capacity=320,
        push_capacity=240,
        call_capacity=40,
        min_segment=0.1,
    )
    options = DecompositionOptions(exact_limit=0, neighbourhood=neighbourhood)
    found = decompose(problem, settings, options)
    assert f"most ambiguous customers ({method})" in found.detail
    assert found.status == "optimal" and found.mip_gap <= options.target_gap
    assert (found.mip_gap == 0.0) == closed
    assert closed or "reduced-cost fixing" not in found.detail
    with open_session(problem, problem.rhs(settings), "highs") as session:
        best = session.solve().objective
    assert found.objective - 1e-6 <= best <= found.bound + 1e-6
    assert found.bound - found.objective <= found.mip_gap * abs(found.objective) + 1e-6
    assert plan_violations(plan_of(problem, found.x), cohort, catalog, settings) == []


def test_lp_relaxation_and_duals_match_highs():
    cohort, catalog, settings = random_case(9)
    problem = build_problem(cohort, catalog, settings.high_risk_threshold)
    with open_session(problem, problem.rhs(settings), "highs", relax=True) as session:
        expected = session.solve()
    options = DecompositionOptions(working_set=4)
    with open_session(
        problem, problem.rhs(settings), "decomposition", relax=True, options=options
    ) as session:
        found = session.solve()
    if expected.status == "infeasible":
        pytest.skip("this seed's LP is infeasible")
    assert found.objective == pytest.approx(expected.objective, abs=1e-6)
    # Strong duality with the decomposition's own multipliers: L(lam) equals the LP optimum.
    assert found.bound == pytest.approx(expected.objective, abs=1e-5)
    assert found.row_duals.shape == (problem.n_constraints,)


def test_fast_rank_one_pricing_matches_the_dense_pass():
    rng = np.random.default_rng(2)
    cohort, catalog = random_instance(rng, 300, 6)
    problem = build_problem(cohort, catalog)
    session = DecompositionSession(problem, problem.rhs(PlanSettings(budget=500, min_segment=0.1)))
    assert session.pricing.objective.rank_one is not None  # the retention objective is recognized
    for _ in range(5):
        lam = session.limits.signed(rng.normal(0, 20, problem.n_coupling))
        fast_value, fast_activity = session.pricing.objective.rank_one(lam, session.limits)
        dense_value, dense_activity = session.pricing.dense_evaluate(lam, session.limits)
        assert fast_value == pytest.approx(dense_value, rel=1e-12)
        assert np.allclose(fast_activity, dense_activity)
    session.set_objective(rng.normal(size=problem.n_variables))
    assert session.pricing.objective.rank_one is None  # any other objective takes the dense pass


def test_lagrangian_by_hand():
    """Three Free customers (one class), w = p * clv = 20, 50, 90; email 0.1w - 2, offer 0.3w - 10.

    At a budget multiplier of 1 (all others 0) the reduced profits are email 0.1w - 4 and offer 0.3w - 20:
    w=20 takes nothing (-2 and -14), w=50 the email (1), w=90 the offer (7 beats 5). L = 1 x $10 + 8 = 18.
    """
    cohort = make_cohort([0.2, 0.25, 0.3], ["Free"] * 3, [100, 200, 300])
    catalog = make_catalog(
        [
            (0, "No Action", "none", 0, 0, "all"),
            (1, "Email", "email", 2, 0.1, "all"),
            (2, "Offer", "in_app", 10, 0.3, "all"),
        ]
    )
    problem = build_problem(cohort, catalog)
    session = DecompositionSession(problem, problem.rhs(FREE_SETTINGS.with_changes(budget=10)))
    lam = np.zeros(problem.n_coupling)
    lam[problem.row_index("budget")] = 1.0
    pricing, limits = session.pricing, session.limits
    for evaluate in (
        lambda m: pricing.objective.rank_one(m, limits),
        lambda m: pricing.dense_evaluate(m, limits),
    ):
        value, activity = evaluate(lam)
        assert value == pytest.approx(18.0)
        assert activity[problem.row_index("budget")] == 12.0
        assert activity[problem.row_index("email_capacity")] == 1.0
        assert activity[problem.row_index("push_capacity")] == 1.0
        assert activity[problem.row_index("fairness:Free")] == 2.0


def test_identical_customers_cost_one_variable_per_group():
    """A cohort of four distinct customers repeated 100 times: ties everywhere, exact answer."""
    n = 400
    cohort = make_cohort(
        np.tile([0.9, 0.8, 0.4, 0.75], n // 4),
        np.tile(["Premium", "Free", "Family", "Student"], n // 4),
        np.tile([400.0, 120.0, 900.0, 250.0], n // 4),
    )
    catalog = make_catalog(
        [
            (0, "No Action", "none", 0, 0, "all"),
            (1, "Email", "email", 2, 0.08, "all"),
            (2, "Offer", "in_app", 8, 0.22, "high_value"),
        ]
    )
    settings = PlanSettings(
        budget=601,
        email_capacity=140,
        push_capacity=120,
        call_capacity=None,
        min_high_risk=0.3,
        min_premium=0.3,
    )
    problem = build_problem(cohort, catalog)
    found = decompose(problem, settings, DecompositionOptions(exact_limit=0, neighbourhood=10))
    assert "most ambiguous" in found.detail
    assert found.status == "optimal" and found.mip_gap == 0.0
    assert found.objective == pytest.approx(exact(problem, settings).objective, abs=1e-6)
    assert plan_violations(plan_of(problem, found.x), cohort, catalog, settings) == []


def test_solve_plan_warm_start_from_an_earlier_result(bundled_cohort):
    catalog = load_catalog()
    problem = build_problem(bundled_cohort, catalog)
    first = solve_plan(
        bundled_cohort, catalog, PlanSettings(budget=300), solver="decomposition", problem=problem
    )
    again = solve_plan(
        bundled_cohort,
        catalog,
        PlanSettings(budget=330),
        solver="decomposition",
        problem=problem,
        warm_start=first,
    )
    expected = solve_plan(bundled_cohort, catalog, PlanSettings(budget=330), solver="highs", problem=problem)
    assert again.kpis.net_value == pytest.approx(expected.kpis.net_value, abs=1e-6)


def test_cli_plan_with_the_decomposition(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "plan", "--predictions", data / "prediction_250.csv"]
        + ["--features", data / "test_250.csv", "--solver", "decomposition", "--progress"]
        + ["--out-dir", tmp_path, "--date", "2025-11-05", "--json"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout.strip().splitlines()[-1])
    assert payload["solver"] == "decomposition" and payload["status"] == "optimal"
    # the defaults' optimum on the bundled cohort at $150 (Gurobi, HiGHS and a separate scipy MILP agree)
    assert payload["net_value"] == 3896.66
    assert payload["bound"] == pytest.approx(payload["objective"], abs=1e-6) and payload["mip_gap"] == 0.0
    assert payload["solver_detail"]
    assert "100%" in out.stderr and "Proven bound" in out.stdout
    assert (tmp_path / "treatment_plan_20251105.csv").is_file()


def problem_snapshot(problem) -> dict:
    """Copies of every field of a built problem (its arrays, frames and rows) and its attribute names."""
    import copy
    import dataclasses

    names = [f.name for f in dataclasses.fields(problem) if f.name != "_lock"]
    fields = {name: copy.deepcopy(getattr(problem, name)) for name in names}
    return {"fields": fields, "attributes": sorted(vars(problem))}


def assert_same_snapshot(before: dict, after: dict) -> None:
    import pandas as pd

    assert before["attributes"] == after["attributes"]
    for name, value in before["fields"].items():
        other = after["fields"][name]
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, other, check_exact=True)
        elif isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and np.array_equal(value, other), name
        else:
            assert value == other, name


def sweep_session(problem, budgets, options):
    """One session solving `budgets` in turn (warm after the first): status, plan, value, bound, detail."""
    settings = PlanSettings(email_capacity=320, push_capacity=240, call_capacity=40, min_segment=0.1)
    answers = []
    with open_session(
        problem, problem.rhs(settings.with_changes(budget=budgets[0])), "decomposition", options=options
    ) as session:
        for budget in budgets:
            session.set_rhs(problem.rhs(settings.with_changes(budget=budget)))
            found = session.solve()
            answers.append((found.status, found.x.tobytes(), found.objective, found.bound, found.detail))
    return answers


def test_concurrent_sessions_on_one_problem_neither_change_the_other_nor_the_problem():
    """Two sessions on one shared problem, solved at once in two threads with different budgets, give exactly
    the answers each gives alone on its own problem; the shared problem is unchanged by them."""
    import threading

    rng = np.random.default_rng(3)
    cohort, catalog = random_instance(rng, 800, 5)
    options = DecompositionOptions(exact_limit=0, neighbourhood=100)
    budgets = {"low": [1600.0, 1800.0, 2000.0], "high": [4800.0, 4200.0, 3600.0]}
    alone = {name: sweep_session(build_problem(cohort, catalog), b, options) for name, b in budgets.items()}
    assert alone["low"] != alone["high"]
    shared = build_problem(cohort, catalog)
    before = problem_snapshot(shared)
    together, start = {}, threading.Barrier(2)

    def run(name):
        start.wait()
        together[name] = sweep_session(shared, budgets[name], options)

    threads = [threading.Thread(target=run, args=(name,)) for name in budgets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone
    assert_same_snapshot(before, problem_snapshot(shared))
    assert "warm start" in together["low"][1][4]  # the later solves of a session start warm


def test_a_warm_start_passed_back_gives_the_cold_optimum_and_leaves_the_problem_unchanged():
    rng = np.random.default_rng(4)
    cohort, catalog = random_instance(rng, 800, 5)
    problem = build_problem(cohort, catalog)
    before = problem_snapshot(problem)
    settings = PlanSettings(
        budget=2400, email_capacity=320, push_capacity=240, call_capacity=40, min_segment=0.1
    )
    raised = settings.with_changes(budget=2640)
    first = solve_plan(cohort, catalog, settings, solver="decomposition", problem=problem)
    assert first.warm is not None and first.warm.belongs_to(problem) and first.warm.cuts
    kept = {key: cuts.points.copy() for key, cuts in first.warm.cuts.items()}
    warm = solve_plan(cohort, catalog, raised, solver="decomposition", problem=problem, warm_start=first)
    cold = solve_plan(cohort, catalog, raised, solver="decomposition", problem=problem)
    assert warm.solver_report.detail.startswith("Lagrangian decomposition: warm start")
    assert cold.solver_report.detail.startswith("Lagrangian decomposition: cold start")
    assert warm.status == cold.status == "optimal"
    assert warm.kpis.net_value == pytest.approx(cold.kpis.net_value, abs=1e-6)
    other = build_problem(cohort, catalog)  # an equal problem (the exact MILP builds its sparse matrix)
    assert warm.kpis.net_value == pytest.approx(exact(other, raised).objective, abs=1e-6)
    assert {key: cuts.points for key, cuts in first.warm.cuts.items()}.keys() == kept.keys()
    assert all(np.array_equal(first.warm.cuts[key].points, points) for key, points in kept.items())
    assert_same_snapshot(before, problem_snapshot(problem))
    # A warm start from another (equal) problem is not resumed: its multipliers and plan seed the solve.
    again = solve_plan(cohort, catalog, raised, solver="decomposition", problem=other, warm_start=first)
    assert again.solver_report.detail.startswith("Lagrangian decomposition: warm start")
    assert again.kpis.net_value == pytest.approx(cold.kpis.net_value, abs=1e-6)
    with open_session(other, other.rhs(raised), "decomposition") as session:
        assert not session.resume(first.warm)
