"""Training on a small base: XGBoost beats the logistic baseline; the saved booster reloads exactly."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from optimizer.churn import (
    Calibration,
    ChurnModel,
    TrainingSettings,
    generate_customers,
    load_model_report,
    register,
    save_training_result,
    split_customers,
    train_churn_model,
)
from optimizer.churn.train import reliability_table

SMALL = TrainingSettings(n_customers=15_000, seed=7, random_forest=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    result = train_churn_model(SMALL)
    model_dir = tmp_path_factory.mktemp("model")
    save_training_result(result, model_dir)
    return result, model_dir


def test_xgboost_beats_the_logistic_baseline_on_the_test_set(trained):
    result, _ = trained
    metrics = result.metrics
    assert metrics["model"] == "xgboost"
    assert metrics["auc"] > metrics["baseline_auc"] + 0.02
    assert metrics["auc"] >= 0.93  # 0.94+ needs the full 75,000 customers
    assert metrics["brier"] < metrics["baseline_brier"]
    assert metrics["log_loss"] < metrics["baseline_log_loss"]
    assert result.comparison["model"].iloc[0] == "xgboost"


def test_split_sizes_and_stratification(trained):
    result, _ = trained
    m = result.metrics
    assert (m["n_train"], m["n_validation"], m["n_test"]) == (10_500, 2_250, 2_250)
    assert m["test_churn_rate"] == pytest.approx(m["churn_rate"], abs=0.001)
    train, validation, test = split_customers(generate_customers(15_000, 7), 7)
    ids = [set(part["customer_id"]) for part in (train, validation, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert sorted(result.test_scores["customer_id"]) == sorted(test["customer_id"])


def test_early_stopping_kept_only_the_best_trees(trained):
    result, _ = trained
    assert result.metrics["n_trees"] == result.metrics["best_iteration"] + 1
    assert result.model.booster.num_boosted_rounds() == result.metrics["n_trees"]
    assert result.metrics["n_trees"] < SMALL.max_rounds


def test_calibration_is_kept_only_when_it_lowers_the_validation_brier(trained):
    result, _ = trained
    briers = result.metrics["calibration_check"]["cross_fitted_brier"]
    chosen = result.metrics["calibration"]
    assert chosen == min(briers, key=briers.get)
    assert briers[chosen] <= briers["none"]


def test_saved_booster_reloads_with_identical_probabilities(trained):
    result, model_dir = trained
    reloaded = ChurnModel.load(model_dir)
    customers = result.test_scores.drop(columns=["churn_probability"])
    assert np.array_equal(
        reloaded.predict_proba(customers), result.test_scores["churn_probability"].to_numpy()
    )
    assert reloaded.calibration == result.model.calibration
    assert reloaded.training["seed"] == 7


def test_booster_is_saved_in_xgboost_json_format(trained):
    _, model_dir = trained
    booster = json.loads((model_dir / "booster.json").read_text())
    assert "learner" in booster and "version" in booster
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "booster.json",
        "importances.csv",
        "metrics.json",
        "pipeline.json",
        "reliability.csv",
        "roc.csv",
    ]


def test_probabilities_are_in_the_unit_interval(trained):
    result, _ = trained
    p = result.test_scores["churn_probability"]
    assert p.between(0.0, 1.0).all() and p.notna().all()


def test_saved_report_matches_the_training_result(trained):
    result, model_dir = trained
    report = load_model_report(model_dir)
    assert report.auc == result.metrics["auc"]
    assert report.baseline_auc == result.metrics["baseline_auc"]
    assert report.n_test == 2_250
    assert set(report.roc["model"]) == {"xgboost", "logistic_regression"}
    for _, points in report.roc.groupby("model"):
        assert points["fpr"].iloc[0] == 0 and points["tpr"].iloc[0] == 0
        assert points["fpr"].iloc[-1] == 1 and points["tpr"].iloc[-1] == 1
        assert points["tpr"].is_monotonic_increasing
        # the thinned curve's area is close to the exact AUC
        area = np.trapezoid(points["tpr"], points["fpr"])
        exact = result.metrics["models"][points["model"].iloc[0]]["auc"]
        assert area == pytest.approx(exact, abs=0.005)
    per_model = report.reliability.groupby("model")["n"].sum()
    assert (per_model == 2_250).all()
    assert report.importances["gain_share"].sum() == pytest.approx(1.0, abs=1e-4)


def test_reliability_table_by_hand():
    labels = np.array([0, 0, 1, 1, 1])
    probabilities = np.array([0.05, 0.15, 0.15, 0.95, 1.0])
    table = reliability_table(labels, probabilities, bins=10)
    assert table["n"].tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table.loc[1, "mean_predicted"] == pytest.approx(0.15)
    assert table.loc[1, "observed_rate"] == pytest.approx(0.5)
    assert table.loc[9, "observed_rate"] == 1.0
    assert np.isnan(table.loc[2, "mean_predicted"])


def test_calibration_maps_by_hand():
    p = np.array([0.1, 0.5, 0.9])
    assert np.allclose(Calibration().apply(p), p)
    assert np.allclose(Calibration("platt", slope=1.0, intercept=0.0).apply(p), p)
    # slope 2 on the logit: 0.9 -> 81/82
    assert Calibration("platt", slope=2.0).apply(np.array([0.9]))[0] == pytest.approx(81 / 82)
    isotonic = Calibration("isotonic", x=(0.2, 0.6), y=(0.1, 0.5))
    assert np.allclose(isotonic.apply(p), [0.1, 0.4, 0.5])
    with pytest.raises(ValueError, match="unknown calibration"):
        Calibration("beta")


def test_training_on_a_given_frame_uses_it():
    customers = generate_customers(4000, seed=9)
    result = train_churn_model(TrainingSettings(seed=9, random_forest=False), customers=customers)
    assert result.metrics["n_customers"] == 4000
    assert isinstance(result.test_scores, pd.DataFrame)


def test_train_command_prints_a_json_summary_last(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="python -m optimizer")
    register(parser.add_subparsers(dest="command", required=True))
    argv = ["train", "--customers", "4000", "--seed", "5", "--no-random-forest", "--json"]
    args = parser.parse_args([*argv, "--out", str(tmp_path)])
    assert args.handler(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("auc", "brier", "log_loss", "n_train", "n_test", "baseline_auc", "model"):
        assert key in summary
    assert summary["model"] == "xgboost"
    assert (summary["n_train"], summary["n_test"]) == (2800, 600)
    assert (tmp_path / "booster.json").is_file()
