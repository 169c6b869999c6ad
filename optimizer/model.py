"""The x[i,k] assignment MILP, built once with array operations.

Variables: one binary per eligible (customer, action) pair with k>0 ("No Action" is implicit).
Objective: maximize sum (p_i * u_k * v_i - c_k) * x[i,k].
Rows: the coupling constraints (budget, channel capacities, coverage, saturation, fairness), then one
"at most one action" row per customer. Only right-hand sides depend on the settings' limits and rates, so one
built `Problem` serves a plan, a budget sweep, marginal values and the infeasibility diagnosis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.catalog import CAPACITY_OF_CHANNEL, active_actions, eligibility

COVERAGE_ROUNDING = ("ceil", "floor")


@dataclass(frozen=True)
class PlanSettings:
    """The week's limits and policies. Rates are fractions in [0, 1]; a capacity of None means no limit.

    Defaults are the report's baseline (budget $150, email 120, push/in-app 100, 60% / 40% / 50% / 15%,
    high-risk threshold 0.7) plus a call capacity of 20.
    """

    budget: float = 150.0
    email_capacity: float | None = 120
    push_capacity: float | None = 100
    call_capacity: float | None = 20
    min_high_risk: float = 0.60
    min_premium: float = 0.40
    max_saturation: float = 0.50
    min_segment: float = 0.15
    high_risk_threshold: float = 0.7
    coverage_rounding: str = "ceil"

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.budget) and self.budget >= 0):
            problems.append(f"budget must be a non-negative amount, got {self.budget}")
        for name in ("email_capacity", "push_capacity", "call_capacity"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                problems.append(f"{name} must be a non-negative count or None, got {value}")
        for name in ("min_high_risk", "min_premium", "max_saturation", "min_segment", "high_risk_threshold"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0):
                problems.append(f"{name} must be between 0 and 1, got {value}")
        if self.coverage_rounding not in COVERAGE_ROUNDING:
            problems.append(f"coverage_rounding must be 'ceil' or 'floor', got {self.coverage_rounding!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def with_changes(self, **changes) -> PlanSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def policy_count(rate: float, size: int, rounding: str = "ceil") -> int:
    """Customers a coverage policy requires: rate * size rounded up (or down), robust to float error.

    15% of 60 is 9 (not 10 from 9.000000000000002, nor 8 from 8.999999999999998).
    """
    exact = round(rate * size, 9)
    return int(math.ceil(exact) if rounding == "ceil" else math.floor(exact))


def saturation_count(rate: float, size: int) -> int:
    """The per-action cap floor(rate * n), robust to float error."""
    return int(math.floor(round(rate * size, 9)))


@dataclass(frozen=True)
class Row:
    """One coupling constraint: `key` is stable (e.g. 'budget', 'saturation:1', 'fairness:Free')."""

    key: str
    family: str
    label: str
    sense: str  # "<=" or ">="
    unit: str  # "$" or "customers"
    setting: str | None  # the PlanSettings field that sets its right-hand side
    group_size: int = 0  # customers in the covered group (coverage rows)


@dataclass
class Problem:
    """A built model: arrays for the pairs, one sparse matrix for all rows, and row metadata."""

    cohort: pd.DataFrame
    actions: pd.DataFrame  # the active actions (enabled, k>0), positional index = action position
    high_risk_threshold: float
    pair_customer: np.ndarray  # customer position of each variable
    pair_action: np.ndarray  # action position of each variable
    objective: np.ndarray  # p*u*v - c per variable
    cost: np.ndarray
    uplift: np.ndarray
    matrix: sp.csr_matrix  # (coupling rows + one row per customer) x variables
    rows: list[Row]  # the coupling rows, in matrix order

    @property
    def n_customers(self) -> int:
        return len(self.cohort)

    @property
    def n_variables(self) -> int:
        return len(self.objective)

    @property
    def n_constraints(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_coupling(self) -> int:
        return len(self.rows)

    def senses(self) -> np.ndarray:
        """Sense of every matrix row: coupling rows, then '<=' for each customer's one-action row."""
        coupling = [row.sense for row in self.rows]
        return np.array(coupling + ["<="] * self.n_customers)

    def coupling_rhs(self, settings: PlanSettings) -> np.ndarray:
        """Right-hand sides of the coupling rows for these settings (inf for an omitted capacity)."""
        values = []
        n = self.n_customers
        for row in self.rows:
            if row.family == "Budget":
                values.append(float(settings.budget))
            elif row.family == "Channel capacity":
                limit = getattr(settings, row.setting)
                values.append(math.inf if limit is None else float(limit))
            elif row.family == "Saturation":
                values.append(float(saturation_count(settings.max_saturation, n)))
            else:
                rate = getattr(settings, row.setting)
                values.append(float(policy_count(rate, row.group_size, settings.coverage_rounding)))
        return np.array(values, dtype=float)

    def rhs(self, settings: PlanSettings) -> np.ndarray:
        """Right-hand sides of all rows: coupling rows, then 1 per customer."""
        return np.concatenate([self.coupling_rhs(settings), np.ones(self.n_customers)])

    def row_index(self, key: str) -> int:
        for i, row in enumerate(self.rows):
            if row.key == key:
                return i
        raise KeyError(key)

    def row_activity(self, x: np.ndarray) -> np.ndarray:
        """Left-hand side value of each coupling row at x."""
        return np.asarray(self.matrix[: self.n_coupling] @ x).ravel()


