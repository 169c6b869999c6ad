"""Scoring customer files with the committed model; malformed input is rejected naming the column."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from optimizer.churn import (
    REQUIRED_COLUMNS,
    ChurnInputError,
    ChurnModel,
    generate_customers,
    read_customers,
    register,
    score_customers,
    validate_customers,
    write_customers,
)


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    return ChurnModel.load()  # the committed data/model/


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_customers(2000, seed=3)


def test_scores_are_probabilities_for_every_customer(model, customers):
    scored = score_customers(customers, model)
    assert scored["customer_id"].tolist() == customers["customer_id"].tolist()
    p = scored["churn_probability"]
    assert p.between(0.0, 1.0).all() and p.notna().all()
    # a well-separated model: many confident predictions on both sides
    assert (p < 0.1).mean() > 0.2 and (p > 0.9).mean() > 0.2


def test_scores_track_the_true_label(model, customers):
    scored = score_customers(customers, model)
    churners = scored["churn_probability"][customers["churned"] == 1].mean()
    stayers = scored["churn_probability"][customers["churned"] == 0].mean()
    assert churners > stayers + 0.5


def test_scoring_a_csv_file_equals_scoring_the_frame(model, customers, tmp_path):
    path = write_customers(customers, tmp_path / "base.csv")
    from_file = score_customers(read_customers(path), model, source=str(path))
    from_frame = score_customers(customers, model)
    assert np.array_equal(from_file["churn_probability"], from_frame["churn_probability"])


def test_a_byte_order_mark_from_spreadsheet_exports_is_accepted(model, customers, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + customers.head(10).to_csv(index=False).encode("utf-8"))
    scored = score_customers(read_customers(path), model)
    assert scored["customer_id"].tolist() == customers["customer_id"].head(10).astype(str).tolist()  # text


def test_label_and_extra_columns_are_not_needed(model, customers):
    features_only = customers.loc[:, list(REQUIRED_COLUMNS)].assign(notes="x")
    assert np.array_equal(
        score_customers(features_only, model)["churn_probability"],
        score_customers(customers, model)["churn_probability"],
    )


def test_missing_column_is_named(customers):
    with pytest.raises(ChurnInputError, match=r"customers\.csv, column 'song_skip_rate': missing column"):
        validate_customers(customers.drop(columns=["song_skip_rate"]), source="customers.csv")


def test_every_missing_column_is_reported(customers):
    with pytest.raises(ChurnInputError) as caught:
        validate_customers(customers.drop(columns=["weekly_hours", "payment_plan"]), source="f.csv")
    assert {p.column for p in caught.value.problems} == {"weekly_hours", "payment_plan"}


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("weekly_hours", "abc", r"f\.csv, row 5, column 'weekly_hours': not a number: 'abc'"),
        ("weekly_hours", "", r"f\.csv, row 5, column 'weekly_hours': missing value"),
        ("song_skip_rate", "1.5", r"f\.csv, row 5, column 'song_skip_rate': value 1\.5 outside \[0, 1\]"),
        ("weekly_songs_played", "-3", r"f\.csv, row 5, column 'weekly_songs_played': value -3 outside >= 0"),
        ("subscription_type", "Gold", r"f\.csv, row 5, column 'subscription_type': unknown value 'Gold'"),
        ("customer_service_inquiries", "low", r"row 5, column 'customer_service_inquiries': unknown value"),
        ("payment_plan", "", r"f\.csv, row 5, column 'payment_plan': missing value"),
        ("customer_id", "200001", r"f\.csv, row 5, column 'customer_id': duplicate customer_id '200001'"),
    ],
)
def test_malformed_value_names_file_row_and_column(customers, column, value, message):
    raw = customers.astype(str)
    raw.loc[3, column] = value  # 0-based position 3 is spreadsheet row 5 (header is row 1)
    with pytest.raises(ChurnInputError, match=message):
        validate_customers(raw, source="f.csv")


def test_unseen_location_and_payment_method_are_scored(model, customers):
    odd = customers.head(5).copy()
    odd["location"] = "Oregon"
    odd["payment_method"] = "Gift Card"
    p = score_customers(odd, model)["churn_probability"]
    assert p.between(0, 1).all()


def test_empty_and_unreadable_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ChurnInputError, match="empty file"):
        read_customers(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text(",".join(REQUIRED_COLUMNS) + "\n")
    with pytest.raises(ChurnInputError, match="no customer rows"):
        read_customers(tmp_path / "header.csv")
    with pytest.raises(ChurnInputError, match="file not found"):
        read_customers(tmp_path / "absent.csv")


def test_score_command_writes_reference_schema_files(customers, tmp_path, capsys):
    population = write_customers(customers.head(50), tmp_path / "base.csv")
    code = run_cli(
        [
            "score",
            "--population",
            str(population),
            "--out",
            str(tmp_path / "p.csv"),
            "--out-features",
            str(tmp_path / "f.csv"),
        ]
    )
    assert code == 0
    predictions = (tmp_path / "p.csv").read_text().splitlines()
    features = (tmp_path / "f.csv").read_text().splitlines()
    assert predictions[0] == "customer_id,churn_probability"
    assert features[0] == (
        "customer_id,subscription_type,payment_plan,weekly_hours,weekly_songs_played,num_playlists_created"
    )
    assert len(predictions) == len(features) == 51
    assert [line.split(",")[0] for line in predictions] == [line.split(",")[0] for line in features]


def test_score_command_rejects_malformed_input_with_exit_code_2(customers, tmp_path, capsys):
    bad = customers.head(20).astype(str)
    bad.loc[6, "weekly_hours"] = "lots"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    assert run_cli(["score", "--population", str(path), "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}, row 8, column 'weekly_hours': not a number: 'lots'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "p.csv").exists()


def test_score_command_reports_a_missing_model(customers, tmp_path, capsys):
    population = write_customers(customers.head(5), tmp_path / "base.csv")
    code = run_cli(["score", "--population", str(population), "--model", str(tmp_path / "none")])
    assert code == 2
    assert "model file not found" in capsys.readouterr().err
