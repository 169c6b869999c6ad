"""The multipliers: minimizing L(lam) over the coupling rows' multipliers (cutting planes, Newton steps),
their first guess for a general objective (the LP of a random sample), and the cuts kept for a warm start."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.solvers.decomposition.pricing import Limits
from optimizer.solvers.highs import highspy_module, new_highs

Evaluate = Callable[[np.ndarray], tuple[float, np.ndarray]]  # signed multipliers -> (L, row activity)
_KEPT_CUTS = 200  # cutting planes kept for the next warm start


@dataclass(frozen=True)
class Cuts:
    """The cutting planes of one dual, at the right-hand sides they were measured with.

    After a change of right-hand sides b only, a cut at lam shifts by lam . (b_new - b_old) (L is lam . b
    plus a function of lam), so a re-solve starts with a full model."""

    rhs: np.ndarray
    points: np.ndarray  # (cuts, coupling rows)
    values: np.ndarray
    usages: np.ndarray  # (cuts, coupling rows): the activity at each point

    def shifted(self, rhs: np.ndarray) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """The cuts moved to right-hand sides `rhs` (cuts leaning on a row now switched off dropped)."""
        used = self.points != 0
        keep = ~(used & ~np.isfinite(rhs)).any(axis=1)
        change = np.where(used, np.nan_to_num(rhs - self.rhs, nan=0.0, posinf=0.0, neginf=0.0), 0.0)
        shifted = self.values + (self.points * change).sum(axis=1)
        return [(self.points[t], shifted[t], self.usages[t]) for t in np.flatnonzero(keep)]


class Dual:
    """Minimizing L over the multipliers: Kelley's cutting planes in a box trust region (boxstep) with an LP
    master (HiGHS, hot-started), an active set, and Newton steps on the binding rows."""

    def __init__(
        self,
        evaluate: Evaluate,
        limits: Limits,
        multipliers: np.ndarray,
        *,
        scale: float,
        warm: bool,
        cuts: Cuts | None,
        iterations: int,
        deadline: float,
    ):
        self.evaluate = evaluate
        self.limits = limits
        self.iterations = iterations
        self.deadline = deadline
        active = limits.active
        self.active = active
        self.highspy = highspy_module(" (the decomposition's dual master LP uses it)")
        m = len(active)
        self.m = m
        self.upper = limits.senses[active] == "<="
        self.rhs = limits.rhs[active]
        self.center = limits.signed(multipliers)[active]
        self.size = max(1.0, float(np.abs(self.center).max(initial=0.0)))
        self.radius = np.full(m, 0.05 * self.size if warm else 0.5 * max(self.size, scale))
        self.held = np.zeros(m, dtype=bool)  # rows held at 0 (active set)
        self.points: list[np.ndarray] = []
        self.values: list[float] = []
        self.usages: list[np.ndarray] = []
        self.evaluations = 0
        h = new_highs(presolve=False)
        inf = self.highspy.kHighsInf
        h.addVar(-inf, inf)  # theta: the cutting-plane model of L
        h.changeColCost(0, 1.0)
        low, high = self._box()
        h.addVars(m, low, high)
        self.h = h
        self.columns = np.arange(m + 1, dtype=np.int32)
        for point, value, usage in cuts.shifted(limits.rhs) if warm and cuts is not None else ():
            self._add_cut(point, value, usage)
        self.center_value, self.center_usage = self._measure(self.center)

    @property
    def multipliers(self) -> np.ndarray:
        full = np.zeros(len(self.limits.rhs))
        full[self.active] = self.center
        return full

    def cuts(self) -> Cuts:
        """The newest cuts, for the next solve of the same objective (the master LP stays small over a
        long sweep)."""
        keep = slice(-_KEPT_CUTS, None)
        return Cuts(
            self.limits.rhs.copy(),
            np.array(self.points[keep]),
            np.array(self.values[keep]),
            np.array(self.usages[keep]),
        )

    def _box(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.center - self.radius, self.center + self.radius
        low = np.where(self.upper, np.maximum(low, 0.0), low)
        high = np.where(self.upper, high, np.minimum(high, 0.0))
        return np.where(self.held, 0.0, low), np.where(self.held, 0.0, high)

    def _rebox(self) -> None:
        low, high = self._box()
        self.h.changeColsBounds(self.m, self.columns[1:], low, high)

    def _add_cut(self, point: np.ndarray, value: float, usage: np.ndarray) -> None:
        slope = self.rhs - usage[self.active]  # a subgradient of L
        self.h.addRow(
            value - slope @ point[self.active],
            self.highspy.kHighsInf,
            self.m + 1,
            self.columns,
            np.concatenate([[1.0], -slope]),
        )
        self.points.append(point)
        self.values.append(value)
        self.usages.append(usage)

    def _measure(self, at: np.ndarray) -> tuple[float, np.ndarray]:
        point = np.zeros(len(self.limits.rhs))
        point[self.active] = at
        value, usage = self.evaluate(point)
        self.evaluations += 1
        self._add_cut(point, value, usage)
        return value, usage

    def _respected(self, usage: np.ndarray) -> np.ndarray:
        """Rows whose activity respects their limit (a row at 0 there cannot lower L by moving)."""
        activity = usage[self.active]
        return np.where(self.upper, activity <= self.rhs, activity >= self.rhs)

    def hold_slack(self) -> None:
        """Active set: rows at 0 whose limit the activity respects stay at 0 and leave the model."""
        self.held = (self.center == 0) & self._respected(self.center_usage)
        self._rebox()

    def kelley(self, relative: float) -> None:
        """Cutting-plane steps until the model promises less than `relative` x |L|; held rows whose activity
        crosses their limit are released before stopping."""
        tolerance = relative * max(1.0, abs(self.center_value))
        for _ in range(self.iterations):
            if time.perf_counter() > self.deadline:
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
        active = self.active
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


def minimize_dual(
    evaluate: Evaluate,
    limits: Limits,
    multipliers: np.ndarray,
    *,
    scale: float,
    warm: bool,
    cuts: Cuts | None,
    iterations: int,
    tolerance: float,
    deadline: float,
) -> Dual:
    """Multipliers at the minimum of L (to `tolerance`): cutting planes to a coarse tolerance (cold start),
    Newton steps on the binding rows, then Kelley's tail. A warm start begins in a small box around
    `multipliers`, with the previous `cuts` of this objective (if any) moved to the current limits."""
    dual = Dual(
        evaluate,
        limits,
        multipliers,
        scale=scale,
        warm=warm,
        cuts=cuts,
        iterations=iterations,
        deadline=deadline,
    )
    if not warm:
        dual.kelley(1e-6)
    dual.hold_slack()
    dual.newton()
    dual.kelley(tolerance)  # a tight bound keeps the certificate's MILP small
    return dual