def build_problem(cohort: pd.DataFrame, catalog: pd.DataFrame, high_risk_threshold: float = 0.7) -> Problem:
    """Build the model arrays for a cohort and catalog. Vectorized: no Python loop over customers."""
    actions = active_actions(catalog)
    eligible = eligibility(cohort, actions)
    pair_customer, pair_action = np.nonzero(eligible)  # row-major: grouped by customer
    p = cohort["churn_probability"].to_numpy(dtype=float)
    v = cohort["clv"].to_numpy(dtype=float)
    cost = actions["cost"].to_numpy(dtype=float)[pair_action]
    uplift = actions["uplift"].to_numpy(dtype=float)[pair_action]
    objective = p[pair_customer] * uplift * v[pair_customer] - cost
    n_pairs = len(pair_customer)
    n = len(cohort)

    rows: list[Row] = []
    entries: list[tuple[np.ndarray, np.ndarray]] = []  # each coupling row's (columns, values), kept sparse

    def add(coefficient: np.ndarray) -> None:
        columns = np.flatnonzero(coefficient)
        entries.append((columns, coefficient[columns]))

    # Budget: sum c_k x[i,k] <= B
    rows.append(Row("budget", "Budget", "Budget", "<=", "$", "budget"))
    add(cost)
    # Channel capacities: email <= C_email; in_app + push <= C_push; call <= C_call
    channel = actions["channel"].map(CAPACITY_OF_CHANNEL).to_numpy(dtype=object)[pair_action]
    for capacity, label in (
        ("email", "Email capacity"),
        ("push", "Push/in-app capacity"),
        ("call", "Call capacity"),
    ):
        rows.append(
            Row(f"{capacity}_capacity", "Channel capacity", label, "<=", "customers", f"{capacity}_capacity")
        )
        add((channel == capacity).astype(float))
    # High-risk coverage: treated customers with p > threshold >= rate * |H|
    high_risk = p > high_risk_threshold
    if high_risk.any():
        rows.append(
            Row(
                "high_risk_coverage",
                "High-risk coverage",
                f"High-risk coverage (p > {high_risk_threshold:g})",
                ">=",
                "customers",
                "min_high_risk",
                int(high_risk.sum()),
            )
        )
        add(high_risk[pair_customer].astype(float))
    # Premium coverage: treated Premium customers >= rate * |Premium|
    subscription = cohort["subscription_type"].astype(str).to_numpy()
    premium = subscription == "Premium"
    if premium.any():
        rows.append(
            Row(
                "premium_coverage",
                "Premium coverage",
                "Premium coverage",
                ">=",
                "customers",
                "min_premium",
                int(premium.sum()),
            )
        )
        add(premium[pair_customer].astype(float))
    # Saturation: each action k>0 assigned to <= floor(rate * n) customers
    for position, (action_id, name) in enumerate(
        actions[["action_id", "action_name"]].itertuples(index=False)
    ):
        rows.append(
            Row(
                f"saturation:{action_id}",
                "Saturation",
                f"Saturation: {name}",
                "<=",
                "customers",
                "max_saturation",
            )
        )
        add((pair_action == position).astype(float))
    # Fairness: for every subscription type present, treated customers >= rate * |segment|
    for segment in sorted(set(subscription)):
        members = subscription == segment
        rows.append(
            Row(
                f"fairness:{segment}",
                "Fairness",
                f"Fairness: {segment}",
                ">=",
                "customers",
                "min_segment",
                int(members.sum()),
            )
        )
        add(members[pair_customer].astype(float))

    coupling = _sparse_rows(entries, n_pairs)
    # One action per customer: sum_k x[i,k] <= 1
    assignment = sp.csr_matrix((np.ones(n_pairs), (pair_customer, np.arange(n_pairs))), shape=(n, n_pairs))
    matrix = sp.vstack([coupling, assignment], format="csr")
    matrix.eliminate_zeros()
    return Problem(
        cohort=cohort,
        actions=actions,
        high_risk_threshold=high_risk_threshold,
        pair_customer=pair_customer,
        pair_action=pair_action,
        objective=objective,
        cost=cost,
        uplift=uplift,
        matrix=matrix,
        rows=rows,
    )


def _sparse_rows(entries: list[tuple[np.ndarray, np.ndarray]], n_pairs: int) -> sp.csr_matrix:
    """Stack the coupling rows' sparse (columns, values) into one CSR matrix."""
    if not entries:
        return sp.csr_matrix((0, n_pairs))
    row_ids = np.concatenate([np.full(len(columns), r) for r, (columns, _) in enumerate(entries)])
    col_ids = np.concatenate([columns for columns, _ in entries])
    values = np.concatenate([values for _, values in entries])
    return sp.csr_matrix((values, (row_ids, col_ids)), shape=(len(entries), n_pairs))
