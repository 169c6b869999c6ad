"""Churn probabilities for any customer file that has the model's input columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optimizer.churn.export import features_csv, predictions_csv, write_text
from optimizer.churn.features import encode_features, read_customers, validate_customers
from optimizer.churn.model import ChurnModel
from optimizer.churn.paths import DEFAULT_MODEL_DIR


def score_customers(
    customers: pd.DataFrame, model: ChurnModel | None = None, source: str = "<customers>"
) -> pd.DataFrame:
    """Validated customer columns (`features.REQUIRED_COLUMNS`) plus `churn_probability` in [0, 1].

    `model` defaults to the committed model in `data/model/`. Raises `ChurnInputError` naming the file
    (`source`), row and column of malformed input.
    """
    model = model or ChurnModel.load(DEFAULT_MODEL_DIR)
    clean = validate_customers(customers, source=source)
    probabilities = model.calibration.apply(model.predict_raw(encode_features(clean)))
    return clean.assign(churn_probability=probabilities)


def score_file(
    population: str | Path,
    out_predictions: str | Path | None = None,
    out_features: str | Path | None = None,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
) -> pd.DataFrame:
    """Score a customer CSV; optionally write the predictions and features files (reference schema)."""
    model = ChurnModel.load(model_dir)
    scored = score_customers(read_customers(population), model, source=str(population))
    write_scored(scored, out_predictions, out_features)
    return scored


def write_scored(
    scored: pd.DataFrame,
    out_predictions: str | Path | None = None,
    out_features: str | Path | None = None,
) -> list[Path]:
    """Write a scored frame as a predictions file and/or a features file; return the files written."""
    written = []
    if out_predictions is not None:
        written.append(write_text(out_predictions, predictions_csv(scored)))
    if out_features is not None:
        written.append(write_text(out_features, features_csv(scored)))
    return written
