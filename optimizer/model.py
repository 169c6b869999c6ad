"""The x[i,k] assignment MILP, built once with array operations.

Variables: one binary per eligible (customer, action) pair with k>0 ("No Action" is implicit).
Objective: maximize sum (p_i * u_k * v_i - c_k) * x[i,k].
Rows: the coupling constraints (budget, channel capacities, coverage, saturation, fairness), then one
"at most one action" row per customer. Only right-hand sides depend on the settings' limits and rates, so one
built `Problem` serves a plan, a budget sweep, marginal values and the infeasibility diagnosis.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.catalog import CAPACITY_OF_CHANNEL, active_actions, eligibility

if TYPE_CHECKING:
    import scipy.sparse as sp

COVERAGE_ROUNDING = ("ceil", "floor")


# Each setting's name as the app's sidebar shows it: the one source for every label of a setting
# (diagnoses, comparisons, recommendations), so a message names a setting the way the user sees it.
SETTING_LABELS = {
    "budget": "Budget",
    "email_capacity": "Email capacity",
    "push_capacity": "Push/in-app capacity",
    "call_capacity": "Call center capacity",
    "min_high_risk": "Min high-risk coverage",
    "min_premium": "Min Premium coverage",
    "max_saturation": "Max action saturation",
    "min_segment": "Min segment coverage",
    "high_risk_threshold": "High-risk threshold",
    "coverage_rounding": "Coverage rounding",
}


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


class RowFamily(StrEnum):
    """A coupling row's family: a stable key for code (display text is `label`)."""

    BUDGET = "budget"
    CHANNEL_CAPACITY = "channel_capacity"
    HIGH_RISK_COVERAGE = "high_risk_coverage"
    PREMIUM_COVERAGE = "premium_coverage"
    SATURATION = "saturation"
    FAIRNESS = "fairness"

    @property
    def label(self) -> str:
        return FAMILY_LABELS[self]

    @property
    def order(self) -> int:
        """Limits first, then the policy floors (the order reports list families in)."""
        return list(RowFamily).index(self)


FAMILY_LABELS = {
    RowFamily.BUDGET: "Budget",
    RowFamily.CHANNEL_CAPACITY: "Channel capacity",
    RowFamily.HIGH_RISK_COVERAGE: "High-risk coverage",
    RowFamily.PREMIUM_COVERAGE: "Premium coverage",
    RowFamily.SATURATION: "Saturation",
    RowFamily.FAIRNESS: "Fairness",
}


@dataclass(frozen=True)
class Row:
    """One coupling constraint: `key` is stable (e.g. 'budget', 'saturation:1', 'fairness:Free')."""

    key: str
    family: RowFamily
    label: str
    sense: str  # "<=" or ">="
    unit: str  # "$" or "customers"
    setting: str  # the PlanSettings field that sets its right-hand side (every coupling row has one)
    group_size: int = 0  # contactable customers in the covered group (coverage rows)
    excluded: int = 0  # customers of the group the contact policies leave uncontactable this week


