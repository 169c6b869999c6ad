"""Read the saved evaluation of the churn model (no retraining, no XGBoost import) for pages and docs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.churn.errors import ChurnInputError, ChurnProblem
from optimizer.churn.paths import (
    DEFAULT_MODEL_DIR,
    IMPORTANCES_FILE,
    METRICS_FILE,
    RELIABILITY_FILE,
    ROC_FILE,
)


@dataclass(frozen=True)
class ModelReport:
    """Test-set evaluation of the saved churn model.

    Scalars are on the held-out test set of the training run. `comparison` has one row per model
    (`model`, `auc`, `log_loss`, `brier`), best AUC first; `importances` one row per encoded feature
    (`feature`, `column`, `gain`, `total_gain`, `splits`, `gain_share`); `reliability` the binned
    calibration table (`model`, `bin`, `lower`, `upper`, `n`, `mean_predicted`, `observed_rate`);
    `roc` ROC points (`model`, `fpr`, `tpr`); `metrics` the full content of metrics.json.
    """

    model: str
    calibration: str
    auc: float
    brier: float
    log_loss: float
    baseline_model: str
    baseline_auc: float
    baseline_brier: float
    baseline_log_loss: float
    report_auc: float
    n_train: int
    n_validation: int
    n_test: int
    train_seconds: float
    comparison: pd.DataFrame
    importances: pd.DataFrame
    reliability: pd.DataFrame
    roc: pd.DataFrame
    metrics: dict[str, Any]

    def importance_by_column(self) -> pd.DataFrame:
        """Share of total XGBoost gain per customer-file column (one-hot levels summed), largest first."""
        grouped = self.importances.groupby("column", as_index=False)["total_gain"].sum()
        grouped["gain_share"] = grouped["total_gain"] / grouped["total_gain"].sum()
        return grouped.sort_values(["gain_share", "column"], ascending=[False, True], ignore_index=True)


def _read(path: Path, reader: Any) -> Any:
    if not path.is_file():
        raise ChurnInputError(
            ChurnProblem(str(path), "model file not found; run `python -m optimizer train`")
        )
    return reader(path)


def load_model_report(path: str | Path = DEFAULT_MODEL_DIR) -> ModelReport:
    """Load the metrics, importances, reliability table and ROC points saved by `train`.

    Raises `ChurnInputError` naming the missing file when the model directory is incomplete.
    """
    path = Path(path)
    metrics = _read(path / METRICS_FILE, lambda p: json.loads(p.read_text(encoding="utf-8")))
    comparison = pd.DataFrame(
        [{"model": name, **scores} for name, scores in metrics["models"].items()],
        columns=["model", "auc", "log_loss", "brier"],
    ).sort_values("auc", ascending=False, ignore_index=True)
    return ModelReport(
        model=metrics["model"],
        calibration=metrics["calibration"],
        auc=float(metrics["auc"]),
        brier=float(metrics["brier"]),
        log_loss=float(metrics["log_loss"]),
        baseline_model=metrics["baseline_model"],
        baseline_auc=float(metrics["baseline_auc"]),
        baseline_brier=float(metrics["baseline_brier"]),
        baseline_log_loss=float(metrics["baseline_log_loss"]),
        report_auc=float(metrics["report_auc"]),
        n_train=int(metrics["n_train"]),
        n_validation=int(metrics["n_validation"]),
        n_test=int(metrics["n_test"]),
        train_seconds=float(metrics["train_seconds"]),
        comparison=comparison,
        importances=_read(path / IMPORTANCES_FILE, pd.read_csv),
        reliability=_read(path / RELIABILITY_FILE, pd.read_csv),
        roc=_read(path / ROC_FILE, pd.read_csv),
        metrics=metrics,
    )
