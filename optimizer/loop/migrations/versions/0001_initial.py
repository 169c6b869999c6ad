"""The first plan history schema (commit 044690e): assignments one row each in `plan_rows`, export files
stored as they are in `plan_files.content`.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
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
        sa.Column("input_fingerprint", sa.String(64), nullable=False),
        sa.Column("cohort_dtypes", sa.JSON, nullable=False),
        sa.Column("cohort_csv_gz", sa.LargeBinary, nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
    )
    op.create_index("ix_plans_input_fingerprint", "plans", ["input_fingerprint"])
    op.create_table(
        "plan_rows",
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
    op.create_table(
        "plan_files",
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "plan_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("uploaded_at", sa.String(40), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_plan_outcomes_plan_id", "plan_outcomes", ["plan_id"])


def downgrade() -> None:
    raise NotImplementedError("the plan history is never downgraded")
