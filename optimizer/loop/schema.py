"""The plan history's storage: its tables, the engine for a URL (SQLite tuned for concurrent writers), the
one-line `HistoryError` for every database failure, and the Alembic migrations applied once under a lock.

`optimizer.loop.history` (the `PlanHistory` store) and `optimizer.loop.contacts` (the contact history) build
on it.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from optimizer.data import bundled_data_dir
from optimizer.errors import HistoryError

HISTORY_URL_ENV = "PLAYLISTPRO_HISTORY_URL"
SCHEMA_VERSION = 1
SQLITE_BUSY_TIMEOUT_SECONDS = 60.0
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key serialising schema creation and upgrades ("plhist" as a number).
POSTGRES_SCHEMA_LOCK = 0x706C68697374

_metadata = sa.MetaData()

plans_table = sa.Table(
    "plans",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.String(40), nullable=False),  # ISO 8601, UTC
    sa.Column("label", sa.String(200), nullable=False, default=""),
    sa.Column("created_by", sa.String(200), nullable=False, default=""),
    sa.Column("plan_date", sa.String(10), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("solver", sa.String(20), nullable=False),
    sa.Column("holdout_rate", sa.Float, nullable=False),
    sa.Column("holdout_seed", sa.BigInteger, nullable=False),
    sa.Column("holdout_count", sa.Integer, nullable=False),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("customers_treated", sa.Integer, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("kpis", sa.JSON, nullable=False),
    sa.Column("solver_report", sa.JSON, nullable=False),
    sa.Column("constraints", sa.JSON, nullable=False),
    sa.Column("catalog", sa.JSON, nullable=False),
    sa.Column("cohort_sha256", sa.String(64), nullable=False),
    sa.Column("catalog_sha256", sa.String(64), nullable=False),
    sa.Column("input_fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("cohort_dtypes", sa.JSON, nullable=False),
    sa.Column("cohort_csv_gz", sa.LargeBinary, nullable=False),  # the full cohort, to re-optimize
    # The assignments (PlanResult.assignments) plus a boolean `holdout` column, as gzip'd CSV.
    sa.Column("assignments_sha256", sa.String(64), nullable=False),
    sa.Column("assignments_dtypes", sa.JSON, nullable=False),
    sa.Column("assignments_csv_gz", sa.LargeBinary, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("withdrawn_at", sa.String(40), nullable=True),  # set: the plan was not executed (no contacts)
    sa.Column("contact_policy", sa.JSON, nullable=True),  # the contact policies it was planned under
)

# The contact history: one row per customer a plan assigned an action (held out or not).
plan_contacts_table = sa.Table(
    "plan_contacts",
    _metadata,
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("plan_date", sa.String(10), nullable=False, index=True),
    sa.Column("action_id", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("holdout", sa.Boolean, nullable=False),
    sa.Index("ix_plan_contacts_customer_id", "customer_id"),
)

# Settings of the history itself (the global control group's salt).
history_meta_table = sa.Table(
    "history_meta",
    _metadata,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
CONTROL_SALT_KEY = "global_control_salt"

plan_files_table = sa.Table(
    "plan_files",
    _metadata,
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),  # of the file's bytes
    sa.Column("content_gz", sa.LargeBinary, nullable=False),  # the file's bytes, gzip'd
)

plan_outcomes_table = sa.Table(
    "plan_outcomes",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("uploaded_at", sa.String(40), nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False, default=""),
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),  # the uploaded CSV, as uploaded
)

_CONSTRAINT_FLOATS = ["limit", "used", "slack", "utilization_pct"]


class PlanNotFound(ValueError):
    """No saved plan (or outcome file) with that id."""


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: never echo it (it may hold a password)
        return "(an invalid database URL)"


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= 300 else line[:297] + "..."


def _reason(error: BaseException) -> str:
    """A one-line reason for a database failure: the driver's own first line, never the SQL."""
    if isinstance(error, ModuleNotFoundError | sa.exc.NoSuchModuleError):
        name = getattr(error, "name", None) or _first_line(error)
        return f"the database driver is not installed ({name}): run pip install -r requirements.txt"
    if isinstance(error, sa.exc.ArgumentError):
        return "not a valid database URL (e.g. sqlite:///path/history.sqlite or postgresql+psycopg://user@host/db)"
    if isinstance(error, sa.exc.DBAPIError) and error.orig is not None:
        reason = _first_line(error.orig) or type(error.orig).__name__
        if "file is not a database" in reason:
            reason += " (the file is not a SQLite database, or it is corrupt)"
        return reason
    if isinstance(error, OSError):
        return f"{error.filename or ''}: {error.strerror or error}".lstrip(": ")
    return _first_line(error) or type(error).__name__


