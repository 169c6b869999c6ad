"""The app's plan history in AppTest: the database named by `[history] url` in the secrets (PostgreSQL
included), and every failure of the database shown as one readable line on the page, never a traceback."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest
import sqlalchemy as sa
from app_support import all_text, app_session

from optimizer import PlanSettings, build_exports, load_bundled_cohort, load_catalog, solve_plan
from optimizer.loop.history import PlanHistory, plans_table


@pytest.fixture(scope="module")
def week():
    cohort, catalog = load_bundled_cohort(), load_catalog()
    result = solve_plan(cohort, catalog, PlanSettings(budget=300))
    return cohort, catalog, result, build_exports(result.assignments, plan_date=dt.date(2025, 11, 5))


def save(url: str, week, label: str) -> int:
    cohort, catalog, result, exports = week
    with PlanHistory(url) as history:
        return history.save_plan(result, exports, cohort, catalog, label=label)


def history_page(url: str):
    return app_session("history", cohort=False, secrets={"history": {"url": url}}).run()


def test_the_secrets_history_url_is_the_database_used(fresh_history_url, week, history_database):
    """`[history] url` wins over $PLAYLISTPRO_HISTORY_URL (the session's SQLite file here): on PostgreSQL
    and SQLite the page lists and opens the plan saved there."""
    assert fresh_history_url != history_database
    save(fresh_history_url, week, "in the secrets database")
    at = history_page(fresh_history_url)
    assert not at.exception, [e.value for e in at.exception]
    text = all_text(at)
    assert f"Stored in {sa.engine.make_url(fresh_history_url).render_as_string()}" in text
    listed = next(d.value for d in at.dataframe if "Net value" in d.value.columns)
    assert listed[["Plan", "Label", "Budget"]].values.tolist() == [[1, "in the secrets database", 300.0]]
    kpis = week[2].kpis
    assert listed["Treated"].tolist() == [kpis.customers_treated]
    assert "Plan date 2025-11-05" in text  # the plan was opened (read from that database)
    assert not at.error


def _corrupt_file(tmp_path: Path, week) -> str:
    path = tmp_path / "corrupt.sqlite"
    path.write_bytes(b"not a database\n" * 400)
    return f"sqlite:///{path.as_posix()}"


def _refused(tmp_path: Path, week) -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql+psycopg://team:s3cret@127.0.0.1:{port}/history"


def _corrupt_plan(tmp_path: Path, week) -> str:
    """A database that opens and lists its plan, whose stored assignments no longer match their sha256."""
    url = f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}"
    save(url, week, "damaged")
    with PlanHistory(url) as history, history.engine.execution_options(history_write=True).begin() as conn:
        conn.execute(plans_table.update().values(assignments_csv_gz=gzip.compress(b"customer_id\n1\n")))
    return url


FAILURES = {
    # case: (database maker, what the page says); before, each was a traceback on the page (the opening
    # failures as an error naming only the exception's type)
    "corrupt SQLite file": (_corrupt_file, "file is not a database"),
    "connection refused": (_refused, "Connection refused"),
    "garbage URL": (lambda tmp, week: "no database here", "not a valid database URL"),
    "a plan's stored data damaged": (_corrupt_plan, "plan 1 assignments: the stored data does not match"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_history_failure_is_a_readable_message_on_the_page(case, tmp_path, week):
    make, says = FAILURES[case]
    at = history_page(make(tmp_path, week))
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("The plan history cannot be used: "), errors
    assert says in errors[0]
    assert "Traceback" not in errors[0] and "SELECT" not in errors[0] and "s3cret" not in errors[0]
