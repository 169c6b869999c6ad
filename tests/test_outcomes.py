"""Outcomes: validation by file/row/column, the per-action measurement, and CI coverage at known uplifts."""

import datetime as dt
import io
import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats import proportion

from optimizer import PlanSettings, load_catalog, solve_plan
from optimizer.errors import InputError
from optimizer.exports import holdout_flags
from optimizer.loop.history import SavedPlan
from optimizer.loop.outcomes import (
    MEASUREMENT_COLUMNS,
    SufficiencyRule,
    compare_groups,
    load_outcomes,
    load_plan_outcomes,
    measure_uplift,
    outcomes_csv_bytes,
    simulate_outcomes,
)


def plan_rows(groups):
    """Plan rows from (action_id, treated churned, treated n, holdout churned, holdout n) groups, with the
    matching outcomes: the first `churned` customers of each group churned."""
    rows, outcomes = [], []
    next_id = 1000
    for action, t_churned, t_n, h_churned, h_n in groups:
        for holdout, churned, n in ((False, t_churned, t_n), (True, h_churned, h_n)):
            for i in range(n):
                next_id += 1
                rows.append((next_id, action, f"Action {action}", 0.5, 0.1 * action, holdout))
                outcomes.append((next_id, int(i < churned)))
    frame = pd.DataFrame(
        rows, columns=["customer_id", "action_id", "action_name", "churn_probability", "uplift", "holdout"]
    )
    result = pd.DataFrame(outcomes, columns=["customer_id", "churned"])
    return frame, load_outcomes(outcomes_csv_bytes(result), "outcomes.csv")


# --- loading ---------------------------------------------------------------------------------------


def test_load_outcomes_reads_ids_as_text_and_rows():
    frame = load_outcomes(b"customer_id,churned,note\n 205574 ,1,x\n007,0,\n", "o.csv")
    assert frame["customer_id"].tolist() == ["205574", "007"]
    assert frame["churned"].tolist() == [1, 0]
    assert frame["row"].tolist() == [2, 3]


def test_load_outcomes_reports_every_problem_by_file_row_column():
    text = b"customer_id,churned\n1,1\n2,yes\n3,2\n1,0\n,1\n4,\n5,1.0\n"
    with pytest.raises(InputError) as caught:
        load_outcomes(text, "week45_outcomes.csv")
    shown = [str(p) for p in caught.value.problems]
    assert shown == [
        "week45_outcomes.csv, row 6, column 'customer_id': customer_id is empty",
        "week45_outcomes.csv, row 3, column 'churned': churned must be 0 or 1 (1 = churned), got 'yes'",
        "week45_outcomes.csv, row 4, column 'churned': churned must be 0 or 1 (1 = churned), got '2'",
        "week45_outcomes.csv, row 7, column 'churned': churned must be 0 or 1 (1 = churned), got empty",
        "week45_outcomes.csv, row 8, column 'churned': churned must be 0 or 1 (1 = churned), got '1.0'",
        "week45_outcomes.csv, row 5, column 'customer_id': duplicate customer_id '1' (first seen in row 2)",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"customer_id,outcome\n1,1\n", "o.csv, column 'churned': required column is missing"),
        (b"", "o.csv: the file is empty"),
        (b"customer_id,churned\n", "o.csv: the file has a header but no data rows"),
    ],
)
def test_load_outcomes_file_level_problems(content, message):
    with pytest.raises(InputError, match=message):
        load_outcomes(content, "o.csv")


def test_unknown_ids_are_reported_not_dropped():
    rows, outcomes = plan_rows([(1, 1, 3, 1, 2)])
    extra = pd.concat(
        [outcomes, pd.DataFrame({"customer_id": ["999999", "x1"], "churned": [0, 1], "row": [7, 8]})],
        ignore_index=True,
    )
    with pytest.raises(InputError) as caught:
        measure_uplift(rows, extra, file="o.csv")
    assert [(p.file, p.row, p.column) for p in caught.value.problems] == [
        ("o.csv", 7, "customer_id"),
        ("o.csv", 8, "customer_id"),
    ]
    assert "'999999' is not in the plan" in str(caught.value)


def test_outcomes_checked_against_a_plan_list_every_problem_at_once():
    rows, _ = plan_rows([(1, 1, 3, 1, 2)])  # customers 1001..1005
    text = b"customer_id,churned\n1001,1\n999,0\n1002,2\n1001,0\n"
    with pytest.raises(InputError) as caught:
        load_plan_outcomes(rows, io.BytesIO(text), "o.csv")
    assert [str(p) for p in caught.value.problems] == [
        "o.csv, row 3, column 'customer_id': customer_id '999' is not in the plan (neither treated, held out "
        "nor in its cohort): is this the right plan?",
        "o.csv, row 4, column 'churned': churned must be 0 or 1 (1 = churned), got '2'",
        "o.csv, row 5, column 'customer_id': duplicate customer_id '1001' (first seen in row 2)",
    ]
    with pytest.raises(InputError, match="row 3, column 'customer_id': customer_id '999' is not in the plan"):
        load_plan_outcomes(rows, b"customer_id,churned\n1001,1\n999,0\n", "o.csv")
    loaded = load_plan_outcomes(rows, b"customer_id,churned\n1001,1\n1005,0\n", "o.csv")
    assert loaded["customer_id"].tolist() == ["1001", "1005"]


