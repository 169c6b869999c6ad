"""The solver contract and the one plan type: status values as the enum, the same strings in JSON and the
history as before, and every plan shape (result, saved plan, app run) read through `PlanLike`."""

import dataclasses
import datetime as dt
import json
import sqlite3
from contextlib import closing

import numpy as np
import pytest
from test_model import FREE, HAND_CATALOG, HAND_COHORT, SOLVERS

from app_lib.runner import run_plan
from optimizer import PlanResult, budget_sweep, build_exports, solve_plan
from optimizer.loop.history import PlanHistory
from optimizer.loop.outcomes import MeasuredPlan
from optimizer.plan import PlanLike, SolverReport
from optimizer.solvers import Solution, SolveStatus

# The status strings of the CLI's JSON and of the history, as they were before the enum.
STATUS_TEXT = [
    (SolveStatus.OPTIMAL, "optimal"),
    (SolveStatus.INFEASIBLE, "infeasible"),
    (SolveStatus.TIME_LIMIT, "time_limit"),
    (SolveStatus.NO_SOLUTION, "no_solution"),
]
INFEASIBLE = FREE.with_changes(budget=7, min_segment=1.0)  # four emails cost 8


@pytest.fixture(scope="module")
def solved() -> PlanResult:
    return solve_plan(HAND_COHORT, HAND_CATALOG, FREE, solver="highs")


@pytest.mark.parametrize(("status", "text"), STATUS_TEXT)
def test_status_round_trips_through_to_dict_and_json_as_the_same_string(solved, status, text):
    result = dataclasses.replace(solved, status=status)
    payload = result.to_dict()
    assert payload["status"] == text and type(payload["status"]) is str
    line = json.dumps(payload)
    assert f'"status": "{text}"' in line
    assert json.loads(line)["status"] == text
    # A plain string (as stored, or passed by a backend) becomes the member.
    parts = (solved.settings, solved.solver_report, solved.assignments, solved.kpis, solved.constraints)
    assert PlanResult(text, *parts).status is status
    report = SolverReport(**{**solved.solver_report.__dict__, "status": text})
    assert report.status is status


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError, match="feasible"):
        Solution("feasible", None, None, None, None, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("solver", SOLVERS)
def test_backends_return_the_enum(solver):
    optimal = solve_plan(HAND_COHORT, HAND_CATALOG, FREE, solver=solver)
    assert optimal.status is SolveStatus.OPTIMAL and optimal.solver_report.status is SolveStatus.OPTIMAL
    assert optimal.kpis is not None and optimal.kpis.net_value == pytest.approx(53.0)
    infeasible = solve_plan(HAND_COHORT, HAND_CATALOG, INFEASIBLE, solver=solver)
    assert infeasible.status is SolveStatus.INFEASIBLE and infeasible.kpis is None
    assert infeasible.to_dict()["status"] == "infeasible"


def test_sweep_table_holds_plain_status_strings():
    table = budget_sweep(HAND_COHORT, HAND_CATALOG, INFEASIBLE, [7, 8], solver="highs", workers=1)
    assert table["status"].tolist() == ["infeasible", "optimal"]
    assert [type(s) for s in table["status"]] == [str, str]


def test_history_stores_the_same_status_text_and_reopens_the_member(solved, tmp_path):
    path = tmp_path / "h.sqlite"
    exports = build_exports(solved.assignments, holdout_rate=0.5, seed=1, plan_date=dt.date(2025, 11, 5))
    with PlanHistory(f"sqlite:///{path.as_posix()}") as history:
        plan_id = history.save_plan(solved, exports, HAND_COHORT, HAND_CATALOG)
        saved = history.load_plan(plan_id)
    with closing(sqlite3.connect(path)) as conn:
        query = "SELECT status, solver_report FROM plans WHERE id = ?"
        column, report = conn.execute(query, (plan_id,)).fetchone()
    assert column == "optimal" and json.loads(report)["status"] == "optimal"
    assert saved.status is SolveStatus.OPTIMAL and saved.solver_report.status is SolveStatus.OPTIMAL


def test_every_plan_shape_is_plan_like(solved, tmp_path):
    exports = build_exports(solved.assignments, holdout_rate=0.5, seed=1, plan_date=dt.date(2025, 11, 5))
    with PlanHistory(f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}") as history:
        saved = history.load_plan(history.save_plan(solved, exports, HAND_COHORT, HAND_CATALOG))
    record = run_plan(HAND_COHORT, HAND_CATALOG, FREE, with_marginal=False)
    for plan in (solved, saved, record, saved.to_plan_result()):
        assert isinstance(plan, PlanLike)
        assert plan.status is SolveStatus.OPTIMAL
        assert plan.kpis is not None and plan.kpis.net_value == pytest.approx(53.0)
        assert plan.settings == FREE
        assert sorted(plan.assignments["customer_id"].astype(str)) == sorted(
            solved.assignments["customer_id"].astype(str)
        )
    assert record.solver_report is record.result.solver_report and record.kpis is record.result.kpis
    # Only the saved plan carries what a measurement needs (its holdout flags, cohort and catalog).
    assert isinstance(saved, MeasuredPlan)
    assert not isinstance(solved, MeasuredPlan) and not isinstance(record, MeasuredPlan)
    assert np.array_equal(saved.plan_rows["holdout"].to_numpy(), saved.holdout)
