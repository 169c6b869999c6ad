"""Train and evaluate the churn model; write its artefacts.

Procedure (see docs/churn_model.md): generate the synthetic base; split it 70/15/15 into train,
validation and test, stratified by the label; fit a logistic regression baseline, a random forest and
XGBoost (early stopping on validation log loss); check calibration on validation with cross-fitted
Platt and isotonic maps and keep one only when it lowers the validation Brier score; compare all models
on the test set by ROC AUC, log loss and Brier score.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from optimizer.churn.features import FEATURE_NAMES, encode_features, source_column, validate_customers
from optimizer.churn.generate import DEFAULT_CUSTOMERS, DEFAULT_SEED, generate_customers
from optimizer.churn.model import NTHREAD, Calibration, ChurnModel, logit
from optimizer.churn.paths import (
    DEFAULT_MODEL_DIR,
    IMPORTANCES_FILE,
    METRICS_FILE,
    RELIABILITY_FILE,
    ROC_FILE,
)
from optimizer.churn.split import split_customers
from optimizer.csvout import csv_bytes, write_files

REPORT_AUC = 0.94  # the predictive stage's XGBoost AUC quoted in the prescriptive report
ROC_GRID_POINTS = 101

XGBOOST = "xgboost"
LOGISTIC = "logistic_regression"
FOREST = "random_forest"


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that determines a training run. Defaults reproduce the committed model."""

    n_customers: int = DEFAULT_CUSTOMERS
    seed: int = DEFAULT_SEED
    validation_size: float = 0.15
    test_size: float = 0.15
    max_depth: int = 3
    learning_rate: float = 0.1
    max_rounds: int = 1000
    early_stopping_rounds: int = 30
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    random_forest: bool = True
    forest_trees: int = 100
    forest_jobs: int = 2  # joblib threads build whole trees: no per-node barriers to stall
    nthread: int = NTHREAD  # XGBoost threads; the booster does not depend on it (see model.NTHREAD)
    calibration_folds: int = 5
    reliability_bins: int = 10


@dataclass(frozen=True)
class TrainingResult:
    """A trained model and its test-set evaluation, as saved by `save_training_result`.

    `metrics` is the content of metrics.json; `comparison` has one row per model (test set);
    `importances` one row per encoded feature (XGBoost gain); `reliability` the binned calibration
    table on the test set; `roc` thinned ROC curves on the test set; `test_scores` the test customers
    with their `churn_probability`.
    """

    model: ChurnModel
    metrics: dict[str, Any]
    comparison: pd.DataFrame
    importances: pd.DataFrame
    reliability: pd.DataFrame
    roc: pd.DataFrame
    test_scores: pd.DataFrame


