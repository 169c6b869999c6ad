"""The nearest feasible combination: an elastic MILP that relaxes several limits and floors at once.

The plan's rows (`Problem.rows`, right-hand sides `coupling_rhs`) over its variables aggregated by customer
class (exact here, see `_customer_classes`: a few hundred columns at 75,000 or 1,000,000 customers), plus
columns for the settings that may move:
- the budget and each finite channel capacity get a nonnegative slack on their row (budget in $, capacities
  in whole customers);
- each rate setting (min high-risk, min Premium, min segment coverage: lowered; max saturation: raised) gets
  an integer step count j (the rate moves by j percentage points) and, per row it drives, an integer count
  tied exactly to the rate by the settings' rounding (`policy_count`, `saturation_count`), so every fairness
  row follows the one min-segment rate, every saturation row the one saturation rate.

Every coupling row r costs |rhs_r(new) - rhs_r(current)| / max(|rhs_r(current)|, 1): the move relative to
its current value. The MILP minimises the total, so its optimum is the cheapest settings on the grid (budget,
whole-customer capacities, rates in whole-point steps from their current value) that admit a plan. Solved
with HiGHS (the license-limited Gurobi cannot take large models); the result is verified by re-solving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.model import SETTING_LABELS, PlanSettings, Problem, RowFamily, policy_count, saturation_count

# Above this many customer classes the elastic MILP is not attempted.
MAX_CLASSES = 20_000
_TOL = 1e-6  # float slack on the rate-to-count links (whole-percent rates make every count exact)

FLOOR_SETTINGS = ("min_high_risk", "min_premium", "min_segment")


@dataclass(frozen=True)
class ElasticResult:
    settings: PlanSettings
    weighted_change: float  # the total relative move of the rows, evaluated on `settings`


@dataclass(frozen=True)
class _Classes:
    """Customers grouped by everything the constraints see of them: which actions they are eligible for and
    their per-customer coefficients (the coverage and fairness groups they belong to)."""

    sizes: np.ndarray  # customers per class
    pair_class: np.ndarray  # class of each (class, action) column
    pair_action: np.ndarray
    matrix: object  # scipy csr: coupling rows, then one "at most its size" row per class


def _customer_classes(problem: Problem) -> _Classes:
    """The class-level model: with no plan value in the objective, customers of one class are
    interchangeable, so an integer count y[c, k] <= |c| per (class, action) is exactly as feasible as the
    customer-level binaries (any class-level solution splits back into customers), and the model has a few
    hundred columns whatever the cohort size."""
    import scipy.sparse as sp

    n, n_actions = problem.n_customers, problem.n_actions
    eligible = np.zeros((n, n_actions), dtype=np.float64)
    eligible[problem.pair_customer, problem.pair_action] = 1.0
    key = np.hstack([eligible, problem.customer_coefficients.T])
    _, representative, sizes = np.unique(key, axis=0, return_index=True, return_counts=True)
    pair_class, pair_action = np.nonzero(eligible[representative] > 0)
    coefficients = problem.action_coefficients[:, pair_action].copy()
    if len(problem.customer_rows):
        coefficients[problem.customer_rows] += problem.customer_coefficients[:, representative[pair_class]]
    one_each = sp.csr_matrix(
        (np.ones(len(pair_class)), (pair_class, np.arange(len(pair_class)))), (len(sizes), len(pair_class))
    )
    matrix = sp.vstack([sp.csr_matrix(coefficients), one_each]).tocsr()
    return _Classes(sizes.astype(np.int64), pair_class, pair_action, matrix)


def _fewest_points(
    problem: Problem,
    settings: PlanSettings,
    setting: str,
    scale: float,
    points: int,
    values: np.ndarray,
    count_columns: list[tuple[int, int]],
) -> int:
    """The smallest rate move (in points, at most the model's) whose counts (`policy_count`,
    `saturation_count`) are as relaxed as the model's: every rate in a count step costs the same, so keep
    the one nearest the current rate."""
    current = getattr(settings, setting)
    rounding = settings.coverage_rounding
    for trial in range(points + 1):
        rate = round(current + scale * trial, 9)
        if setting == "max_saturation":
            cap = saturation_count(rate, problem.n_customers)
            if all(cap >= round(values[c]) for _, c in count_columns):
                return trial
        elif all(
            policy_count(rate, problem.rows[i].group_size, rounding) <= round(values[c])
            for i, c in count_columns
        ):
            return trial
    return points


def weighted_change(problem: Problem, old: PlanSettings, new: PlanSettings) -> float:
    """Sum over coupling rows of |rhs(new) - rhs(old)| / max(|rhs(old)|, 1) (unchanged infinite rows: 0)."""
    before, after = problem.coupling_rhs(old), problem.coupling_rhs(new)
    total = 0.0
    for b, a in zip(before, after, strict=True):
        if math.isinf(b) and b == a:
            continue
        total += abs(a - b) / max(abs(b), 1.0)
    return float(total)


def nearest_combination(
    problem: Problem, settings: PlanSettings, *, time_limit: float | None = 60.0
) -> ElasticResult | None:
    """The least weighted combined change of settings that admits a plan; None when none does (or there are
    more than `MAX_CLASSES` customer classes, or HiGHS stops at `time_limit` before proving the least)."""
    import scipy.sparse as sp

    from optimizer.solvers.highs import highspy_module, new_highs

    highspy = highspy_module(" (the nearest feasible combination needs it)")
    rhs0 = problem.coupling_rhs(settings)
    classes = _customer_classes(problem)
    if len(classes.sizes) > MAX_CLASSES:
        return None
    n_pairs, n_rows = len(classes.pair_class), problem.n_coupling + len(classes.sizes)
    n = problem.n_customers
    rows = problem.rows

    # Extra columns: (lower, upper, cost, integer) and their entries (row, column, value) in the matrix,
    # extra link rows (lower, upper).
    col_lower: list[float] = []
    col_upper: list[float] = []
    col_cost: list[float] = []
    col_integer: list[bool] = []
    entries: list[tuple[int, int, float]] = []
    link_lower: list[float] = []
    link_upper: list[float] = []
    link_entries: list[tuple[int, int, float]] = []  # (link row, extra column, value)
    upper_rows = np.array([row.sense == "<=" for row in rows] + [True] * len(classes.sizes))
    full_rhs = np.concatenate([rhs0, classes.sizes.astype(float)])
    row_lower = np.where(upper_rows, -np.inf, full_rhs)
    row_upper = np.where(upper_rows, full_rhs, np.inf)
    moves: dict[str, tuple[int, float]] = {}  # setting -> (column, scale)
    counts: dict[str, list[tuple[int, int]]] = {}  # rate setting -> (row, count column) per driven row

    def column(lower: float, upper: float, cost: float, integer: bool) -> int:
        col_lower.append(lower)
        col_upper.append(upper)
        col_cost.append(cost)
        col_integer.append(integer)
        return n_pairs + len(col_lower) - 1

    def link(lower: float, upper: float, terms: list[tuple[int, float]]) -> None:
        index = len(link_lower)
        link_lower.append(lower)
        link_upper.append(upper)
        link_entries.extend((index, c, v) for c, v in terms)

    budget_rows = [i for i, r in enumerate(rows) if r.family is RowFamily.BUDGET]
    for i in budget_rows:
        c = column(0.0, np.inf, 1.0 / max(abs(rhs0[i]), 1.0), False)
        entries.append((i, c, -1.0))
        moves["budget"] = (c, 1.0)
    for i, r in enumerate(rows):
        if r.family is RowFamily.CHANNEL_CAPACITY and math.isfinite(rhs0[i]):
            c = column(0.0, max(n - rhs0[i], 0.0), 1.0 / max(abs(rhs0[i]), 1.0), True)
            entries.append((i, c, -1.0))
            moves[r.setting] = (c, 1.0)

    rounding = settings.coverage_rounding
    for setting in FLOOR_SETTINGS:
        driven = [i for i, r in enumerate(rows) if r.setting == setting]
        if not driven:
            continue
        a0 = round(getattr(settings, setting) * 100, 7)  # the rate in percentage points
        j = column(0.0, math.floor(a0 + 1e-9), 0.0, True)  # points lowered
        moves[setting] = (j, -0.01)
        for i in driven:
            size = rows[i].group_size
            weight = 1.0 / max(abs(rhs0[i]), 1.0)
            m = column(0.0, float(size), -weight, True)  # the row's count at the new rate
            entries.append((i, m, -1.0))  # activity - m >= 0
            counts.setdefault(setting, []).append((i, m))
            row_lower[i] = 0.0
            # m == policy_count((a0 - j) / 100, size): with q = (a0 - j) * size,
            # ceil: q <= 100 m < q + 100; floor: q - 100 < 100 m <= q
            q0 = a0 * size
            if rounding == "ceil":
                link(q0 - _TOL, q0 + 100 - _TOL * 10, [(m, 100.0), (j, float(size))])
            else:
                link(q0 - 100 + _TOL * 10, q0 + _TOL, [(m, 100.0), (j, float(size))])
    saturation = [i for i, r in enumerate(rows) if r.family is RowFamily.SATURATION]
    if saturation:
        a0 = round(settings.max_saturation * 100, 7)
        cap0 = rhs0[saturation[0]]
        weight = len(saturation) / max(abs(cap0), 1.0)
        j = column(0.0, math.floor(100 - a0 + 1e-9), 0.0, True)  # points raised
        cap = column(cap0, float(n), weight, True)  # the per-action cap at the new rate
        moves["max_saturation"] = (j, 0.01)
        counts["max_saturation"] = [(i, cap) for i in saturation]
        for i in saturation:
            entries.append((i, cap, -1.0))  # count - cap <= 0
            row_upper[i] = 0.0
        # cap == floor((a0 + j) * n / 100): q - 100 < 100 cap <= q, q = (a0 + j) * n
        q0 = a0 * n
        link(q0 - 100 + _TOL * 10, q0 + _TOL, [(cap, 100.0), (j, -float(n))])

    n_extra, n_links = len(col_lower), len(link_lower)
    base = classes.matrix
    e_row, e_col, e_val = (np.array(v) for v in zip(*entries, strict=True)) if entries else ([], [], [])
    extra = sp.csr_matrix(
        (np.asarray(e_val, float), (np.asarray(e_row, int), np.asarray(e_col, int) - n_pairs)),
        (n_rows, n_extra),
    )
    if n_links:
        lr, lc, lv = (np.array(v, dtype=float) for v in zip(*link_entries, strict=True))
        links = sp.csr_matrix((lv, (lr.astype(int), lc.astype(int))), (n_links, n_pairs + n_extra))
    else:
        links = sp.csr_matrix((0, n_pairs + n_extra))
    matrix = sp.vstack([sp.hstack([base, extra]), links]).tocsc()

    h = new_highs(time_limit=time_limit)
    lp = highspy.HighsLp()
    lp.num_col_ = n_pairs + n_extra
    lp.num_row_ = n_rows + n_links
    lp.col_cost_ = np.concatenate([np.zeros(n_pairs), col_cost])
    lp.col_lower_ = np.concatenate([np.zeros(n_pairs), col_lower])
    lp.col_upper_ = np.concatenate([classes.sizes[classes.pair_class].astype(float), col_upper])
    lp.row_lower_ = np.concatenate([row_lower, link_lower])
    lp.row_upper_ = np.concatenate([row_upper, link_upper])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    lp.sense_ = highspy.ObjSense.kMinimize
    integer, continuous = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
    lp.integrality_ = np.array([integer] * n_pairs + [integer if f else continuous for f in col_integer])
    h.passModel(lp)
    h.run()
    solution = h.getSolution()
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal  # not the least change otherwise
    feasible = optimal and h.getInfo().primal_solution_status == 2 and solution.value_valid
    values = np.asarray(solution.col_value) if feasible else None
    h.clear()
    if values is None:
        return None
    changes: dict[str, float | None] = {}
    for setting, (c, scale) in moves.items():
        step = values[c]
        if setting == "budget":
            if step > 1e-9:
                changes["budget"] = math.ceil((settings.budget + step) * 100 - 1e-6) / 100
        elif setting.endswith("_capacity"):
            raise_by = round(step)
            if raise_by > 0:
                changes[setting] = float(getattr(settings, setting) + raise_by)
        else:
            points = _fewest_points(problem, settings, setting, scale, round(step), values, counts[setting])
            if points > 0:
                changes[setting] = round(getattr(settings, setting) + scale * points, 9)
    new_settings = settings.with_changes(**changes)
    return ElasticResult(new_settings, weighted_change(problem, settings, new_settings))


def describe_changes(old: PlanSettings, new: PlanSettings) -> str:
    """'raise the budget to $1,200.00, lower Min segment coverage to 3%': the changed settings in words."""
    parts = []
    for setting in ("budget", "email_capacity", "push_capacity", "call_capacity", *FLOOR_SETTINGS):
        before, after = getattr(old, setting), getattr(new, setting)
        if before == after:
            continue
        label = SETTING_LABELS[setting]
        if setting == "budget":
            parts.append(f"raise the budget to ${after:,.2f}")
        elif setting.endswith("_capacity"):
            parts.append(f"raise {label} to {after:,.0f}")
        else:
            parts.append(f"lower {label} to {after * 100:g}%")
    if new.max_saturation != old.max_saturation:
        parts.append(f"raise {SETTING_LABELS['max_saturation']} to {new.max_saturation * 100:g}%")
    return ", ".join(parts)
