"""The synthetic customer base: deterministic, and its marginals are what docs/churn_model.md says."""

from __future__ import annotations

import argparse
import hashlib

import numpy as np
import pandas as pd
import pytest

from optimizer.churn import generate_customers, register, write_customers
from optimizer.churn.generate import COLUMNS, FIRST_CUSTOMER_ID, churn_logit


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    """The default base: 75,000 customers, default seed (the one the committed model was trained on)."""
    return generate_customers()


def test_same_seed_gives_the_same_file_hash_and_another_seed_does_not(tmp_path):
    first = write_customers(generate_customers(3000, seed=11), tmp_path / "a.csv")
    second = write_customers(generate_customers(3000, seed=11), tmp_path / "b.csv")
    other = write_customers(generate_customers(3000, seed=12), tmp_path / "c.csv")
    assert sha256(first) == sha256(second)
    assert sha256(first) != sha256(other)


def test_simulate_command_writes_the_same_bytes_as_the_library(tmp_path, capsys):
    assert (
        run_cli(["simulate", "--customers", "1500", "--seed", "3", "--out", str(tmp_path / "cli.csv")]) == 0
    )
    write_customers(generate_customers(1500, seed=3), tmp_path / "lib.csv")
    assert sha256(tmp_path / "cli.csv") == sha256(tmp_path / "lib.csv")
    assert "1,500 synthetic customers" in capsys.readouterr().out


def test_csv_round_trip_is_exact(tmp_path):
    customers = generate_customers(2000, seed=5)
    back = pd.read_csv(write_customers(customers, tmp_path / "base.csv"))
    pd.testing.assert_frame_equal(back, customers, check_dtype=False)


def test_schema(base):
    assert tuple(base.columns) == COLUMNS
    assert len(base) == 75_000
    assert base["customer_id"].tolist() == list(range(FIRST_CUSTOMER_ID, FIRST_CUSTOMER_ID + 75_000))
    assert set(base["churned"].unique()) == {0, 1}
    assert base.notna().all().all()


def test_category_shares_match_the_docs(base):
    # docs/churn_model.md, "Marginals": documented share +- tolerance.
    def shares(column):
        return base[column].value_counts(normalize=True)

    for level in ("Free", "Premium", "Family", "Student"):
        assert shares("subscription_type")[level] == pytest.approx(0.25, abs=0.01)
    assert shares("payment_plan")["Yearly"] == pytest.approx(0.55, abs=0.01)
    inquiries = shares("customer_service_inquiries")
    assert inquiries["Low"] == pytest.approx(0.50, abs=0.01)
    assert inquiries["Medium"] == pytest.approx(0.30, abs=0.01)
    assert inquiries["High"] == pytest.approx(0.20, abs=0.01)
    assert shares("payment_method")["Credit Card"] == pytest.approx(0.40, abs=0.01)
    assert shares("location")["California"] == pytest.approx(0.18, abs=0.01)


def test_churn_rate_is_near_the_reports_47_percent(base):
    assert base["churned"].mean() == pytest.approx(0.47, abs=0.01)


def test_numeric_ranges_and_means_match_the_docs(base):
    ranges = {
        "age": (16, 75),
        "tenure_months": (0, 95),
        "num_subscription_pauses": (0, 6),
        "weekly_hours": (0, 50),
        "average_session_length": (3, 120),
        "song_skip_rate": (0, 1),
        "weekly_songs_played": (0, 500),
        "num_favorite_artists": (0, 60),
        "num_platform_friends": (0, 300),
        "num_playlists_created": (0, 100),
        "notifications_clicked": (0, 40),
    }
    for column, (low, high) in ranges.items():
        assert base[column].between(low, high).all(), column
    means = {"weekly_hours": (25.0, 0.5), "weekly_songs_played": (200.0, 5.0), "song_skip_rate": (0.41, 0.01)}
    for column, (mean, tolerance) in means.items():
        assert base[column].mean() == pytest.approx(mean, abs=tolerance), column
    assert (base["weekly_unique_songs"] <= base["weekly_songs_played"]).all()
    assert (base["num_shared_playlists"] <= base["num_playlists_created"]).all()
    assert (base.loc[base["subscription_type"] == "Free", "num_subscription_pauses"] == 0).all()
    assert base.loc[base["subscription_type"] == "Student", "age"].between(18, 30).all()
    signup = pd.to_datetime(base["signup_date"])
    assert signup.between("2018-01-01", "2025-11-03").all()


def test_weekly_hours_carry_ten_significant_digits(base):
    hours = base["weekly_hours"].to_numpy()
    small, large = hours < 10, hours >= 10
    assert np.array_equal(hours[small], np.round(hours[small], 9))
    assert np.array_equal(hours[large], np.round(hours[large], 8))


def test_the_reports_drivers_move_churn_as_documented(base):
    rate = base.groupby("customer_service_inquiries")["churned"].mean()
    assert rate["Low"] < rate["Medium"] < rate["High"]
    by_type = base.groupby("subscription_type")["churned"].mean()
    assert by_type["Family"] < by_type["Premium"] < by_type["Free"] < by_type["Student"]
    light = base.loc[base["weekly_hours"] < 5, "churned"].mean()
    heavy = base.loc[base["weekly_hours"] > 30, "churned"].mean()
    assert light > heavy + 0.5
    skippers = base.loc[base["song_skip_rate"] > 0.7, "churned"].mean()
    assert skippers > base.loc[base["song_skip_rate"] < 0.3, "churned"].mean() + 0.5


def test_latent_logit_separates_churners(base):
    logit = churn_logit(base)
    churners, stayers = logit[base["churned"] == 1], logit[base["churned"] == 0]
    assert churners.mean() > stayers.mean() + 4


def test_rejects_an_empty_base():
    with pytest.raises(ValueError, match="at least 1"):
        generate_customers(0)
