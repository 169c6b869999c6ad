"""Outcomes after 30 days: measured uplift per action, treated vs holdout, with 95% confidence intervals.

Size (about 600 lines, a third of it this explanation and the interval code): loading an outcomes file,
the statistics and the simulation all read the same plan view; pooling lives in `pooled.py`.

What is measured. In the optimizer, action k's catalog uplift u_k is a *relative* reduction of churn:
a treated customer with churn probability p churns with probability p (1 - u_k), so the expected churn
prevented is p u_k. Within one action of one plan the holdout is a random sample of the action's customers
(`optimizer.exports.holdout_flags`), so holdout and treated customers are alike except for the treatment, and

    u_k = 1 - (churn rate if treated) / (churn rate if not treated) = 1 - RR,

where RR = r_T / r_H is the risk ratio of the treated (r_T = c_T / n_T) to the holdout (r_H = c_H / n_H)
churn rates. `measured_uplift` is 1 - r_T / r_H, directly comparable with (and a replacement for) the
catalog's u_k, whether or not the churn model's probabilities are well calibrated. If the true effect varies
between customers, 1 - RR estimates the churn-probability-weighted mean uplift sum p_i u_i / sum p_i, which
is exactly what the plan's expected churn prevented (sum p_i u) needs. "Treated" means assigned to be
treated (`execute_treatment = TRUE`), reached or not: an intention-to-treat estimate, the effect of putting a
customer on the list.

Confidence intervals (statsmodels `confint_proportions_2indep`, 95%):
- relative uplift: 1 minus the Miettinen-Nurminen score interval for the risk ratio r_T / r_H
  (`compare="ratio", method="score"`, with the small-sample variance correction). u = 1 - RR is monotone,
  so mapping the interval's end points is exact.
- absolute difference r_H - r_T (churn percentage points prevented per treated customer): Newcombe's
  hybrid score interval (`compare="diff", method="newcomb"`).

Sample sizes and sufficiency (`SufficiencyRule`): an action's measurement is *sufficient* to replace the
catalog estimate when at least 30 holdout and 30 treated customers have outcomes and the 95% interval of the
relative uplift is at most 0.20 wide (the uplift is known to about +/- 10 points). Fewer than 30 holdout (or
treated) customers triggers the warning that the holdout is too small to conclude anything.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from optimizer.csvout import csv_bytes
from optimizer.data import Source, read_csv_text
from optimizer.errors import InputError, InputProblem, spreadsheet_row
from optimizer.plan import PlanLike

OUTCOME_COLUMNS = ["customer_id", "churned"]
ALPHA = 0.05
RATIO_METHOD = "score"  # Miettinen-Nurminen score interval for the risk ratio
DIFF_METHOD = "newcomb"  # Newcombe's hybrid score interval for the difference
METHOD_TEXT = (
    "Relative uplift 1 - r_T/r_H with 1 minus the Miettinen-Nurminen score 95% interval for the risk ratio; "
    "absolute difference r_H - r_T with Newcombe's hybrid score 95% interval (statsmodels "
    "confint_proportions_2indep)."
)

MEASUREMENT_COLUMNS = [
    "action_id",
    "action_name",
    "customers",
    "treated_n",
    "treated_churned",
    "treated_churn_rate",
    "holdout_n",
    "holdout_churned",
    "holdout_churn_rate",
    "missing_outcomes",
    "churn_rate_difference",
    "difference_ci_low",
    "difference_ci_high",
    "measured_uplift",
    "uplift_ci_low",
    "uplift_ci_high",
    "catalog_uplift",
    "predicted_holdout_churn_rate",
    "sufficient",
    "warning",
]


@dataclass(frozen=True)
class SufficiencyRule:
    """When a measured uplift is precise enough to replace the catalog's estimate.

    Sufficient: at least `min_holdout` holdout and `min_treated` treated customers with outcomes, at least one
    holdout churner (otherwise the ratio is undefined), and a 95% interval of the relative uplift no wider
    than `max_ci_width`.
    """

    min_holdout: int = 30
    min_treated: int = 30
    max_ci_width: float = 0.20

    def __post_init__(self) -> None:
        if self.min_holdout < 1 or self.min_treated < 1:
            raise ValueError("min_holdout and min_treated must be at least 1")
        if not (0 < self.max_ci_width <= 2):
            raise ValueError(f"max_ci_width must be in (0, 2], got {self.max_ci_width}")


# --- loading --------------------------------------------------------------------------------------


def load_outcomes(source: Source, name: str | None = None) -> pd.DataFrame:
    """Load and validate an outcomes CSV: `customer_id, churned` (1 churned within 30 days, 0 stayed).

    Returns columns customer_id (text, as in the file), churned (0/1) and row (the spreadsheet row).
    Raises `InputError` naming file, row and column for: missing columns, empty ids, churned values other
    than 0 or 1, and duplicate customer ids. Extra columns are ignored.
    """
    frame, shown = read_csv_text(source, name)
    missing = [c for c in OUTCOME_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError([InputProblem(shown, "required column is missing", column=c) for c in missing])
    problems: list[InputProblem] = []
    ids = frame["customer_id"].str.strip()
    for i in np.flatnonzero(ids.eq("").to_numpy()):
        problems.append(InputProblem(shown, "customer_id is empty", spreadsheet_row(i), "customer_id"))
    churned = frame["churned"].str.strip()
    bad = ~churned.isin(["0", "1"]).to_numpy()
    for i in np.flatnonzero(bad):
        value = churned.iloc[i]
        what = "empty" if value == "" else repr(value)
        problems.append(
            InputProblem(
                shown, f"churned must be 0 or 1 (1 = churned), got {what}", spreadsheet_row(i), "churned"
            )
        )
    first_seen: dict[str, int] = {}
    for position, value in enumerate(ids):
        if value == "":
            continue
        if value in first_seen:
            problems.append(
                InputProblem(
                    shown,
                    f"duplicate customer_id {value!r} "
                    f"(first seen in row {spreadsheet_row(first_seen[value])})",
                    spreadsheet_row(position),
                    "customer_id",
                )
            )
        else:
            first_seen[value] = position
    if problems:
        raise InputError(problems)
    out = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "churned": churned.eq("1").to_numpy().astype("int64"),
            "row": np.arange(len(frame), dtype="int64") + 2,  # spreadsheet rows: header = row 1
        }
    )
    out.attrs["file"] = shown
    return out


# --- plans as measurement input ---------------------------------------------------------------------


@runtime_checkable
class MeasuredPlan(PlanLike, Protocol):
    """A plan whose outcomes can be measured (a `SavedPlan`): a `PlanLike` with its id, its holdout flags
    (`plan_rows`: the assignments with a boolean `holdout` column), the cohort and the catalog it was
    solved on."""

    @property
    def id(self) -> int: ...

    @property
    def plan_rows(self) -> pd.DataFrame: ...

    @property
    def cohort(self) -> pd.DataFrame: ...

    @property
    def catalog(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class _PlanView:
    """The measurement's input normalized for matching outcome rows (not a plan: built by `_view`)."""

    rows: pd.DataFrame  # customer_id (text), action_id, action_name, churn_probability, uplift, holdout
    ids: np.ndarray  # the plan's customer ids as typed in the plan
    cohort_ids: np.ndarray | None  # the cohort's customer ids as text
    catalog: pd.DataFrame | None
    cohort: pd.DataFrame | None
    label: str