# --- measurement -------------------------------------------------------------------------------------


def test_measurement_by_hand():
    # Action 1: treated 10/40 churned, holdout 20/40: rates 0.25 and 0.5, uplift 1 - 0.25/0.5 = 0.5.
    rows, outcomes = plan_rows([(1, 10, 40, 20, 40), (2, 3, 9, 1, 1)])
    m = measure_uplift(rows, outcomes)
    assert list(m.table.columns) == MEASUREMENT_COLUMNS
    one = m.table.set_index("action_id").loc[1]
    assert (one.treated_n, one.treated_churned, one.holdout_n, one.holdout_churned) == (40, 10, 40, 20)
    assert one.treated_churn_rate == 0.25 and one.holdout_churn_rate == 0.5
    assert one.churn_rate_difference == 0.25 and one.measured_uplift == 0.5
    ratio = proportion.confint_proportions_2indep(10, 40, 20, 40, compare="ratio", method="score")
    assert (one.uplift_ci_low, one.uplift_ci_high) == pytest.approx((1 - ratio[1], 1 - ratio[0]), abs=1e-12)
    diff = proportion.confint_proportions_2indep(20, 40, 10, 40, compare="diff", method="newcomb")
    assert (one.difference_ci_low, one.difference_ci_high) == pytest.approx(diff, abs=1e-12)
    assert one.catalog_uplift == pytest.approx(0.1)
    assert one.uplift_ci_high - one.uplift_ci_low > 0.2  # 40 per group is not precise enough
    assert not one.sufficient and "Not precise enough" in one.warning
    two = m.table.set_index("action_id").loc[2]
    assert not two.sufficient
    assert two.warning == (
        "Too small to conclude anything: only 1 customer in the holdout (at least 30 needed). "
        "The estimate is kept."
    )
    assert m.matched == 90 and m.missing == 0 and m.untreated == 0
    assert m.overall["treated_n"] == 49 and m.overall["holdout_n"] == 41


def test_sufficient_with_a_large_holdout():
    rows, outcomes = plan_rows([(1, 900, 3000, 150, 300)])  # 0.3 vs 0.5: uplift 0.4
    one = measure_uplift(rows, outcomes).table.iloc[0]
    assert one.measured_uplift == pytest.approx(0.4)
    assert one.uplift_ci_high - one.uplift_ci_low <= 0.2
    assert one.sufficient and one.warning == ""
    strict = measure_uplift(rows, outcomes, rule=SufficiencyRule(max_ci_width=0.1)).table.iloc[0]
    assert not strict.sufficient


def test_holdout_that_all_churned_gets_a_proper_score_interval():
    # statsmodels' closed form breaks down here (complex roots); the interval comes from inverting its
    # score test, so the test's p-value is 0.05 at both ends and the interval holds the estimate.
    stats = compare_groups(43, 64, 7, 7)
    low, high = 1 - stats["uplift_ci_high"], 1 - stats["uplift_ci_low"]  # back to the risk ratio
    assert low < 43 / 64 < high
    for bound in (low, high):
        p = proportion.test_proportions_2indep(
            43, 64, 7, 7, value=bound, compare="ratio", method="score"
        ).pvalue
        assert p == pytest.approx(0.05, abs=1e-6)
    everyone = compare_groups(64, 64, 7, 7)
    assert everyone["uplift_ci_low"] < 0 < everyone["uplift_ci_high"]


def test_no_holdout_churner_leaves_the_uplift_undefined():
    rows, outcomes = plan_rows([(1, 10, 300, 0, 40)])
    one = measure_uplift(rows, outcomes).table.iloc[0]
    assert math.isnan(one.measured_uplift) and math.isnan(one.uplift_ci_low)
    assert not one.sufficient and "No holdout customer churned" in one.warning


