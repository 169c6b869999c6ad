"""Large-scale solve path: Lagrangian decomposition over the coupling rows, with a certified optimality gap.

Why it works. Only the coupling rows (budget, channel capacities, coverage, saturation, fairness: about 20)
link customers; every other row is one customer's "at most one action". For multipliers `lam` on the
coupling rows (lam >= 0 on '<=' rows, lam <= 0 on '>=' rows: d objective / d right-hand side), every
feasible plan x has

    objective(x) <= L(lam) - sum_i loss_i(x),    L(lam) = lam . b + sum_i max(0, max_k r[i,k]),
    r[i,k] = c[i,k] - lam . A[:, (i,k)]   (the reduced profit),

where loss_i(x) >= 0 is how far customer i's choice in x falls short of its best reduced profit. So L(lam)
is an upper bound for any such lam (its minimum is the LP relaxation's optimum), one pass over customers x
actions evaluates it, and at the LP optimum only the customers near a tie are ambiguous.

`DecompositionSession.solve`:

1. Exact when the objective depends only on a customer's class (same per-customer coefficients, same
   eligible actions: feasibility checks, the least budget): customers of a class are interchangeable, and
   the MILP over classes (an integer count per class and action) is solved whole.
2. Feasibility, exactly: the MILP over classes with a zero objective (a few hundred integer variables at
   any scale; skipped when the session's previous plan still fits). Infeasible settings stop here;
   otherwise its plan is the fallback incumbent.
3. Multipliers: minimize L by cutting planes in a box trust region (each cut one exact evaluation of L and
   its subgradient b - A x(lam)), Newton steps on the binding rows, then the cutting planes' tail. For the
   retention objective w_i * uplift_k - cost_k an evaluation costs O(classes x actions^2 + log n)
   (customers of a class sorted by w once); for any other objective one dense pass, started from the LP of a
   random sample. A warm start begins at the previous multipliers, with the previous cuts (kept on the
   problem), and an earlier plan that still fits the new right-hand sides replaces step 2.
4. Plan: every customer at its best action at the multipliers (one exact pricing pass), then a plan over the
   customers with the smallest margins (each offered its three best options), everyone else fixed: their
   LP relaxation (integral: the MILP's optimum); if fractional, its rounding (the integral customers fixed,
   a MILP over the few fractional ones), kept when within `rounding_gap` of the bound, else their exact
   MILP (whose root alone can take seconds on knapsack-like neighbourhoods). Every candidate plan is checked
   against every row before use.
5. Certificate: bound = L(lam) (computed directly, valid whatever the LP solver's tolerances), gap =
   (bound - objective) / |objective|. When few choices have a loss below bound - objective, reduced-cost
   fixing makes the exact MILP over just those small: every better plan uses only such choices, so its
   optimum is the global optimum and the gap closes. Once the target gap is met, a certificate that would
   free more customers than the neighbourhood is skipped (its MILP can take seconds) and the plan keeps its
   honest gap. A small model whose gap stays above the target is solved whole.

LP-relaxation sessions (the duals of `marginal_values`) finish step 3 with sifting: an LP over the customers
with the smallest margins, everyone else fixed to their best action, until no fixed choice stops being best.

The per-action + per-customer form of the coupling rows (see `Problem`) is what makes pricing cheap. HiGHS
solves every LP and MILP, on one thread with a fixed seed: results are deterministic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.model import Problem
from optimizer.solvers.base import ABSOLUTE_GAP, Solution, SolverUnavailable

Progress = Callable[[float, str], None]
_RANK_ONE_SAMPLE = 20_000  # pairs checked to recognize the retention objective's rank-one form
_KEPT_CUTS = 200  # cutting planes kept for the next warm start
_INTEGRAL = 1e-9  # an LP value this close to an integer counts as that integer


@dataclass(frozen=True)
class DecompositionOptions:
    """Tuning of the decomposition path. The defaults suit 250 to a few million customers."""

    target_gap: float = 1e-4  # accept a plan once the certified relative gap is at most this (0.01%)
    exact_limit: int = 2_000  # variables up to which the MILP is solved whole when the gap stays above target
    working_set: int = 1_000  # customers in the first sifting LP (LP relaxation sessions)
    neighbourhood: int = 300  # most ambiguous customers (smallest margins) freed in the plan's MILP
    rounding_gap: float = 1e-5  # a rounded LP plan of the neighbourhood this close to the bound is kept
    certify_limit: int = 20_000  # choices up to which the reduced-cost-fixed MILP is solved exactly
    max_rounds: int = 4  # plan MILPs, neighbourhood x4 each time, before settling for the gap reached
    sample_size: int = 2_000  # customers in the sample LP (first multipliers for a general objective)
    dual_iterations: int = 400  # cutting-plane steps on L at most
    dual_tolerance: float = 1e-10  # stop when the cutting-plane model promises less than this (relative)


@dataclass
class _Structure:
    """Per-problem arrays, independent of settings and objective (cached on the problem)."""

    pair_of: np.ndarray  # (customers, actions) variable index, -1 where not eligible
    eligible: np.ndarray  # (customers, actions) bool
    class_of: np.ndarray  # class of each customer: same per-customer coefficients and eligible actions
    class_first: np.ndarray  # first customer of each class
    class_size: np.ndarray
    class_order: np.ndarray  # customers grouped by class, in cohort order within a class


@dataclass
class _Prices:
    """What every customer would do on its own at some multipliers."""

    multipliers: np.ndarray  # sign-corrected, 0 on inactive rows
    alpha: np.ndarray  # per-action part of lam . A
    beta: np.ndarray  # per-customer part of lam . A
    choice: np.ndarray  # best action position, -1 for no action
    best: np.ndarray  # best reduced profit (>= 0: no action is worth 0)
    margin: np.ndarray  # best - second best option (inf when the customer has no eligible action)
    bound: float  # L(multipliers)


@dataclass
class _Sub:
    """A solved LP or MILP over some units (customers, or classes of interchangeable customers)."""

    status: str  # "optimal" | "infeasible" | "time_limit" | "no_solution"
    units: np.ndarray  # unit of each column
    actions: np.ndarray  # action position of each column
    values: np.ndarray | None
    objective: float | None
    bound: float | None
    duals: np.ndarray | None  # active coupling rows' duals (LP only)
    method: str = ""  # "LP", or for integer models "integral LP optimum" | "LP optimum rounded" | "MILP"


@dataclass
class _Relaxation:
    """The LP relaxation's optimum found by sifting."""

    prices: _Prices  # at the LP's multipliers
    lowest: _Prices  # the multipliers with the lowest L seen (the bound)
    fixed: np.ndarray  # choices of the customers outside the LP
    free: np.ndarray  # customers in the last LP
    sub: _Sub
    rounds: int


