"""Alembic environment of the plan history: runs on the connection `optimizer.loop.history` hands over.

The history upgrades itself on first use (`PlanHistory`), inside one transaction that holds the schema lock
(PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE); this file only runs the migrations on it.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the plan history migrations run on first use of optimizer.loop.history.PlanHistory, "
        "not from the alembic command line"
    )
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():  # the caller's transaction: nothing is committed here
    context.run_migrations()
