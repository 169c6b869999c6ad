"""A solve stopped without a plan is not infeasibility: exit 5, one line on stderr, honest recommendations.

How this is tested: a real time limit cannot deterministically stop a solver before its first plan, so the
solver session is replaced (monkeypatching `optimizer.plan.open_session`) by one that wraps the real
session and answers `SolveStatus.NO_SOLUTION` where the test says so, exactly as a backend reports a time
limit reached with no incumbent (`optimizer/solvers/gurobi.py`). Infeasibility uses the real solver.
"""

from __future__ import annotations

import json

import pytest

import optimizer.plan as plan_module
from optimizer import PlanSettings, build_problem, constraint_report, load_bundled_cohort, load_catalog
from optimizer.analysis import NO_PLAN, NO_PLAN_INFEASIBLE, NO_PLAN_STOPPED
from optimizer.cli import main
from optimizer.solvers import Solution, SolveStatus

REAL_OPEN_SESSION = plan_module.open_session


class StoppingSession:
    """The real session, except that solves at the budgets in `stop_at` stop with no plan."""

    time_limits: list[float | None] = []

    def __init__(self, problem, rhs, solver, stop_at, **options):
        self.inner = REAL_OPEN_SESSION(problem, rhs, solver, **options)
        self.budget_row = problem.row_index("budget")
        self.budget = float(rhs[self.budget_row])
        self.stop_at = stop_at
        self.name = solver

    def set_rhs(self, rhs):
        self.budget = float(rhs[self.budget_row])
        self.inner.set_rhs(rhs)

    def set_objective(self, objective, maximize=True):
        self.inner.set_objective(objective, maximize)

    def solve(self, time_limit=None):
        StoppingSession.time_limits.append(time_limit)
        if self.stop_at is None or self.budget in self.stop_at:
            return Solution(SolveStatus.NO_SOLUTION, None, None, None, None, time_limit or 0.0)
        return self.inner.solve(time_limit)

    def close(self):
        self.inner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def stop_at(monkeypatch):
    """Call with the budgets whose solves stop without a plan (None: every solve)."""

    def install(budgets):
        StoppingSession.time_limits = []
        monkeypatch.setattr(
            plan_module,
            "open_session",
            lambda problem, rhs, solver, **options: StoppingSession(problem, rhs, solver, budgets, **options),
        )

    return install


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("case", "argv", "stop", "code", "status", "recommendation"),
    [
        ("stopped", ["--time-limit", "1"], None, 5, "no_solution", NO_PLAN_STOPPED),
        ("infeasible", ["--budget", "0"], set(), 3, "infeasible", NO_PLAN_INFEASIBLE),
    ],
)
def test_plan_without_a_plan(stop_at, capsys, tmp_path, case, argv, stop, code, status, recommendation):
    stop_at(stop)
    assert main(["plan", *argv, "--solver", "highs", "--out-dir", str(tmp_path), "--json"]) == code
    captured = capsys.readouterr()
    payload = last_json(captured.out)
    assert payload["status"] == status
    assert {c["recommendation"] for c in payload["constraints"]} == {recommendation}
    assert list(tmp_path.iterdir()) == []
    if case == "stopped":
        assert captured.err.strip().splitlines() == [
            "error: the solver stopped at the time limit (1 s) before it found a plan; the settings are "
            "not known to be infeasible: raise --time-limit or leave it out"
        ]
        assert "diagnosis" not in payload  # nothing was shown to be infeasible
        assert StoppingSession.time_limits == [1.0]
    else:
        assert "budget" in payload["diagnosis"]["conflicting_keys"]


def test_sweep_passes_the_time_limit_to_every_solve(stop_at, capsys):
    stop_at({175.0})
    assert (
        main(["sweep", "--budgets", "150,175,200", "--time-limit", "30", "--solver", "highs", "--json"]) == 0
    )
    captured = capsys.readouterr()
    rows = last_json(captured.out)["rows"]
    assert [r["status"] for r in rows] == ["optimal", "no_solution", "optimal"]
    assert rows[1]["net_value"] is None and rows[0]["net_value"] > 0
    assert StoppingSession.time_limits == [30.0, 30.0, 30.0]
    assert "at 1 budget(s) (175) the solver stopped at the time limit" in captured.err


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SolveStatus.INFEASIBLE, NO_PLAN_INFEASIBLE),
        (SolveStatus.NO_SOLUTION, NO_PLAN_STOPPED),
        (None, NO_PLAN),
    ],
)
def test_no_plan_recommendation_says_why(status, expected):
    cohort, catalog = load_bundled_cohort(), load_catalog()
    settings = PlanSettings()
    report = constraint_report(build_problem(cohort, catalog), settings, None, status)
    assert set(report["recommendation"]) == {expected}
