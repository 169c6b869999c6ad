"""The assignments with their holdout flags as one gzip'd CSV per plan (`plans.assignments_*`), export files
gzip'd (`plan_files.content_gz`); `plan_rows` dropped (commit e978f58).

Existing plans are converted: their `plan_rows` become the CSV the current code writes (the same columns,
types and values: loading a converted plan gives what the old code loaded), and their files are gzip'd.

Revision ID: 0002
Revises: 0001
"""

import gzip
import hashlib
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from alembic import op

from optimizer.csvout import csv_bytes

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies (a migration must not change when the live code does).
ASSIGNMENT_COLUMNS = [
    "customer_id",
    "subscription_type",
    "payment_plan",
    "churn_probability",
    "clv",
    "risk_tier",
    "value_tier",
    "action_id",
    "action_name",
    "channel",
    "cost",
    "uplift",
    "expected_churn_reduction",
    "expected_retained_clv",
    "net_value",
]
TEXTS = ["subscription_type", "payment_plan", "risk_tier", "value_tier", "action_name", "channel"]
FLOATS = ["churn_probability", "clv", "cost", "uplift", "expected_churn_reduction", "expected_retained_clv"]
FLOATS += ["net_value"]

plans = sa.table(
    "plans",
    sa.column("id", sa.Integer),
    sa.column("cohort_dtypes", sa.JSON),
    sa.column("assignments_sha256", sa.String),
    sa.column("assignments_dtypes", sa.JSON),
    sa.column("assignments_csv_gz", sa.LargeBinary),
)
plan_rows = sa.table("plan_rows", *(sa.column(c) for c in ["plan_id", "position", *ASSIGNMENT_COLUMNS]))
plan_rows.append_column(sa.column("holdout", sa.Boolean))
plan_files = sa.table(
    "plan_files",
    sa.column("plan_id", sa.Integer),
    sa.column("position", sa.Integer),
    sa.column("content", sa.LargeBinary),
    sa.column("content_gz", sa.LargeBinary),
)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)


def _assignments_blob(rows: Sequence[Any], id_kind: str) -> tuple[str, dict, bytes]:
    """(sha256, column kinds, gzip'd CSV) of a plan's rows, as `PlanHistory.save_plan` writes them."""
    records = [dict(r._mapping) for r in rows]
    column = {c: [r[c] for r in records] for c in [*ASSIGNMENT_COLUMNS, "holdout"]}
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(column["customer_id"], dtype=str).astype(
                "int64" if id_kind == "int" else str
            ),
            **{c: pd.Series(column[c], dtype=str) for c in TEXTS},
            **{c: pd.Series(column[c], dtype="float64") for c in FLOATS},
            "action_id": pd.Series(column["action_id"], dtype="int64"),
            "holdout": pd.Series([bool(v) for v in column["holdout"]], dtype=bool),
        }
    )[[*ASSIGNMENT_COLUMNS, "holdout"]]
    kinds = {c: "str" for c in TEXTS} | {c: "float" for c in FLOATS}
    kinds |= {"customer_id": "int" if id_kind == "int" else "str", "action_id": "int", "holdout": "bool"}
    # The history's own blob writer (quoting only, values kept exactly), as `PlanHistory` writes new plans.
    data = csv_bytes(frame, neutralize=False)
    return hashlib.sha256(data).hexdigest(), {c: kinds[c] for c in frame.columns}, _gzip(data)


def _add_not_null(table: str, column: sa.Column, sqlite_default) -> None:
    """Add a column that is filled next. SQLite adds a NOT NULL column only with a default (and cannot drop
    it later without rebuilding the table, which would cascade-delete the plans' files): it keeps the default,
    which no write uses. Other databases add it nullable; `_require` then makes it NOT NULL."""
    if op.get_bind().dialect.name == "sqlite":
        column.nullable, column.server_default = False, sa.DefaultClause(sqlite_default)
    op.add_column(table, column)


def _require(table: str, name: str, type_) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(table, name, existing_type=type_, nullable=False)


def upgrade() -> None:
    bind = op.get_bind()
    _add_not_null("plans", sa.Column("assignments_sha256", sa.String(64), nullable=True), "")
    _add_not_null("plans", sa.Column("assignments_dtypes", sa.JSON, nullable=True), "{}")
    _add_not_null("plans", sa.Column("assignments_csv_gz", sa.LargeBinary, nullable=True), sa.text("x''"))
    for plan_id, cohort_dtypes in bind.execute(sa.select(plans.c.id, plans.c.cohort_dtypes)).all():
        rows = bind.execute(
            sa.select(plan_rows).where(plan_rows.c.plan_id == plan_id).order_by(plan_rows.c.position)
        ).all()
        digest, kinds, blob = _assignments_blob(rows, (cohort_dtypes or {}).get("customer_id", "str"))
        bind.execute(
            plans.update()
            .where(plans.c.id == plan_id)
            .values(assignments_sha256=digest, assignments_dtypes=kinds, assignments_csv_gz=blob)
        )
    _require("plans", "assignments_sha256", sa.String(64))
    _require("plans", "assignments_dtypes", sa.JSON)
    _require("plans", "assignments_csv_gz", sa.LargeBinary)

    op.add_column("plan_files", sa.Column("content_gz", sa.LargeBinary, nullable=True))
    for plan_id, position, content in bind.execute(
        sa.select(plan_files.c.plan_id, plan_files.c.position, plan_files.c.content)
    ).all():
        bind.execute(
            plan_files.update()
            .where(plan_files.c.plan_id == plan_id, plan_files.c.position == position)
            .values(content_gz=_gzip(bytes(content)))
        )
    # plan_files has no dependants: rebuilding it (what SQLite needs to drop a column) is safe.
    with op.batch_alter_table("plan_files") as batch:
        batch.alter_column("content_gz", existing_type=sa.LargeBinary, nullable=False)
        batch.drop_column("content")
    op.drop_table("plan_rows")


def downgrade() -> None:
    raise NotImplementedError("the plan history is never downgraded")
