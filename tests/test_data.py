"""Loading the cohort and the catalog: the reference schema loads; every bad input is named precisely."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from optimizer import InputError, load_catalog, load_cohort, validate_catalog
from optimizer.data import estimate_clv, risk_tier, value_tier

PRED = "customer_id,churn_probability\n1,0.9\n2,0.2\n3,0.5\n"
FEAT = (
    "customer_id,subscription_type,payment_plan,weekly_hours,weekly_songs_played,num_playlists_created\n"
    "1,Premium,Yearly,10,100,3\n2,Free,Monthly,20,50,1\n3,Gamer,Monthly,5,200,0\n"
)


def load(pred=PRED, feat=FEAT):
    return load_cohort(pred.encode(), feat.encode(), predictions_name="pred.csv", features_name="feat.csv")


def problems(pred=PRED, feat=FEAT):
    with pytest.raises(InputError) as info:
        load(pred, feat)
    return [(p.file, p.row, p.column) for p in info.value.problems], str(info.value)


def test_reference_files_load_unchanged(reference_cohort):
    assert len(reference_cohort) == 250
    assert reference_cohort.customer_id.tolist()[:2] == ["205574", "203459"]  # ids are text
    assert reference_cohort.customer_id.iloc[0] == "205574"
    assert reference_cohort.churn_probability.iloc[0] == 0.9361
    assert reference_cohort.subscription_type.value_counts().to_dict() == {
        "Family": 63,
        "Student": 63,
        "Premium": 62,
        "Free": 62,
    }
    assert (reference_cohort.churn_probability > 0.7).sum() == 98


def test_bundled_files_load_unchanged(bundled_cohort):
    """Every id and probability as written in data/, read back with the csv module (not the loader)."""
    data = Path(__file__).resolve().parents[1] / "data"
    with (data / "prediction_250.csv").open(newline="") as handle:
        predictions = list(csv.reader(handle))[1:]
    with (data / "test_250.csv").open(newline="") as handle:
        features = list(csv.reader(handle))[1:]
    assert len(bundled_cohort) == len(predictions) == 250
    assert bundled_cohort.customer_id.astype(str).tolist() == [row[0] for row in predictions]
    assert bundled_cohort.churn_probability.tolist() == [float(row[1]) for row in predictions]
    assert [row[0] for row in features] == [row[0] for row in predictions]
    counts = {"Family": 64, "Premium": 63, "Student": 62, "Free": 61}
    assert Counter(row[1] for row in features) == counts
    assert bundled_cohort.subscription_type.value_counts().to_dict() == counts
    assert sum(float(row[1]) > 0.7 for row in predictions) == 106
    assert (bundled_cohort.churn_probability > 0.7).sum() == 106


def test_clv_formula_by_hand():
    cohort = load()
    # engagement = 0.5*h/max(h) + 0.5*s/max(s): max hours 20, max songs 200
    e1 = 0.5 * 10 / 20 + 0.5 * 100 / 200  # 0.5
    e2 = 0.5 * 20 / 20 + 0.5 * 50 / 200  # 0.625
    e3 = 0.5 * 5 / 20 + 0.5 * 200 / 200  # 0.625
    assert cohort.clv.tolist() == pytest.approx(
        [240 * 1.3 * (1 + e1) * 2, 100 * (1 + e2) * 2, 150 * (1 + e3) * 2]  # "Gamer" -> base 150
    )
    assert cohort.clv.iloc[0] == pytest.approx(936.0)


def test_clv_without_engagement_columns_uses_half():
    feat = "customer_id,subscription_type,payment_plan\n1,Family,Monthly\n2,Student,Yearly\n3,Free,Monthly\n"
    cohort = load(feat=feat)
    assert cohort.clv.tolist() == pytest.approx([360 * 1.5 * 2, 120 * 1.3 * 1.5 * 2, 100 * 1.5 * 2])


def test_clv_column_is_used_when_present():
    feat = (
        "customer_id,subscription_type,payment_plan,clv\n"
        "1,Premium,Yearly,500\n2,Free,Monthly,120\n3,Free,Monthly,75.5\n"
    )
    assert load(feat=feat).clv.tolist() == [500.0, 120.0, 75.5]
    assert estimate_clv(load(feat=feat)).shape == (3,)


def test_tiers_boundaries():
    assert risk_tier([0.3, 0.30001, 0.7, 0.70001]).tolist() == ["Low", "Medium", "Medium", "High"]
    assert value_tier([150, 150.01, 300, 300.01]).tolist() == ["Low", "Medium", "Medium", "High"]


def test_missing_file():
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        load_cohort("/definitely/nope.csv", FEAT.encode())


def test_empty_file():
    found, text = problems(pred="")
    assert found == [("pred.csv", None, None)]
    assert "empty" in text


def test_header_only_file():
    found, text = problems(feat="customer_id,subscription_type,payment_plan\n")
    assert found == [("feat.csv", None, None)]
    assert "no data rows" in text


def test_missing_columns_are_named():
    found, _ = problems(pred="customer_id,prob\n1,0.5\n", feat="customer_id,payment_plan\n1,Monthly\n")
    assert found == [("pred.csv", None, "churn_probability"), ("feat.csv", None, "subscription_type")]


def test_bad_probabilities_name_row_and_column():
    pred = "customer_id,churn_probability\n1,abc\n2,1.5\n3,\n"
    found, text = problems(pred=pred)
    assert found == [
        ("pred.csv", 2, "churn_probability"),
        ("pred.csv", 4, "churn_probability"),
        ("pred.csv", 3, "churn_probability"),
    ]
    assert "pred.csv, row 2, column 'churn_probability': 'abc' is not a number" in text
    assert "1.5 is out of range" in text


def test_duplicate_and_unmatched_ids():
    pred = "customer_id,churn_probability\n1,0.9\n1,0.2\n4,0.5\n"
    found, text = problems(pred=pred)
    assert ("pred.csv", 3, "customer_id") in found  # duplicate of row 2
    assert ("pred.csv", 4, "customer_id") in found  # 4 has no features
    assert ("feat.csv", 3, "customer_id") in found  # 2 has no prediction
    assert "first seen in row 2" in text


def test_missing_subscription_type():
    feat = FEAT.replace("2,Free,Monthly", "2,,Monthly")
    found, _ = problems(feat=feat)
    assert found == [("feat.csv", 3, "subscription_type")]


def test_non_numeric_feature():
    feat = FEAT.replace("2,Free,Monthly,20", "2,Free,Monthly,lots")
    found, text = problems(feat=feat)
    assert found == [("feat.csv", 3, "weekly_hours")]
    assert "'lots' is not a number" in text


def test_string_ids_are_kept_as_text():
    pred = "customer_id,churn_probability\nA-01,0.9\nB-02,0.2\n"
    feat = "customer_id,subscription_type,payment_plan\nB-02,Free,Monthly\nA-01,Premium,Yearly\n"
    cohort = load(pred, feat)
    assert cohort.customer_id.tolist() == ["A-01", "B-02"]
    assert cohort.subscription_type.tolist() == ["Premium", "Free"]


CATALOG = (
    "action_id,action_name,channel,cost,uplift,eligible_segment,min_clv,max_clv,description\n"
    "0,No Action,none,0,0,all,,,x\n"
    "1,Email,email,2,0.08,all,,,x\n"
)


def catalog_problems(text):
    with pytest.raises(InputError) as info:
        load_catalog(text.encode(), "cat.csv")
    return [(p.row, p.column) for p in info.value.problems], str(info.value)


def test_default_catalog():
    catalog = load_catalog()
    assert catalog.action_id.tolist() == list(range(9))
    call = catalog.set_index("action_id").loc[8]
    assert (call.action_name, call.channel, call.cost, call.uplift, call.eligible_segment) == (
        "Retention Call",
        "call",
        35.0,
        0.30,
        "high_value",
    )
    assert catalog.max_clv.isna().all()  # no upper CLV cap
    assert catalog.enabled.all()


def test_report_catalog_loads(bundled_report_catalog):
    assert bundled_report_catalog.max_clv.tolist()[5:7] == [1000.0, 1000.0]


def test_negative_cost_and_bad_uplift():
    found, text = catalog_problems(CATALOG + "2,Disc,email,-5,1.2,all,,,x\n")
    assert found == [(4, "cost"), (4, "uplift")]
    assert "cat.csv, row 4, column 'cost': -5 is out of range" in text


def test_bad_channel_duplicate_id_and_crossed_bounds():
    text = CATALOG + "1,Again,fax,2,0.1,all,,,x\n2,Range,email,2,0.1,all,500,400,x\n"
    found, message = catalog_problems(text)
    assert (4, "action_id") in found and (4, "channel") in found and (5, "max_clv") in found
    assert "unknown channel 'fax'" in message


def test_edited_table_validates_and_types():
    frame = load_catalog().astype(object)  # a data editor hands back mixed types
    frame.loc[1, "cost"] = "3.5"
    frame.loc[2, "enabled"] = False
    checked = validate_catalog(frame)
    assert checked.loc[1, "cost"] == 3.5 and not checked.loc[2, "enabled"]


def test_catalog_with_nothing_enabled():
    frame = load_catalog()
    frame["enabled"] = False
    with pytest.raises(InputError, match="no action is enabled"):
        validate_catalog(frame)