def structure(problem: Problem) -> _Structure:
    """Eligibility table and customer classes of a problem (computed once, then cached on it)."""
    cached = problem.cache.get("decomposition")
    if cached is not None:
        return cached
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
    result = _Structure(
        pair_of=pair_of,
        eligible=eligible,
        class_of=class_of,
        class_first=first,
        class_size=np.bincount(class_of, minlength=len(first)),
        class_order=np.argsort(narrow, kind="stable"),
    )
    problem.cache["decomposition"] = result
    return result


class DecompositionSession:
    """The decomposition behind the session interface of `optimizer.solvers` (set_rhs, set_objective, solve).

    Keeps the last multipliers per objective, so a re-solve after `set_rhs` (a budget sweep, marginal
    values) starts from them; `warm_start(multipliers)` seeds them from an earlier solve.
    """

    name = "decomposition"

    def __init__(
        self,
        problem: Problem,
        rhs: np.ndarray,
        *,
        relax: bool = False,
        options: DecompositionOptions | None = None,
        progress: Progress | None = None,
    ):
        try:
            import highspy
        except ImportError as exc:
            raise SolverUnavailable(
                "highspy is not installed (the decomposition's LPs and MILPs use it)"
            ) from exc
        self._highspy = highspy
        self.problem = problem
        self.relax = relax
        self.options = options or DecompositionOptions()
        self.progress = progress
        self.structure = structure(problem)
        self.senses = np.array([row.sense for row in problem.rows])
        self._warm: dict[tuple, np.ndarray] = {}
        # The last dual's cutting planes per objective, shared by the problem's sessions: a warm start in a
        # new session (a re-plan from an earlier result) begins with the full cutting-plane model.
        self._cuts: dict[tuple, tuple] = problem.cache.setdefault("cuts", {})
        self._last_plan: np.ndarray | None = None  # proves feasibility of later right-hand sides it fits
        self._deadline = math.inf
        self.set_rhs(rhs)
        self.set_objective(problem.objective, maximize=True)

    # --- session interface ---------------------------------------------------------------------------

    def set_rhs(self, rhs: np.ndarray) -> None:
        rhs = np.asarray(rhs, dtype=float)
        m, n = self.problem.n_coupling, self.problem.n_customers
        if len(rhs) not in (m, m + n):
            raise ValueError(f"expected {m} or {m + n} right-hand sides, got {len(rhs)}")
        if len(rhs) > m and not np.all(rhs[m:] == 1.0):
            raise ValueError("the decomposition needs every customer's one-action row to be <= 1")
        self.rhs = rhs[:m].copy()
        upper = self.senses == "<="
        self.active = np.flatnonzero(np.where(upper, self.rhs < math.inf, self.rhs > -math.inf))

    def set_objective(self, objective: np.ndarray, maximize: bool = True) -> None:
        p = self.problem
        objective = np.asarray(objective, dtype=float)
        if len(objective) != p.n_variables:
            raise ValueError("objective length differs from the number of variables")
        self.maximize = maximize
        # The problem's own objective (every plan solve) is prepared once per problem: a re-plan with new
        # right-hand sides then opens its session in milliseconds, even at a million customers.
        own = objective is p.objective
        prepared = p.cache.get(("objective", maximize)) if own else None
        if prepared is None:
            prepared = self._prepare(objective if maximize else -objective)
            if own:
                p.cache[("objective", maximize)] = prepared
        self.profit, self.scale, self.class_level, self._key, self._rank_one = prepared

    def _prepare(self, signed: np.ndarray) -> tuple:
        """Action-major profits (pricing runs by action), scale, class level, identity key, rank-one form."""
        p = self.problem
        profit = np.full((p.n_actions, p.n_customers), -np.inf)
        profit[p.pair_action, p.pair_customer] = signed
        profit.flags.writeable = False  # shared by every session of the problem
        scale = max(1.0, float(np.abs(signed).max(initial=0.0)))
        class_level = self._is_class_level(profit)
        probe = np.random.default_rng(1).random(len(signed))
        key = (float(signed @ probe), float(signed.sum()))  # same signed objective, same key
        rank_one = None if class_level else _RankOneDual.recognize(p, self.structure, signed)
        return profit, scale, class_level, key, rank_one

    def _is_class_level(self, profit: np.ndarray) -> bool:
        st = self.structure
        first = st.class_first[st.class_of]
        sample = np.random.default_rng(2).choice(len(first), size=min(len(first), 64), replace=False)
        if not np.array_equal(profit[:, sample], profit[:, first[sample]]):
            return False  # cheap early exit for the usual, customer-specific objective
        return bool(np.array_equal(profit, profit[:, first]))

    def warm_start(self, multipliers: np.ndarray | None, plan: np.ndarray | None = None) -> None:
        """Start the next solve from these coupling-row multipliers (d objective / d rhs, per row). `plan`:
        the variables set to 1 in an earlier plan of this problem; when it satisfies the current right-hand
        sides it proves feasibility (no feasibility MILP) and is the fallback incumbent."""
        p = self.problem
        if plan is not None:
            plan = np.asarray(plan, dtype=np.int64)
            if plan.ndim != 1 or (len(plan) and (plan.min() < 0 or plan.max() >= p.n_variables)):
                raise ValueError("the warm-start plan must list variable indices of this problem")
            choice = np.full(p.n_customers, -1, dtype=np.int64)
            choice[p.pair_customer[plan]] = p.pair_action[plan]
            if np.count_nonzero(choice >= 0) == len(plan):  # one action per customer
                self._last_plan = choice
        if multipliers is None:
            return
        multipliers = np.asarray(multipliers, dtype=float)
        if multipliers.shape != (p.n_coupling,):
            raise ValueError(f"expected {p.n_coupling} multipliers, got {multipliers.shape}")
        self._warm[self._key] = (multipliers if self.maximize else -multipliers).copy()

    def close(self) -> None:
        self.profit = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- solve ---------------------------------------------------------------------------------------

    def solve(self, time_limit: float | None = None) -> Solution:
        started = time.perf_counter()
        self._deadline = started + time_limit if time_limit else math.inf
        solution = self._solve()
        solution.runtime = time.perf_counter() - started
        self._say(1.0, f"{solution.status}: {solution.detail}")
        return solution

    def _solve(self) -> Solution:
        st = self.structure
        n = self.problem.n_customers
        if not self.relax and self.class_level and self._class_columns() <= max(self.options.exact_limit, 1):
            self._say(0.1, f"exact MILP over {len(st.class_size):,} customer classes")
            return self._exact(classes=True)
        self._say(0.02, "feasibility, exactly, over customer classes")
        fallback = self._last_plan if self._fits(self._last_plan) else self._feasible_plan()
        if fallback is None:
            return self._solution(
                "infeasible", None, None, None, "infeasible: exact check over customer classes"
            )
        if fallback is False:
            return self._solution(
                "no_solution", None, None, None, "time limit before feasibility was decided"
            )
        lam = self._warm.get(self._key)
        if lam is not None:
            start = "warm start"
        elif self._rank_one is None:
            lam = self._sample_multipliers()
            start = f"sample LP of {min(self.options.sample_size, n):,} customers"
        else:
            lam = np.zeros(self.problem.n_coupling)
            start = "cold start"
        dual = self._dual(lam, warm=start == "warm start")
        lam = lam if dual is None else dual.multipliers
        if self.relax:
            relaxation = self._sifting(lam)
            if relaxation is None:
                return Solution(
                    "time_limit", None, None, None, None, 0.0, detail="stopped before the LP optimum"
                )
            return self._lp_solution(relaxation)
        solution = self._plan(
            self._price(lam), fallback, f"{start}, {self._evaluations(dual)} dual evaluations"
        )
        self._warm[self._key] = lam.copy()
        if (
            solution.mip_gap > self.options.target_gap
            and self.problem.n_variables <= self.options.exact_limit
        ):
            self._say(0.95, f"gap above target: exact MILP over {n:,} customers")
            return self._exact(classes=False)  # small enough to close the gap whole
        return solution

    # --- exact MILP over classes or customers ----------------------------------------------------------

    def _class_columns(self) -> int:
        st = self.structure
        return int(st.eligible[st.class_first].sum())

    def _exact(self, classes: bool) -> Solution:
        st = self.structure
        if classes:
            reps, sizes = st.class_first, st.class_size
        else:
            reps = np.arange(self.problem.n_customers)
            sizes = np.ones(len(reps), dtype=np.int64)
        what = f"{len(reps):,} customer classes" if classes else f"{len(reps):,} customers"
        sub = self._solve_units(reps, sizes, st.eligible[reps], self.rhs[self.active], integer=True)
        if sub.status == "infeasible":
            return self._solution("infeasible", None, None, None, f"infeasible: exact MILP over {what}")
        if sub.values is None:
            return self._solution(sub.status, None, None, None, f"no plan within the time limit ({what})")
        choice = self._disaggregate(reps, sub, classes)
        value = self._value(choice)
        bound = max(value, sub.bound) if sub.bound is not None else None
        status = "optimal" if sub.status == "optimal" else "time_limit"
        return self._solution(status, choice, value, bound, f"exact MILP over {what}")

    def _disaggregate(self, reps: np.ndarray, sub: _Sub, classes: bool) -> np.ndarray:
        """Customer choices from a solution over customers, or over classes (a class's counts go to its
        customers in cohort order)."""
        choice = np.full(self.problem.n_customers, -1, dtype=np.int64)
        if classes:
            self._spread(self.structure.class_order, self.structure.class_size, sub, choice)
        else:
            self._spread(reps, np.ones(len(reps), dtype=np.int64), sub, choice)
        return choice

    @staticmethod
    def _spread(members: np.ndarray, sizes: np.ndarray, sub: _Sub, choice: np.ndarray) -> None:
        """Write a units solution into `choice`: unit u owns members[offset[u] : offset[u] + sizes[u]], and
        its count of each action goes to its next members in that order."""
        counts = np.rint(sub.values).astype(np.int64)
        picked = counts > 0
        if np.all(sizes == 1):
            choice[members[sub.units[picked]]] = sub.actions[picked]
            return
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        for unit, action, count in zip(sub.units[picked], sub.actions[picked], counts[picked], strict=True):
            choice[members[offset[unit] : offset[unit] + count]] = action
            offset[unit] += count

    def _best_options(self, prices: _Prices, customers: np.ndarray, count: int = 3) -> np.ndarray:
        """Allowed actions: each customer's `count` best options by reduced profit (no action among them)."""
        reduced = self.profit[:, customers].T - prices.alpha[None, :] - prices.beta[customers][:, None]
        options = np.column_stack([reduced, np.zeros(len(customers))])  # last column: no action
        keep = min(count, options.shape[1])
        threshold = -np.partition(-options, keep - 1, axis=1)[:, keep - 1 : keep]
        return (reduced >= threshold) & np.isfinite(reduced)

    def _identical_groups(self, customers: np.ndarray, allowed: np.ndarray | None = None):
        """Group customers that are interchangeable here (same class, same profits, same allowed actions):
        returns (members grouped by group, representative, size, allowed per group). Ties in the data then
        cost one integer variable per group instead of one binary per customer."""
        st = self.structure
        allowed = st.eligible[customers] if allowed is None else allowed
        key = np.column_stack([st.class_of[customers], self.profit[:, customers].T, allowed])
        _, first, inverse, sizes = np.unique(
            key, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        return customers[order], customers[first], sizes, allowed[first]

    def _feasible_plan(self) -> np.ndarray | None | bool:
        """Some feasible plan; None when the settings are infeasible; False when the time limit came first.
        (A MILP over classes with a zero objective.)"""
        st = self.structure
        reps = st.class_first
        sub = self._solve_units(
            reps, st.class_size, st.eligible[reps], self.rhs[self.active], integer=True, zero=True
        )
        if sub.status == "infeasible":
            return None
        if sub.values is None:
            return False
        return self._disaggregate(reps, sub, classes=True)

    # --- pricing -------------------------------------------------------------------------------------

    def _signed(self, multipliers: np.ndarray) -> np.ndarray:
        """Multipliers on the active rows only, with the sign that keeps L an upper bound."""
        lam = np.zeros(self.problem.n_coupling)
        lam[self.active] = multipliers[self.active]
        return np.where(self.senses == "<=", np.maximum(lam, 0.0), np.minimum(lam, 0.0))

    def _price(self, multipliers: np.ndarray) -> _Prices:
        """Every customer's best and second-best option at `multipliers`: one pass per action."""
        p = self.problem
        lam = self._signed(multipliers)
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
        bound = float(lam[self.active] @ self.rhs[self.active]) + float(best.sum())
        return _Prices(lam, alpha, beta, choice, best, margin, bound)

    def _reduced(self, prices: _Prices, customers: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return self.profit[actions, customers] - prices.alpha[actions] - prices.beta[customers]

    def _activity(self, choice: np.ndarray) -> np.ndarray:
        """Activity of every coupling row of a full plan (choice -1: no action)."""
        p = self.problem
        treated = choice >= 0
        per_action = np.bincount(choice[treated], minlength=p.n_actions).astype(float)
        activity = p.action_coefficients @ per_action
        if len(p.customer_rows):
            activity[p.customer_rows] += p.customer_coefficients @ treated.astype(float)
        return activity

    def _value(self, choice: np.ndarray) -> float:
        who = np.flatnonzero(choice >= 0)
        return float(self.profit[choice[who], who].sum())

    def _within_limits(self, activity: np.ndarray) -> bool:
        """Does this activity of every coupling row respect every active limit (to 1e-6, relative)?"""
        activity, rhs = activity[self.active], self.rhs[self.active]
        slack = np.where(self.senses[self.active] == "<=", rhs - activity, activity - rhs)
        return bool((slack >= -1e-6 * np.maximum(1.0, np.abs(rhs))).all())

    def _fits(self, choice: np.ndarray | None) -> bool:
        """Does this plan (e.g. the previous solve's) satisfy the current right-hand sides?"""
        return choice is not None and self._within_limits(self._activity(choice))

    def _smallest_margins(self, prices: _Prices, count: int, exclude: np.ndarray | None) -> np.ndarray:
        margin = prices.margin if exclude is None else np.where(exclude, np.inf, prices.margin)
        count = min(count, int(np.isfinite(margin).sum()))
        if count <= 0:
            return np.zeros(0, dtype=np.int64)
        picked = np.argpartition(margin, count - 1)[:count] if count < len(margin) else np.arange(len(margin))
        return np.sort(picked[np.isfinite(margin[picked])])

    # --- multipliers -----------------------------------------------------------------------------------

    def _dual(self, multipliers: np.ndarray, warm: bool) -> _Dual | None:
        """Multipliers at the minimum of L (to `dual_tolerance`): cutting planes to a coarse tolerance (cold
        start), Newton steps on the binding rows, then Kelley's tail."""
        if len(self.active) == 0:
            return None
        self._say(0.1, "multipliers of the coupling constraints (cutting planes on the Lagrangian dual)")
        dual = _Dual(self, multipliers, warm)
        if not warm:
            dual.kelley(1e-6)
        dual.hold_slack()
        dual.newton()
        dual.kelley(self.options.dual_tolerance)  # a tight bound keeps the certificate's MILP small
        dual.store()
        return dual

    @staticmethod
    def _evaluations(dual: _Dual | None) -> int:
        return 0 if dual is None else dual.evaluations

    def _shifted_cuts(self):
        """The previous solve's cuts for this objective, moved to the current right-hand sides."""
        stored = self._cuts.get(self._key)
        if stored is None:
            return []
        old_rhs, points, values, usages = stored
        used = points != 0
        keep = ~(used & ~np.isfinite(self.rhs)).any(axis=1)  # a cut leaning on a row now switched off
        change = np.where(used, np.nan_to_num(self.rhs - old_rhs, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
        shifted = values + (points * change).sum(axis=1)
        return [(points[t], shifted[t], usages[t]) for t in np.flatnonzero(keep)]

    def _evaluate(self, multipliers: np.ndarray) -> tuple[float, np.ndarray]:
        """L and every coupling row's activity at every customer's best choice (one dense pass)."""
        prices = self._price(multipliers)
        return prices.bound, self._activity(prices.choice)

    def _sample_multipliers(self) -> np.ndarray:
        """Duals of the LP relaxation of a random sample, right-hand sides scaled to the sample."""
        p, st = self.problem, self.structure
        size = min(self.options.sample_size, p.n_customers)
        self._say(0.05, f"LP relaxation of a sample of {size:,} customers")
        sample = np.sort(np.random.default_rng(0).choice(p.n_customers, size=size, replace=False))
        rhs = self.rhs[self.active] * (size / p.n_customers)
        sub = self._solve_units(
            sample, np.ones(size, dtype=np.int64), st.eligible[sample], rhs, integer=False
        )
        lam = np.zeros(p.n_coupling)
        if sub.duals is not None:
            lam[self.active] = sub.duals
        return lam

    def _sifting(self, multipliers: np.ndarray) -> _Relaxation | None:
        """The LP relaxation's optimum: an LP over a working set, the other customers fixed to their best."""
        n = self.problem.n_customers
        prices = self._price(multipliers)
        lowest = prices
        fixed = prices.choice.copy()
        working = np.zeros(n, dtype=bool)
        grow = self.options.working_set
        tolerance = 1e-7 * self.scale
        for round_ in range(1, 1000):
            if time.perf_counter() > self._deadline:
                return None
            working[self._smallest_margins(prices, grow, working)] = True
            free = np.flatnonzero(working)
            self._say(
                0.3 + 0.3 * (1 - 0.5**round_), f"LP relaxation, round {round_}: {len(free):,} customers free"
            )
            rhs = self.rhs[self.active] - self._activity(np.where(working, -1, fixed))[self.active]
            sub = self._solve_units(
                free, np.ones(len(free), dtype=np.int64), self.structure.eligible[free], rhs, integer=False
            )
            if sub.status == "infeasible":  # the fixed customers leave the others no room: free more
                if np.isinf(np.where(working, np.inf, prices.margin)).all():
                    return None  # everyone is free (only reachable through tolerances)
                grow = 4 * max(len(free), self.options.working_set)
                continue
            if sub.duals is None:
                return None
            lam = np.zeros(self.problem.n_coupling)
            lam[self.active] = sub.duals
            prices = self._price(lam)
            if prices.bound < lowest.bound:
                lowest = prices
            outside = np.flatnonzero(~working)
            chosen = np.zeros(len(outside))
            acting = fixed[outside] >= 0
            chosen[acting] = self._reduced(prices, outside[acting], fixed[outside[acting]])
            violated = outside[prices.best[outside] - chosen > tolerance]
            if not len(violated):
                return _Relaxation(prices, lowest, fixed, free, sub, round_)
            working[violated] = True
            fixed[violated] = -1
            grow = 0
        return None

    def _lp_solution(self, relaxation: _Relaxation) -> Solution:
        p, st = self.problem, self.structure
        sub, free, fixed, prices = relaxation.sub, relaxation.free, relaxation.fixed, relaxation.prices
        x = np.zeros(p.n_variables)
        treated = np.flatnonzero(fixed >= 0)
        x[st.pair_of[treated, fixed[treated]]] = 1.0
        x[st.pair_of[free[sub.units], sub.actions]] = sub.values
        value = float(self.profit[p.pair_action, p.pair_customer] @ x)
        sign = 1.0 if self.maximize else -1.0
        return Solution(
            "optimal",
            x,
            sign * value,
            sign * relaxation.lowest.bound,
            0.0,
            0.0,
            sign * np.concatenate([prices.multipliers, prices.best]),
            multipliers=sign * prices.multipliers,
            detail=f"LP relaxation by sifting ({relaxation.rounds} rounds, {len(free):,} customers free)",
        )

    # --- plan and certificate ------------------------------------------------------------------------

    def _plan(self, prices: _Prices, fallback, start: str) -> Solution:
        """A plan over the most ambiguous customers (their LP optimum, its rounding, or their exact MILP),
        everyone else at their best choice.

        Candidate plans differ from the best choices `prices.choice` only on the freed customers, so their
        value and row activity are updated from the base plan's in time proportional to those customers.
        """
        n = self.problem.n_customers
        bound = prices.bound
        base = _Base(self, prices.choice)
        best, best_value = None, -math.inf  # (customers, choices) changed from the base plan
        size, freed_count, method = self.options.neighbourhood, 0, "MILP"
        for round_ in range(1, self.options.max_rounds + 1):
            if time.perf_counter() > self._deadline:
                break
            customers = self._smallest_margins(prices, size, None)
            freed_count = len(customers)
            self._say(0.6 + 0.05 * round_, f"plan over the {freed_count:,} most ambiguous customers")
            members, reps, sizes, allowed = self._identical_groups(
                customers, self._best_options(prices, customers)
            )
            rhs = self.rhs[self.active] - base.without(customers)[self.active]
            # Their LP optimum, rounded when fractional; their exact MILP when that plan is not within
            # `rounding_gap` (on knapsack-like neighbourhoods HiGHS's root alone can take seconds).
            for exact in (False, True):
                sub = self._solve_units(
                    reps,
                    sizes,
                    allowed,
                    rhs,
                    integer=True,
                    abs_gap=1e-3 * self.options.target_gap * max(abs(bound), 1.0),
                    presolve=False,  # HiGHS's presolve costs 3x the solve on these small, near-integral MILPs
                    exact=exact,
                )
                if sub.values is not None:
                    choices = base.spread(customers, members, sizes, sub)
                    value, feasible = base.evaluate(customers, choices)
                    if value > best_value and feasible:
                        best, best_value, method = (customers, choices), value, sub.method
                gap = self._gap(best_value, bound)
                reached = gap <= self.options.target_gap
                if gap <= self.options.rounding_gap or sub.method != "LP optimum rounded":
                    break
            if reached or freed_count >= n:
                break
            size *= 4
        detail = f"Lagrangian decomposition: {start}; " + (
            f"plan over the {freed_count:,} most ambiguous customers ({method})"
            if freed_count
            else "time limit before the MILP: the feasibility plan stands in"
        )
        if best is None:  # no MILP plan: the feasibility plan stands in
            best_value = self._value(fallback)
        certified = self._certify(prices, base, best_value)
        if certified is not None:
            improved, best_value, bound, note = certified
            best = improved or best
            detail += f"; {note}"
        if best is None:
            choice = fallback
        else:
            choice = base.choice.copy()
            choice[best[0]] = best[1]
        gap = self._gap(best_value, bound)
        status = "optimal" if gap <= self.options.target_gap else "time_limit"
        self._last_plan = choice
        return self._solution(status, choice, best_value, bound, detail, multipliers=prices.multipliers)

    def _certify(self, prices: _Prices, base: _Base, value: float):
        """Reduced-cost fixing: a plan better than `value` only uses choices whose loss is below
        bound - value. If those are few, the exact MILP over them gives the global optimum.
        Returns (changes from the base plan if better than the incumbent, else None; value; bound; note)."""
        gap = prices.bound - value
        if gap <= ABSOLUTE_GAP or time.perf_counter() > self._deadline:
            return None
        slack = gap * (1 + 1e-9) + 1e-9 * self.scale
        free = np.flatnonzero(prices.margin <= slack)  # customers with a second option within the gap
        if len(free) * self.problem.n_actions > 4 * self.options.certify_limit:
            return None
        if (
            len(free) > self.options.neighbourhood
            and self._gap(value, prices.bound) <= self.options.target_gap
        ):
            return None  # the target is met; closing the rest over this many customers can take seconds
        loss = prices.best[free][:, None] - (
            self.profit[:, free].T - prices.alpha[None, :] - prices.beta[free][:, None]
        )
        candidate = np.column_stack([loss <= slack, prices.best[free] <= slack])  # last: no action allowed
        members, reps, sizes, allowed = self._identical_groups(free, candidate)
        if int(allowed[:, :-1].sum()) > self.options.certify_limit:
            return None
        self._say(0.9, f"reduced-cost fixing: exact MILP over {len(free):,} customers")
        rhs = self.rhs[self.active] - base.without(free)[self.active]
        sub = self._solve_units(
            reps, sizes, allowed[:, :-1], rhs, integer=True, must_act=~allowed[:, -1], presolve=False
        )
        if sub.status != "optimal" or sub.values is None:
            return None  # (infeasible only through tolerances: the incumbent uses candidates only)
        choices = base.spread(free, members, sizes, sub)
        improved_value, feasible = base.evaluate(free, choices)
        improved = None
        if improved_value > value and feasible:
            improved, value = (free, choices), improved_value
        # Every plan better than the incumbent lies in this MILP: its bound bounds them all.
        bound = max(value, min(prices.bound, base.value - base.value_of(free) + sub.bound))
        return improved, value, bound, f"reduced-cost fixing: exact MILP over {len(free):,} customers"

    @staticmethod
    def _gap(value: float, bound: float) -> float:
        if bound - value <= ABSOLUTE_GAP:
            return 0.0
        return (bound - value) / max(abs(value), 1e-10)

    def _solution(
        self,
        status: str,
        choice: np.ndarray | None,
        value: float | None,
        bound: float | None,
        detail: str,
        multipliers: np.ndarray | None = None,
    ) -> Solution:
        if choice is None:
            return Solution(status, None, None, None, None, 0.0, detail=detail)
        sign = 1.0 if self.maximize else -1.0
        x = np.zeros(self.problem.n_variables)
        treated = np.flatnonzero(choice >= 0)
        x[self.structure.pair_of[treated, choice[treated]]] = 1.0
        return Solution(
            status,
            x,
            sign * value,
            None if bound is None else sign * bound,
            None if bound is None else self._gap(value, bound),
            0.0,
            multipliers=None if multipliers is None else sign * multipliers,
            detail=detail,
        )

    # --- LPs and MILPs over units ----------------------------------------------------------------------

    def _solve_units(
        self,
        reps: np.ndarray,
        sizes: np.ndarray,
        allowed: np.ndarray,
        rhs: np.ndarray,
        *,
        integer: bool,
        zero: bool = False,
        must_act: np.ndarray | None = None,
        abs_gap: float = ABSOLUTE_GAP,
        presolve: bool = True,
        exact: bool = True,
    ) -> _Sub:
        """max sum profit[k, rep] y[u, k] over units u (a customer, or `sizes[u]` interchangeable customers
        represented by `reps[u]`) and allowed actions k, subject to the active coupling rows with right-hand
        sides `rhs` and sum_k y[u, k] <= sizes[u] (= with `must_act`); 0 <= y <= sizes; integer if asked.

        Integer models solve the LP relaxation first: its optimum, if integral, is the MILP's. With
        `exact=False` a fractional LP optimum is rounded by `_round_lp` (status "feasible": a plan, no bound),
        and only if that finds nothing is the MILP solved."""
        p = self.problem
        highspy = self._highspy
        units, actions = np.nonzero(allowed)
        customers = reps[units]
        active = self.active
        coupling = p.action_coefficients[active][:, actions]
        for j, row in enumerate(p.customer_rows):
            position = np.flatnonzero(active == row)
            if len(position):
                coupling[position[0]] += p.customer_coefficients[j][customers]
        upper = self.senses[active] == "<="
        row_lower = np.concatenate([np.where(upper, -np.inf, rhs), np.full(len(reps), -np.inf)])
        row_upper = np.concatenate([np.where(upper, rhs, np.inf), sizes.astype(float)])
        if must_act is not None:
            row_lower[len(active) :] = np.where(must_act, sizes, -np.inf)
        if len(units) == 0:  # HiGHS calls an empty model optimal whatever its row bounds
            feasible = bool(np.all(row_lower <= 1e-9) and np.all(row_upper >= -1e-9))
            if not feasible:
                return _Sub("infeasible", units, actions, None, None, None, None)
            return _Sub("optimal", units, actions, np.zeros(0), 0.0, 0.0, np.zeros(len(active)))
        # Column-wise: each column's coupling entries (rows ascending), then its unit's row (below them all).
        nz_col, nz_row = np.nonzero(coupling.T)
        rows = np.concatenate([nz_row, len(active) + units])
        cols = np.concatenate([nz_col, np.arange(len(units))])
        order = np.lexsort((rows, cols))
        start = np.zeros(len(units) + 1, dtype=np.int32)
        np.cumsum(np.bincount(cols, minlength=len(units)), out=start[1:])
        index = rows[order].astype(np.int32)
        coefficient = np.concatenate([coupling[nz_row, nz_col], np.ones(len(units))])[order]
        h = self._highs(mip_abs_gap=abs_gap, presolve="on" if presolve else "off")
        lp = highspy.HighsLp()
        lp.num_col_ = len(units)
        lp.num_row_ = len(active) + len(reps)
        lp.col_cost_ = np.zeros(len(units)) if zero else self.profit[actions, customers]
        lp.col_lower_ = np.zeros(len(units))
        lp.col_upper_ = sizes[units].astype(float)
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = start
        lp.a_matrix_.index_ = index
        lp.a_matrix_.value_ = coefficient
        lp.sense_ = highspy.ObjSense.kMaximize
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        ms = highspy.HighsModelStatus
        if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            return _Sub("infeasible", units, actions, None, None, None, None)  # the MILP too, if asked
        if integer:
            # The LP relaxation first: at most about one fractional unit per coupling row, and usually none.
            # An integral LP optimum is the MILP's optimum (the LP bounds the MILP), at a tenth of the
            # time of HiGHS's MILP machinery on these small models.
            solution = h.getSolution()
            if status == ms.kOptimal and solution.value_valid:
                values = np.asarray(solution.col_value)
                rounded = np.rint(values)
                fractional = np.abs(values - rounded) > _INTEGRAL
                if not fractional.any():
                    objective = float(lp.col_cost_ @ rounded)
                    return _Sub(
                        "optimal", units, actions, rounded, objective, objective, None, "integral LP optimum"
                    )
                if not exact:
                    found = self._round_lp(lp, units, fractional, rounded)
                    if found is not None:
                        value = float(lp.col_cost_ @ found)
                        return _Sub(
                            "feasible", units, actions, found, value, None, None, "LP optimum rounded"
                        )
            lp.integrality_ = np.full(len(units), highspy.HighsVarType.kInteger)
            h.passModel(lp)
            h.run()
            status = h.getModelStatus()
            if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
                return _Sub("infeasible", units, actions, None, None, None, None)
        info = h.getInfo()
        solution = h.getSolution()
        has_values = bool(solution.value_valid) and (not integer or info.primal_solution_status == 2)
        values = np.asarray(solution.col_value) if has_values else None
        objective = float(info.objective_function_value) if has_values else None
        optimal = status == ms.kOptimal
        if integer:
            bound = float(info.mip_dual_bound) if has_values else None
            duals = None
        else:
            bound = objective
            duals = np.asarray(solution.row_dual)[: len(active)] if optimal and solution.dual_valid else None
        label = "optimal" if optimal else ("time_limit" if has_values else "no_solution")
        return _Sub(label, units, actions, values, objective, bound, duals, "MILP" if integer else "LP")

    def _highs(self, **options):
        """A HiGHS instance for the LPs and MILPs over units: one thread, fixed seed, exact MIP gaps, the
        session's time limit."""
        h = self._highspy.Highs()
        for option, value in {
            "output_flag": False,
            "threads": 1,
            "random_seed": 0,
            "mip_rel_gap": 0.0,
            # HiGHS 1.15 runs this primal heuristic before every MILP's root: 15 ms even on an 8-column
            # model, more than the rest of the solve on these small, near-integral ones.
            "mip_heuristic_run_feasibility_jump": False,
            **options,
        }.items():
            h.setOptionValue(option, value)
        remaining = self._deadline - time.perf_counter()
        if math.isfinite(remaining):
            h.setOptionValue("time_limit", max(remaining, 0.01))
        return h

    def _round_lp(
        self, lp, units: np.ndarray, fractional: np.ndarray, rounded: np.ndarray
    ) -> np.ndarray | None:
        """Fix-and-solve: every unit whose LP values are all integral keeps them; a MILP over the few units
        with a fractional value (about one per coupling row) places those. None if that MILP has no
        solution (the fixed units leave the others no integral room)."""
        highspy = self._highspy
        loose = np.isin(units, units[fractional])
        fixed = lp.col_lower_.copy(), lp.col_upper_.copy()
        lp.col_lower_ = np.where(loose, fixed[0], rounded)
        lp.col_upper_ = np.where(loose, fixed[1], rounded)
        lp.integrality_ = np.full(len(units), highspy.HighsVarType.kInteger)
        h = self._highs()
        h.passModel(lp)
        h.run()
        lp.col_lower_, lp.col_upper_ = fixed
        lp.integrality_ = []
        info, solution = h.getInfo(), h.getSolution()
        if not solution.value_valid or info.primal_solution_status != 2:
            return None
        return np.rint(np.asarray(solution.col_value))

    def _say(self, fraction: float, message: str) -> None:
        if self.progress is not None:
            self.progress(min(max(fraction, 0.0), 1.0), message)


class _Dual:
    """Minimizing L over the multipliers: Kelley's cutting planes in a box trust region (boxstep) with an LP
    master (HiGHS, hot-started), an active set, and Newton steps on the binding rows.

    The cuts are kept per objective: after a change of right-hand sides b only, a cut at lam shifts by
    lam . (b_new - b_old) (L is lam . b plus a function of lam), so a re-solve starts with a full model.
    """

    def __init__(self, session: DecompositionSession, multipliers: np.ndarray, warm: bool):
        self.session = session
        rank_one = session._rank_one
        self.evaluate = session._evaluate if rank_one is None else (lambda lam: rank_one(lam, session))
        highspy = session._highspy
        self.highspy = highspy
        m = len(session.active)
        self.m = m
        self.upper = session.senses[session.active] == "<="
        self.rhs = session.rhs[session.active]
        self.center = session._signed(multipliers)[session.active]
        self.size = max(1.0, float(np.abs(self.center).max(initial=0.0)))
        self.radius = np.full(m, 0.05 * self.size if warm else 0.5 * max(self.size, session.scale))
        self.held = np.zeros(m, dtype=bool)  # rows held at 0 (active set)
        self.points: list[np.ndarray] = []
        self.values: list[float] = []
        self.usages: list[np.ndarray] = []
        self.evaluations = 0
        h = highspy.Highs()
        for option, value in (
            ("output_flag", False),
            ("threads", 1),
            ("random_seed", 0),
            ("presolve", "off"),
        ):
            h.setOptionValue(option, value)
        inf = highspy.kHighsInf
        h.addVar(-inf, inf)  # theta: the cutting-plane model of L
        h.changeColCost(0, 1.0)
        low, high = self._box()
        h.addVars(m, low, high)
        self.h = h
        self.columns = np.arange(m + 1, dtype=np.int32)
        for point, value, usage in session._shifted_cuts() if warm else ():
            self._add_cut(point, value, usage)
        self.center_value, self.center_usage = self._measure(self.center)

    @property
    def multipliers(self) -> np.ndarray:
        full = np.zeros(self.session.problem.n_coupling)
        full[self.session.active] = self.center
        return full

    def _box(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.center - self.radius, self.center + self.radius
        low = np.where(self.upper, np.maximum(low, 0.0), low)
        high = np.where(self.upper, high, np.minimum(high, 0.0))
        return np.where(self.held, 0.0, low), np.where(self.held, 0.0, high)

    def _rebox(self) -> None:
        low, high = self._box()
        self.h.changeColsBounds(self.m, self.columns[1:], low, high)

    def _add_cut(self, point: np.ndarray, value: float, usage: np.ndarray) -> None:
        active = self.session.active
        slope = self.rhs - usage[active]  # a subgradient of L
        self.h.addRow(
            value - slope @ point[active],
            self.highspy.kHighsInf,
            self.m + 1,
            self.columns,
            np.concatenate([[1.0], -slope]),
        )
        self.points.append(point)
        self.values.append(value)
        self.usages.append(usage)

    def _measure(self, at: np.ndarray) -> tuple[float, np.ndarray]:
        point = np.zeros(self.session.problem.n_coupling)
        point[self.session.active] = at
        value, usage = self.evaluate(point)
        self.evaluations += 1
        self._add_cut(point, value, usage)
        return value, usage

    def _respected(self, usage: np.ndarray) -> np.ndarray:
        """Rows whose activity respects their limit (a row at 0 there cannot lower L by moving)."""
        activity = usage[self.session.active]
        return np.where(self.upper, activity <= self.rhs, activity >= self.rhs)

    def hold_slack(self) -> None:
        """Active set: rows at 0 whose limit the activity respects stay at 0 and leave the model."""
        self.held = (self.center == 0) & self._respected(self.center_usage)
        self._rebox()

    def kelley(self, relative: float) -> None:
        """Cutting-plane steps until the model promises less than `relative` x |L|; held rows whose activity
        crosses their limit are released before stopping."""
        tolerance = relative * max(1.0, abs(self.center_value))
        for _ in range(self.session.options.dual_iterations):
            if time.perf_counter() > self.session._deadline:
                return
            self.h.run()
            if self.h.getModelStatus() != self.highspy.HighsModelStatus.kOptimal:
                return
            solution = np.asarray(self.h.getSolution().col_value)
            predicted = self.center_value - solution[0]
            if predicted <= tolerance:
                released = self.held & ~self._respected(self.center_usage)
                if not released.any():
                    return
                self.held &= ~released
                self._rebox()
                continue
            trial = solution[1:]
            value, usage = self._measure(trial)
            if value <= self.center_value - 0.1 * predicted:  # serious step
                if np.any(np.abs(np.abs(trial - self.center) - self.radius) <= 1e-9 * (1 + self.radius)):
                    self.radius *= 2.0
                self.center, self.center_value, self.center_usage = trial, value, usage
            else:  # null step: the model was too optimistic here
                self.radius *= 0.7
            self._rebox()

    def newton(self, steps: int = 3) -> None:
        """Newton steps on the binding rows' activity = limit, Jacobian by finite differences: near the
        optimum L is nearly smooth at scale, and this replaces most of Kelley's slow tail."""
        active = self.session.active
        x, x_usage = self.center.copy(), self.center_usage
        for _ in range(steps):
            binding = np.flatnonzero((x != 0) & ~self.held)
            if not len(binding):
                return
            jacobian = np.empty((len(binding), len(binding)))
            for j, row in enumerate(binding):
                step = (1e-2 if self.upper[row] else -1e-2) * max(1.0, abs(x[row]))  # into the sign domain
                moved = x.copy()
                moved[row] += step
                jacobian[:, j] = (self._measure(moved)[1][active][binding] - x_usage[active][binding]) / step
            residual = x_usage[active][binding] - self.rhs[binding]
            delta = np.linalg.lstsq(jacobian, -residual, rcond=None)[0]
            x = x.copy()
            x[binding] += delta
            x = np.where(self.upper, np.maximum(x, 0.0), np.minimum(x, 0.0))
            value, x_usage = self._measure(x)
            if not value < self.center_value:
                return
            self.center, self.center_value, self.center_usage = x, value, x_usage
            self.radius = np.full(self.m, max(2 * float(np.abs(delta).max()), 1e-6 * self.size))
        self._rebox()

    def store(self) -> None:
        """Keep the cuts for the next solve of the same objective (see `_shifted_cuts`)."""
        session = self.session
        keep = slice(-_KEPT_CUTS, None)  # the newest: the master LP stays small over a long sweep
        cuts = (
            session.rhs.copy(),
            np.array(self.points[keep]),
            np.array(self.values[keep]),
            np.array(self.usages[keep]),
        )
        session._cuts[session._key] = cuts


class _Base:
    """A full plan (every customer's choice) with its value and row activity, and plans that differ from it
    on a few customers evaluated in time proportional to those."""

    def __init__(self, session: DecompositionSession, choice: np.ndarray):
        self.session = session
        self.choice = choice
        self.activity = session._activity(choice)
        self.value = session._value(choice)
        self._scratch = np.full(len(choice), -1, dtype=np.int64)

    def activity_of(self, customers: np.ndarray, choices: np.ndarray | None = None) -> np.ndarray:
        p = self.session.problem
        choices = self.choice[customers] if choices is None else choices
        acting = choices >= 0
        activity = p.action_coefficients @ np.bincount(choices[acting], minlength=p.n_actions).astype(float)
        if len(p.customer_rows):
            activity[p.customer_rows] += p.customer_coefficients[:, customers[acting]].sum(axis=1)
        return activity

    def value_of(self, customers: np.ndarray, choices: np.ndarray | None = None) -> float:
        choices = self.choice[customers] if choices is None else choices
        acting = choices >= 0
        return float(self.session.profit[choices[acting], customers[acting]].sum())

    def without(self, customers: np.ndarray) -> np.ndarray:
        """Row activity of everyone else's base choices."""
        return self.activity - self.activity_of(customers)

    def spread(self, customers: np.ndarray, members: np.ndarray, sizes: np.ndarray, sub: _Sub) -> np.ndarray:
        """The choices of `customers` in a units solution over their groups."""
        self.session._spread(members, sizes, sub, self._scratch)
        choices = self._scratch[customers].copy()
        self._scratch[customers] = -1
        return choices

    def evaluate(self, customers: np.ndarray, choices: np.ndarray) -> tuple[float, bool]:
        """Value and feasibility (every active row) of the base plan with `customers` changed."""
        feasible = self.session._within_limits(self.without(customers) + self.activity_of(customers, choices))
        return self.value - self.value_of(customers) + self.value_of(customers, choices), feasible


class _RankOneDual:
    """L(lam) and the coupling rows' activity in O(classes x actions^2 + log n), for profits
    profit[k, i] = w_i * s_k + t_k (the retention objective p_i v_i * uplift_k - cost_k, or its negative).

    Within a class (same per-customer coefficients, same eligible actions) a customer's best choice at lam
    depends only on w_i: the upper envelope of one line per eligible action (slope s_k, intercept
    t_k - alpha_k - beta_class) and the zero line (no action). Line j wins on the interval between its
    highest intersection with a flatter line and its lowest with a steeper one; with every class's customers
    sorted by w (one global sorted key) and prefix sums of w, all intervals cost one binary search.
    Only the multipliers come from here: the bound and the plan are always computed from the exact profits.
    """

    def __init__(self, problem: Problem, st: _Structure, w: np.ndarray, s: np.ndarray, t: np.ndarray):
        self.problem = problem
        cache = problem.cache.get("rank_one")
        if cache is None or not np.array_equal(cache[0], w):
            by_w = np.argsort(w)
            classes = st.class_of[by_w].astype(np.int16) if len(st.class_first) < 2**15 else st.class_of[by_w]
            order = by_w[np.argsort(classes, kind="stable")]  # by class, then by w
            sorted_w = w[order]
            low = float(w.min()) - 1.0 if len(w) else 0.0
            span = float(w.max()) - low + 2.0 if len(w) else 2.0  # every key of a class below the next
            key = st.class_of[order] * span + (sorted_w - low)  # increasing: class blocks, w inside
            cache = (w, np.concatenate([[0.0], np.cumsum(sorted_w)]), key, low, span)
            problem.cache["rank_one"] = cache
        _, self.prefix, self.key, self.low, self.span = cache
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
    def recognize(cls, problem: Problem, st: _Structure, signed: np.ndarray):
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

    def __call__(self, multipliers: np.ndarray, session: DecompositionSession) -> tuple[float, np.ndarray]:
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
        bound = float(multipliers[session.active] @ session.rhs[session.active]) + float(lines[:, 1:].sum())
        return bound, activity
