"""Shared fixtures: the bundled cohort and report catalog in data/ (every test may use them); the reference
folder ../shared/reference/ (only the tests of the report's published numbers; never copied into the
repository); fresh history databases on SQLite and on the test PostgreSQL server."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared_reference import require_reference  # noqa: E402  (pytest puts tests/ on sys.path)


@pytest.fixture(scope="session", autouse=True)
def history_database(tmp_path_factory):
    """Every test's plan history is a temporary SQLite file, never the repository's data/history.sqlite
    (tests that need their own database set PLAYLISTPRO_HISTORY_URL again)."""
    from optimizer.loop.history import HISTORY_URL_ENV

    url = f"sqlite:///{(tmp_path_factory.mktemp('history') / 'history.sqlite').as_posix()}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HISTORY_URL_ENV, url)
        yield url


# A PostgreSQL server for the history tests (`eval "$(bash tests/pg_server.sh start)"` starts one; .ci/run
# does): the URL of a database on it that the tests may use to create and drop databases of their own.
POSTGRES_URL_ENV = "PLAYLISTPRO_TEST_POSTGRES_URL"
HISTORY_BACKENDS = ["sqlite", "postgresql"]


def postgres_server_url() -> str:
    """The test PostgreSQL server's URL; skips without one, fails in CI (CI=true), where one is started."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        message = f"no PostgreSQL server for the history tests (${POSTGRES_URL_ENV}; tests/pg_server.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": .ci/run starts one, so in CI this is a failure")
        pytest.skip(message)
    return url


def new_history_url(backend: str, folder: Path) -> tuple[str, object]:
    """(URL of a new, empty database, its cleanup): a SQLite file in `folder`, or a new PostgreSQL
    database on the test server."""
    if backend == "sqlite":
        return f"sqlite:///{(folder / f'history-{uuid.uuid4().hex[:8]}.sqlite').as_posix()}", lambda: None
    import sqlalchemy as sa

    server = postgres_server_url()
    name = f"history_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    return url, drop


@pytest.fixture(params=HISTORY_BACKENDS)
def fresh_history_url(request, tmp_path) -> str:
    """The URL of a new, empty history database, once on SQLite and once on the test PostgreSQL server."""
    url, drop = new_history_url(request.param, tmp_path)
    yield url
    drop()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return require_reference()


@pytest.fixture(scope="session")
def reference_cohort(reference_dir):
    from optimizer import load_cohort

    return load_cohort(reference_dir / "prediction_250.csv", reference_dir / "test_250.csv")


@pytest.fixture(scope="session")
def report_catalog(reference_dir):
    from optimizer import load_catalog

    return load_catalog(reference_dir / "actions_report_2025.csv")


@pytest.fixture(scope="session")
def bundled_cohort():
    """The bundled synthetic 250-customer cohort (data/prediction_250.csv + data/test_250.csv)."""
    from optimizer import load_bundled_cohort

    return load_bundled_cohort()


@pytest.fixture(scope="session")
def bundled_report_catalog():
    """The report's 8-action catalog as shipped for the app's report preset (data/catalog_report_2025.csv)."""
    from optimizer import load_catalog
    from optimizer.data import bundled_data_dir

    return load_catalog(bundled_data_dir() / "catalog_report_2025.csv")