@dataclass
class Problem:
    """A built model: arrays for the pairs, the coupling rows in compact form, and row metadata.

    Every coupling coefficient is a per-action part plus a per-customer part: the coefficient of pair (i, k)
    in coupling row r is `action_coefficients[r, k] + customer_coefficients[j, i]` where
    `customer_rows[j] == r` (rows without a per-customer part have none). Budget, capacity and saturation rows
    are per-action; coverage and fairness rows are per-customer. The full sparse `matrix` (coupling rows, then
    one "at most one action" row per customer) is built from this on first use, for the MILP solvers.
    """

    cohort: pd.DataFrame
    actions: pd.DataFrame  # the active actions (enabled, k>0), positional index = action position
    high_risk_threshold: float
    pair_customer: np.ndarray  # customer position of each variable (int32, grouped by customer)
    pair_action: np.ndarray  # action position of each variable (int32)
    objective: np.ndarray  # p*u*v - c per variable
    cost: np.ndarray
    uplift: np.ndarray
    rows: list[Row]  # the coupling rows, in matrix order
    action_coefficients: np.ndarray  # (coupling rows, actions)
    customer_rows: np.ndarray  # coupling rows with a per-customer part
    customer_coefficients: np.ndarray  # (len(customer_rows), customers)
    _matrix: sp.csr_matrix | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def n_customers(self) -> int:
        return len(self.cohort)

    @property
    def n_variables(self) -> int:
        return len(self.objective)

    @property
    def n_constraints(self) -> int:
        return self.n_coupling + self.n_customers

    @property
    def n_coupling(self) -> int:
        return len(self.rows)

    @property
    def n_actions(self) -> int:
        return len(self.actions)

    @property
    def matrix(self) -> sp.csr_matrix:
        """(coupling rows + one row per customer) x variables, built on first use.

        The one write to a built `Problem`: this memo, under the problem's lock and idempotent (every build
        gives the same matrix), so a problem shared between threads and browser sessions stays read-only in
        effect. Solvers keep everything else they derive on their sessions and results."""
        with self._lock:
            if self._matrix is None:
                self._matrix = self._build_matrix()
            return self._matrix

    def senses(self) -> np.ndarray:
        """Sense of every matrix row: coupling rows, then '<=' for each customer's one-action row."""
        coupling = [row.sense for row in self.rows]
        return np.array(coupling + ["<="] * self.n_customers)

    def coupling_rhs(self, settings: PlanSettings) -> np.ndarray:
        """Right-hand sides of the coupling rows for these settings (inf for an omitted capacity)."""
        values = []
        n = self.n_customers
        for row in self.rows:
            if row.family is RowFamily.BUDGET:
                values.append(float(settings.budget))
            elif row.family is RowFamily.CHANNEL_CAPACITY:
                limit = getattr(settings, row.setting)
                values.append(math.inf if limit is None else float(limit))
            elif row.family is RowFamily.SATURATION:
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

    def row_coefficients(self, row: int) -> np.ndarray:
        """Coefficient of every variable in one coupling row (a dense vector)."""
        values = self.action_coefficients[row][self.pair_action]
        part = np.flatnonzero(self.customer_rows == row)
        if len(part):
            values = values + self.customer_coefficients[part[0]][self.pair_customer]
        return values

    def row_activity(self, x: np.ndarray) -> np.ndarray:
        """Left-hand side value of each coupling row at x."""
        x = np.asarray(x, dtype=float)
        used = np.flatnonzero(x)  # a plan uses few of the pairs: count only those
        weights = x[used]
        per_action = np.bincount(self.pair_action[used], weights=weights, minlength=self.n_actions)
        activity = self.action_coefficients @ per_action
        if len(self.customer_rows):
            per_customer = np.bincount(self.pair_customer[used], weights=weights, minlength=self.n_customers)
            activity[self.customer_rows] += self.customer_coefficients @ per_customer
        return activity

    def _build_matrix(self) -> sp.csr_matrix:
        n_pairs = self.n_variables
        columns, values = [], []
        for r in range(self.n_coupling):
            coefficient = self.row_coefficients(r)
            nonzero = np.flatnonzero(coefficient)
            columns.append(nonzero.astype(np.int32))
            values.append(coefficient[nonzero])
        # One action per customer: sum_k x[i,k] <= 1 (pairs are grouped by customer)
        per_customer = np.bincount(self.pair_customer, minlength=self.n_customers)
        lengths = np.concatenate([[len(c) for c in columns], per_customer]).astype(np.int64)
        nnz = int(lengths.sum())
        index_type = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
        indptr = np.zeros(len(lengths) + 1, dtype=index_type)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.concatenate(columns + [np.arange(n_pairs, dtype=np.int32)]).astype(
            index_type, copy=False
        )
        data = np.concatenate(values + [np.ones(n_pairs)])
        import scipy.sparse as sp  # only the MILP solvers need the matrix (scipy costs 0.25 s to import)

        shape = (self.n_constraints, n_pairs)
        return sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)


