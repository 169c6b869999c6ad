"""Where the churn stage keeps its files (repository-relative defaults) and what they are called."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_MODEL_DIR = DEFAULT_DATA_DIR / "model"

# Model directory contents.
BOOSTER_FILE = "booster.json"  # XGBoost's own JSON format
PIPELINE_FILE = "pipeline.json"  # feature names, calibration, training settings
METRICS_FILE = "metrics.json"  # test-set metrics of every model, timings, versions
IMPORTANCES_FILE = "importances.csv"  # XGBoost gain per encoded feature
RELIABILITY_FILE = "reliability.csv"  # binned calibration table on the test set
ROC_FILE = "roc.csv"  # ROC curves on the test set, thinned to a fixed FPR grid

# The weekly cohort, the app's bundled default data.
COHORT_PREDICTIONS_FILE = "prediction_250.csv"
COHORT_FEATURES_FILE = "test_250.csv"
