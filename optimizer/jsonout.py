"""The CLI's JSON output: one object on one line, NaN and infinities as null, numpy and dates made plain."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def clean(value):
    """JSON-ready: NaN and infinities become null."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as JSON-ready dicts (missing values as null)."""
    return clean(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"))


def print_json(payload: dict) -> None:
    print(json.dumps(clean(payload), default=_json_default))
