"""Plan history: exact round trip, same file bytes, fingerprints, restart persistence, concurrent saves; each
test that takes `fresh_history_url` runs on SQLite and on the test PostgreSQL server (conftest)."""

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer import PlanSettings, build_exports, load_catalog, solve_plan, to_csv_bytes
from optimizer.loop.history import (
    HISTORY_URL_ENV,
    LIST_COLUMNS,
    PlanHistory,
    PlanNotFound,
    default_history_url,
    input_fingerprint,
    resolve_history_url,
)

ROOT = Path(__file__).resolve().parents[1]
DATE = dt.date(2025, 11, 5)


@pytest.fixture(scope="module")
def week(bundled_cohort):
    catalog = load_catalog()
    result = solve_plan(bundled_cohort, catalog, PlanSettings(budget=400))
    exports = build_exports(result.assignments, holdout_rate=0.1, seed=7, plan_date=DATE)
    return bundled_cohort, catalog, result, exports


def url_of(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def test_saved_plan_round_trips_exactly(week, fresh_history_url):
    cohort, catalog, result, exports = week
    with PlanHistory(fresh_history_url) as history:
        plan_id = history.save_plan(result, exports, cohort, catalog, label="week 45", created_by="ana")
        saved = history.load_plan(plan_id)
        files = history.plan_files(plan_id)
    pd.testing.assert_frame_equal(saved.assignments, result.assignments, check_exact=True)
    pd.testing.assert_frame_equal(saved.cohort, cohort, check_exact=True)
    pd.testing.assert_frame_equal(saved.catalog, catalog, check_exact=True)
    pd.testing.assert_frame_equal(saved.constraints, result.constraints, check_exact=True)
    assert saved.settings == result.settings
    assert saved.kpis == result.kpis
    assert saved.solver_report == result.solver_report
    assert np.array_equal(saved.holdout, exports.treatment_plan["holdout"].eq("TRUE").to_numpy())
    assert (saved.plan_date, saved.holdout_rate, saved.holdout_seed) == (DATE, 0.1, 7)
    assert (saved.label, saved.created_by, saved.status) == ("week 45", "ana", "optimal")
    assert saved.title == "Plan #1 week 45 (2025-11-05)"
    assert saved.plan_rows["holdout"].sum() == exports.holdout_count
    # The exact bytes exported, and the stored data reproduces them.
    assert files == {name: to_csv_bytes(frame) for name, frame in exports.files().items()}
    again = build_exports(
        saved.assignments, holdout_rate=saved.holdout_rate, seed=saved.holdout_seed, plan_date=saved.plan_date
    )
    assert {name: to_csv_bytes(frame) for name, frame in again.files().items()} == files
    reopened = saved.to_plan_result()
    assert reopened.has_plan and reopened.kpis == result.kpis


def test_files_already_serialized_are_stored_without_writing_them_again(week, fresh_history_url, monkeypatch):
    """The app passes its downloads' bytes: the save stores them as they are (no second CSV writing)."""
    import optimizer.loop.history as history_module

    cohort, catalog, result, exports = week
    serialized = {name: to_csv_bytes(frame) for name, frame in exports.files().items()}
    written = []
    monkeypatch.setattr(
        history_module, "to_csv_bytes", lambda frame: written.append(1) or to_csv_bytes(frame)
    )
    with PlanHistory(fresh_history_url) as history:
        plan_id = history.save_plan(result, exports, cohort, catalog, file_bytes=serialized)
        assert written == [] and history.plan_files(plan_id) == serialized
        other = history.save_plan(result, exports, cohort, catalog)
        assert len(written) == 4 and history.plan_files(other) == serialized


def test_fingerprints_identify_the_inputs(week, fresh_history_url):
    cohort, catalog, result, exports = week
    other_catalog = catalog.assign(uplift=catalog["uplift"] * 0.5)
    assert input_fingerprint(cohort, catalog) == input_fingerprint(cohort.copy(), catalog.copy())
    assert input_fingerprint(cohort, catalog) != input_fingerprint(cohort, other_catalog)
    assert input_fingerprint(cohort, catalog) != input_fingerprint(cohort.iloc[::-1], catalog)
    with PlanHistory(fresh_history_url) as history:
        first = history.save_plan(result, exports, cohort, catalog)
        second = history.save_plan(result, exports, cohort, catalog)
        plans = history.list_plans()
        assert history.load_plan(first).input_fingerprint == input_fingerprint(cohort, catalog)
    assert plans["id"].tolist() == [second, first]  # newest first
    assert plans["input_fingerprint"].nunique() == 1


def test_list_plans_shows_settings_and_kpis(week, fresh_history_url):
    cohort, catalog, result, exports = week
    with PlanHistory(fresh_history_url) as history:
        assert history.list_plans().empty
        plan_id = history.save_plan(result, exports, cohort, catalog, label="a")
        row = history.list_plans().iloc[0]
    assert list(history.list_plans().columns) == LIST_COLUMNS
    assert row["id"] == plan_id and row["plan_date"] == "2025-11-05" and row["label"] == "a"
    assert row["budget"] == 400 and row["call_capacity"] == 20
    assert row["customers_treated"] == result.kpis.customers_treated
    assert row["net_value"] == pytest.approx(result.kpis.net_value)
    assert row["holdout_count"] == exports.holdout_count and row["outcome_files"] == 0


def test_outcome_files_are_kept_with_the_plan(week, fresh_history_url):
    cohort, catalog, result, exports = week
    with PlanHistory(fresh_history_url) as history:
        plan_id = history.save_plan(result, exports, cohort, catalog)
        with pytest.raises(PlanNotFound, match="has no outcome file"):
            history.load_outcomes(plan_id)
        first = history.save_outcomes(plan_id, b"customer_id,churned\n1,0\n", "a.csv", uploaded_by="ana")
        second = history.save_outcomes(plan_id, b"customer_id,churned\n1,1\n", "b.csv")
        assert history.load_outcomes(plan_id) == (b"customer_id,churned\n1,1\n", "b.csv")
        assert history.load_outcomes(plan_id, first) == (b"customer_id,churned\n1,0\n", "a.csv")
        assert history.list_outcomes(plan_id)["id"].tolist() == [second, first]
        assert history.list_plans().iloc[0]["outcome_files"] == 2
        with pytest.raises(PlanNotFound):
            history.save_outcomes(999, b"x", "c.csv")


def test_unknown_plans_and_unsavable_results(week, fresh_history_url):
    cohort, catalog, result, exports = week
    with PlanHistory(fresh_history_url) as history:
        with pytest.raises(PlanNotFound, match="no saved plan with id 42"):
            history.load_plan(42)
        with pytest.raises(PlanNotFound):
            history.plan_files(42)
        infeasible = solve_plan(cohort, catalog, PlanSettings(budget=10), diagnose=False)
        with pytest.raises(ValueError, match="only a plan can be saved"):
            history.save_plan(infeasible, exports, cohort, catalog)
        other = build_exports(result.assignments.iloc[1:], plan_date=DATE)
        with pytest.raises(ValueError, match="not built from this plan"):
            history.save_plan(result, other, cohort, catalog)
        assert history.plan_ids() == []  # nothing half-saved


def test_history_url_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv(HISTORY_URL_ENV, raising=False)
    assert default_history_url() == f"sqlite:///{(ROOT / 'data' / 'history.sqlite').as_posix()}"
    assert resolve_history_url() == default_history_url()
    monkeypatch.setenv(HISTORY_URL_ENV, "sqlite:///elsewhere.sqlite")
    assert resolve_history_url() == "sqlite:///elsewhere.sqlite"
    assert resolve_history_url("sqlite:///given.sqlite") == "sqlite:///given.sqlite"
    nested = tmp_path / "new" / "folder" / "h.sqlite"
    with PlanHistory(url_of(nested)) as history:  # created on first use, folders included
        assert history.plan_ids() == []
    assert nested.is_file()
    with PlanHistory(url_of(nested)) as history:
        mode = history.engine.connect().exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_history_survives_a_restart(week, fresh_history_url):
    """Saved by one engine; read back by a new engine, and by a new process."""
    cohort, catalog, result, exports = week
    url = fresh_history_url
    with PlanHistory(url) as history:
        ids = [history.save_plan(result, exports, cohort, catalog, label=f"w{i}") for i in range(3)]
    with PlanHistory(url) as reopened:
        assert reopened.plan_ids() == ids
        saved = reopened.load_plan(ids[1])
        assert saved.label == "w1"
        pd.testing.assert_frame_equal(saved.assignments, result.assignments)
    reader = (
        "import sys, json; from optimizer.loop.history import PlanHistory; "
        "plans = PlanHistory(sys.argv[1]).list_plans(); "
        "print(json.dumps({'plans': plans[['id', 'label']].to_dict(orient='records')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", reader, url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    plans = json.loads(out.stdout.strip().splitlines()[-1])["plans"]
    assert [p["id"] for p in plans] == ids[::-1]
    assert [p["label"] for p in plans] == ["w2", "w1", "w0"]


def test_concurrent_saves_from_threads_lose_nothing(week, fresh_history_url):
    cohort, catalog, result, exports = week
    url = fresh_history_url
    shared = PlanHistory(url)
    errors, ids = [], []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            # Half the threads share one PlanHistory (as the app does), half open their own.
            history = shared if n % 2 else PlanHistory(url)
            start.wait()
            for i in range(5):
                plan_id = history.save_plan(result, exports, cohort, catalog, label=f"t{n}-{i}")
                with lock:
                    ids.append(plan_id)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    plans = shared.list_plans()
    assert len(ids) == len(set(ids)) == 40
    assert sorted(plans["id"]) == sorted(ids)
    assert sorted(plans["label"]) == sorted(f"t{n}-{i}" for n in range(8) for i in range(5))
    for plan_id in ids[::7]:
        saved = shared.load_plan(plan_id)
        assert len(saved.assignments) == len(result.assignments)
        assert len(shared.plan_files(plan_id)) == 4
    shared.close()


WORKER = """
import sys, time
from pathlib import Path
from optimizer import PlanSettings, build_exports, load_catalog, load_cohort, solve_plan
from optimizer.loop.history import PlanHistory

url, name, data, gate, workers = sys.argv[1:6]
cohort = load_cohort(data + "/prediction_250.csv", data + "/test_250.csv")
catalog = load_catalog()
result = solve_plan(cohort, catalog, PlanSettings())
exports = build_exports(result.assignments)
Path(gate, name).touch()  # start together: wait until every worker is ready
deadline = time.monotonic() + 120
while len(list(Path(gate).iterdir())) < int(workers) and time.monotonic() < deadline:
    time.sleep(0.01)
history = PlanHistory(url)  # the workers also race to create the database and its tables
for i in range(10):
    history.save_plan(result, exports, cohort, catalog, label=f"{name}-{i}")
"""


def test_concurrent_saves_from_processes_lose_nothing(fresh_history_url, tmp_path):
    url = fresh_history_url
    gate = tmp_path / "gate"
    gate.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, f"p{n}", str(ROOT / "data"), str(gate), "2"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
    with PlanHistory(url) as history:
        plans = history.list_plans()
        assert sorted(plans["label"]) == sorted(f"p{n}-{i}" for n in range(2) for i in range(10))
        assert plans["id"].is_unique and len(plans) == 20
        assert all(
            len(history.load_plan(i).assignments) == plans["customers_treated"].iloc[0]
            for i in plans["id"][:3]
        )


def test_decomposition_report_round_trips(tmp_path):
    """A plan solved by the decomposition keeps its method detail and multipliers in the history."""
    from optimizer import build_exports, load_bundled_cohort, load_catalog, solve_plan
    from optimizer.loop.history import PlanHistory

    cohort, catalog = load_bundled_cohort(), load_catalog()
    result = solve_plan(cohort, catalog, solver="decomposition")
    history = PlanHistory(f"sqlite:///{tmp_path / 'h.sqlite'}")
    plan_id = history.save_plan(result, build_exports(result.assignments), cohort, catalog)
    report = history.load_plan(plan_id).solver_report
    assert report.solver == "decomposition" and report.detail == result.solver_report.detail
    assert report.multipliers.tolist() == pytest.approx(result.solver_report.multipliers.tolist())
    assert report.mip_gap == result.solver_report.mip_gap
