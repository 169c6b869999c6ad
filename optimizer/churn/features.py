"""The churn model's input schema: validation of customer files and encoding to a numeric matrix.

Training and scoring both go through `validate_customers` then `encode_features`, so a customer file is
scored exactly as the training data was seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.churn.errors import ChurnInputError, ChurnProblem, spreadsheet_row
from optimizer.churn.generate import (
    INQUIRY_LEVELS,
    LOCATIONS,
    PAYMENT_METHODS,
    PAYMENT_PLANS,
    SUBSCRIPTION_TYPES,
)
from optimizer.csvout import restore_text_cells
from optimizer.data import decode_error_problem, reject_duplicate_columns

# Numeric input columns and their allowed closed ranges (None: unbounded above).
NUMERIC_BOUNDS: dict[str, tuple[float, float | None]] = {
    "age": (10, 120),
    "tenure_months": (0, None),
    "num_subscription_pauses": (0, None),
    "weekly_hours": (0, 168),
    "average_session_length": (0, None),
    "song_skip_rate": (0, 1),
    "weekly_songs_played": (0, None),
    "weekly_unique_songs": (0, None),
    "num_favorite_artists": (0, None),
    "num_platform_friends": (0, None),
    "num_playlists_created": (0, None),
    "num_shared_playlists": (0, None),
    "notifications_clicked": (0, None),
}
# Categorical columns whose values must be one of these (the model cannot score anything else).
CLOSED_CATEGORIES: dict[str, tuple[str, ...]] = {
    "subscription_type": SUBSCRIPTION_TYPES,
    "payment_plan": PAYMENT_PLANS,
    "customer_service_inquiries": INQUIRY_LEVELS,
}
# Categorical columns where an unseen value is allowed and encoded as "none of the known levels".
OPEN_CATEGORIES: dict[str, tuple[str, ...]] = {
    "location": LOCATIONS,
    "payment_method": PAYMENT_METHODS,
}
ONE_HOT_COLUMNS = ("subscription_type", "location", "payment_method")

REQUIRED_COLUMNS: tuple[str, ...] = (
    "customer_id",
    *NUMERIC_BOUNDS,
    *CLOSED_CATEGORIES,
    *OPEN_CATEGORIES,
)


def _slug(value: str) -> str:
    return value.lower().replace(" ", "_")


def _one_hot_names(column: str) -> list[str]:
    levels = {**CLOSED_CATEGORIES, **OPEN_CATEGORIES}[column]
    return [f"{column}_{_slug(level)}" for level in levels]


# Encoded feature names, in the column order the booster was trained on.
FEATURE_NAMES: tuple[str, ...] = (
    *NUMERIC_BOUNDS,
    "payment_plan_yearly",
    "customer_service_inquiries_level",
    *(name for column in ONE_HOT_COLUMNS for name in _one_hot_names(column)),
)


def source_column(feature: str) -> str:
    """The customer-file column an encoded feature comes from (`location_texas` -> `location`)."""
    if feature == "payment_plan_yearly":
        return "payment_plan"
    if feature == "customer_service_inquiries_level":
        return "customer_service_inquiries"
    for column in ONE_HOT_COLUMNS:
        if feature.startswith(column + "_"):
            return column
    return feature


def _is_blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype(str).str.strip() == "")


def validate_customers(customers: pd.DataFrame, source: str = "<customers>") -> pd.DataFrame:
    """Check a customer frame against the churn model's input schema and return a clean, typed copy.

    `source` names the file in error messages. Extra columns are ignored; the result holds
    `REQUIRED_COLUMNS` in that order. Raises `ChurnInputError` naming the file, the spreadsheet row
    (header = row 1) and the column of every problem found.
    """
    problems: list[ChurnProblem] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in customers.columns]
    for column in missing:
        problems.append(ChurnProblem(source, "missing column (needed by the churn model)", column=column))
    if missing:
        raise ChurnInputError(problems)
    if len(customers) == 0:
        raise ChurnInputError(ChurnProblem(source, "no customer rows"))

    frame = customers.loc[:, list(REQUIRED_COLUMNS)].reset_index(drop=True)
    clean: dict[str, pd.Series] = {}

    ids = frame["customer_id"]
    for position in np.flatnonzero(_is_blank(ids).to_numpy()):
        problems.append(ChurnProblem(source, "empty customer_id", spreadsheet_row(position), "customer_id"))
    id_text = ids.astype(str).str.strip()
    duplicated = id_text.duplicated(keep="first") & ~_is_blank(ids)
    for position in np.flatnonzero(duplicated.to_numpy()):
        problems.append(
            ChurnProblem(
                source,
                f"duplicate customer_id {id_text[position]!r}",
                spreadsheet_row(position),
                "customer_id",
            )
        )
    # Ids are opaque text, kept as given (trimmed of surrounding spaces): `0204496` and `204496` are two
    # customers. Integer ids of an in-memory frame (the synthetic base) stay integers.
    if pd.api.types.is_integer_dtype(ids.dtype):
        clean["customer_id"] = ids
    else:
        clean["customer_id"] = id_text

    for column, (low, high) in NUMERIC_BOUNDS.items():
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        blank = _is_blank(raw).to_numpy()
        bad = ~np.isfinite(values.to_numpy())
        too_low = values.to_numpy() < low
        too_high = values.to_numpy() > high if high is not None else np.zeros(len(values), dtype=bool)
        for position in np.flatnonzero(bad | too_low | too_high):
            row = spreadsheet_row(position)
            if blank[position]:
                message = "missing value"
            elif bad[position]:
                message = f"not a number: {raw.iloc[position]!r}"
            else:
                bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
                message = f"value {values.iloc[position]:g} outside {bounds}"
            problems.append(ChurnProblem(source, message, row, column))
        clean[column] = values

    for column, levels in {**CLOSED_CATEGORIES, **OPEN_CATEGORIES}.items():
        raw = frame[column]
        text = raw.astype(str).str.strip()
        blank = _is_blank(raw).to_numpy()
        unknown = ~text.isin(levels).to_numpy() if column in CLOSED_CATEGORIES else np.zeros(len(text), bool)
        for position in np.flatnonzero(blank | unknown):
            row = spreadsheet_row(position)
            if blank[position]:
                message = "missing value"
            else:
                message = f"unknown value {text.iloc[position]!r}; expected one of {', '.join(levels)}"
            problems.append(ChurnProblem(source, message, row, column))
        clean[column] = text

    if problems:
        # Report problems in file order, row by row.
        problems.sort(key=lambda p: (p.row or 0, REQUIRED_COLUMNS.index(p.column) if p.column else 0))
        raise ChurnInputError(problems)
    return pd.DataFrame(clean).loc[:, list(REQUIRED_COLUMNS)]


def read_customers(path: str | Path) -> pd.DataFrame:
    """Read and validate a customer CSV file; see `validate_customers`. Raises `ChurnInputError`."""
    path = Path(path)
    try:
        if path.is_file():
            reject_duplicate_columns(path, str(path))
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except FileNotFoundError:
        raise ChurnInputError(ChurnProblem(str(path), "file not found")) from None
    except pd.errors.EmptyDataError:
        raise ChurnInputError(ChurnProblem(str(path), "empty file (no header row)")) from None
    except UnicodeDecodeError as exc:
        raise ChurnInputError(decode_error_problem(path, str(path), exc)) from None
    except pd.errors.ParserError as exc:
        raise ChurnInputError(ChurnProblem(str(path), f"not a readable CSV file: {exc}")) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    restore_text_cells(raw)  # cells the product's CSV writer neutralized read back as written
    return validate_customers(raw, source=str(path))


def encode_features(customers: pd.DataFrame) -> pd.DataFrame:
    """Numeric feature matrix (columns `FEATURE_NAMES`, float64) of a validated customer frame."""
    encoded: dict[str, np.ndarray] = {
        column: customers[column].to_numpy(dtype=np.float64) for column in NUMERIC_BOUNDS
    }
    encoded["payment_plan_yearly"] = (customers["payment_plan"] == "Yearly").to_numpy(dtype=np.float64)
    encoded["customer_service_inquiries_level"] = (
        customers["customer_service_inquiries"].map({level: i for i, level in enumerate(INQUIRY_LEVELS)})
    ).to_numpy(dtype=np.float64)
    levels_of = {**CLOSED_CATEGORIES, **OPEN_CATEGORIES}
    for column in ONE_HOT_COLUMNS:
        values = customers[column].to_numpy()
        for level, name in zip(levels_of[column], _one_hot_names(column), strict=True):
            encoded[name] = (values == level).astype(np.float64)
    return pd.DataFrame(encoded, index=customers.index).loc[:, list(FEATURE_NAMES)]