def _view(plan: MeasuredPlan | pd.DataFrame) -> _PlanView:
    """A saved plan (`SavedPlan`) or a frame of plan rows (customer_id, action_id, churn_probability,
    holdout, and optionally action_name and uplift)."""
    if isinstance(plan, pd.DataFrame):
        rows, cohort, catalog, label = plan, None, None, "the plan"
    else:
        rows, cohort, catalog, label = plan.plan_rows, plan.cohort, plan.catalog, f"plan #{plan.id}"
    missing = [c for c in ("customer_id", "action_id", "churn_probability", "holdout") if c not in rows]
    if missing:
        raise ValueError(f"plan rows need columns {', '.join(missing)}")
    rows = rows.reset_index(drop=True)
    ids = rows["customer_id"].to_numpy()
    rows["customer_id"] = rows["customer_id"].astype(str)
    if "action_name" not in rows:
        rows["action_name"] = "Action " + rows["action_id"].astype(str)
    if "uplift" not in rows:
        rows["uplift"] = np.nan
    rows["holdout"] = rows["holdout"].astype(bool)
    cohort_ids = cohort["customer_id"].astype(str).to_numpy(dtype=object) if cohort is not None else None
    return _PlanView(rows, ids, cohort_ids, catalog, cohort, label)


# --- statistics -------------------------------------------------------------------------------------


