"""The fitted churn model: an XGBoost booster plus an optional probability calibration.

Saved as plain files (no pickle) under one directory, by default `data/model/`:

- `booster.json`   the booster in XGBoost's own JSON format;
- `pipeline.json`  feature names, calibration and the training settings (seed, sizes) that let
                   `cohort` regenerate the held-out test set.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from optimizer.churn.errors import ChurnInputError, ChurnProblem
from optimizer.churn.features import FEATURE_NAMES, encode_features, validate_customers
from optimizer.churn.paths import BOOSTER_FILE, DEFAULT_MODEL_DIR, PIPELINE_FILE

PIPELINE_FORMAT = "playlistpro-churn-model/1"
# One OpenMP thread for XGBoost. Measured on the 2-core target machine: the booster is byte-identical
# with 1 or 2 threads, 2 threads save about 1 s when the machine is idle, but when another process
# competes for a core OpenMP's barriers stall and 2-thread training took 12-77 s instead of 2-4 s.
NTHREAD = 1
_EPSILON = 1e-7


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPSILON, 1.0 - _EPSILON)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Calibration:
    """Map from raw booster probabilities to calibrated ones.

    `method` is "none" (identity), "platt" (`sigmoid(slope * logit(p) + intercept)`) or "isotonic"
    (piecewise-linear through the knots `x` -> `y`, constant beyond them).
    """

    method: str = "none"
    slope: float = 1.0
    intercept: float = 0.0
    x: tuple[float, ...] = field(default=())
    y: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.method not in ("none", "platt", "isotonic"):
            raise ValueError(f"unknown calibration method {self.method!r}")
        if self.method == "isotonic" and (len(self.x) < 2 or len(self.x) != len(self.y)):
            raise ValueError("isotonic calibration needs at least two knots with matching x and y")

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, clipped to [0, 1]."""
        p = np.asarray(probabilities, dtype=np.float64)
        if self.method == "platt":
            p = 1.0 / (1.0 + np.exp(-(self.slope * logit(p) + self.intercept)))
        elif self.method == "isotonic":
            p = np.interp(p, np.asarray(self.x), np.asarray(self.y))
        return np.clip(p, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["x"], data["y"] = list(self.x), list(self.y)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            method=str(data.get("method", "none")),
            slope=float(data.get("slope", 1.0)),
            intercept=float(data.get("intercept", 0.0)),
            x=tuple(float(v) for v in data.get("x", ())),
            y=tuple(float(v) for v in data.get("y", ())),
        )


class ChurnModel:
    """Churn probabilities for customer frames: `validate_customers` -> `encode_features` -> booster
    -> calibration.

    `training` holds the settings the model was trained with (seed, customer count, split sizes);
    `cohort` uses them to regenerate the held-out test set.
    """

    def __init__(
        self,
        booster: xgb.Booster,
        calibration: Calibration | None = None,
        training: dict[str, Any] | None = None,
    ):
        self.booster = booster
        self.calibration = calibration or Calibration()
        self.training = dict(training or {})

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        """Uncalibrated booster probabilities for an encoded feature matrix (`encode_features`)."""
        matrix = xgb.DMatrix(
            features.loc[:, list(FEATURE_NAMES)].to_numpy(dtype=np.float32),
            feature_names=list(FEATURE_NAMES),
            nthread=NTHREAD,
        )
        return self.booster.predict(matrix).astype(np.float64)

    def predict_proba(self, customers: pd.DataFrame, source: str = "<customers>") -> np.ndarray:
        """Churn probability in [0, 1] of every row of `customers` (raises `ChurnInputError`)."""
        clean = validate_customers(customers, source=source)
        return self.calibration.apply(self.predict_raw(encode_features(clean)))

    def save(self, path: str | Path = DEFAULT_MODEL_DIR) -> list[Path]:
        """Write `booster.json` and `pipeline.json` into directory `path`; return the files written."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        booster_path = path / BOOSTER_FILE
        self.booster.save_model(str(booster_path))
        pipeline = {
            "format": PIPELINE_FORMAT,
            "booster_file": BOOSTER_FILE,
            "feature_names": list(FEATURE_NAMES),
            "calibration": self.calibration.to_dict(),
            "training": self.training,
        }
        pipeline_path = path / PIPELINE_FILE
        pipeline_path.write_text(json.dumps(pipeline, indent=2) + "\n", encoding="utf-8")
        return [booster_path, pipeline_path]

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL_DIR) -> ChurnModel:
        """Load a model saved by `save`. Raises `ChurnInputError` when files are missing or do not fit."""
        path = Path(path)
        pipeline_path, booster_path = path / PIPELINE_FILE, path / BOOSTER_FILE
        for needed in (pipeline_path, booster_path):
            if not needed.is_file():
                raise ChurnInputError(
                    ChurnProblem(str(needed), "model file not found; run `python -m optimizer train`")
                )
        try:
            pipeline = json.loads(pipeline_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ChurnInputError(ChurnProblem(str(pipeline_path), f"not valid JSON: {exc}")) from None
        if pipeline.get("format") != PIPELINE_FORMAT:
            raise ChurnInputError(
                ChurnProblem(str(pipeline_path), f"unknown format {pipeline.get('format')!r}")
            )
        if tuple(pipeline.get("feature_names", ())) != FEATURE_NAMES:
            raise ChurnInputError(
                ChurnProblem(
                    str(pipeline_path),
                    "feature names differ from this code's FEATURE_NAMES; retrain the model",
                    column="feature_names",
                )
            )
        booster = xgb.Booster()
        booster.load_model(str(booster_path))
        booster.set_param({"nthread": NTHREAD})
        return cls(
            booster,
            Calibration.from_dict(pipeline.get("calibration", {})),
            pipeline.get("training", {}),
        )
