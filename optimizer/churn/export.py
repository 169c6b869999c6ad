"""CSV writers for scored customers, in exactly the schema and number format of the reference cohort.

- predictions file: `customer_id,churn_probability`, the probability rounded to 6 decimals with trailing
  zeros dropped (`0.9361`, `0.854379`);
- features file: `customer_id,subscription_type,payment_plan,weekly_hours,weekly_songs_played,
  num_playlists_created`, `weekly_hours` with 10 significant digits (at most 11 characters, trailing
  zeros dropped: `31.38151228`, `1.237034511`), counts as integers.

UTF-8, `\\n` line ends, a header row and nothing else (no comment lines), so the files load as is.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from optimizer import data
from optimizer.csvout import csv_text, write_files

# The optimizer's input schema (the reference files' columns, in order).
PREDICTION_COLUMNS = tuple(data.PREDICTION_COLUMNS)
FEATURE_FILE_COLUMNS = tuple(data.FEATURE_COLUMNS)


def _strip_zeros(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_probability(p: float) -> str:
    """`0.93610004` -> `0.9361`: 6 decimals, trailing zeros dropped."""
    return _strip_zeros(f"{float(p):.6f}")


def format_hours(hours: float) -> str:
    """10 significant digits for values below 100 (`31.38151228`, `1.237034511`), trailing zeros dropped."""
    value = float(hours)
    integer_digits = len(str(int(math.floor(abs(value)))))
    return _strip_zeros(f"{value:.{max(0, 10 - integer_digits)}f}")


def format_count(value: float) -> str:
    """Whole numbers without a decimal point; anything else as Python writes it."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _csv_text(header: tuple[str, ...], columns: list[list[str]]) -> str:
    # Through the product's one CSV writer: formula text neutralized, a comma or line break quoted.
    return csv_text(pd.DataFrame(dict(zip(header, columns, strict=True)), dtype=object))


def predictions_csv(scored: pd.DataFrame) -> str:
    """Predictions file text for a frame with `customer_id` and `churn_probability`."""
    return _csv_text(
        PREDICTION_COLUMNS,
        [
            [str(v) for v in scored["customer_id"]],
            [format_probability(v) for v in scored["churn_probability"]],
        ],
    )


def features_csv(customers: pd.DataFrame) -> str:
    """Features file text (the optimizer's customer input) for a validated customer frame."""
    return _csv_text(
        FEATURE_FILE_COLUMNS,
        [
            [str(v) for v in customers["customer_id"]],
            [str(v) for v in customers["subscription_type"]],
            [str(v) for v in customers["payment_plan"]],
            [format_hours(v) for v in customers["weekly_hours"]],
            [format_count(v) for v in customers["weekly_songs_played"]],
            [format_count(v) for v in customers["num_playlists_created"]],
        ],
    )


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` as UTF-8 with `\\n` line ends (on every platform), all or nothing
    (`optimizer.csvout.write_files`); create parent folders."""
    path = Path(path)
    return write_files({path.name: text.encode("utf-8")}, path.parent)[0]
