"""Customer ids are opaque text in every path; action ids are range-checked; subscription types normalized.

Paths: CSV loading (the CLI and the app's uploads use the same loader), the exports, the history (stored and
read back), outcomes (simulated, written, loaded, matched), the churn scorer and the decomposition.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from optimizer import InputError, build_exports, load_catalog, load_cohort, solve_plan, to_csv_bytes
from optimizer.catalog import MAX_ACTION_ID, eligibility, input_warnings
from optimizer.cli import main
from optimizer.csvout import restore_text_cells
from optimizer.data import CLV_BASE, CLV_BASE_OTHER, normalize_subscriptions
from optimizer.model import PlanSettings

# (id in the file, id kept)
IDS = [
    ("1234567890123456789012345", "1234567890123456789012345"),  # beyond int64
    ("99999999999999999999", "99999999999999999999"),
    ("00200123", "00200123"),  # leading zeros
    ("0204496", "0204496"),  # and ...
    ("204496", "204496"),  # ... a different customer
    ("  spaced id  ", "spaced id"),  # surrounding spaces only are trimmed
    ("inner  space", "inner  space"),
    ("kunde-ÄÖÜ-ß", "kunde-ÄÖÜ-ß"),
    ("顧客-7", "顧客-7"),
    ("-17", "-17"),
    ("1e5", "1e5"),  # not a number either
    ("3.0", "3.0"),
]
SUBSCRIPTIONS = ["Premium", "premium", "PREMIUM", " Premium ", "Free", "student", "FAMILY", "Platinum"]


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def files(ids: list[str], subscriptions: list[str] | None = None) -> tuple[bytes, bytes]:
    n = len(ids)
    subscriptions = subscriptions or ["Premium"] * n
    probability = [f"0.{(i % 9) + 1}" for i in range(n)]
    predictions = _csv(
        [["customer_id", "churn_probability"]] + [[c, p] for c, p in zip(ids, probability, strict=True)]
    )
    features = _csv(
        [["customer_id", "subscription_type", "payment_plan", "weekly_hours", "weekly_songs_played"]]
        + [
            [c, s, "Monthly", str(10 + i), str(100 + i)]
            for i, (c, s) in enumerate(zip(ids, subscriptions, strict=True))
        ]
    )
    return predictions, features


@pytest.fixture
def cohort():
    given = [g for g, _ in IDS]
    predictions, _ = files(given[::-1])  # the predictions list the customers in another order
    _, features = files(given)
    return load_cohort(predictions, features, predictions_name="p.csv", features_name="f.csv")


def test_ids_are_loaded_exactly_as_given(cohort):
    assert cohort["customer_id"].tolist() == [kept for _, kept in IDS][::-1]
    assert all(isinstance(c, str) for c in cohort["customer_id"])
    # features matched to the right customers although the files list them in different orders
    hours = dict(zip(cohort["customer_id"], cohort["weekly_hours"], strict=True))
    assert hours["0204496"] == 13 and hours["204496"] == 14 and hours["00200123"] == 12


@pytest.mark.parametrize(
    "ids",
    [
        ["00200123", "0204496", "204496"],  # every id numeric-looking: still text
        ["1234567890123456789012345", "1234567890123456789012346", "7"],
        ["200123", "200480", "9"],
    ],
)
def test_numeric_looking_ids_stay_text_into_the_exports(ids):
    predictions, features = files(ids)
    cohort = load_cohort(predictions, features)
    assert cohort["customer_id"].tolist() == ids
    settings = PlanSettings(budget=100, min_high_risk=0, min_premium=0, min_segment=0, max_saturation=1.0)
    plan = build_exports(solve_plan(cohort, load_catalog(), settings, solver="highs").assignments)
    written = pd.read_csv(io.BytesIO(to_csv_bytes(plan.treatment_plan)), dtype=str)["customer_id"]
    assert sorted(written) == sorted(ids)


@pytest.mark.parametrize(
    ("first", "second", "duplicate"),
    [
        ("0204496", "204496", False),
        ("204496", " 204496 ", True),  # the same id once spaces are trimmed
        ("ABC", "abc", False),  # case matters
        ("1", "1.0", False),
        ("1234567890123456789012345", "1234567890123456789012346", False),  # equal as floats, not as ids
    ],
)
def test_duplicates_are_judged_on_the_text(first, second, duplicate):
    predictions, features = files([first, second, "other"])
    if duplicate:
        with pytest.raises(InputError, match=r"p\.csv, row 3, column 'customer_id': duplicate customer_id"):
            load_cohort(predictions, features, predictions_name="p.csv", features_name="f.csv")
    else:
        loaded = load_cohort(predictions, features)
        assert loaded["customer_id"].tolist() == [first.strip(), second.strip(), "other"]


def test_ids_travel_unchanged_through_plan_exports_history_and_outcomes(cohort, tmp_path):
    from optimizer.loop.history import PlanHistory
    from optimizer.loop.outcomes import load_plan_outcomes, outcomes_csv_bytes, simulate_outcomes

    settings = PlanSettings(budget=1000, min_high_risk=0, min_premium=0, min_segment=0, max_saturation=1.0)
    catalog = load_catalog()
    result = solve_plan(cohort, catalog, settings, solver="highs")
    kept = {k for _, k in IDS}
    assert set(result.assignments["customer_id"]) <= kept and len(result.assignments) == len(IDS)
    exports = build_exports(result.assignments)
    for frame in exports.files().values():
        back = pd.read_csv(io.BytesIO(to_csv_bytes(frame)), dtype=str, keep_default_na=False)
        if "-17" in set(frame["customer_id"]):
            assert "'-17" in set(back["customer_id"])  # an id a spreadsheet would evaluate is neutralized
        back = restore_text_cells(back)  # ... and recovered as documented
        assert back["customer_id"].tolist() == frame["customer_id"].tolist()
        assert set(back["customer_id"]) <= kept

    with PlanHistory(f"sqlite:///{(tmp_path / 'h.sqlite').as_posix()}") as history:
        plan_id = history.save_plan(result, exports, cohort, catalog)
        saved = history.load_plan(plan_id)
    assert saved.cohort["customer_id"].tolist() == cohort["customer_id"].tolist()
    assert saved.assignments["customer_id"].tolist() == result.assignments["customer_id"].tolist()

    drawn = simulate_outcomes(saved, seed=3)
    assert sorted(drawn["customer_id"]) == sorted(kept)
    loaded = load_plan_outcomes(saved, outcomes_csv_bytes(drawn), "o.csv")
    assert sorted(loaded["customer_id"]) == sorted(kept)


def test_history_reads_ids_as_text_in_plans_saved_with_numeric_ids():
    from optimizer.loop.history import _read_typed_csv

    frame = _read_typed_csv(b"customer_id,n\n00123,1\n204496,2\n", {"customer_id": "int", "n": "int"})
    assert frame["customer_id"].tolist() == ["00123", "204496"]
    assert frame["n"].tolist() == [1, 2]


def test_the_decomposition_keeps_ids(cohort):
    settings = PlanSettings(budget=60, min_high_risk=0, min_premium=0, min_segment=0, max_saturation=1.0)
    exact = solve_plan(cohort, load_catalog(), settings, solver="highs")
    decomposed = solve_plan(cohort, load_catalog(), settings, solver="decomposition")
    assert set(decomposed.assignments["customer_id"]) <= {k for _, k in IDS}
    assert decomposed.kpis.net_value == pytest.approx(exact.kpis.net_value, abs=1e-6)


def test_churn_scorer_keeps_file_ids_as_text(tmp_path):
    from optimizer.churn import generate_customers
    from optimizer.churn.features import read_customers

    customers = generate_customers(6, seed=2)
    customers["customer_id"] = ["0204496", "204496", "00200123", "1234567890123456789012345", " x ", "é"]
    path = tmp_path / "population.csv"
    path.write_bytes(to_csv_bytes(customers))
    assert read_customers(path)["customer_id"].tolist() == [
        "0204496",
        "204496",
        "00200123",
        "1234567890123456789012345",
        "x",
        "é",
    ]


ACTIONS_HEADER = "action_id,action_name,channel,cost,uplift,eligible_segment\n0,No Action,none,0,0,all\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99999999999999999999", "action_id 99999999999999999999 is out of range"),
        ("9223372036854775808", "action_id 9223372036854775808 is out of range"),
        (str(MAX_ACTION_ID + 1), f"action_id {MAX_ACTION_ID + 1} is out of range"),
        ("1e30", "action_id 1e30 is out of range"),
        ("-1", "out of range"),
        ("1.5", "action_id must be a whole number"),
        ("x", "'x' is not a number"),
    ],
)
def test_out_of_range_action_ids_are_refused(value, message):
    content = (ACTIONS_HEADER + f"{value},Email,email,1,0.1,all\n2,Push,push,1,0.1,all\n").encode()
    with pytest.raises(InputError) as caught:
        load_catalog(content, "actions.csv")
    text = str(caught.value)
    assert text.startswith("actions.csv, row 3, column 'action_id': ") and message in text
    assert len(caught.value.problems) == 1


def test_the_largest_action_id_is_accepted():
    content = (ACTIONS_HEADER + f"{MAX_ACTION_ID},Email,email,1,0.1,all\n").encode()
    assert load_catalog(content, "actions.csv")["action_id"].tolist() == [0, MAX_ACTION_ID]


# --- subscription types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("premium", "Premium"),
        ("PREMIUM", "Premium"),
        ("  Premium ", "Premium"),
        ("pReMiUm", "Premium"),
        ("free", "Free"),
        ("STUDENT", "Student"),
        ("family", "Family"),
        ("Platinum", "Platinum"),  # unknown: kept as given
        (" platinum ", "platinum"),
    ],
)
def test_subscription_spellings(given, normalized):
    assert normalize_subscriptions(pd.Series([given])).tolist() == [normalized]


def test_every_rule_sees_one_premium_group():
    ids = [f"c{i}" for i in range(len(SUBSCRIPTIONS))]
    predictions, features = files(ids, SUBSCRIPTIONS)
    cohort = load_cohort(predictions, features)
    assert cohort["subscription_type"].tolist() == [
        "Premium",
        "Premium",
        "Premium",
        "Premium",
        "Free",
        "Student",
        "Family",
        "Platinum",
    ]
    # CLV base: the four Premium spellings get Premium's base, Platinum the default
    engagement = 1 + 0.5 * cohort["weekly_hours"] / cohort["weekly_hours"].max()
    engagement += 0.5 * cohort["weekly_songs_played"] / cohort["weekly_songs_played"].max()
    base = cohort["clv"] / (engagement * 2)
    assert base.round(9).tolist() == [CLV_BASE["Premium"]] * 4 + [100.0, 120.0, 360.0, CLV_BASE_OTHER]
    # eligibility by segment name agrees
    catalog = load_catalog(
        (ACTIONS_HEADER + "1,VIP call,call,5,0.2,premium\n2,Mail,email,1,0.05,all\n").encode(), "a.csv"
    )
    from optimizer.catalog import active_actions

    eligible = eligibility(cohort, active_actions(catalog))
    assert eligible[:, 0].tolist() == [True] * 4 + [False] * 4
    # the Premium policy covers all four; the fairness groups are the five types
    settings = PlanSettings(budget=100, min_premium=1.0, min_high_risk=0, min_segment=0.5, max_saturation=1.0)
    result = solve_plan(cohort, catalog, settings, solver="highs")
    treated = set(result.assignments["customer_id"])
    assert {"c0", "c1", "c2", "c3"} <= treated
    rows = result.constraints
    premium = rows[rows["family"] == "premium_coverage"]
    assert premium["group_size"].tolist() == [4] and premium["used"].tolist() == [4]
    fairness = rows[rows["family"] == "fairness"]
    assert sorted(fairness["constraint"]) == [f"Fairness: {t}" for t in sorted(set(cohort.subscription_type))]


def test_unknown_types_and_unreachable_actions_are_warned_about(tmp_path, capsys):
    ids = [f"c{i}" for i in range(len(SUBSCRIPTIONS))]
    predictions, features = files(ids, SUBSCRIPTIONS)
    (tmp_path / "p.csv").write_bytes(predictions)
    (tmp_path / "f.csv").write_bytes(features)
    (tmp_path / "a.csv").write_bytes(
        (ACTIONS_HEADER + "1,Mail,email,1,0.05,all\n2,Gold,call,5,0.2,Gold\n3,Big,call,5,0.2,all\n").encode()
    )
    cohort = load_cohort(tmp_path / "p.csv", tmp_path / "f.csv")
    warnings = input_warnings(cohort, load_catalog(tmp_path / "a.csv"))
    assert len(warnings) == 2
    assert "'Platinum' (1 customer)" in warnings[0]
    assert "Action 2 'Gold'" in warnings[1]
    code = main(
        ["plan", "--predictions", str(tmp_path / "p.csv"), "--features", str(tmp_path / "f.csv")]
        + ["--actions", str(tmp_path / "a.csv"), "--out-dir", str(tmp_path / "out"), "--min-premium", "0"]
        + ["--min-high-risk", "0", "--min-segment", "0"]
    )
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["warning", "warning"]
    assert err == [f"warning: {w}" for w in warnings]


def test_no_warnings_for_the_bundled_data():
    from optimizer import load_bundled_cohort

    assert input_warnings(load_bundled_cohort(), load_catalog()) == []
    assert np.all(load_bundled_cohort()["subscription_type"].isin(list(CLV_BASE)))


def test_the_data_page_shows_the_unknown_type_warning():
    from optimizer import load_bundled_cohort
    from optimizer.data import finish_cohort
    from tests.app_support import app_session

    cohort = load_bundled_cohort()
    cohort.loc[0, "subscription_type"] = "Platinum"
    at = app_session("data", cohort=finish_cohort(cohort))
    at.run()
    assert not at.exception
    shown = [w.value.replace("\\", "") for w in at.warning]  # markdown escapes removed
    assert any("'Platinum' (1 customer)" in text for text in shown), shown
