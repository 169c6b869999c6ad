"""The contact history of the weekly program: `plan_contacts` (one row per customer a saved plan assigned an
action, held out or not, indexed by plan date and customer id), `plans.withdrawn_at` (a withdrawn plan was not
executed and stops counting), `plans.contact_policy` (the policies a plan was made under) and `history_meta`
(the global control group's salt, created once per history).

Existing plans get their contact rows from their stored assignments (customer id, action, channel, holdout).

Revision ID: 0003
Revises: 0002
"""

import gzip
import io

import pandas as pd
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

plans = sa.table(
    "plans",
    sa.column("id", sa.Integer),
    sa.column("plan_date", sa.String),
    sa.column("assignments_csv_gz", sa.LargeBinary),
)
plan_contacts = sa.table(
    "plan_contacts",
    sa.column("plan_id", sa.Integer),
    sa.column("customer_id", sa.String),
    sa.column("plan_date", sa.String),
    sa.column("action_id", sa.BigInteger),
    sa.column("channel", sa.String),
    sa.column("holdout", sa.Boolean),
)


def upgrade() -> None:
    op.add_column("plans", sa.Column("withdrawn_at", sa.String(40), nullable=True))
    op.add_column("plans", sa.Column("contact_policy", sa.JSON, nullable=True))
    op.create_table(
        "plan_contacts",
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("plan_date", sa.String(10), nullable=False),
        sa.Column("action_id", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("holdout", sa.Boolean, nullable=False),
    )
    op.create_index("ix_plan_contacts_plan_date", "plan_contacts", ["plan_date"])
    op.create_index("ix_plan_contacts_customer_id", "plan_contacts", ["customer_id"])
    op.create_table(
        "history_meta",
        sa.Column("key", sa.String(50), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    bind = op.get_bind()
    for plan_id, plan_date, blob in bind.execute(
        sa.select(plans.c.id, plans.c.plan_date, plans.c.assignments_csv_gz)
    ).all():
        rows = pd.read_csv(io.BytesIO(gzip.decompress(bytes(blob))), dtype=str, keep_default_na=False)
        if rows.empty:
            continue
        bind.execute(
            sa.insert(plan_contacts),
            [
                {
                    "plan_id": plan_id,
                    "customer_id": customer,
                    "plan_date": plan_date,
                    "action_id": int(action),
                    "channel": channel,
                    "holdout": holdout.strip().lower() == "true",
                }
                for customer, action, channel, holdout in rows[
                    ["customer_id", "action_id", "channel", "holdout"]
                ].itertuples(index=False)
            ],
        )


def downgrade() -> None:
    op.drop_table("history_meta")
    op.drop_index("ix_plan_contacts_customer_id", "plan_contacts")
    op.drop_index("ix_plan_contacts_plan_date", "plan_contacts")
    op.drop_table("plan_contacts")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("contact_policy")
        batch.drop_column("withdrawn_at")
