"""A multi-week simulation of the weekly program on the synthetic customer base, with a known truth.

Every week (dated seven days after the previous one):

1. the synthetic customer base (`optimizer.churn.generate`, `BASE_PER_COHORT` x the cohort size customers)
   drifts: each customer's weekly listening hours follow a multiplicative random walk and the skip rate an
   additive one, so churn probabilities drift from week to week;
2. a cohort of `cohort_size` customers is drawn from the base (customers recur across weeks) and scored by the
   committed churn model, then loaded through the product's own loader;
3. the week is planned with the contact policies against the contact history of the earlier weeks
   (`optimizer.loop.weekly.plan_week`), and its holdout drawn with a fresh seed;
4. its 30-day outcomes are drawn from the truth: every customer churns with its churn probability p (the
   model's calibrated probability stands for the true risk), a treated (executed) customer of action k with
   p x (1 - true uplift of k) (`TRUE_UPLIFT`, documented in docs/weekly_simulation.md); holdout, control and
   unselected customers with p;
5. outcomes arrive when their 30-day window has closed: the weeks dated at least 30 days before this week are
   measured pooled (`optimizer.loop.pooled.measure_pooled`); at `recalibrate_week` the catalog is recalibrated
   from that pooled evidence and used from then on.

The rows report each week: customers treated and held out, exclusions by reason, the pooled measured uplift
per action with its 95% interval beside the truth, and the cumulative true expected net value of the
executed treatments (sum of p x true uplift x CLV - cost). Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.catalog import load_catalog
from optimizer.exports import holdout_flags
from optimizer.loop.outcomes import SufficiencyRule
from optimizer.loop.policies import ContactPolicy
from optimizer.loop.pooled import MeasuredWeek, measure_pooled
from optimizer.loop.recalibrate import recalibrate_catalog
from optimizer.loop.weekly import contacts_of_plan, plan_week
from optimizer.model import PlanSettings

# The simulated truth: each action's true relative uplift (churn reduction of a treated customer). The
# catalog's estimates are optimistic, as the guide warns (measured uplifts of 5-12% are typical).
TRUE_UPLIFT = {1: 0.05, 2: 0.10, 3: 0.15, 4: 0.10, 5: 0.12, 6: 0.12, 7: 0.14, 8: 0.20}
BASE_PER_COHORT = 4
MEASUREMENT_LAG_DAYS = 30
HOURS_DRIFT = 0.08  # sd of the weekly log-change of listening hours
SKIP_DRIFT = 0.02  # sd of the weekly change of the skip rate
START = dt.date(2026, 1, 5)  # a Monday


@dataclass(frozen=True)
class SimulatedWeek:
    week: int
    plan_date: dt.date
    cohort: int
    treated: int  # executed treatments (holdout excluded)
    held_out: int
    excluded: dict[str, int]
    measured_weeks: int  # weeks whose outcomes had arrived and were pooled
    uplift: pd.DataFrame  # per action: measured, ci_low, ci_high, true, treated_n, holdout_n, sufficient
    true_net_value: float  # this week's executed treatments, at the true uplifts
    cumulative_true_net_value: float
    recalibrated: bool = False

    def to_dict(self) -> dict:
        uplift = self.uplift.astype(object).where(self.uplift.notna(), None)
        return {
            "week": self.week,
            "plan_date": self.plan_date.isoformat(),
            "cohort": self.cohort,
            "treated": self.treated,
            "held_out": self.held_out,
            "excluded": self.excluded,
            "measured_weeks": self.measured_weeks,
            "uplift": uplift.to_dict(orient="records"),
            "true_net_value": round(self.true_net_value, 2),
            "cumulative_true_net_value": round(self.cumulative_true_net_value, 2),
            "recalibrated": self.recalibrated,
        }


@dataclass
class Simulation:
    weeks: list[SimulatedWeek] = field(default_factory=list)
    contacts: pd.DataFrame | None = None  # the contact history the weeks built (CONTACT_COLUMNS)
    control: set[str] = field(default_factory=set)  # customers the control group excluded in some week
    first_sufficient: dict[int, int] = field(
        default_factory=dict
    )  # action -> first week with enough evidence
    true_uplift: dict[int, float] = field(default_factory=dict)


def _drift(base: pd.DataFrame, rng: np.random.Generator) -> None:
    n = len(base)
    base["weekly_hours"] = np.clip(base["weekly_hours"] * np.exp(rng.normal(0.0, HOURS_DRIFT, n)), 0.1, 80.0)
    base["song_skip_rate"] = np.clip(base["song_skip_rate"] + rng.normal(0.0, SKIP_DRIFT, n), 0.0, 1.0)


def _cohort(base: pd.DataFrame, size: int, rng: np.random.Generator, model) -> pd.DataFrame:
    from optimizer.churn.export import features_csv, predictions_csv
    from optimizer.churn.score import score_customers
    from optimizer.data import load_cohort

    drawn = base.iloc[np.sort(rng.choice(len(base), size=size, replace=False))]
    scored = score_customers(drawn.drop(columns="churned"), model, source="simulated base")
    return load_cohort(
        predictions_csv(scored).encode(),
        features_csv(scored).encode(),
        predictions_name="simulated predictions",
        features_name="simulated features",
    )


def simulate_weeks(
    weeks: int = 12,
    cohort_size: int = 250,
    seed: int = 1,
    *,
    settings: PlanSettings | None = None,
    policy: ContactPolicy | None = None,
    catalog: pd.DataFrame | None = None,
    recalibrate_week: int | None = None,
    true_uplift: dict[int, float] | None = None,
    holdout_rate: float = 0.10,
    rule: SufficiencyRule | None = None,
    solver: str = "auto",
    on_week: Callable[[SimulatedWeek], None] | None = None,
    history=None,
) -> Simulation:
    """Run the weekly program for `weeks` weeks on the synthetic base (see the module docstring).

    `history` (a `PlanHistory`): every week is saved there with its exports and its outcomes, and the contact
    history and the control group's salt are read from it (as `plan --save` does) instead of memory.
    """
    from optimizer.churn.generate import generate_customers
    from optimizer.churn.model import ChurnModel
    from optimizer.churn.paths import DEFAULT_MODEL_DIR

    if weeks < 1 or cohort_size < 1:
        raise ValueError("weeks and cohort_size must be at least 1")
    truth = {**TRUE_UPLIFT, **(true_uplift or {})}
    rng = np.random.default_rng(seed)
    base = generate_customers(BASE_PER_COHORT * cohort_size, seed=seed)
    model = ChurnModel.load(DEFAULT_MODEL_DIR)
    catalog = load_catalog() if catalog is None else catalog
    settings = settings or PlanSettings()
    policy = policy or ContactPolicy()
    # The control group's salt: fixed by the seed, so a simulation repeats exactly (a history makes its own).
    salt = f"{seed:016x}"[-16:] if policy.global_control else None
    if history is not None and policy.global_control:
        salt = history.control_salt()
    contacts: list[pd.DataFrame] = []
    measured: list[tuple[dt.date, MeasuredWeek]] = []
    result = Simulation(true_uplift=truth)
    cumulative = 0.0
    for week in range(1, weeks + 1):
        plan_date = START + dt.timedelta(days=7 * (week - 1))
        _drift(base, rng)
        cohort = _cohort(base, cohort_size, rng, model)
        if history is not None:
            known, _ = history.week_contacts(plan_date, policy)
        else:
            known = pd.concat(contacts, ignore_index=True) if contacts else None
        planned = plan_week(
            cohort,
            catalog,
            settings,
            plan_date=plan_date,
            policy=policy,
            contacts=known,
            salt=salt,
            solver=solver,
        )
        assignments = planned.result.assignments
        holdout_seed = int(rng.integers(1, 2**31))
        held = holdout_flags(assignments, holdout_rate, seed=holdout_seed)
        contacts.append(contacts_of_plan(week, plan_date, assignments, held))

        # Outcomes from the truth, for the whole cohort.
        p = cohort["churn_probability"].to_numpy(dtype=float)
        position = pd.Index(cohort["customer_id"].astype(str)).get_indexer(
            assignments["customer_id"].astype(str)
        )
        u = np.zeros(len(cohort))
        executed = position[~held]
        u[executed] = pd.Series(assignments["action_id"].to_numpy()[~held]).map(truth).fillna(0.0).to_numpy()
        churned = (rng.random(len(cohort)) < p * (1.0 - u)).astype(np.int64)
        outcomes = pd.DataFrame({"customer_id": cohort["customer_id"].astype(str), "churned": churned})
        control = cohort["customer_id"].astype(str)[planned.exclusions.reason == "global_control"].tolist()
        result.control.update(control)
        rows = assignments.assign(holdout=held)
        plan_id = week
        if history is not None:
            plan_id = _save_week(history, planned, cohort, catalog, holdout_rate, holdout_seed, outcomes)
        measured.append((plan_date, MeasuredWeek(plan_id, rows, outcomes, control)))

        treated = assignments[~held]
        value = treated["churn_probability"] * treated["action_id"].map(truth).fillna(0.0) * treated["clv"]
        week_value = float((value - treated["cost"]).sum())
        cumulative += week_value

        arrived = [m for d, m in measured if (plan_date - d).days >= MEASUREMENT_LAG_DAYS]
        uplift = _uplift_rows(arrived, truth, rule)
        for row in uplift.itertuples(index=False):
            if row.sufficient and row.action_id not in result.first_sufficient:
                result.first_sufficient[int(row.action_id)] = week
        recalibrated = False
        if recalibrate_week is not None and week == recalibrate_week and arrived:
            pooled = measure_pooled(arrived, rule=rule)
            catalog = recalibrate_catalog(catalog, pooled.measurement).catalog
            recalibrated = True
        simulated = SimulatedWeek(
            week=week,
            plan_date=plan_date,
            cohort=len(cohort),
            treated=int((~held).sum()),
            held_out=int(held.sum()),
            excluded=planned.exclusions.counts,
            measured_weeks=len(arrived),
            uplift=uplift,
            true_net_value=week_value,
            cumulative_true_net_value=cumulative,
            recalibrated=recalibrated,
        )
        result.weeks.append(simulated)
        if on_week is not None:
            on_week(simulated)
    result.contacts = pd.concat(contacts, ignore_index=True)
    return result


def _save_week(history, planned, cohort, catalog, rate: float, seed: int, outcomes: pd.DataFrame) -> int:
    from optimizer.exports import build_exports
    from optimizer.loop.outcomes import outcomes_csv_bytes

    exports = build_exports(
        planned.result.assignments,
        holdout_rate=rate,
        seed=seed,
        plan_date=planned.plan_date,
        excluded=planned.exclusions.table,
    )
    plan_id = history.save_plan(
        planned.result,
        exports,
        cohort,
        catalog,
        label=f"simulated week {planned.plan_date.isoformat()}",
        contact_policy=planned.exclusions.policy.to_dict(),
    )
    name = f"simulated_outcomes_{planned.plan_date.strftime('%Y%m%d')}.csv"
    history.save_outcomes(plan_id, outcomes_csv_bytes(outcomes), name)
    return plan_id


UPLIFT_COLUMNS = [
    "action_id",
    "measured",
    "ci_low",
    "ci_high",
    "true",
    "treated_n",
    "holdout_n",
    "sufficient",
]


def _uplift_rows(arrived: list[MeasuredWeek], truth: dict[int, float], rule) -> pd.DataFrame:
    if not arrived:
        return pd.DataFrame(columns=UPLIFT_COLUMNS)
    table = measure_pooled(arrived, rule=rule).measurement.table
    return pd.DataFrame(
        {
            "action_id": table["action_id"].astype(int),
            "measured": table["measured_uplift"],
            "ci_low": table["uplift_ci_low"],
            "ci_high": table["uplift_ci_high"],
            "true": table["action_id"].map(truth),
            "treated_n": table["treated_n"],
            "holdout_n": table["holdout_n"],
            "sufficient": table["sufficient"].astype(bool),
        },
        columns=UPLIFT_COLUMNS,
    )


def week_line(week: SimulatedWeek) -> str:
    """One printed row: week, treated, exclusions, measured vs true uplift per action, cumulative value."""
    ex = week.excluded
    excluded = f"{ex['holdout_window']}/{ex['cooldown']}/{ex['channel_cap']}/{ex['global_control']}"
    parts = []
    for row in week.uplift.itertuples(index=False):
        if math.isnan(row.measured):
            shown = "n/a"
        else:
            shown = f"{row.measured:+.2f} [{row.ci_low:+.2f},{row.ci_high:+.2f}]"
        parts.append(f"{row.action_id}:{shown} vs {row.true:.2f}{'*' if row.sufficient else ''}")
    flag = " (recalibrated)" if week.recalibrated else ""
    return (
        f"{week.week:>4} {week.plan_date.isoformat()} {week.treated:>7,} {week.held_out:>5,} {excluded:>13} "
        f"{week.measured_weeks:>3} ${week.cumulative_true_net_value:>13,.2f}  {'; '.join(parts) or '-'}{flag}"
    )


WEEK_HEADER = (
    "week date       treated  held excl h/c/cap/g meas cumulative true value  "
    "pooled measured uplift [95% CI] vs true per action (* enough evidence)"
)
