"""The plan history on SQLite and on a real PostgreSQL server (`fresh_history_url`: each test runs once per
backend, on a new database): the schema made by the migrations, upgrades from databases written by older
schemas, concurrent first use and concurrent saves from processes, kill -9 in the middle of a save, outcomes,
measurement and recalibration through the CLI, and readable one-line failures (exit 2, no export written)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from optimizer import PlanSettings, build_exports, load_bundled_cohort, load_catalog, solve_plan, to_csv_bytes
from optimizer.cli import main
from optimizer.loop.history import (
    HistoryError,
    PlanHistory,
    _metadata,
    plans_table,
)
from optimizer.loop.outcomes import load_plan_outcomes, outcomes_csv_bytes, simulate_outcomes

ROOT = Path(__file__).resolve().parents[1]
DATE = dt.date(2025, 11, 5)
HEAD = "0003"


@pytest.fixture(scope="module")
def week():
    cohort, catalog = load_bundled_cohort(), load_catalog()
    result = solve_plan(cohort, catalog, PlanSettings(budget=400))
    exports = build_exports(result.assignments, holdout_rate=0.1, seed=7, plan_date=DATE)
    return cohort, catalog, result, exports


@pytest.fixture(scope="module")
def week_pickle(week, tmp_path_factory) -> Path:
    """The week's plan for worker processes (so they do not each solve it)."""
    path = tmp_path_factory.mktemp("week") / "week.pickle"
    path.write_bytes(pickle.dumps(week))
    return path


def revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def run_cli(*args: str) -> tuple[int, str, str]:
    process = subprocess.run(
        [sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    return process.returncode, process.stdout, process.stderr


# --- the schema -----------------------------------------------------------------------------------------


def test_a_new_database_gets_the_migrated_schema(fresh_history_url, week):
    """The migrations, run from nothing, give exactly the tables the code queries (Alembic's own
    comparison of the database with the table definitions finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    cohort, catalog, result, exports = week
    with PlanHistory(fresh_history_url) as history:
        with history.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), _metadata) == []
            assert set(sa.inspect(conn).get_table_names()) == {
                "alembic_version",
                "plans",
                "plan_files",
                "plan_outcomes",
                "plan_contacts",
                "history_meta",
            }
        plan_id = history.save_plan(result, exports, cohort, catalog)
        pd.testing.assert_frame_equal(history.load_plan(plan_id).assignments, result.assignments)
    assert revision(fresh_history_url) == HEAD
    with PlanHistory(fresh_history_url) as again:  # opening a current database changes nothing
        assert again.plan_ids() == [plan_id]
    assert revision(fresh_history_url) == HEAD


# The schema as commit 044690e created it (its `create_all`): one row per assignment in `plan_rows`, files
# stored as they are. No alembic_version table: that history predates the migrations.
OLD = sa.MetaData()
sa.Table(
    "plans",
    OLD,
    *(
        sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, index=c.index)
        for c in plans_table.columns
        if not c.name.startswith("assignments_") and c.name not in ("withdrawn_at", "contact_policy")
    ),
)
sa.Table(
    "plan_rows",
    OLD,
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.String(100), nullable=False),
    sa.Column("subscription_type", sa.String(100), nullable=False),
    sa.Column("payment_plan", sa.String(100), nullable=False),
    sa.Column("churn_probability", sa.Float, nullable=False),
    sa.Column("clv", sa.Float, nullable=False),
    sa.Column("risk_tier", sa.String(10), nullable=False),
    sa.Column("value_tier", sa.String(10), nullable=False),
    sa.Column("action_id", sa.Integer, nullable=False),
    sa.Column("action_name", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("cost", sa.Float, nullable=False),
    sa.Column("uplift", sa.Float, nullable=False),
    sa.Column("expected_churn_reduction", sa.Float, nullable=False),
    sa.Column("expected_retained_clv", sa.Float, nullable=False),
    sa.Column("net_value", sa.Float, nullable=False),
    sa.Column("holdout", sa.Boolean, nullable=False),
)
sa.Table(
    "plan_files",
    OLD,
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
)
sa.Table(
    "plan_outcomes",
    OLD,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("uploaded_at", sa.String(40), nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False, default=""),
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
)
OUTCOMES = b"customer_id,churned\n"


def write_old_database(url: str, scratch: Path, week) -> dict:
    """A history as the first schema's code wrote it, holding the week's plan and one outcome file; returns
    what the plan must read back as (saved by today's code in a scratch database)."""
    cohort, catalog, result, exports = week
    with PlanHistory(f"sqlite:///{(scratch / 'today.sqlite').as_posix()}") as today:
        plan_id = today.save_plan(result, exports, cohort, catalog, label="old week", created_by="ana")
        expected = today.load_plan(plan_id)
        files = today.plan_files(plan_id)
        with today.engine.connect() as conn:
            record = dict(conn.execute(sa.select(plans_table)).one()._mapping)
    record = {
        k: v
        for k, v in record.items()
        if not k.startswith("assignments_") and k not in ("id", "withdrawn_at", "contact_policy")
    }
    rows = expected.plan_rows.assign(customer_id=expected.plan_rows["customer_id"].astype(str))
    rows.insert(0, "position", range(len(rows)))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        OLD.create_all(conn)
        conn.execute(OLD.tables["plans"].insert(), [record])
        conn.execute(OLD.tables["plan_rows"].insert(), [{"plan_id": 1, **r} for r in rows.to_dict("records")])
        conn.execute(
            OLD.tables["plan_files"].insert(),
            [
                {"plan_id": 1, "position": i, "name": n, "sha256": "", "content": c}
                for i, (n, c) in enumerate(files.items())
            ],
        )
        conn.execute(
            OLD.tables["plan_outcomes"].insert(),
            [
                {
                    "plan_id": 1,
                    "uploaded_at": "2025-12-03T10:00:00+00:00",
                    "uploaded_by": "ana",
                    "file_name": "week45.csv",
                    "sha256": "",
                    "content": OUTCOMES,
                }
            ],
        )
    engine.dispose()
    return {"plan": expected, "files": files}


def test_a_database_of_the_first_schema_is_upgraded_in_place(fresh_history_url, week, tmp_path):
    """Before the migrations: the plans listed, but `history show/export` and `plan --save` failed with
    `no such column: plans.assignments_sha256`. Now the first use converts the old rows and files."""
    cohort, catalog, result, exports = week
    old = write_old_database(fresh_history_url, tmp_path, week)
    assert revision(fresh_history_url) is None
    code, out, err = run_cli("history", "show", "--plan", "1", "--history", fresh_history_url, "--json")
    assert code == 0, err
    shown = json.loads(out.strip().splitlines()[-1])
    assert (shown["label"], shown["holdout_count"]) == ("old week", exports.holdout_count)
    assert [f["file_name"] for f in shown["outcome_files"]] == ["week45.csv"]
    assert revision(fresh_history_url) == HEAD
    with PlanHistory(fresh_history_url) as history:
        with history.engine.connect() as conn:
            assert not sa.inspect(conn).has_table("plan_rows")
        plan = history.load_plan(1)
        pd.testing.assert_frame_equal(plan.assignments, old["plan"].assignments, check_exact=True)
        pd.testing.assert_frame_equal(plan.cohort, old["plan"].cohort, check_exact=True)
        assert np.array_equal(plan.holdout, old["plan"].holdout)
        assert (plan.kpis, plan.settings) == (result.kpis, result.settings)
        assert history.plan_files(1) == old["files"]
        assert history.load_outcomes(1) == (OUTCOMES, "week45.csv")
        # Migration 0003 gave the old plan its contact-history rows, from its stored assignments.
        contacts = history.contacts(plan_ids=[1]).sort_values("customer_id").reset_index(drop=True)
        expected = old["plan"].plan_rows.sort_values("customer_id").reset_index(drop=True)
        assert contacts["customer_id"].tolist() == expected["customer_id"].astype(str).tolist()
        assert contacts["action_id"].tolist() == expected["action_id"].tolist()
        assert contacts["channel"].tolist() == expected["channel"].tolist()
        assert contacts["holdout"].tolist() == expected["holdout"].tolist()
        assert (contacts["plan_date"] == pd.Timestamp(old["plan"].plan_date)).all()
        assert history.save_plan(result, exports, cohort, catalog, label="new") == 2
        assert history.list_plans()["label"].tolist() == ["new", "old week"]
    out_dir = tmp_path / "exported"
    code, _, err = run_cli(
        "history", "export", "--plan", "1", "--out-dir", str(out_dir), "--history", fresh_history_url
    )
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == old["files"]
    assert old["files"] == {name: to_csv_bytes(frame) for name, frame in exports.files().items()}


def test_a_database_of_todays_schema_made_before_the_migrations_is_adopted(fresh_history_url, week):
    """A history created by `create_all` (no alembic_version) is stamped at the revision its columns match,
    and keeps its plans."""
    cohort, catalog, result, exports = week
    engine = sa.create_engine(fresh_history_url)
    _metadata.create_all(engine)
    engine.dispose()
    with PlanHistory(fresh_history_url) as history:
        plan_id = history.save_plan(result, exports, cohort, catalog)
        assert history.load_plan(plan_id).kpis == result.kpis
    assert revision(fresh_history_url) == HEAD


def test_a_database_from_a_newer_version_is_refused(fresh_history_url):
    with PlanHistory(fresh_history_url) as history:
        with history.engine.execution_options(history_write=True).begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(HistoryError, match=r"revision 9999\) is newer than this version .* \(up to 0003\)"):
        PlanHistory(fresh_history_url)


# --- processes ------------------------------------------------------------------------------------------

SAVER = """
import pickle, sys, time
from pathlib import Path
from optimizer.loop.history import PlanHistory

url, name, week, gate, workers, saves = sys.argv[1:7]
cohort, catalog, result, exports = pickle.loads(Path(week).read_bytes())
Path(gate, name).touch()  # start together: wait until every worker is ready
deadline = time.monotonic() + 120
while len(list(Path(gate).iterdir())) < int(workers) and time.monotonic() < deadline:
    time.sleep(0.005)
history = PlanHistory(url)  # every worker races to create the schema of the new database
for i in range(int(saves)):
    history.save_plan(result, exports, cohort, catalog, label=f"{name}-{i}")
"""

LISTER = """
import sys, time
from pathlib import Path
from optimizer.cli import main

url, name, gate, workers = sys.argv[1:5]
Path(gate, name).touch()
deadline = time.monotonic() + 120
while len(list(Path(gate).iterdir())) < int(workers) and time.monotonic() < deadline:
    time.sleep(0.005)
sys.exit(main(["history", "list", "--history", url, "--json"]))
"""


def test_concurrent_first_use_and_saves_from_processes_lose_nothing(fresh_history_url, week_pickle, tmp_path):
    """Four processes saving and two listing, all opening the same new database at once. Before the schema
    lock, on PostgreSQL one saver died (`UniqueViolation ... pg_type_typname_nsp_index`) and its saves were
    lost, and listings crashed."""
    gate = tmp_path / "gate"
    gate.mkdir()
    savers, listers, saves = 4, 2, 5
    workers = savers + listers
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, fresh_history_url, f"s{n}", str(week_pickle), str(gate)]
            + [str(workers), str(saves)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(savers)
    ] + [
        subprocess.Popen(
            [sys.executable, "-c", LISTER, fresh_history_url, f"l{n}", str(gate), str(workers)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(listers)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    with PlanHistory(fresh_history_url) as history:
        plans = history.list_plans()
        assert sorted(plans["label"]) == sorted(f"s{n}-{i}" for n in range(savers) for i in range(saves))
        assert plans["id"].is_unique
        for plan_id in plans["id"][::5]:
            assert len(history.plan_files(plan_id)) == 4
            assert history.load_plan(plan_id).holdout.sum() == plans["holdout_count"].iloc[0]
    assert revision(fresh_history_url) == HEAD


KILLED = """
import pickle, sys, time
from pathlib import Path
import sqlalchemy as sa
from optimizer.loop.history import PlanHistory

url, week = sys.argv[1:3]
cohort, catalog, result, exports = pickle.loads(Path(week).read_bytes())
history = PlanHistory(url)
for i in range(2):
    history.save_plan(result, exports, cohort, catalog, label=f"kept-{i}")


@sa.event.listens_for(history.engine, "after_cursor_execute")
def hang(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("INSERT INTO PLAN_FILES"):
        print("inside the save", flush=True)  # the plan row is written, the transaction not committed
        time.sleep(600)


history.save_plan(result, exports, cohort, catalog, label="killed")
"""


def test_kill_9_in_the_middle_of_a_save_loses_that_save_only(fresh_history_url, week, week_pickle):
    """A process killed (SIGKILL) inside its save transaction, after the plan row and before the files:
    the plan is not there at all, the earlier ones are whole, and the next save works."""
    cohort, catalog, result, exports = week
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED, fresh_history_url, str(week_pickle)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line.strip() == "inside the save", process.stderr.read()
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    with PlanHistory(fresh_history_url) as history:
        plans = history.list_plans()
        assert sorted(plans["label"]) == ["kept-0", "kept-1"]
        with history.engine.connect() as conn:
            stored_files = conn.execute(sa.text("SELECT COUNT(*) FROM plan_files")).scalar_one()
        assert stored_files == 8  # 4 per kept plan, none of the killed one
        for plan_id in plans["id"]:
            assert history.plan_files(plan_id) == {n: to_csv_bytes(f) for n, f in exports.files().items()}
        new_id = history.save_plan(result, exports, cohort, catalog, label="after")
        assert history.load_plan(new_id).label == "after"
        assert len(history.list_plans()) == 3


# --- outcomes, measurement and recalibration through the CLI --------------------------------------------


def test_outcomes_measurement_and_recalibration(fresh_history_url, week, tmp_path):
    """Outcomes kept against a saved plan; `measure` reads the latest from the history and counts each
    action's treated and holdout customers and churners as the file and the plan say; `recalibrate` writes
    a catalog and re-optimizes."""
    cohort, catalog, result, exports = week
    with PlanHistory(fresh_history_url) as history:
        plan_id = history.save_plan(result, exports, cohort, catalog)
        plan = history.load_plan(plan_id)
        drawn = simulate_outcomes(plan, {int(a): 0.3 for a in catalog["action_id"]}, seed=3)
        content = outcomes_csv_bytes(drawn)
        load_plan_outcomes(plan, content, "drawn.csv")  # valid
        outcome_id = history.save_outcomes(plan_id, content, "drawn.csv", uploaded_by="ana")
        assert history.list_outcomes(plan_id)[["id", "file_name", "uploaded_by"]].values.tolist() == [
            [outcome_id, "drawn.csv", "ana"]
        ]
        assert history.load_outcomes(plan_id) == (content, "drawn.csv")
    code, out, err = run_cli("measure", "--plan", str(plan_id), "--history", fresh_history_url, "--json")
    assert code == 0, err
    measured = {a["action_id"]: a for a in json.loads(out.strip().splitlines()[-1])["actions"]}
    # By hand: the plan's file says who is treated and held out; the outcomes say who churned.
    plan_file = exports.treatment_plan.assign(customer_id=exports.treatment_plan["customer_id"].astype(str))
    churned = dict(zip(drawn["customer_id"].astype(str), drawn["churned"].astype(int), strict=True))
    plan_file["churned"] = plan_file["customer_id"].map(churned)
    for action_id, group in plan_file.groupby("action_id"):
        held = group["holdout"].eq("TRUE")
        row = measured[int(action_id)]
        assert (row["treated_n"], row["holdout_n"]) == (int((~held).sum()), int(held.sum()))
        assert row["treated_churned"] == int(group.loc[~held, "churned"].sum())
        assert row["holdout_churned"] == int(group.loc[held, "churned"].sum())
    out_file = tmp_path / "recalibrated.csv"
    code, out, err = run_cli(
        "recalibrate",
        "--plan",
        str(plan_id),
        "--history",
        fresh_history_url,
        "--out",
        str(out_file),
        "--json",
    )
    assert code == 0, err
    payload = json.loads(out.strip().splitlines()[-1])
    assert payload["outcomes_file"] == "drawn.csv" and payload["reoptimized_status"] == "optimal"
    new_catalog = load_catalog(out_file)
    assert new_catalog["action_id"].tolist() == catalog["action_id"].tolist()


# --- failures: one readable line, exit 2, nothing written -----------------------------------------------


def _refused_url(tmp_path: Path) -> str:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql+psycopg://someone:s3cret@127.0.0.1:{port}/history"


def _corrupt_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.sqlite"
    path.write_bytes(b"this is not a database\n" * 500)
    return f"sqlite:///{path.as_posix()}"


BAD_HISTORIES = {
    # case: (URL maker, what the one line says)
    "garbage URL": (lambda tmp: "not a url at all", "not a valid database URL"),
    "connection refused": (_refused_url, "Connection refused"),
    "corrupt SQLite file": (_corrupt_sqlite, "file is not a database"),
    "unknown driver": (lambda tmp: "postgresql+nodriver://u@127.0.0.1/h", "driver is not installed"),
    "folder that cannot be made": (
        lambda tmp: f"sqlite:///{(tmp / 'file' / 'h.sqlite').as_posix()}",
        "File exists",
    ),
}
COMMANDS = {
    "history list": ["history", "list"],
    "history show": ["history", "show", "--plan", "1"],
    "history export": ["history", "export", "--plan", "1", "--out-dir", "{out}"],
    "measure": ["measure", "--plan", "1"],
    "plan --save": ["plan", "--save", "--out-dir", "{out}", "--date", "2025-11-05"],
}


@pytest.mark.parametrize("case", BAD_HISTORIES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_history_that_cannot_be_used_is_one_line_and_exit_2(case, command, tmp_path, capsys):
    """Before: tracebacks with exit 1 (and `plan --save` had already written its four exports)."""
    (tmp_path / "file").write_text("a file where a folder is needed")
    make_url, says = BAD_HISTORIES[case]
    url = make_url(tmp_path)
    out = tmp_path / "out"
    argv = [a.replace("{out}", str(out)) for a in COMMANDS[command]] + ["--history", url]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: history database "), err
    assert says in err
    assert "Traceback" not in err and "SELECT" not in err and "[SQL" not in err
    assert "s3cret" not in err  # the password is hidden
    assert not out.exists()  # nothing exported


def test_a_missing_postgresql_driver_is_one_line(monkeypatch, tmp_path, capsys):
    """Before: `ModuleNotFoundError: psycopg` with a traceback, after the exports were written."""
    for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    out = tmp_path / "out"
    url = "postgresql+psycopg://u@127.0.0.1:1/h"
    assert main(["plan", "--save", "--out-dir", str(out), "--history", url]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: history database {url}: the database driver is not installed (psycopg): "
        "run pip install -r requirements.txt\n"
    )
    assert not out.exists()


def test_a_save_failing_after_the_exports_says_the_files_were_written(monkeypatch, tmp_path, capsys):
    """The history opened fine but the save itself failed (e.g. the server went away meanwhile)."""
    url = f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}"

    def broken(self, *args, **kwargs):
        raise sa.exc.OperationalError("INSERT INTO plans ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(PlanHistory, "save_plan", lambda self, *a, **k: _guard(self, broken, a, k))
    out = tmp_path / "out"
    assert main(["plan", "--save", "--out-dir", str(out), "--history", url, "--date", "2025-11-05"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: the export files were written but the plan was not saved: "
        f"history database {url}: server closed the connection\n"
    )
    # The four files and the week's excluded list (planned against the history), but no saved plan.
    assert len(list(out.iterdir())) == 5
    with PlanHistory(url) as history:
        assert history.plan_ids() == []


def _guard(history, function, args, kwargs):
    from optimizer.loop.history import _history_errors

    with _history_errors(history.url):
        return function(history, *args, **kwargs)


def test_corrupt_stored_data_is_a_history_error(fresh_history_url, week):
    cohort, catalog, result, exports = week
    with PlanHistory(fresh_history_url) as history:
        plan_id = history.save_plan(result, exports, cohort, catalog)
        with history.engine.execution_options(history_write=True).begin() as conn:
            conn.execute(plans_table.update().values(assignments_csv_gz=gzip.compress(b"customer_id\n1\n")))
        with pytest.raises(HistoryError, match=f"plan {plan_id} assignments: the stored data does not match"):
            history.load_plan(plan_id)
