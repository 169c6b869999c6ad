"""`DecompositionSession`: the orchestration of the decomposition's steps (see the package docstring), and
`WarmStart`, what a later session on the same problem starts from. The steps live in their own modules and
receive what they need (pricing, limits, units, options, a deadline, a progress callback), never the session.
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from optimizer.solvers.base import Solution, SolveStatus
from optimizer.solvers.decomposition.certificate import certify
from optimizer.solvers.decomposition.classes import Structure, structure
from optimizer.solvers.decomposition.dual import Cuts, Dual, minimize_dual
from optimizer.solvers.decomposition.neighbourhood import Base, plan_neighbourhood
from optimizer.solvers.decomposition.options import DecompositionOptions, Progress, certified_gap
from optimizer.solvers.decomposition.pricing import Limits, Objective, Prices, Pricing, prepare_objective
from optimizer.solvers.decomposition.relaxation import sample_multipliers, sift
from optimizer.solvers.decomposition.solutions import lp_solution, plan_solution
from optimizer.solvers.decomposition.units import Units
from optimizer.solvers.highs import highspy_module

if TYPE_CHECKING:
    from optimizer.model import Problem

Key = tuple[float, float]  # identifies a signed objective (see `prepare_objective`)


@dataclass(frozen=True)
class WarmStart:
    """What a decomposition session hands to a later one on the same problem (`DecompositionSession.resume`):
    the multipliers and cutting planes per objective, the last plan, and the derived arrays (customer
    classes, the problem's own objective prepared for pricing). Read-only and owned by whoever keeps the
    result it came with: the shared `Problem` is never written by a solve."""

    problem: weakref.ref  # the problem it belongs to (a warm start from another problem is not resumed)
    structure: Structure | None
    objectives: dict[bool, Objective]  # the problem's own objective per `maximize`
    multipliers: dict[Key, np.ndarray]  # last multipliers per objective (maximized sign)
    cuts: dict[Key, Cuts]
    choice: np.ndarray | None  # the last plan: every customer's action position, -1 for none

    def belongs_to(self, problem: Problem) -> bool:
        return self.problem() is problem

    def derived(self) -> WarmStart:
        """Only the derived arrays: the next session prepares nothing again, and starts cold."""
        return WarmStart(self.problem, self.structure, self.objectives, {}, {}, None)


class DecompositionSession:
    """The decomposition behind the session interface of `optimizer.solvers` (set_rhs, set_objective, solve).

    Keeps the last multipliers and cuts per objective, so a re-solve after `set_rhs` (a budget sweep,
    marginal values) starts from them; `warm_start(multipliers, plan)` seeds them from an earlier solve,
    `resume(state)` from an earlier session's `warm_state()`.
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
        highspy_module(" (the decomposition's LPs and MILPs use it)")
        self.problem = problem
        self.relax = relax
        self.options = options or DecompositionOptions()
        self.progress = progress
        self.senses = np.array([row.sense for row in problem.rows])
        self._structure: Structure | None = None
        self._pricing: Pricing | None = None  # prepared on first use (a resumed warm start may bring it)
        self._own: dict[bool, Objective] = {}  # the problem's own objective, prepared, per `maximize`
        self._multipliers: dict[Key, np.ndarray] = {}
        self._cuts: dict[Key, Cuts] = {}  # the last dual's cutting planes per objective
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
        self.limits = Limits(rhs[:m].copy(), self.senses)

    def set_objective(self, objective: np.ndarray, maximize: bool = True) -> None:
        objective = np.asarray(objective, dtype=float)
        if len(objective) != self.problem.n_variables:
            raise ValueError("objective length differs from the number of variables")
        self.maximize = maximize
        self._objective = objective
        self._pricing = None

    @property
    def structure(self) -> Structure:
        if self._structure is None:
            self._structure = structure(self.problem)
        return self._structure

    @property
    def pricing(self) -> Pricing:
        """Pricing for the current objective. The problem's own objective (every plan solve) is prepared once
        per session, or comes with a warm start: a re-plan then starts in milliseconds at a million customers.
        """
        if self._pricing is None:
            own = self._objective is self.problem.objective
            prepared = self._own.get(self.maximize) if own else None
            if prepared is None:
                signed = self._objective if self.maximize else -self._objective
                prepared = prepare_objective(self.problem, self.structure, signed)
                if own:
                    self._own[self.maximize] = prepared
            self._pricing = Pricing(self.problem, prepared)
        return self._pricing

    def prepare(self) -> None:
        """Derive the customer classes and prepare the objective now (else on the first solve)."""
        _ = self.pricing

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
        signed = multipliers if self.maximize else -multipliers
        self._multipliers[self.pricing.objective.key] = signed.copy()

    def resume(self, state: WarmStart | None) -> bool:
        """Continue from an earlier session's `warm_state()` on this problem: its multipliers, cuts, plan and
        derived arrays. False (nothing taken) when `state` is None or belongs to another problem."""
        if state is None or not state.belongs_to(self.problem):
            return False
        self._structure = self._structure or state.structure
        self._own = {**state.objectives, **self._own}
        self._pricing = None
        self._multipliers.update(state.multipliers)
        self._cuts.update(state.cuts)
        if state.choice is not None:
            self._last_plan = state.choice
        return True

    def warm_state(self) -> WarmStart:
        """What a later session on this problem can `resume` from (copies: this session goes on alone)."""
        return WarmStart(
            weakref.ref(self.problem),
            self._structure,
            dict(self._own),
            dict(self._multipliers),
            dict(self._cuts),
            self._last_plan,
        )

    def close(self) -> None:
        self._pricing = None

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

    def _units(self) -> Units:
        return Units(self.problem, self.pricing.profit, self.limits, self._deadline)

    def _solve(self) -> Solution:
        st, pricing, options = self.structure, self.pricing, self.options
        n = self.problem.n_customers
        whole = pricing.objective.class_level and st.class_columns() <= max(options.exact_limit, 1)
        if not self.relax and whole:
            self._say(0.1, f"exact MILP over {len(st.class_size):,} customer classes")
            return self._exact(classes=True)
        self._say(0.02, "feasibility, exactly, over customer classes")
        fallback = self._last_plan if pricing.fits(self._last_plan, self.limits) else self._feasible_plan()
        if fallback is None:
            return self._result(
                SolveStatus.INFEASIBLE, None, None, None, "infeasible: exact check over customer classes"
            )
        if not isinstance(fallback, np.ndarray):  # False: the time limit came first
            return self._result(
                SolveStatus.NO_SOLUTION, None, None, None, "time limit before feasibility was decided"
            )
        key = pricing.objective.key
        lam = self._multipliers.get(key)
        if lam is not None:
            start = "warm start"
        elif pricing.objective.rank_one is None:
            size = min(options.sample_size, n)
            self._say(0.05, f"LP relaxation of a sample of {size:,} customers")
            lam = sample_multipliers(st, self.limits, self._units(), size)
            start = f"sample LP of {size:,} customers"
        else:
            lam = np.zeros(self.problem.n_coupling)
            start = "cold start"
        dual = self._dual(lam, warm=start == "warm start")
        lam = lam if dual is None else dual.multipliers
        if self.relax:
            relaxation = sift(
                lam, pricing, st, self.limits, self._units(), options.working_set, self._deadline, self._say
            )
            if relaxation is None:
                detail = "stopped before the LP optimum"
                return Solution(SolveStatus.TIME_LIMIT, None, None, None, None, 0.0, detail=detail)
            return lp_solution(self.problem, self.structure, self.pricing.profit, self.maximize, relaxation)
        evaluations = 0 if dual is None else dual.evaluations
        solution = self._plan(
            pricing.price(lam, self.limits), fallback, f"{start}, {evaluations} dual evaluations"
        )
        self._multipliers[key] = lam.copy()
        if solution.mip_gap is not None and solution.mip_gap > options.target_gap:
            if self.problem.n_variables <= options.exact_limit:
                self._say(0.95, f"gap above target: exact MILP over {n:,} customers")
                return self._exact(classes=False)  # small enough to close the gap whole
        return solution

    def _dual(self, multipliers: np.ndarray, warm: bool) -> Dual | None:
        """Multipliers at the minimum of L (see `minimize_dual`); the cuts are kept for the next solve."""
        if len(self.limits.active) == 0:
            return None
        self._say(0.1, "multipliers of the coupling constraints (cutting planes on the Lagrangian dual)")
        pricing = self.pricing
        key = pricing.objective.key
        dual = minimize_dual(
            lambda lam: pricing.evaluate(lam, self.limits),
            self.limits,
            multipliers,
            scale=pricing.objective.scale,
            warm=warm,
            cuts=self._cuts.get(key),
            iterations=self.options.dual_iterations,
            tolerance=self.options.dual_tolerance,
            deadline=self._deadline,
        )
        self._cuts[key] = dual.cuts()
        return dual

    # --- exact MILP over classes or customers ----------------------------------------------------------

    def _exact(self, classes: bool) -> Solution:
        st = self.structure
        if classes:
            reps, sizes = st.class_first, st.class_size
        else:
            reps = np.arange(self.problem.n_customers)
            sizes = np.ones(len(reps), dtype=np.int64)
        what = f"{len(reps):,} customer classes" if classes else f"{len(reps):,} customers"
        active = self.limits.active
        sub = self._units().solve(reps, sizes, st.eligible[reps], self.limits.rhs[active], integer=True)
        if sub.status == SolveStatus.INFEASIBLE:
            detail = f"infeasible: exact MILP over {what}"
            return self._result(SolveStatus.INFEASIBLE, None, None, None, detail)
        if sub.values is None:
            return self._result(sub.status, None, None, None, f"no plan within the time limit ({what})")
        choice = st.disaggregate(reps, sub, classes)
        value = self.pricing.value(choice)
        bound = max(value, sub.bound) if sub.bound is not None else None
        status = SolveStatus.OPTIMAL if sub.status == SolveStatus.OPTIMAL else SolveStatus.TIME_LIMIT
        return self._result(status, choice, value, bound, f"exact MILP over {what}")

    def _feasible_plan(self) -> np.ndarray | None | bool:
        """Some feasible plan; None when the settings are infeasible; False when the time limit came first.
        (A MILP over classes with a zero objective.)"""
        st = self.structure
        reps = st.class_first
        rhs = self.limits.rhs[self.limits.active]
        sub = self._units().solve(reps, st.class_size, st.eligible[reps], rhs, integer=True, zero=True)
        if sub.status == SolveStatus.INFEASIBLE:
            return None
        if sub.values is None:
            return False
        return st.disaggregate(reps, sub, classes=True)

    # --- plan and certificate ------------------------------------------------------------------------

    def _plan(self, prices: Prices, fallback: np.ndarray, start: str) -> Solution:
        """The neighbourhood plan (`plan_neighbourhood`), then its certificate (`certify`)."""
        pricing, st, units, options = self.pricing, self.structure, self._units(), self.options
        base = Base(pricing, self.limits, prices.choice)
        found = plan_neighbourhood(prices, base, pricing, st, units, options, self._deadline, self._say)
        best, best_value, bound = found.changes, found.value, prices.bound
        detail = f"Lagrangian decomposition: {start}; " + (
            f"plan over the {found.freed:,} most ambiguous customers ({found.method.value})"
            if found.freed
            else "time limit before the MILP: the feasibility plan stands in"
        )
        if best is None:  # no MILP plan: the feasibility plan stands in
            best_value = pricing.value(fallback)
        certified = certify(prices, base, best_value, pricing, st, units, options, self._deadline, self._say)
        if certified is not None:
            best = certified.improved or best
            best_value, bound = certified.value, certified.bound
            detail += f"; {certified.note}"
        if best is None:
            choice = fallback
        else:
            choice = base.choice.copy()
            choice[best[0]] = best[1]
        gap = certified_gap(best_value, bound)
        status = SolveStatus.OPTIMAL if gap <= options.target_gap else SolveStatus.TIME_LIMIT
        self._last_plan = choice
        return self._result(status, choice, best_value, bound, detail, multipliers=prices.multipliers)

    def _result(
        self,
        status: SolveStatus,
        choice: np.ndarray | None,
        value: float | None,
        bound: float | None,
        detail: str,
        multipliers: np.ndarray | None = None,
    ) -> Solution:
        sign = 1.0 if self.maximize else -1.0
        n = self.problem.n_variables
        return plan_solution(self.structure, n, status, choice, value, bound, detail, sign, multipliers)

    def _say(self, fraction: float, message: str) -> None:
        if self.progress is not None:
            self.progress(min(max(fraction, 0.0), 1.0), message)