@contextmanager
def _history_errors(url: str) -> Iterator[None]:
    """Turn a database failure into a `HistoryError` (PlanNotFound and HistoryError pass through)."""
    try:
        yield
    except (HistoryError, PlanNotFound):
        raise
    except (sa.exc.SQLAlchemyError, ModuleNotFoundError, OSError) as error:
        raise HistoryError(f"history database {_safe_url(url)}: {_reason(error)}") from error


def _guarded(method: Callable[_P, _T]) -> Callable[_P, _T]:
    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with _history_errors(args[0].url):  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return call


# --- URL and engine --------------------------------------------------------------------------------


def default_history_url() -> str:
    """`sqlite:///<repository>/data/history.sqlite`."""
    return f"sqlite:///{(bundled_data_dir() / 'history.sqlite').as_posix()}"


def resolve_history_url(url: str | None = None) -> str:
    """The history database URL: the argument, else $PLAYLISTPRO_HISTORY_URL, else the default file."""
    return url or os.environ.get(HISTORY_URL_ENV) or default_history_url()


def create_history_engine(url: str) -> Engine:
    """An engine for the history database; for SQLite: WAL, busy timeout, BEGIN IMMEDIATE per write.
    Raises `HistoryError` (a garbage URL, a driver that is not installed, a folder that cannot be made)."""
    with _history_errors(url):
        return _create_engine(url)


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        # The driver must not open transactions itself: we emit BEGIN (IMMEDIATE) ourselves below, so a
        # writer takes the write lock up front and concurrent writers queue on the busy timeout instead of
        # failing on a lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        write = connection.get_execution_options().get("history_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- the schema: Alembic migrations, applied once under a lock ----------------------------------------


def _alembic_config(connection: sa.Connection):
    from alembic.config import Config  # imported when a database is opened, not with the module

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _revisions() -> tuple[str, frozenset[str]]:
    """(the head revision, every known revision) of the shipped migrations."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    if head is None:
        raise HistoryError("the shipped history migrations have no head revision")
    return head, frozenset(r.revision for r in script.walk_revisions())


def _current_revision(connection: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _unversioned_revision(connection: sa.Connection) -> str | None:
    """The revision of a history made before the migrations existed (no alembic_version), from its columns;
    None for an empty database."""
    inspector = sa.inspect(connection)
    if not inspector.has_table("plans"):
        return None
    if inspector.has_table("plan_contacts"):
        return "0003"
    columns = {c["name"] for c in inspector.get_columns("plans")}
    return "0002" if "assignments_sha256" in columns else "0001"


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the history schema to the shipped head revision, once across processes.

    Cheap when the database is current (one read, no lock). Otherwise one transaction takes the schema lock
    (PostgreSQL: `pg_advisory_xact_lock`; SQLite: BEGIN IMMEDIATE, the database's write lock), looks again
    (another process may have upgraded meanwhile), stamps a database made before the migrations existed with
    the revision its columns match, and runs the migrations; both databases roll DDL back with the
    transaction, so a failed upgrade leaves the database as it was.
    """
    head, known = _revisions()
    with engine.connect() as connection:
        if _current_revision(connection) == head:
            return
    from alembic import command

    with engine.execution_options(history_write=True).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_SCHEMA_LOCK})
        current = _current_revision(connection)
        if current == head:
            return
        if current is not None and current not in known:
            raise HistoryError(
                f"history database {_safe_url(str(engine.url))}: its schema (revision {current}) is newer "
                f"than this version of the optimizer knows (up to {head}); upgrade the optimizer"
            )
        config = _alembic_config(connection)
        if current is None and (found := _unversioned_revision(connection)) is not None:
            command.stamp(config, found)
        command.upgrade(config, "head")
