"""Export files: columns, exact reproducible holdout, channel lists, formulas, all-or-nothing writes."""

import datetime as dt
import io
import os

import numpy as np
import pandas as pd
import pytest

from optimizer import PlanSettings, build_exports, load_catalog, solve_plan, to_csv_bytes, write_exports
from optimizer.exports import (
    CALL_COLUMNS,
    EMAIL_COLUMNS,
    PUSH_COLUMNS,
    TREATMENT_PLAN_COLUMNS,
    holdout_flags,
    holdout_size,
)

DATE = dt.date(2025, 11, 5)


@pytest.fixture(scope="module")
def plan(bundled_cohort):
    return solve_plan(bundled_cohort, load_catalog(), PlanSettings(budget=2000, call_capacity=20))


def test_holdout_size_rounds_half_up():
    assert [holdout_size(n, 0.1) for n in (0, 4, 5, 14, 15, 25, 75, 74)] == [0, 0, 1, 1, 2, 3, 8, 7]
    assert holdout_size(30, 0.15) == 5  # 4.5 rounds up
    assert holdout_size(10, 0.0) == 0 and holdout_size(10, 1.0) == 10


def test_holdout_is_exact_per_action_and_reproducible(plan):
    assignments = plan.assignments
    flags = holdout_flags(assignments, 0.1, seed=7)
    for action, count in assignments.action_id.value_counts().items():
        members = (assignments.action_id == action).to_numpy()
        assert flags[members].sum() == holdout_size(count, 0.1)
    assert np.array_equal(flags, holdout_flags(assignments, 0.1, seed=7))
    assert not np.array_equal(flags, holdout_flags(assignments, 0.1, seed=8))
    shuffled = assignments.sample(frac=1.0, random_state=3)
    again = holdout_flags(shuffled, 0.1, seed=7)  # row order does not change who is held out
    held = set(shuffled.customer_id[again])
    assert held == set(assignments.customer_id[flags])


def test_export_frames(plan):
    exports = build_exports(plan.assignments, holdout_rate=0.1, seed=11, plan_date=DATE)
    files = exports.files()
    assert list(files) == [
        "treatment_plan_20251105.csv",
        "email_list_20251105.csv",
        "push_list_20251105.csv",
        "call_queue_20251105.csv",
    ]
    tp = exports.treatment_plan
    assert list(tp.columns) == TREATMENT_PLAN_COLUMNS
    assert len(tp) == plan.kpis.customers_treated
    assert set(tp.holdout) == {"TRUE", "FALSE"}
    assert (tp.execute_treatment == np.where(tp.holdout == "TRUE", "FALSE", "TRUE")).all()
    assert (tp.holdout_seed == 11).all() and (tp.plan_date == "2025-11-05").all()
    assert exports.holdout_count == sum(holdout_size(c, 0.1) for c in tp.action_id.value_counts())
    held = set(tp.customer_id[tp.holdout == "TRUE"])
    for frame, columns, channels in (
        (exports.email_list, EMAIL_COLUMNS, {"email"}),
        (exports.push_list, PUSH_COLUMNS, {"in_app", "push"}),
        (exports.call_queue, CALL_COLUMNS, {"call"}),
    ):
        assert list(frame.columns) == columns
        assert held.isdisjoint(frame.customer_id)
        executed = tp[(tp.execute_treatment == "TRUE") & tp.channel.isin(channels)]
        assert sorted(frame.customer_id) == sorted(executed.customer_id)
    calls = exports.call_queue
    assert len(calls) > 0
    assert calls.clv.is_monotonic_decreasing
    assert calls.call_priority.tolist() == list(range(1, len(calls) + 1))


def test_csv_bytes_round_trip(plan):
    exports = build_exports(plan.assignments, plan_date=DATE)
    text = to_csv_bytes(exports.treatment_plan)
    back = pd.read_csv(io.BytesIO(text), dtype={"customer_id": str})
    assert len(back) == len(exports.treatment_plan)
    assert back.net_value.round(2).tolist() == exports.treatment_plan.net_value.round(2).tolist()
    assert back.customer_id.tolist() == exports.treatment_plan.customer_id.tolist()


def test_formulas_are_neutralized():
    frame = pd.DataFrame(
        {"name": ["=HYPERLINK(1)", "+1", "-x", "@SUM", "ok", "\tTab"], "n": [-1, 2, 3, 4, 5, 6]}
    )
    back = pd.read_csv(io.BytesIO(to_csv_bytes(frame)), dtype={"name": str}, keep_default_na=False)
    assert back.name.tolist() == ["'=HYPERLINK(1)", "'+1", "'-x", "'@SUM", "ok", "'\tTab"]
    assert back.n.tolist() == [-1, 2, 3, 4, 5, 6]  # numbers are left alone


def test_write_exports_is_all_or_nothing(plan, tmp_path, monkeypatch):
    exports = build_exports(plan.assignments, plan_date=DATE)
    written = write_exports(exports, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(exports.files())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(exports.files())
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in written} == {0o666 & ~umask}  # not private temp-file modes

    import optimizer.exports as module

    calls = {"n": 0}
    real = module.to_csv_bytes

    def failing(frame):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(frame)

    monkeypatch.setattr(module, "to_csv_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        write_exports(exports, tmp_path / "second")
    second = tmp_path / "second"
    assert not second.exists() or list(second.iterdir()) == []  # nothing half-written, no temp files left
