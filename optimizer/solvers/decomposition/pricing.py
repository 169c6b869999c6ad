"""Pricing: reduced profits at given multipliers, every customer's best choice, and the exact evaluation of
L(lam) and its subgradient (a dense pass over customers x actions, or the rank-one evaluator of the
retention objective in O(classes x actions^2 + log n))."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optimizer.model import Problem
    from optimizer.solvers.decomposition.classes import Structure

_RANK_ONE_SAMPLE = 20_000  # pairs checked to recognize the retention objective's rank-one form


@dataclass(frozen=True)
class Limits:
    """The coupling rows' right-hand sides at one solve: which rows are active (a finite limit), and how."""

    rhs: np.ndarray  # per coupling row (+-inf: switched off)
    senses: np.ndarray  # "<=" or ">=" per coupling row
    active: np.ndarray = field(init=False)  # rows with a finite limit

    def __post_init__(self) -> None:
        finite = np.where(self.senses == "<=", self.rhs < np.inf, self.rhs > -np.inf)
        object.__setattr__(self, "active", np.flatnonzero(finite))

    def signed(self, multipliers: np.ndarray) -> np.ndarray:
        """Multipliers on the active rows only, with the sign that keeps L an upper bound."""
        lam = np.zeros(len(self.rhs))
        lam[self.active] = multipliers[self.active]
        return np.where(self.senses == "<=", np.maximum(lam, 0.0), np.minimum(lam, 0.0))

    def within(self, activity: np.ndarray) -> bool:
        """Does this activity of every coupling row respect every active limit (to 1e-6, relative)?"""
        activity, rhs = activity[self.active], self.rhs[self.active]
        slack = np.where(self.senses[self.active] == "<=", rhs - activity, activity - rhs)
        return bool((slack >= -1e-6 * np.maximum(1.0, np.abs(rhs))).all())

    def term(self, multipliers: np.ndarray) -> float:
        """lam . b over the active rows."""
        return float(multipliers[self.active] @ self.rhs[self.active])


@dataclass(frozen=True)
class Prices:
    """What every customer would do on its own at some multipliers."""

    multipliers: np.ndarray  # sign-corrected, 0 on inactive rows
    alpha: np.ndarray  # per-action part of lam . A
    beta: np.ndarray  # per-customer part of lam . A
    choice: np.ndarray  # best action position, -1 for no action
    best: np.ndarray  # best reduced profit (>= 0: no action is worth 0)
    margin: np.ndarray  # best - second best option (inf when the customer has no eligible action)
    bound: float  # L(multipliers)


@dataclass(frozen=True)
class Objective:
    """A signed objective (maximized) prepared for pricing. Read-only: a warm start shares it."""

    profit: np.ndarray  # (actions, customers) action-major profits (pricing runs by action), -inf: ineligible
    scale: float  # max |profit|, at least 1
    class_level: bool  # profits depend only on a customer's class
    key: tuple[float, float]  # same signed objective, same key
    rank_one: RankOne | None  # the fast evaluator, when the objective is +-(p v uplift - cost)


def prepare_objective(problem: Problem, st: Structure, signed: np.ndarray) -> Objective:
    """Action-major profits, scale, class level, identity key and rank-one form of a signed objective."""
    profit = np.full((problem.n_actions, problem.n_customers), -np.inf)
    profit[problem.pair_action, problem.pair_customer] = signed
    profit.flags.writeable = False
    scale = max(1.0, float(np.abs(signed).max(initial=0.0)))
    class_level = _is_class_level(st, profit)
    probe = np.random.default_rng(1).random(len(signed))
    key = (float(signed @ probe), float(signed.sum()))
    rank_one = None if class_level else RankOne.recognize(problem, st, signed)
    return Objective(profit, scale, class_level, key, rank_one)


def _is_class_level(st: Structure, profit: np.ndarray) -> bool:
    first = st.class_first[st.class_of]
    sample = np.random.default_rng(2).choice(len(first), size=min(len(first), 64), replace=False)
    if not np.array_equal(profit[:, sample], profit[:, first[sample]]):
        return False  # cheap early exit for the usual, customer-specific objective
    return bool(np.array_equal(profit, profit[:, first]))


