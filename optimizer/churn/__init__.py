"""Churn-prediction stage: synthetic customer base, model training, scoring, the weekly cohort.

Public names are imported lazily (PEP 562), so `import optimizer.churn` does not pay for XGBoost and
scikit-learn until a name that needs them is used.

Typical use::

    from optimizer.churn import load_model_report, roc_figure
    report = load_model_report()            # data/model/, no retraining
    figure = roc_figure(report)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # generate.py
    "DEFAULT_CUSTOMERS": "generate",
    "DEFAULT_SEED": "generate",
    "generate_customers": "generate",
    "write_customers": "generate",
    # errors.py
    "ChurnInputError": "errors",
    "ChurnProblem": "errors",
    # features.py
    "FEATURE_NAMES": "features",
    "REQUIRED_COLUMNS": "features",
    "encode_features": "features",
    "read_customers": "features",
    "validate_customers": "features",
    # split.py, model.py, train.py
    "split_customers": "split",
    "Calibration": "model",
    "ChurnModel": "model",
    "TrainingResult": "train",
    "TrainingSettings": "train",
    "save_training_result": "train",
    "train_churn_model": "train",
    # score.py, cohort.py
    "score_customers": "score",
    "score_file": "score",
    "build_cohort": "cohort",
    "write_cohort": "cohort",
    # report.py, figures.py
    "ModelReport": "report",
    "load_model_report": "report",
    "calibration_figure": "figures",
    "importance_figure": "figures",
    "probability_histogram": "figures",
    "roc_figure": "figures",
    # cli.py
    "register": "cli",
}
__all__ = [
    "Calibration",
    "ChurnInputError",
    "ChurnModel",
    "ChurnProblem",
    "DEFAULT_CUSTOMERS",
    "DEFAULT_SEED",
    "FEATURE_NAMES",
    "ModelReport",
    "REQUIRED_COLUMNS",
    "TrainingResult",
    "TrainingSettings",
    "build_cohort",
    "calibration_figure",
    "encode_features",
    "generate_customers",
    "importance_figure",
    "load_model_report",
    "probability_histogram",
    "read_customers",
    "register",
    "roc_figure",
    "save_training_result",
    "score_customers",
    "score_file",
    "split_customers",
    "train_churn_model",
    "validate_customers",
    "write_cohort",
    "write_customers",
]

if TYPE_CHECKING:
    from optimizer.churn.cli import register
    from optimizer.churn.cohort import build_cohort, write_cohort
    from optimizer.churn.errors import ChurnInputError, ChurnProblem
    from optimizer.churn.features import (
        FEATURE_NAMES,
        REQUIRED_COLUMNS,
        encode_features,
        read_customers,
        validate_customers,
    )
    from optimizer.churn.figures import (
        calibration_figure,
        importance_figure,
        probability_histogram,
        roc_figure,
    )
    from optimizer.churn.generate import (
        DEFAULT_CUSTOMERS,
        DEFAULT_SEED,
        generate_customers,
        write_customers,
    )
    from optimizer.churn.model import Calibration, ChurnModel
    from optimizer.churn.report import ModelReport, load_model_report
    from optimizer.churn.score import score_customers, score_file
    from optimizer.churn.split import split_customers
    from optimizer.churn.train import (
        TrainingResult,
        TrainingSettings,
        save_training_result,
        train_churn_model,
    )


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
