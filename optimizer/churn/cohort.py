"""The weekly cohort: 250 customers of the held-out test set, stratified by subscription type.

The cohort is a pure function of the committed model directory: its `pipeline.json` holds the seed and
sizes that regenerate the synthetic base and its test split; the committed booster scores that test set.
So `python -m optimizer cohort` rewrites `data/prediction_250.csv` and `data/test_250.csv` byte for
byte without retraining.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.churn.export import features_csv, predictions_csv
from optimizer.churn.generate import generate_customers
from optimizer.churn.model import ChurnModel
from optimizer.churn.paths import (
    COHORT_FEATURES_FILE,
    COHORT_PREDICTIONS_FILE,
    DEFAULT_DATA_DIR,
    DEFAULT_MODEL_DIR,
)
from optimizer.churn.score import score_customers
from optimizer.churn.split import split_customers
from optimizer.csvout import write_files

COHORT_SIZE = 250


def regenerate_test_set(model: ChurnModel) -> pd.DataFrame:
    """The held-out test customers (with `churned`) of the run that trained `model`."""
    training = model.training
    customers = generate_customers(int(training["n_customers"]), int(training["seed"]))
    _, _, test = split_customers(
        customers,
        int(training["seed"]),
        float(training["validation_size"]),
        float(training["test_size"]),
    )
    return test


def allocate(counts: pd.Series, size: int) -> pd.Series:
    """Split `size` over groups in proportion to `counts` (largest remainder, ties by group name)."""
    if size > int(counts.sum()):
        raise ValueError(f"cannot sample {size} customers from {int(counts.sum())}")
    counts = counts.sort_index()
    quota = counts * size / counts.sum()
    base = np.floor(quota).astype(int)
    remainder = (quota - base).sort_values(ascending=False, kind="stable")
    base[remainder.index[: size - int(base.sum())]] += 1
    return base


def sample_cohort(
    scored: pd.DataFrame, size: int = COHORT_SIZE, seed: int = 0, by: str = "subscription_type"
) -> pd.DataFrame:
    """`size` rows of `scored`, stratified by `by`, ordered by (`by`, customer_id)."""
    quotas = allocate(scored[by].value_counts(), size)
    rng = np.random.default_rng(seed)
    parts = []
    for group, quota in quotas.items():
        members = scored[scored[by] == group].sort_values("customer_id")
        parts.append(members.iloc[np.sort(rng.choice(len(members), size=int(quota), replace=False))])
    return pd.concat(parts, ignore_index=True)


def build_cohort(
    model_dir: str | Path = DEFAULT_MODEL_DIR, size: int = COHORT_SIZE
) -> tuple[pd.DataFrame, str, str]:
    """The scored cohort frame and the text of its predictions file and features file."""
    model = ChurnModel.load(model_dir)
    test = regenerate_test_set(model)
    scored = score_customers(test, model, source="regenerated test set")
    cohort = sample_cohort(scored, size, seed=int(model.training["seed"]))
    return cohort, predictions_csv(cohort), features_csv(cohort)


def write_cohort(
    out_dir: str | Path = DEFAULT_DATA_DIR,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    size: int = COHORT_SIZE,
) -> tuple[Path, Path]:
    """Write `prediction_250.csv` and `test_250.csv` into `out_dir`; return their paths."""
    _, predictions, features = build_cohort(model_dir, size)
    files = {
        COHORT_PREDICTIONS_FILE: predictions.encode("utf-8"),
        COHORT_FEATURES_FILE: features.encode("utf-8"),
    }
    predictions_path, features_path = write_files(files, out_dir)  # the pair, all or nothing
    return predictions_path, features_path
