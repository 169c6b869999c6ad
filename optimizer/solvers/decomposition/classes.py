"""Customer classes: the eligibility table of a problem, its customers grouped by class (same per-customer
coefficients, same eligible actions: interchangeable in every row), and groups of interchangeable customers
within a set (same class, same profits, same allowed actions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from optimizer.model import Problem
    from optimizer.solvers.decomposition.units import Sub


@dataclass(frozen=True)
class Structure:
    """Per-problem arrays, independent of settings and objective (read-only: shared by warm starts)."""

    pair_of: np.ndarray  # (customers, actions) variable index, -1 where not eligible
    eligible: np.ndarray  # (customers, actions) bool
    class_of: np.ndarray  # class of each customer: same per-customer coefficients and eligible actions
    class_first: np.ndarray  # first customer of each class
    class_size: np.ndarray
    class_order: np.ndarray  # customers grouped by class, in cohort order within a class

    def class_columns(self) -> int:
        """Variables of the MILP over classes (one per class and eligible action)."""
        return int(self.eligible[self.class_first].sum())

    def identical_groups(self, profit: np.ndarray, customers: np.ndarray, allowed: np.ndarray | None = None):
        """Group customers that are interchangeable here (same class, same profits, same allowed actions):
        returns (members grouped by group, representative, size, allowed per group). Ties in the data then
        cost one integer variable per group instead of one binary per customer."""
        allowed = self.eligible[customers] if allowed is None else allowed
        key = np.column_stack([self.class_of[customers], profit[:, customers].T, allowed])
        _, first, inverse, sizes = np.unique(
            key, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        return customers[order], customers[first], sizes, allowed[first]

    def disaggregate(self, reps: np.ndarray, sub: Sub, classes: bool) -> np.ndarray:
        """Customer choices from a solution over customers, or over classes (a class's counts go to its
        customers in cohort order)."""
        choice = np.full(len(self.class_of), -1, dtype=np.int64)
        if classes:
            spread(self.class_order, self.class_size, sub, choice)
        else:
            spread(reps, np.ones(len(reps), dtype=np.int64), sub, choice)
        return choice


def structure(problem: Problem) -> Structure:
    """Eligibility table and customer classes of a problem."""
    n, k = problem.n_customers, problem.n_actions
    pair_of = np.full((n, k), -1, dtype=np.int32)
    pair_of[problem.pair_customer, problem.pair_action] = np.arange(problem.n_variables, dtype=np.int32)
    eligible = pair_of >= 0
    coefficients = problem.customer_coefficients
    if coefficients.shape[0] + k <= 62 and np.isin(coefficients, (0.0, 1.0)).all():
        bits = np.int64(1) << np.arange(coefficients.shape[0] + k, dtype=np.int64)
        code = (coefficients.T != 0) @ bits[: coefficients.shape[0]] + eligible @ bits[
            coefficients.shape[0] :
        ]
        class_of, _ = pd.factorize(code)  # classes numbered in order of first appearance
    else:
        key = np.column_stack([coefficients.T, eligible])
        _, first_sorted, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        rank = np.empty(len(first_sorted), dtype=np.int64)
        rank[np.argsort(first_sorted, kind="stable")] = np.arange(len(first_sorted))
        class_of = rank[inverse.ravel()]
    class_of = class_of.astype(np.int32)
    new_class = np.diff(np.maximum.accumulate(class_of), prepend=-1) > 0
    first = np.flatnonzero(new_class)
    narrow = class_of.astype(np.int16) if len(first) < 2**15 else class_of  # radix sort when it fits
    result = Structure(
        pair_of=pair_of,
        eligible=eligible,
        class_of=class_of,
        class_first=first,
        class_size=np.bincount(class_of, minlength=len(first)),
        class_order=np.argsort(narrow, kind="stable"),
    )
    for array in (pair_of, eligible, class_of, first, result.class_size, result.class_order):
        array.flags.writeable = False
    return result


def spread(members: np.ndarray, sizes: np.ndarray, sub: Sub, choice: np.ndarray) -> None:
    """Write a units solution into `choice`: unit u owns members[offset[u] : offset[u] + sizes[u]], and its
    count of each action goes to its next members in that order."""
    assert sub.values is not None, "a units solution without values"
    counts = np.rint(sub.values).astype(np.int64)
    picked = counts > 0
    if np.all(sizes == 1):
        choice[members[sub.units[picked]]] = sub.actions[picked]
        return
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for unit, action, count in zip(sub.units[picked], sub.actions[picked], counts[picked], strict=True):
        choice[members[offset[unit] : offset[unit] + count]] = action
        offset[unit] += count
