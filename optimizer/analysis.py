"""Reading a plan: assignments, KPIs and the constraint report. Pure functions of a built problem and x."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from optimizer.model import PlanSettings, Problem, Row, RowFamily
from optimizer.solvers.base import SolveStatus

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


@dataclass(frozen=True)
class Kpis:
    """Headline numbers of a plan. Money in dollars, rates in percent."""

    customers: int
    customers_treated: int
    total_spend: float
    expected_churn_reduction: float  # sum p*u over treated customers
    expected_retained_clv: float  # sum p*u*v
    net_value: float  # retained CLV - spend
    roi_pct: float | None  # net value / spend * 100 (None when nothing is spent)
    budget: float
    budget_utilization_pct: float | None

    @property
    def treated_pct(self) -> float:
        return 100.0 * self.customers_treated / self.customers if self.customers else 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def chosen_pairs(x: np.ndarray) -> np.ndarray:
    """Indices of the variables set to 1 (robust to solver tolerances)."""
    return np.flatnonzero(np.asarray(x) > 0.5)


def pairs_frame(problem: Problem, picked: np.ndarray) -> pd.DataFrame:
    """One row per treated customer, in cohort order, from the indices of the variables set to 1
    (`chosen_pairs` of a solution).

    Columns are taken positionally with their own dtypes (no round trip through object arrays): at a
    million customers this is 5x faster than building the frame from `.to_numpy()` copies."""
    picked = np.asarray(picked, dtype=np.int64)
    customers = problem.pair_customer[picked]
    order = np.argsort(customers, kind="stable")
    picked, customers = picked[order], customers[order]
    actions = problem.pair_action[picked]
    cohort, catalog = problem.cohort, problem.actions

    def take(frame: pd.DataFrame, column: str, rows: np.ndarray) -> pd.Series:
        return frame[column].take(rows).reset_index(drop=True)

    p = cohort["churn_probability"].to_numpy(dtype=float)[customers]
    v = cohort["clv"].to_numpy(dtype=float)[customers]
    uplift, cost = problem.uplift[picked], problem.cost[picked]
    churn = p * uplift
    columns = {
        "customer_id": take(cohort, "customer_id", customers),
        "subscription_type": take(cohort, "subscription_type", customers),
        "payment_plan": take(cohort, "payment_plan", customers),
        "churn_probability": p,
        "clv": v,
        "risk_tier": take(cohort, "risk_tier", customers),
        "value_tier": take(cohort, "value_tier", customers),
        "action_id": take(catalog, "action_id", actions),
        "action_name": take(catalog, "action_name", actions),
        "channel": take(catalog, "channel", actions),
        "cost": cost,
        "uplift": uplift,
        "expected_churn_reduction": churn,
        "expected_retained_clv": churn * v,
        "net_value": churn * v - cost,
    }
    return pd.DataFrame(columns, columns=ASSIGNMENT_COLUMNS, copy=False)


def compute_kpis(assignments: pd.DataFrame, customers: int, budget: float) -> Kpis:
    """KPIs of a plan from its assignments frame."""
    return _kpis(
        customers,
        len(assignments),
        float(assignments["cost"].sum()),
        float(assignments["expected_churn_reduction"].sum()),
        float(assignments["expected_retained_clv"].sum()),
        budget,
    )


def kpis_from_solution(problem: Problem, x: np.ndarray, budget: float) -> Kpis:
    """The same KPIs straight from the solution vector (no frame), for sweeps."""
    picked = chosen_pairs(x)
    customers = problem.pair_customer[picked]
    p = problem.cohort["churn_probability"].to_numpy(dtype=float)[customers]
    v = problem.cohort["clv"].to_numpy(dtype=float)[customers]
    churn = p * problem.uplift[picked]
    return _kpis(
        problem.n_customers,
        len(picked),
        float(problem.cost[picked].sum()),
        float(churn.sum()),
        float((churn * v).sum()),
        budget,
    )


def _kpis(customers: int, treated: int, spend: float, churn: float, retained: float, budget: float) -> Kpis:
    net = retained - spend
    return Kpis(
        customers=int(customers),
        customers_treated=int(treated),
        total_spend=spend,
        expected_churn_reduction=churn,
        expected_retained_clv=retained,
        net_value=net,
        roi_pct=net / spend * 100.0 if spend > 0 else None,
        budget=float(budget),
        budget_utilization_pct=spend / budget * 100.0 if budget > 0 else None,
    )


def constraint_report(
    problem: Problem, settings: PlanSettings, x: np.ndarray | None, status: str | None = None
) -> pd.DataFrame:
    """Every coupling constraint: limit, used, slack, utilization, binding, and a recommendation.

    Binding means within 1 unit ($1 for the budget) of the limit. For a floor (coverage, fairness),
    `limit` is the required count and utilization is achieved / required. Without a plan (`x` None), the
    recommendation says why, from the solve's `status` (a `SolveStatus`): infeasible settings, or a solver
    stopped before it found a plan (which says nothing about feasibility).
    """
    limits = problem.coupling_rhs(settings)
    cheapest = float(problem.cost.min()) if problem.n_variables else math.inf
    used = problem.row_activity(x) if x is not None else np.full(len(limits), np.nan)
    records = []
    for row, limit, value in zip(problem.rows, limits, used, strict=True):
        finite = math.isfinite(limit)
        if row.sense == "<=":
            slack = limit - value if finite else math.inf
        else:
            slack = value - limit
        if finite and limit > 0:
            utilization = value / limit * 100.0
        elif finite:
            utilization = 100.0 if value <= 0 else math.inf
        else:
            utilization = math.nan
        # A floor of zero never restricts anything, so it is never reported as binding.
        binding = bool(finite and x is not None and slack <= 1.0 + 1e-9 and (row.sense == "<=" or limit > 0))
        records.append(
            {
                "key": row.key,
                "family": str(row.family),
                "family_label": row.family.label,
                "constraint": row.label,
                "sense": row.sense,
                "unit": row.unit,
                "setting": row.setting,
                "group_size": row.group_size,
                "excluded_by_policy": row.excluded,
                "limit": limit if finite else None,
                "used": value,
                "slack": slack,
                "utilization_pct": utilization,
                "binding": binding,
                "recommendation": _recommendation(row, limit, value, binding, cheapest)
                if x is not None
                else _no_plan_recommendation(status),
            }
        )
    return pd.DataFrame.from_records(records)


def _amount(row: Row, value: float) -> str:
    return f"${value:,.2f}" if row.unit == "$" else f"{value:,.0f}"


NO_PLAN_INFEASIBLE = "No plan: these settings cannot all be met; see the infeasibility diagnosis."
NO_PLAN_STOPPED = (
    "No plan: the solver stopped (time limit) before it found one; the settings are not known to be "
    "infeasible. Allow more time."
)
NO_PLAN = "No plan was solved for these settings."


def _no_plan_recommendation(status: str | None) -> str:
    if status == SolveStatus.INFEASIBLE:
        return NO_PLAN_INFEASIBLE
    if status in (SolveStatus.NO_SOLUTION, SolveStatus.TIME_LIMIT):
        return NO_PLAN_STOPPED
    return NO_PLAN


def _recommendation(row: Row, limit: float, used: float, binding: bool, cheapest: float) -> str:
    if not math.isfinite(limit):
        return f"No limit set; the plan uses {_amount(row, used)}."
    share = f"{_amount(row, used)} of {_amount(row, limit)}"
    if row.family is RowFamily.BUDGET:
        if binding:
            return (
                f"Budget fully used ({share}). More budget would treat more customers: "
                "check its marginal value and the Sensitivity page."
            )
        if limit - used < cheapest:
            return (
                f"Effectively used up ({share}): the {_amount(row, limit - used)} left is less than the "
                f"cheapest action ({_amount(row, cheapest)}). More budget would treat more customers: "
                "check its marginal value."
            )
        return (
            f"{_amount(row, limit - used)} left unused ({share}): no remaining action returns more than it "
            "costs within the other limits, so a larger budget would not help."
        )
    if row.family is RowFamily.CHANNEL_CAPACITY:
        if binding:
            return (
                f"{row.label} is full ({share}). Raising it lets more customers be reached on this channel; "
                "its marginal value says what one more slot is worth."
            )
        return f"{share} used; this capacity does not limit the plan this week."
    if row.family is RowFamily.SATURATION:
        if binding:
            return (
                f"This action hit its cap ({share} customers). Raise Max Action Saturation to let it reach "
                "more customers, or keep the cap for a diverse mix."
            )
        return f"{share} customers; below the cap."
    # Coverage and fairness floors
    if binding:
        return (
            f"The policy forces this floor: exactly {_amount(row, used)} treated, as required "
            f"({_amount(row, limit)} of {_group(row)}). Lowering the rate frees budget for "
            "customers with higher net value."
        )
    text = f"Met with room to spare: {_amount(row, used)} treated, {_amount(row, limit)} required"
    return text + (f" (of {_group(row)})." if row.excluded else ".")


def _group(row: Row) -> str:
    """'60' or, when the contact policies excluded some of the group, 'the 94 contactable high-risk
    customers; 12 excluded by contact policy'."""
    if not row.excluded:
        return f"{row.group_size:,}"
    noun = {
        RowFamily.HIGH_RISK_COVERAGE: "high-risk customers",
        RowFamily.PREMIUM_COVERAGE: "Premium customers",
    }.get(row.family, f"{row.key.partition(':')[2]} customers")
    return f"the {row.group_size:,} contactable {noun}; {row.excluded:,} excluded by contact policy"