class Pricing:
    """Reduced profits r[i,k] = profit[k,i] - alpha[k] - beta[i] of one problem and prepared objective."""

    def __init__(self, problem: Problem, objective: Objective):
        self.problem = problem
        self.objective = objective
        self.profit = objective.profit

    def price(self, multipliers: np.ndarray, limits: Limits) -> Prices:
        """Every customer's best and second-best option at `multipliers`: one pass per action."""
        p = self.problem
        lam = limits.signed(multipliers)
        alpha = lam @ p.action_coefficients
        beta = (
            lam[p.customer_rows] @ p.customer_coefficients
            if len(p.customer_rows)
            else np.zeros(p.n_customers)
        )
        best = np.zeros(p.n_customers)  # no action
        second = np.full(p.n_customers, -np.inf)
        choice = np.full(p.n_customers, -1, dtype=np.int64)
        chunk = 1 << 15  # customers per block: the per-action passes stay in cache
        reduced, lower, better = np.empty(chunk), np.empty(chunk), np.empty(chunk, dtype=bool)
        for first in range(0, p.n_customers, chunk):
            last = min(first + chunk, p.n_customers)
            size = last - first
            b, s, c, r, t, up = (
                best[first:last],
                second[first:last],
                choice[first:last],
                *(a[:size] for a in (reduced, lower, better)),
            )
            for k in range(p.n_actions):
                np.subtract(self.profit[k, first:last], beta[first:last], out=r)
                r -= alpha[k]
                np.minimum(r, b, out=t)
                np.maximum(s, t, out=s)  # the runner-up after this action
                np.greater(r, b, out=up)
                np.maximum(b, r, out=b)
                np.copyto(c, k, where=up)
        with np.errstate(invalid="ignore"):
            margin = best - second
        margin[np.isneginf(second)] = np.inf
        bound = limits.term(lam) + float(best.sum())
        return Prices(lam, alpha, beta, choice, best, margin, bound)

    def evaluate(self, multipliers: np.ndarray, limits: Limits) -> tuple[float, np.ndarray]:
        """L and every coupling row's activity at every customer's best choice: the rank-one evaluator when
        the objective has that form, else one dense pass."""
        if self.objective.rank_one is not None:
            return self.objective.rank_one(multipliers, limits)
        return self.dense_evaluate(multipliers, limits)

    def dense_evaluate(self, multipliers: np.ndarray, limits: Limits) -> tuple[float, np.ndarray]:
        prices = self.price(multipliers, limits)
        return prices.bound, self.activity(prices.choice)

    def reduced(self, prices: Prices, customers: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return self.profit[actions, customers] - prices.alpha[actions] - prices.beta[customers]

    def reduced_table(self, prices: Prices, customers: np.ndarray) -> np.ndarray:
        """(customers, actions) reduced profits, -inf where not eligible."""
        return self.profit[:, customers].T - prices.alpha[None, :] - prices.beta[customers][:, None]

    def activity(self, choice: np.ndarray) -> np.ndarray:
        """Activity of every coupling row of a full plan (choice -1: no action)."""
        p = self.problem
        treated = choice >= 0
        per_action = np.bincount(choice[treated], minlength=p.n_actions).astype(float)
        activity = p.action_coefficients @ per_action
        if len(p.customer_rows):
            activity[p.customer_rows] += p.customer_coefficients @ treated.astype(float)
        return activity

    def value(self, choice: np.ndarray) -> float:
        who = np.flatnonzero(choice >= 0)
        return float(self.profit[choice[who], who].sum())

    def fits(self, choice: np.ndarray | None, limits: Limits) -> bool:
        """Does this plan (e.g. the previous solve's) satisfy these right-hand sides?"""
        return choice is not None and limits.within(self.activity(choice))

    def best_options(self, prices: Prices, customers: np.ndarray, count: int = 3) -> np.ndarray:
        """Allowed actions: each customer's `count` best options by reduced profit (no action among them)."""
        reduced = self.reduced_table(prices, customers)
        options = np.column_stack([reduced, np.zeros(len(customers))])  # last column: no action
        keep = min(count, options.shape[1])
        threshold = -np.partition(-options, keep - 1, axis=1)[:, keep - 1 : keep]
        return (reduced >= threshold) & np.isfinite(reduced)


def smallest_margins(prices: Prices, count: int, exclude: np.ndarray | None) -> np.ndarray:
    """The `count` customers with the smallest finite margins (not in `exclude`), ascending."""
    margin = prices.margin if exclude is None else np.where(exclude, np.inf, prices.margin)
    count = min(count, int(np.isfinite(margin).sum()))
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    picked = np.argpartition(margin, count - 1)[:count] if count < len(margin) else np.arange(len(margin))
    return np.sort(picked[np.isfinite(margin[picked])])


class RankOne:
    """L(lam) and the coupling rows' activity in O(classes x actions^2 + log n), for profits
    profit[k, i] = w_i * s_k + t_k (the retention objective p_i v_i * uplift_k - cost_k, or its negative).

    Within a class (same per-customer coefficients, same eligible actions) a customer's best choice at lam
    depends only on w_i: the upper envelope of one line per eligible action (slope s_k, intercept
    t_k - alpha_k - beta_class) and the zero line (no action). Line j wins on the interval between its
    highest intersection with a flatter line and its lowest with a steeper one; with every class's customers
    sorted by w (one global sorted key) and prefix sums of w, all intervals cost one binary search.
    Only the multipliers come from here: the bound and the plan are always computed from the exact profits.
    """

    def __init__(self, problem: Problem, st: Structure, w: np.ndarray, s: np.ndarray, t: np.ndarray):
        self.problem = problem
        by_w = np.argsort(w)
        classes = st.class_of[by_w].astype(np.int16) if len(st.class_first) < 2**15 else st.class_of[by_w]
        order = by_w[np.argsort(classes, kind="stable")]  # by class, then by w
        sorted_w = w[order]
        self.low = float(w.min()) - 1.0 if len(w) else 0.0
        self.span = float(w.max()) - self.low + 2.0 if len(w) else 2.0  # every key of a class below the next
        self.key = st.class_of[order] * self.span + (sorted_w - self.low)  # increasing: by class, then w
        self.prefix = np.concatenate([[0.0], np.cumsum(sorted_w)])
        self.slopes = np.concatenate([[0.0], s])  # line 0: no action
        self.t = np.concatenate([[0.0], t])
        self.eligible = np.column_stack(
            [np.ones(len(st.class_first), dtype=bool), st.eligible[st.class_first]]
        )
        self.class_coefficients = problem.customer_coefficients[:, st.class_first]
        self.offset = np.arange(len(st.class_first))[:, None] * self.span
        slope_gap = self.slopes[:, None] - self.slopes[None, :]  # s_j - s_l
        self.flatter = slope_gap > 0  # l flatter than j
        self.steeper = slope_gap < 0
        self.slope_gap = np.where(slope_gap == 0, 1.0, slope_gap)
        same = (slope_gap == 0) & ~np.eye(len(self.slopes), dtype=bool)
        self.same, self.earlier = same, np.tril(np.ones_like(same), -1)  # earlier[j, l]: l < j

    @classmethod
    def recognize(cls, problem: Problem, st: Structure, signed: np.ndarray) -> RankOne | None:
        """The evaluator when `signed` is (up to rounding) +-(p v uplift - cost), else None. Checked on a
        fixed sample of pairs: a miss only slows the multipliers down, never changes a bound or a plan."""
        if problem.n_variables == 0:
            return None
        cohort = problem.cohort
        w = cohort["churn_probability"].to_numpy(dtype=float) * cohort["clv"].to_numpy(dtype=float)
        s = problem.actions["uplift"].to_numpy(dtype=float)
        t = -problem.actions["cost"].to_numpy(dtype=float)
        pairs = np.random.default_rng(3).integers(0, problem.n_variables, size=_RANK_ONE_SAMPLE)
        customers, actions = problem.pair_customer[pairs], problem.pair_action[pairs]
        model = w[customers] * s[actions] + t[actions]
        for sign in (1.0, -1.0):
            if np.allclose(signed[pairs], sign * model, rtol=1e-9, atol=1e-9):
                return cls(problem, st, w, sign * s, sign * t)
        return None

    def __call__(self, multipliers: np.ndarray, limits: Limits) -> tuple[float, np.ndarray]:
        """L(multipliers) (signed multipliers, 0 on inactive rows) and every coupling row's activity."""
        problem = self.problem
        alpha = np.concatenate([[0.0], multipliers @ problem.action_coefficients])
        beta = multipliers[problem.customer_rows] @ self.class_coefficients
        intercepts = self.t[None, :] - alpha[None, :] - beta[:, None]
        intercepts[:, 0] = 0.0
        intercepts[~self.eligible] = -np.inf
        # crossing[g, j, l]: the w where line l meets line j (l wins below it if flatter, above if steeper)
        with np.errstate(invalid="ignore", divide="ignore"):
            crossing = (intercepts[:, None, :] - intercepts[:, :, None]) / self.slope_gap[None, :, :]
        crossing = np.nan_to_num(crossing, nan=-np.inf)
        start = np.where(self.flatter[None], crossing, -np.inf).max(axis=2)
        end = np.where(self.steeper[None], np.nan_to_num(crossing, neginf=np.inf), np.inf).min(axis=2)
        tied = self.same[None] & (
            (intercepts[:, None, :] > intercepts[:, :, None])
            | ((intercepts[:, None, :] == intercepts[:, :, None]) & self.earlier[None])
        )
        wins = (start < end) & self.eligible & ~tied.any(axis=2)
        bounds = np.stack([start, end]) - self.low
        queries = self.offset[None] + np.clip(bounds, 0.0, self.span - 1.0)
        first, last = np.searchsorted(self.key, queries)  # customers with start <= w < end
        count = np.where(wins, last - first, 0)
        total_w = np.where(wins, self.prefix[last] - self.prefix[first], 0.0)
        lines = np.where(wins, self.slopes[None, :] * total_w + np.where(wins, intercepts, 0.0) * count, 0.0)
        counts = count[:, 1:].astype(float)  # (classes, actions)
        activity = problem.action_coefficients @ counts.sum(axis=0)
        if len(problem.customer_rows):
            activity[problem.customer_rows] += self.class_coefficients @ counts.sum(axis=1)
        bound = limits.term(multipliers) + float(lines[:, 1:].sum())
        return bound, activity