def reliability_table(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-width reliability table: per probability bin, count, mean prediction and observed rate."""
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        rows.append(
            {
                "bin": b,
                "lower": edges[b],
                "upper": edges[b + 1],
                "n": n,
                "mean_predicted": float(probabilities[mask].mean()) if n else np.nan,
                "observed_rate": float(labels[mask].mean()) if n else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    return {
        "auc": float(roc_auc_score(labels, probabilities)),
        "log_loss": float(log_loss(labels, np.clip(probabilities, 1e-15, 1 - 1e-15))),
        "brier": float(brier_score_loss(labels, probabilities)),
    }


def _roc_points(labels: np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """ROC curve thinned to a fixed false-positive-rate grid (small enough to commit)."""
    fpr, tpr, _ = roc_curve(labels, probabilities)
    grid = np.linspace(0.0, 1.0, ROC_GRID_POINTS)
    # roc_curve orders tied FPRs by increasing TPR, so interpolation follows the drawn curve;
    # at FPR 0 it gives the top of the initial vertical segment, hence the explicit (0, 0) start.
    thinned = np.maximum.accumulate(np.interp(grid, fpr, tpr))
    return pd.DataFrame({"fpr": np.r_[0.0, grid], "tpr": np.r_[0.0, thinned]})


def _fit_calibration(
    labels: np.ndarray, raw: np.ndarray, settings: TrainingSettings
) -> tuple[Calibration, dict[str, float]]:
    """Choose a calibration map by cross-fitted Brier score on the validation set."""
    folds = StratifiedKFold(settings.calibration_folds, shuffle=True, random_state=settings.seed)
    cross_fitted = {"platt": np.empty_like(raw), "isotonic": np.empty_like(raw)}
    for fit_index, held_index in folds.split(raw.reshape(-1, 1), labels):
        platt = LogisticRegression(C=1e6).fit(logit(raw[fit_index]).reshape(-1, 1), labels[fit_index])
        cross_fitted["platt"][held_index] = platt.predict_proba(logit(raw[held_index]).reshape(-1, 1))[:, 1]
        isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        cross_fitted["isotonic"][held_index] = isotonic.fit(raw[fit_index], labels[fit_index]).predict(
            raw[held_index]
        )
    briers = {"none": float(brier_score_loss(labels, raw))}
    briers.update({name: float(brier_score_loss(labels, p)) for name, p in cross_fitted.items()})
    best = min(briers, key=lambda name: (briers[name], name != "none"))
    if best == "platt":
        platt = LogisticRegression(C=1e6).fit(logit(raw).reshape(-1, 1), labels)
        calibration = Calibration(
            "platt", slope=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0])
        )
    elif best == "isotonic":
        isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, labels)
        calibration = Calibration(
            "isotonic",
            x=tuple(float(v) for v in isotonic.X_thresholds_),
            y=tuple(float(v) for v in isotonic.y_thresholds_),
        )
    else:
        calibration = Calibration()
    return calibration, briers


def _importances(booster: xgb.Booster) -> pd.DataFrame:
    gain = booster.get_score(importance_type="gain")
    total_gain = booster.get_score(importance_type="total_gain")
    # A float per feature for this single-output booster (xgboost types the values float | list[float]).
    splits = cast(dict[str, float], booster.get_score(importance_type="weight"))
    frame = pd.DataFrame(
        {
            "feature": list(FEATURE_NAMES),
            "column": [source_column(f) for f in FEATURE_NAMES],
            "gain": [gain.get(f, 0.0) for f in FEATURE_NAMES],
            "total_gain": [total_gain.get(f, 0.0) for f in FEATURE_NAMES],
            "splits": [int(splits.get(f, 0)) for f in FEATURE_NAMES],
        }
    )
    frame["gain_share"] = frame["total_gain"] / frame["total_gain"].sum()
    return frame.sort_values(["total_gain", "feature"], ascending=[False, True], ignore_index=True)


def train_churn_model(
    settings: TrainingSettings | None = None, customers: pd.DataFrame | None = None
) -> TrainingResult:
    """Train the churn models on a synthetic base (or `customers`, which must hold `churned`)."""
    settings = settings or TrainingSettings()
    started = time.perf_counter()
    if customers is None:
        customers = generate_customers(settings.n_customers, settings.seed)
    train, validation, test = split_customers(
        customers, settings.seed, settings.validation_size, settings.test_size
    )
    x_train, x_val, x_test = (encode_features(validate_customers(part)) for part in (train, validation, test))
    y_train, y_val, y_test = (part["churned"].to_numpy(dtype=int) for part in (train, validation, test))
    test_probabilities: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}

    tick = time.perf_counter()
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    logistic.fit(x_train, y_train)
    test_probabilities[LOGISTIC] = logistic.predict_proba(x_test)[:, 1]
    seconds[LOGISTIC] = time.perf_counter() - tick

    if settings.random_forest:
        tick = time.perf_counter()
        forest = RandomForestClassifier(
            n_estimators=settings.forest_trees,
            min_samples_leaf=10,
            n_jobs=settings.forest_jobs,
            random_state=settings.seed,
        )
        forest.fit(x_train, y_train)
        test_probabilities[FOREST] = forest.predict_proba(x_test)[:, 1]
        seconds[FOREST] = time.perf_counter() - tick

    tick = time.perf_counter()
    params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_depth": settings.max_depth,
        "eta": settings.learning_rate,
        "subsample": settings.subsample,
        "colsample_bytree": settings.colsample_bytree,
        "min_child_weight": settings.min_child_weight,
        "seed": settings.seed,
        "nthread": settings.nthread,
    }

    def matrix(x: pd.DataFrame, y: np.ndarray | None = None) -> xgb.DMatrix:
        return xgb.DMatrix(
            x.to_numpy(dtype=np.float32), label=y, feature_names=list(FEATURE_NAMES), nthread=settings.nthread
        )

    d_train, d_val = matrix(x_train, y_train), matrix(x_val, y_val)
    booster = xgb.train(
        params,
        d_train,
        num_boost_round=settings.max_rounds,
        evals=[(d_val, "validation")],
        early_stopping_rounds=settings.early_stopping_rounds,
        verbose_eval=False,
    )
    best_iteration = int(booster.best_iteration)
    booster = booster[: best_iteration + 1]  # keep only the trees up to the best validation round
    seconds[XGBOOST] = time.perf_counter() - tick

    model = ChurnModel(booster)
    calibration, calibration_briers = _fit_calibration(y_val, model.predict_raw(x_val), settings)
    training = asdict(settings) | {"best_iteration": best_iteration, "n_trees": best_iteration + 1}
    model = ChurnModel(booster, calibration, training)
    raw_test = model.predict_raw(x_test)
    test_probabilities[XGBOOST] = calibration.apply(raw_test)

    scores = {name: _scores(y_test, p) for name, p in test_probabilities.items()}
    comparison = pd.DataFrame([{"model": name, **s} for name, s in scores.items()])
    comparison = comparison.sort_values("auc", ascending=False, ignore_index=True)
    reliability_parts = [
        reliability_table(y_test, test_probabilities[name], settings.reliability_bins).assign(model=name)
        for name in (XGBOOST, LOGISTIC)
    ]
    if calibration.method != "none":
        reliability_parts.append(
            reliability_table(y_test, raw_test, settings.reliability_bins).assign(
                model="xgboost_uncalibrated"
            )
        )
    reliability = pd.concat(reliability_parts, ignore_index=True)
    reliability = reliability.loc[
        :, ["model", "bin", "lower", "upper", "n", "mean_predicted", "observed_rate"]
    ]
    roc = pd.concat(
        [_roc_points(y_test, p).assign(model=name) for name, p in test_probabilities.items()],
        ignore_index=True,
    ).loc[:, ["model", "fpr", "tpr"]]
    train_seconds = time.perf_counter() - started

    metrics: dict[str, Any] = {
        "model": XGBOOST,
        "calibration": calibration.method,
        **scores[XGBOOST],
        "baseline_model": LOGISTIC,
        "baseline_auc": scores[LOGISTIC]["auc"],
        "baseline_log_loss": scores[LOGISTIC]["log_loss"],
        "baseline_brier": scores[LOGISTIC]["brier"],
        "report_auc": REPORT_AUC,
        "models": scores,
        "calibration_check": {"split": "validation", "cross_fitted_brier": calibration_briers},
        "uncalibrated": _scores(y_test, raw_test),
        "n_customers": int(len(customers)),
        "n_train": int(len(train)),
        "n_validation": int(len(validation)),
        "n_test": int(len(test)),
        "churn_rate": float(customers["churned"].mean()),
        "test_churn_rate": float(y_test.mean()),
        "seed": settings.seed,
        "best_iteration": best_iteration,
        "n_trees": best_iteration + 1,
        "fit_seconds": {name: round(s, 3) for name, s in seconds.items()},
        "train_seconds": round(train_seconds, 3),
        "nthread": settings.nthread,
        "forest_jobs": settings.forest_jobs,
        "versions": {
            "python": platform.python_version(),
            "xgboost": xgb.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
    }
    test_scores = test.drop(columns=["churned"]).assign(churn_probability=test_probabilities[XGBOOST])
    test_scores["churned"] = y_test
    return TrainingResult(
        model=model,
        metrics=metrics,
        comparison=comparison,
        importances=_importances(booster),
        reliability=reliability,
        roc=roc,
        test_scores=test_scores,
    )


def save_training_result(result: TrainingResult, path: str | Path = DEFAULT_MODEL_DIR) -> list[Path]:
    """Write the model and its evaluation artefacts into directory `path`; return the files written."""
    path = Path(path)
    written = result.model.save(path)
    metrics_path = path / METRICS_FILE
    metrics_path.write_text(json.dumps(result.metrics, indent=2) + "\n", encoding="utf-8")
    written.append(metrics_path)
    tables = {
        IMPORTANCES_FILE: result.importances,
        RELIABILITY_FILE: result.reliability,
        ROC_FILE: result.roc,
    }
    written += write_files({name: csv_bytes(frame.round(6)) for name, frame in tables.items()}, path)
    return written
