"""The contact history of the weekly program, as the `PlanHistory` store offers it (a mixin: it uses the
store's engine and write transaction).

Every saved plan's assigned customers are rows of `plan_contacts` (plan id, plan date, customer id, action,
channel, held out), indexed by plan date and customer id; a withdrawn plan (`plans.withdrawn_at`) stops
counting.
The global control group's salt is created once per history in `history_meta`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from optimizer.loop.schema import (
    CONTROL_SALT_KEY,
    POSTGRES_SCHEMA_LOCK,
    PlanNotFound,
    _guarded,
    _now,
    _safe_url,
    history_meta_table,
    plan_contacts_table,
    plans_table,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class ContactHistory:
    """The contact-history part of `PlanHistory`."""

    url: str
    engine: Engine

    def _write(self):
        return self.engine.execution_options(history_write=True).begin()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden (for messages)."""
        return _safe_url(self.url)

    @_guarded
    def contacts(
        self,
        before: dt.date | None = None,
        plan_ids: list[int] | None = None,
        *,
        since: dt.date | None = None,
    ) -> pd.DataFrame:
        """The contact history (`optimizer.loop.policies.CONTACT_COLUMNS`) of the saved plans that were not
        withdrawn: dated strictly before `before` and on or after `since` when given, of `plan_ids` when
        given. One query on the plan-date index, fetched through the driver's cursor (no per-row objects)."""
        from optimizer.loop.policies import CONTACT_COLUMNS

        c, p = plan_contacts_table, plans_table
        query = (
            sa.select(c.c.plan_id, c.c.plan_date, c.c.customer_id, c.c.action_id, c.c.channel, c.c.holdout)
            .join(p, p.c.id == c.c.plan_id)
            .where(p.c.withdrawn_at.is_(None))
        )
        if before is not None:
            query = query.where(c.c.plan_date < before.isoformat())
        if since is not None:
            query = query.where(c.c.plan_date >= since.isoformat())
        if plan_ids is not None:
            query = query.where(c.c.plan_id.in_([int(i) for i in plan_ids]))
        with self.engine.connect() as conn:
            compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
            params = compiled.params
            args = [params[name] for name in compiled.positiontup or ()] if compiled.positional else params
            cursor = conn.connection.cursor()
            try:
                cursor.execute(str(compiled), args)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        frame = pd.DataFrame.from_records(rows, columns=CONTACT_COLUMNS)
        return frame.astype(
            {
                "plan_id": "int64",
                "customer_id": object,
                "action_id": "int64",
                "channel": object,
                "holdout": bool,
            }
        ).assign(plan_date=lambda f: pd.to_datetime(f["plan_date"]))

    @_guarded
    def withdraw_plan(self, plan_id: int) -> None:
        """Mark a plan as not executed: it stays in the history but stops counting as contacts."""
        plan_id = int(plan_id)
        with self._write() as conn:
            done = conn.execute(
                plans_table.update().where(plans_table.c.id == plan_id).values(withdrawn_at=_now())
            )
        if done.rowcount == 0:
            raise PlanNotFound(f"no saved plan with id {plan_id} in {self.safe_url}")

    @_guarded
    def contact_policy(self, plan_id: int) -> dict | None:
        """The contact policies a plan was made under (None: planned without them)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(plans_table.c.contact_policy).where(plans_table.c.id == int(plan_id))
            ).first()
        if value is None:
            raise PlanNotFound(f"no saved plan with id {int(plan_id)} in {self.safe_url}")
        return value[0]

    @_guarded
    def withdrawn(self, plan_id: int) -> bool:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(plans_table.c.withdrawn_at).where(plans_table.c.id == int(plan_id))
            ).first()
        if value is None:
            raise PlanNotFound(f"no saved plan with id {int(plan_id)} in {self.safe_url}")
        return value[0] is not None

    def week_contacts(self, plan_date: dt.date, policy) -> tuple[pd.DataFrame, str | None]:
        """What a week dated `plan_date` is planned against under `policy` (a `ContactPolicy`): the contacts
        of the plans dated before it that a policy can still look at (`policy.lookback_days`), and the
        global control group's salt when the policy has one."""
        since = plan_date - dt.timedelta(days=policy.lookback_days)
        contacts = self.contacts(before=plan_date, since=since)
        return contacts, (self.control_salt() if policy.global_control else None)

    @_guarded
    def control_salt(self) -> str:
        """The global control group's salt: created once per history (the first caller wins), then fixed."""
        from optimizer.loop.policies import new_salt

        table = history_meta_table
        query = sa.select(table.c.value).where(table.c.key == CONTROL_SALT_KEY)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        if found is not None:
            return str(found)
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_SCHEMA_LOCK + 1})
            found = conn.execute(query).scalar()
            if found is None:
                found = new_salt()
                conn.execute(sa.insert(table).values(key=CONTROL_SALT_KEY, value=found))
        return str(found)

    @_guarded
    def plan_ids_between(self, since: dt.date | None, until: dt.date | None) -> list[int]:
        """Ids of the saved, not withdrawn plans dated within [since, until] (either end open)."""
        query = sa.select(plans_table.c.id).where(plans_table.c.withdrawn_at.is_(None))
        if since is not None:
            query = query.where(plans_table.c.plan_date >= since.isoformat())
        if until is not None:
            query = query.where(plans_table.c.plan_date <= until.isoformat())
        with self.engine.connect() as conn:
            return sorted(int(i) for i in conn.execute(query.order_by(plans_table.c.id)).scalars())