def _diff_interval(count1: int, nobs1: int, count2: int, nobs2: int, alpha: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 (well defined for any counts, zeros included)."""
    if nobs1 == 0 or nobs2 == 0:
        return math.nan, math.nan
    from statsmodels.stats.proportion import confint_proportions_2indep  # ~1 s to import: only when measuring

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        low, high = confint_proportions_2indep(
            count1, nobs1, count2, nobs2, compare="diff", method=DIFF_METHOD, alpha=alpha
        )
    return float(low), float(high)


def _ratio_interval(count1: int, nobs1: int, count2: int, nobs2: int, alpha: float) -> tuple[float, float]:
    """Miettinen-Nurminen score interval for the risk ratio p1 / p2 ((nan, nan) when p2's count is 0).

    statsmodels computes it in closed form (Nam's cubic). That form breaks down when every member of the
    second group has the event (count2 == nobs2, common with churn probabilities near 0.9): it returns
    complex roots and a bound on the wrong side of the estimate. Then the same interval is obtained by
    inverting statsmodels' score test (`test_proportions_2indep(..., compare="ratio", method="score")`):
    the bounds are the ratios at which its two-sided p-value equals alpha.
    """
    if nobs1 == 0 or nobs2 == 0 or count2 == 0:
        return math.nan, math.nan
    estimate = (count1 / nobs1) / (count2 / nobs2)
    from statsmodels.stats.proportion import confint_proportions_2indep

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        low, high = confint_proportions_2indep(
            count1, nobs1, count2, nobs2, compare="ratio", method=RATIO_METHOD, alpha=alpha
        )
        closed_form_ok = (
            not (np.iscomplexobj(low) or np.iscomplexobj(high))
            and math.isfinite(low)
            and math.isfinite(high)
            and low <= estimate * (1 + 1e-9)
            and high >= estimate * (1 - 1e-9)
        )
        if closed_form_ok:
            return float(low), float(high)
        return _invert_ratio_score_test(count1, nobs1, count2, nobs2, estimate, alpha)


def _invert_ratio_score_test(
    count1: int, nobs1: int, count2: int, nobs2: int, estimate: float, alpha: float
) -> tuple[float, float]:
    """The score interval as the set of ratios the score test does not reject (searched on the log scale)."""
    from scipy.optimize import brentq
    from statsmodels.stats.proportion import test_proportions_2indep

    def excess(log_ratio: float) -> float:  # p-value minus alpha; the estimate itself is never rejected
        if log_ratio == start:
            return 1.0 - alpha
        result = test_proportions_2indep(
            count1, nobs1, count2, nobs2, value=math.exp(log_ratio), compare="ratio", method="score"
        )
        return float(result.pvalue) - alpha

    def bound(direction: int) -> float:
        if direction < 0 and count1 == 0:
            return 0.0
        inside, step = start, 0.05
        for _ in range(60):
            outside = inside + direction * step
            value = excess(outside)
            if not math.isfinite(value):
                return math.nan
            if value < 0:
                return math.exp(brentq(excess, *sorted((inside, outside)), xtol=1e-12))
            inside, step = outside, step * 1.6
        return math.nan

    start = math.log(estimate) if estimate > 0 else math.log(1e-9)  # no treated churner: search up from ~0
    return bound(-1), bound(+1)


def compare_groups(
    treated_churned: int, treated_n: int, holdout_churned: int, holdout_n: int, alpha: float = ALPHA
) -> dict:
    """Churn rates, difference and relative uplift with their (1 - alpha) intervals for one comparison."""
    r_t = treated_churned / treated_n if treated_n else math.nan
    r_h = holdout_churned / holdout_n if holdout_n else math.nan
    diff_low, diff_high = _diff_interval(holdout_churned, holdout_n, treated_churned, treated_n, alpha)
    ratio_low, ratio_high = _ratio_interval(treated_churned, treated_n, holdout_churned, holdout_n, alpha)
    uplift = 1.0 - r_t / r_h if treated_n and holdout_churned else math.nan
    return {
        "treated_n": int(treated_n),
        "treated_churned": int(treated_churned),
        "treated_churn_rate": r_t,
        "holdout_n": int(holdout_n),
        "holdout_churned": int(holdout_churned),
        "holdout_churn_rate": r_h,
        "churn_rate_difference": r_h - r_t,
        "difference_ci_low": diff_low,
        "difference_ci_high": diff_high,
        "measured_uplift": uplift,
        "uplift_ci_low": 1.0 - ratio_high,
        "uplift_ci_high": 1.0 - ratio_low,
    }


def _customers(n: int) -> str:
    return f"{n} customer" if n == 1 else f"{n} customers"


def _judge(stats: dict, rule: SufficiencyRule) -> tuple[bool, str]:
    n_h, n_t = stats["holdout_n"], stats["treated_n"]
    if n_h == 0:
        return False, "No holdout customer has an outcome: nothing to compare with. The estimate is kept."
    if n_t == 0:
        return False, "No treated customer has an outcome. The estimate is kept."
    if n_h < rule.min_holdout or n_t < rule.min_treated:
        smaller = (
            f"only {_customers(n_h)} in the holdout (at least {rule.min_holdout} needed)"
            if n_h < rule.min_holdout
            else f"only {_customers(n_t)} treated (at least {rule.min_treated} needed)"
        )
        return False, f"Too small to conclude anything: {smaller}. The estimate is kept."
    if stats["holdout_churned"] == 0:
        return (
            False,
            "No holdout customer churned, so the relative uplift is undefined. The estimate is kept.",
        )
    width = stats["uplift_ci_high"] - stats["uplift_ci_low"]
    if not math.isfinite(width):
        return False, "The confidence interval is undefined. The estimate is kept."
    if width > rule.max_ci_width:
        return (
            False,
            f"Not precise enough: the 95% interval is {width:.2f} wide (at most {rule.max_ci_width:.2f} "
            "to replace the estimate). The estimate is kept.",
        )
    return True, ""


@dataclass(frozen=True)
class Measurement:
    """Measured uplift per action of one plan (see the module docstring for the statistics)."""

    table: pd.DataFrame  # one row per action of the plan, MEASUREMENT_COLUMNS
    overall: dict  # all of the plan's actions together (the campaign as a whole)
    outcome_rows: int  # rows in the outcomes file
    matched: int  # outcome rows of plan customers (treated or holdout)
    untreated: int  # outcome rows of cohort customers the plan did not select (not used)
    missing: int  # plan customers without an outcome row
    rule: SufficiencyRule
    alpha: float
    method: str = METHOD_TEXT
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        table = self.table.astype(object).where(self.table.notna(), None)
        return {
            "actions": table.to_dict(orient="records"),
            "overall": {
                k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.overall.items()
            },
            "outcome_rows": self.outcome_rows,
            "matched": self.matched,
            "untreated": self.untreated,
            "missing": self.missing,
            "rule": asdict(self.rule),
            "confidence": 1 - self.alpha,
            "method": self.method,
            "notes": self.notes,
        }


def measure_uplift(
    plan: MeasuredPlan | pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    rule: SufficiencyRule | None = None,
    alpha: float = ALPHA,
    file: str | None = None,
) -> Measurement:
    """Per action of `plan`: treated vs holdout churn, measured uplift with its interval, sample sizes,
    the catalog's estimate beside it, and whether the evidence is sufficient to replace the estimate.

    `plan`: a `SavedPlan` (or a frame of plan rows). `outcomes`: from `load_outcomes`. Outcome ids that are
    neither in the plan nor in its cohort raise `InputError` (file, row, column); cohort customers the plan
    did not select are counted as `untreated` and not used.
    """
    rule = rule or SufficiencyRule()
    view = _view(plan)
    file = file or outcomes.attrs.get("file", "outcomes file")
    ids = outcomes["customer_id"].astype(str).to_numpy(dtype=object)
    rows_of = outcomes["row"].to_numpy() if "row" in outcomes else np.arange(len(outcomes)) + 2
    rows = view.rows
    position = pd.Index(rows["customer_id"].to_numpy(dtype=object)).get_indexer(ids)  # -1: not in plan
    in_plan = position >= 0
    in_cohort = in_plan if view.cohort_ids is None else pd.Index(view.cohort_ids).get_indexer(ids) >= 0
    unknown = _unknown_ids(view, ids, rows_of, file)
    if unknown:
        raise InputError(unknown)
    outcome = np.full(len(rows), -1, dtype="int64")  # -1: no outcome row for this plan customer
    outcome[position[in_plan]] = outcomes["churned"].to_numpy(dtype="int64")[in_plan]
    has = outcome >= 0
    y = np.where(has, outcome, 0)
    holdout = rows["holdout"].to_numpy(dtype=bool)
    p = rows["churn_probability"].to_numpy(dtype=float)
    u = rows["uplift"].to_numpy(dtype=float)
    action = rows["action_id"].to_numpy(dtype="int64")
    names = rows["action_name"].to_numpy(dtype=object)

    records = []
    for action_id in np.unique(action):
        members = action == action_id
        t = members & ~holdout & has
        h = members & holdout & has
        stats = compare_groups(int(y[t].sum()), int(t.sum()), int(y[h].sum()), int(h.sum()), alpha)
        sufficient, warning = _judge(stats, rule)
        missing = int((members & ~has).sum())
        if missing:
            warning = (warning + " " if warning else "") + f"{missing} of its customers have no outcome."
        first = int(np.argmax(members))
        records.append(
            {
                "action_id": int(action_id),
                "action_name": str(names[first]),
                "customers": int(members.sum()),
                **stats,
                "missing_outcomes": missing,
                "catalog_uplift": float(u[first]),
                "predicted_holdout_churn_rate": float(p[h].mean()) if h.any() else math.nan,
                "sufficient": sufficient,
                "warning": warning,
            }
        )
    table = pd.DataFrame.from_records(records, columns=MEASUREMENT_COLUMNS)

    t_all = ~holdout & has
    h_all = holdout & has
    overall = compare_groups(
        int(y[t_all].sum()), int(t_all.sum()), int(y[h_all].sum()), int(h_all.sum()), alpha
    )
    overall["predicted_uplift"] = float((p[has] * u[has]).sum() / p[has].sum()) if has.any() else math.nan

    notes = []
    missing_total = int((~has).sum())
    untreated = int((in_cohort & ~in_plan).sum())
    if missing_total:
        notes.append(f"{missing_total} of the plan's {len(rows)} customers have no outcome row.")
    if untreated:
        notes.append(
            f"{untreated} outcome rows are cohort customers the plan did not select; they are not randomized "
            "and are not used."
        )
    if not (table["sufficient"].any() if len(table) else False):
        notes.append("No action has enough evidence to replace its catalog estimate.")
    return Measurement(
        table=table,
        overall=overall,
        outcome_rows=len(outcomes),
        matched=int(in_plan.sum()),
        untreated=untreated,
        missing=missing_total,
        rule=rule,
        alpha=alpha,
        notes=notes,
    )


def _unknown_ids(view: _PlanView, ids: np.ndarray, rows_of: np.ndarray, file: str) -> list[InputProblem]:
    """A problem for every outcome id that is neither in the plan nor in its cohort."""
    known = pd.Index(view.rows["customer_id"].to_numpy(dtype=object)).get_indexer(ids) >= 0
    if view.cohort_ids is not None:
        known |= pd.Index(view.cohort_ids).get_indexer(ids) >= 0
    return [
        InputProblem(
            file,
            f"customer_id {ids[i]!r} is not in {view.label} (neither treated, held out nor in its cohort): "
            "is this the right plan?",
            int(rows_of[i]),
            "customer_id",
        )
        for i in np.flatnonzero(~known)
        if ids[i] != ""
    ]


def load_plan_outcomes(
    plan: MeasuredPlan | pd.DataFrame, source: Source, name: str | None = None
) -> pd.DataFrame:
    """`load_outcomes`, checked against `plan` too: one `InputError` lists every problem at once (missing
    columns, empty or duplicate ids, values other than 0/1, ids unknown to the plan), by row."""
    if hasattr(source, "read"):  # a file object can be read once: keep its bytes for the second look
        name = name or getattr(source, "name", None)
        data = source.read()
        source = data.encode("utf-8") if isinstance(data, str) else data
    try:
        outcomes = load_outcomes(source, name)
    except InputError as error:
        try:
            frame, shown = read_csv_text(source, name)
        except InputError:
            raise error from None
        if "customer_id" not in frame.columns:
            raise
        ids = frame["customer_id"].str.strip().to_numpy(dtype=object)
        rows_of = np.arange(len(frame)) + 2
        problems = error.problems + _unknown_ids(_view(plan), ids, rows_of, shown)
        problems.sort(key=lambda p: (p.row is not None, p.row or 0))
        raise InputError(problems) from None
    view = _view(plan)
    unknown = _unknown_ids(
        view,
        outcomes["customer_id"].astype(str).to_numpy(dtype=object),
        outcomes["row"].to_numpy(),
        outcomes.attrs.get("file", "outcomes file"),
    )
    if unknown:
        raise InputError(unknown)
    return outcomes


def _catalog_uplifts(view: _PlanView) -> dict[int, float]:
    if view.catalog is None:
        return {}
    return dict(zip(view.catalog["action_id"].astype(int), view.catalog["uplift"].astype(float), strict=True))


# --- simulation -------------------------------------------------------------------------------------


def simulate_outcomes(
    plan: MeasuredPlan | pd.DataFrame,
    true_uplift: Mapping[int, float] | None = None,
    *,
    seed: int,
    baseline_scale: float = 1.0,
    include_untreated: bool = True,
) -> pd.DataFrame:
    """Draw 30-day outcomes for a plan with a known true uplift per action (for tests and the demo).

    Each customer's churn probability without treatment is q = min(1, baseline_scale * p), p being the churn
    model's probability (`baseline_scale` != 1 mimics a miscalibrated model). Holdout customers (and, with
    `include_untreated`, the cohort customers the plan did not select) churn with probability q; treated
    customers of action k with probability q (1 - u_k), u_k = `true_uplift[k]` (default: the catalog's
    uplift). So 1 - r_T / r_H estimates u_k: the quantity `measure_uplift` reports.

    Returns a frame customer_id, churned (0/1): plan customers in plan order, then untreated ones.
    """
    view = _view(plan)
    rows = view.rows
    uplifts = {**_catalog_uplifts(view), **{int(k): float(v) for k, v in (true_uplift or {}).items()}}
    actions = rows["action_id"].astype(int)
    absent = sorted(set(actions) - set(uplifts))
    if absent:
        fallback = rows.groupby("action_id")["uplift"].first()
        for action in absent:
            if not math.isfinite(fallback.get(action, math.nan)):
                raise ValueError(f"no true uplift given for action {action}")
            uplifts[action] = float(fallback[action])
    bad = {k: v for k, v in uplifts.items() if not (-1.0 <= v <= 1.0)}
    if bad:
        raise ValueError(f"true uplifts must be within [-1, 1], got {bad}")
    if baseline_scale < 0:
        raise ValueError("baseline_scale must be non-negative")
    rng = np.random.default_rng(seed)
    q = np.minimum(1.0, baseline_scale * rows["churn_probability"].to_numpy(dtype=float))
    u = actions.map(uplifts).to_numpy(dtype=float)
    treated = ~rows["holdout"].to_numpy()
    probability = np.clip(np.where(treated, q * (1.0 - u), q), 0.0, 1.0)
    churned = (rng.random(len(rows)) < probability).astype("int64")
    out = pd.DataFrame({"customer_id": view.ids, "churned": churned})
    if include_untreated and view.cohort is not None:
        planned = pd.Index(rows["customer_id"].to_numpy(dtype=object)).get_indexer(view.cohort_ids) >= 0
        others = view.cohort[~planned]
        q_other = np.minimum(1.0, baseline_scale * others["churn_probability"].to_numpy(dtype=float))
        extra = pd.DataFrame(
            {
                "customer_id": others["customer_id"].to_numpy(),
                "churned": (rng.random(len(others)) < q_other).astype("int64"),
            }
        )
        out = pd.concat([out, extra], ignore_index=True)
    return out


def outcomes_csv_bytes(outcomes: pd.DataFrame) -> bytes:
    """An outcomes frame as the CSV `load_outcomes` reads (customer_id, churned)."""
    return csv_bytes(outcomes[OUTCOME_COLUMNS])