def test_missing_outcomes_and_untreated_customers_are_counted(bundled_cohort):
    result = solve_plan(bundled_cohort, load_catalog(), PlanSettings())
    flags = holdout_flags(result.assignments, 0.1, seed=3)
    saved = _saved(result, bundled_cohort, flags)
    outcomes = simulate_outcomes(saved, seed=5)
    assert len(outcomes) == len(bundled_cohort)
    assert list(outcomes["customer_id"][: len(result.assignments)]) == list(result.assignments["customer_id"])
    dropped = outcomes.iloc[3:]  # three plan customers without an outcome
    m = measure_uplift(saved, load_outcomes(outcomes_csv_bytes(dropped), "o.csv"))
    assert m.missing == 3
    assert m.untreated == len(bundled_cohort) - len(result.assignments)
    assert m.matched == len(result.assignments) - 3
    assert any("have no outcome" in w for w in m.table["warning"])
    assert not m.table["sufficient"].any()  # a 250-customer week never has 30 holdout customers per action


def _saved(result, cohort, flags) -> SavedPlan:
    return SavedPlan(
        id=1,
        created_at="",
        label="",
        created_by="",
        plan_date=dt.date(2025, 11, 5),
        status=result.status,
        settings=result.settings,
        kpis=result.kpis,
        solver_report=result.solver_report,
        constraints=result.constraints,
        catalog=load_catalog(),
        cohort=cohort,
        assignments=result.assignments,
        holdout=flags,
        holdout_rate=0.1,
        holdout_seed=3,
        cohort_sha256="",
        catalog_sha256="",
        input_fingerprint="",
    )


# --- simulation and coverage --------------------------------------------------------------------------


def synthetic_rows(sizes: dict[int, int], low: float, high: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    actions = np.repeat(list(sizes), list(sizes.values()))
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, len(actions) + 1),
            "action_id": actions,
            "churn_probability": rng.uniform(low, high, len(actions)),
        }
    )


def test_simulation_follows_the_model():
    base = synthetic_rows({1: 4000, 2: 4000}, 0.2, 0.8)
    rows = base.assign(holdout=holdout_flags(base, 0.5, seed=1))
    outcomes = simulate_outcomes(rows, {1: 1.0, 2: 0.0}, seed=2)
    churned = outcomes["churned"].to_numpy()
    treated = ~rows["holdout"].to_numpy()
    assert churned[treated & (rows["action_id"] == 1).to_numpy()].sum() == 0  # uplift 1: nobody churns
    for action in (1, 2):
        held = rows["holdout"].to_numpy() & (rows["action_id"] == action).to_numpy()
        expected = rows["churn_probability"].to_numpy()[held].mean()
        assert churned[held].mean() == pytest.approx(expected, abs=0.03)
    assert outcomes.equals(simulate_outcomes(rows, {1: 1.0, 2: 0.0}, seed=2))
    with pytest.raises(ValueError, match="no true uplift given for action 2"):
        simulate_outcomes(rows, {1: 0.1}, seed=2)


TOLERANCE = 3 * math.sqrt(0.95 * 0.05 / 600)  # 3 binomial standard errors for 600 intervals


@pytest.mark.parametrize(
    ("sizes", "probabilities", "scale", "seeds"),
    [
        ({1: 600, 2: 600, 3: 600}, (0.2, 0.9), 1.0, 200),  # calibrated churn model
        ({1: 400, 2: 400, 3: 400}, (0.5, 0.95), 1.05, 200),  # miscalibrated; some holdouts all churn
    ],
)
def test_confidence_intervals_cover_the_true_uplift(sizes, probabilities, scale, seeds):
    """Over repeated seeds (holdout draw and outcomes both random, as in production), the 95% intervals of
    the measured relative uplift cover the true uplift about 95% of the time; so do the intervals of the
    absolute churn-rate difference, whose truth is u times the mean true churn probability of the action."""
    truth = {1: 0.05, 2: 0.15, 3: 0.30}
    base = synthetic_rows(sizes, *probabilities)
    q = np.minimum(1.0, scale * base["churn_probability"].to_numpy())
    true_difference = {a: truth[a] * q[(base["action_id"] == a).to_numpy()].mean() for a in truth}
    covered_uplift = covered_difference = total = 0
    for seed in range(seeds):
        rows = base.assign(holdout=holdout_flags(base, 0.1, seed=seed))
        outcomes = simulate_outcomes(rows, truth, seed=1_000_000 + seed, baseline_scale=scale)
        outcomes["row"] = np.arange(len(outcomes)) + 2
        table = measure_uplift(rows, outcomes).table
        u = table["action_id"].map(truth)
        d = table["action_id"].map(true_difference)
        covered_uplift += int(((table.uplift_ci_low <= u) & (u <= table.uplift_ci_high)).sum())
        covered_difference += int(((table.difference_ci_low <= d) & (d <= table.difference_ci_high)).sum())
        total += len(table)
    assert total == 3 * seeds
    print(f"coverage: uplift {covered_uplift / total:.3f}, difference {covered_difference / total:.3f}")
    assert abs(covered_uplift / total - 0.95) <= TOLERANCE
    assert abs(covered_difference / total - 0.95) <= TOLERANCE