def build_problem(
    cohort: pd.DataFrame,
    catalog: pd.DataFrame,
    high_risk_threshold: float = 0.7,
    *,
    allowed: np.ndarray | None = None,
    contactable: np.ndarray | None = None,
) -> Problem:
    """Build the model arrays for a cohort and catalog. Vectorized: no Python loop over customers.

    `allowed` (customers x active actions, from the contact policies) narrows eligibility; `contactable`
    (per customer) says who the policies leave contactable this week (a customer whose every eligible action
    `allowed` blocks is not contactable either): coverage and fairness floors count over those customers
    only, and each coverage row records how many of its group were excluded.
    """
    actions = active_actions(catalog)
    eligible = eligibility(cohort, actions)
    reachable = np.ones(len(cohort), dtype=bool)
    if contactable is not None:
        reachable = np.asarray(contactable, dtype=bool)
    if allowed is not None:
        if allowed.shape != eligible.shape:
            raise ValueError(f"allowed has shape {allowed.shape}, expected {eligible.shape}")
        had_any = eligible.any(axis=1)
        eligible &= allowed
        reachable = reachable & ~(had_any & ~eligible.any(axis=1))
    pair_customer, pair_action = np.nonzero(eligible)  # row-major: grouped by customer
    del eligible
    pair_customer = pair_customer.astype(np.int32)
    pair_action = pair_action.astype(np.int32)
    p = cohort["churn_probability"].to_numpy(dtype=float)
    v = cohort["clv"].to_numpy(dtype=float)
    cost = actions["cost"].to_numpy(dtype=float)[pair_action]
    uplift = actions["uplift"].to_numpy(dtype=float)[pair_action]
    objective = p[pair_customer] * uplift * v[pair_customer] - cost
    n_actions = len(actions)

    rows: list[Row] = []
    action_parts: list[np.ndarray] = []  # per coupling row: coefficient of each action
    customer_parts: dict[int, np.ndarray] = {}  # per-customer part, by coupling row

    def add_action_row(row: Row, coefficient: np.ndarray) -> None:
        rows.append(row)
        action_parts.append(np.asarray(coefficient, dtype=float))

    def add_customer_row(row: Row, group: np.ndarray) -> None:
        members = group & reachable
        row = replace(row, group_size=int(members.sum()), excluded=int((group & ~reachable).sum()))
        customer_parts[len(rows)] = members.astype(float)
        rows.append(row)
        action_parts.append(np.zeros(n_actions))

    # Budget: sum c_k x[i,k] <= B
    add_action_row(
        Row("budget", RowFamily.BUDGET, "Budget", "<=", "$", "budget"), actions["cost"].to_numpy(dtype=float)
    )
    # Channel capacities: email <= C_email; in_app + push <= C_push; call <= C_call
    channel = actions["channel"].map(CAPACITY_OF_CHANNEL).to_numpy(dtype=object)
    for capacity, label in (
        ("email", "Email capacity"),
        ("push", "Push/in-app capacity"),
        ("call", "Call capacity"),
    ):
        add_action_row(
            Row(
                f"{capacity}_capacity",
                RowFamily.CHANNEL_CAPACITY,
                label,
                "<=",
                "customers",
                f"{capacity}_capacity",
            ),
            channel == capacity,
        )
    # High-risk coverage: treated customers with p > threshold >= rate * |H|
    high_risk = p > high_risk_threshold
    if high_risk.any():
        add_customer_row(
            Row(
                "high_risk_coverage",
                RowFamily.HIGH_RISK_COVERAGE,
                f"High-risk coverage (p > {high_risk_threshold:g})",
                ">=",
                "customers",
                "min_high_risk",
                int(high_risk.sum()),
            ),
            high_risk,
        )
    # Premium coverage: treated Premium customers >= rate * |Premium|
    subscription_codes, subscriptions = pd.factorize(cohort["subscription_type"].astype(str), sort=True)
    if "Premium" in set(subscriptions):
        premium = subscription_codes == list(subscriptions).index("Premium")
        add_customer_row(
            Row(
                "premium_coverage",
                RowFamily.PREMIUM_COVERAGE,
                "Premium coverage",
                ">=",
                "customers",
                "min_premium",
                int(premium.sum()),
            ),
            premium,
        )
    # Saturation: each action k>0 assigned to <= floor(rate * n) customers
    for position, (action_id, name) in enumerate(
        actions[["action_id", "action_name"]].itertuples(index=False)
    ):
        add_action_row(
            Row(
                f"saturation:{action_id}",
                RowFamily.SATURATION,
                f"Saturation: {name}",
                "<=",
                "customers",
                "max_saturation",
            ),
            np.arange(n_actions) == position,
        )
    # Fairness: for every subscription type present, treated customers >= rate * |segment|
    for code, segment in enumerate(subscriptions):
        members = subscription_codes == code
        add_customer_row(
            Row(
                f"fairness:{segment}",
                RowFamily.FAIRNESS,
                f"Fairness: {segment}",
                ">=",
                "customers",
                "min_segment",
                int(members.sum()),
            ),
            members,
        )

    customer_rows = np.array(sorted(customer_parts), dtype=np.int64)
    customer_coefficients = (
        np.vstack([customer_parts[r] for r in customer_rows])
        if len(customer_rows)
        else np.zeros((0, len(cohort)))
    )
    return Problem(
        cohort=cohort,
        actions=actions,
        high_risk_threshold=high_risk_threshold,
        pair_customer=pair_customer,
        pair_action=pair_action,
        objective=objective,
        cost=cost,
        uplift=uplift,
        rows=rows,
        action_coefficients=np.vstack(action_parts) if action_parts else np.zeros((0, n_actions)),
        customer_rows=customer_rows,
        customer_coefficients=customer_coefficients,
    )
