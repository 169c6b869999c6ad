"""Loading and validating the weekly cohort: churn predictions + customer features.

The cohort is a DataFrame, one row per customer, with the columns in `COHORT_COLUMNS`:
the inputs, the CLV estimate `clv` and the tiers `risk_tier` / `value_tier`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from optimizer.csvout import restore_text_cells
from optimizer.errors import InputError, InputProblem, spreadsheet_row

PREDICTION_COLUMNS = ["customer_id", "churn_probability"]
FEATURE_COLUMNS = [
    "customer_id",
    "subscription_type",
    "payment_plan",
    "weekly_hours",
    "weekly_songs_played",
    "num_playlists_created",
]
REQUIRED_FEATURE_COLUMNS = ["customer_id", "subscription_type", "payment_plan"]
OPTIONAL_NUMERIC_FEATURES = ["weekly_hours", "weekly_songs_played", "num_playlists_created", "clv"]

# CLV estimate (used when the features file has no `clv` column):
# base[subscription] * (1.3 if Yearly else 1.0) * (1 + engagement) * 2
CLV_BASE = {"Free": 100.0, "Student": 120.0, "Premium": 240.0, "Family": 360.0}
# The reference schema's subscription types; other spellings of these are normalized on loading.
SUBSCRIPTION_TYPES = tuple(CLV_BASE)
CLV_BASE_OTHER = 150.0
YEARLY_MULTIPLIER = 1.3

RISK_TIERS = ("Low", "Medium", "High")
VALUE_TIERS = ("Low", "Medium", "High")
RISK_BOUNDS = (0.3, 0.7)  # Low p<=0.3, Medium 0.3<p<=0.7, High p>0.7
VALUE_BOUNDS = (150.0, 300.0)  # Low v<=150, Medium 150<v<=300, High v>300

COHORT_COLUMNS = [
    "customer_id",
    "churn_probability",
    "subscription_type",
    "payment_plan",
    "weekly_hours",
    "weekly_songs_played",
    "num_playlists_created",
    "clv",
    "risk_tier",
    "value_tier",
]

Source = str | os.PathLike | IO[bytes] | IO[str] | bytes


def _source_name(source: Source, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return getattr(source, "name", None) or "uploaded file"


def read_csv_text(source: Source, name: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read a CSV as text cells (no type guessing), so every cell can be validated and reported.

    Returns the frame (header stripped of surrounding spaces) and the display name of the file. A cell the
    product's CSV writer neutralized (`'=...`, see `optimizer.csvout`) reads back as the text it stands for.
    """
    shown = _source_name(source, name)
    try:
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        elif isinstance(source, str | os.PathLike) and not Path(source).is_file():
            raise InputError(InputProblem(shown, f"file not found ({source})"))
        reject_duplicate_columns(source, shown)
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, skipinitialspace=True)
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(InputProblem(shown, "the file is empty (no header row)")) from None
    except UnicodeDecodeError as exc:
        raise InputError(decode_error_problem(source, shown, exc)) from None
    except pd.errors.ParserError as exc:
        raise InputError(InputProblem(shown, f"not a readable CSV file ({exc})".strip())) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputError(InputProblem(shown, "the file has a header but no data rows"))
    return restore_text_cells(frame), shown


def reject_duplicate_columns(source: str | os.PathLike | IO, shown: str) -> None:
    """Refuse a header that names a column twice (pandas would rename the second `name.1` and the first
    would be used silently). Reads only the header row (the csv module, as pandas splits it), then rewinds
    a file object."""
    try:
        if isinstance(source, str | os.PathLike):
            with open(source, encoding="utf-8-sig", newline="") as text:
                names = next(csv.reader(text, skipinitialspace=True), [])
        elif hasattr(source, "seekable") and source.seekable():
            position = source.tell()
            try:
                if isinstance(source, io.TextIOBase):
                    names = next(csv.reader(source, skipinitialspace=True), [])
                else:
                    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
                    try:
                        names = next(csv.reader(text, skipinitialspace=True), [])
                    finally:
                        text.detach()  # leave the caller's file open
            finally:
                source.seek(position)
        else:
            return  # a one-pass stream (nothing the product passes): pandas' own read still runs
    except (UnicodeDecodeError, csv.Error):
        return  # the full read reports it, with its row
    stripped = pd.Series([n.strip() for n in names], dtype=object)
    repeated = stripped[stripped.duplicated()].tolist()
    if repeated:
        problems = [
            InputProblem(shown, "the header names this column twice", row=1, column=c)
            for c in dict.fromkeys(repeated)
        ]
        raise InputError(problems)


def decode_error_problem(source: Source, shown: str, exc: UnicodeDecodeError) -> InputProblem:
    """Where a file stops being UTF-8: the spreadsheet row (and column) of the first bad byte."""
    content: bytes | str
    try:
        if isinstance(source, str | os.PathLike):
            content = Path(source).read_bytes()
        elif isinstance(source, bytes):
            content = source
        elif hasattr(source, "getvalue"):
            content = source.getvalue()
        else:
            source.seek(0)
            content = source.read()
        if isinstance(content, str):
            return InputProblem(
                shown, f"the file is not UTF-8 text ({exc.reason}); save it as UTF-8 (CSV UTF-8)"
            )
        raw: bytes = content
        raw.decode("utf-8")
    except UnicodeDecodeError as found:
        start = found.start
    except (OSError, AttributeError, ValueError):
        return InputProblem(shown, f"the file is not UTF-8 text ({exc.reason}); save it as UTF-8 (CSV UTF-8)")
    else:
        return InputProblem(shown, f"the file is not UTF-8 text ({exc.reason}); save it as UTF-8 (CSV UTF-8)")
    line_start = raw.rfind(b"\n", 0, start) + 1
    row = raw.count(b"\n", 0, start) + 1  # the header is row 1, as a spreadsheet numbers it
    before = next(csv.reader([raw[line_start:start].decode("utf-8")]), [""])
    first_line = raw[: raw.find(b"\n")] if b"\n" in raw else raw
    header = next(csv.reader([first_line.decode("utf-8", errors="replace")]), [])
    column = header[len(before) - 1].strip() if 0 < len(before) <= len(header) else None
    byte = raw[start : start + 1].hex()
    return InputProblem(
        shown,
        f"not UTF-8 text (byte 0x{byte}); save the file as UTF-8 (CSV UTF-8)",
        row=row,
        column=column,
    )


def _missing_columns(frame: pd.DataFrame, required: Iterable[str], file: str) -> list[InputProblem]:
    return [
        InputProblem(file, "required column is missing", column=c) for c in required if c not in frame.columns
    ]


def _blank_cells(frame: pd.DataFrame, column: str, file: str, what: str) -> list[InputProblem]:
    values = frame[column].str.strip()
    return [
        InputProblem(file, f"{what} is empty", row=spreadsheet_row(i), column=column)
        for i in np.flatnonzero(values.eq("").to_numpy())
    ]


# A plain decimal number: both pandas' parser and Arrow's read it to the same (correctly rounded) double.
_PLAIN_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_FAST_PATH_MIN_ROWS = 10_000


def _to_floats(text: pd.Series) -> np.ndarray:
    """Text cells to floats, NaN where a cell is not a number (as `pd.to_numeric(errors="coerce")`).

    Large columns of plain decimal numbers take Arrow's vectorized cast (about 15x faster at a million
    rows); anything else, or a pandas without pyarrow, takes `pd.to_numeric`, so bad cells are reported
    exactly as before.
    """
    if len(text) >= _FAST_PATH_MIN_ROWS and bool(text.str.fullmatch(_PLAIN_NUMBER).all()):
        try:
            return text.astype("float64[pyarrow]").to_numpy(dtype=float)
        except (ImportError, TypeError, ValueError):
            pass
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)


def _id_codes(pred_ids: pd.Series, feat_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the ids of both files (equal text, equal code): one hash pass for every id check
    (Series.isin over a million Arrow strings compares in Python and takes about 13 s)."""
    codes, _ = pd.factorize(pd.concat([pred_ids, feat_ids], ignore_index=True), use_na_sentinel=False)
    return codes[: len(pred_ids)], codes[len(pred_ids) :]


def parse_numeric(
    frame: pd.DataFrame,
    column: str,
    file: str,
    problems: list[InputProblem],
    *,
    low: float | None = None,
    high: float | None = None,
    what: str = "value",
) -> np.ndarray:
    """Parse a text column to floats, recording a problem per bad cell (empty, not a number, out of range)."""
    text = frame[column].str.strip()
    values = _to_floats(text)
    bad = ~np.isfinite(values)
    for i in np.flatnonzero(bad):
        shown = text.iloc[i]
        message = f"{what} is empty" if shown == "" else f"{shown!r} is not a number"
        problems.append(InputProblem(file, message, row=spreadsheet_row(i), column=column))
    out_of_range = np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        if low is not None:
            out_of_range |= values < low
        if high is not None:
            out_of_range |= values > high
    out_of_range &= ~bad
    bounds = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
    for i in np.flatnonzero(out_of_range):
        problems.append(
            InputProblem(
                file,
                f"{values[i]:g} is out of range: {what} must be {bounds}",
                row=spreadsheet_row(i),
                column=column,
            )
        )
    return values


def _id_problems(ids: pd.Series, codes: np.ndarray, file: str, problems: list[InputProblem]) -> None:
    """Empty customer ids, then duplicates (each naming the row where its id was first seen)."""
    for i in np.flatnonzero(ids.eq("").to_numpy()):
        problems.append(
            InputProblem(file, "customer_id is empty", row=spreadsheet_row(i), column="customer_id")
        )
    duplicated = pd.Series(codes).duplicated(keep="first").to_numpy() & ids.ne("").to_numpy()
    repeats = np.flatnonzero(duplicated)
    if not len(repeats):
        return
    first_seen = np.full(codes.max() + 1, len(ids), dtype=np.int64)
    np.minimum.at(first_seen, codes, np.arange(len(ids)))
    for i in repeats:
        problems.append(
            InputProblem(
                file,
                f"duplicate customer_id {ids.iloc[i]!r} "
                f"(first seen in row {spreadsheet_row(first_seen[codes[i]])})",
                row=spreadsheet_row(i),
                column="customer_id",
            )
        )


def _unmatched_ids(
    ids: pd.Series, codes: np.ndarray, other_codes: np.ndarray, file: str, other_file: str
) -> list[InputProblem]:
    """A problem for every id of `file` that has no row in `other_file` (ids compared by their hash codes)."""
    missing = ~np.isin(codes, other_codes) & ids.ne("").to_numpy()
    return [
        InputProblem(
            file,
            f"customer_id {ids.iloc[i]!r} has no row in {other_file}",
            row=spreadsheet_row(i),
            column="customer_id",
        )
        for i in np.flatnonzero(missing)
    ]


def estimate_clv(features: pd.DataFrame) -> np.ndarray:
    """CLV estimate: base[subscription] * (1.3 if Yearly) * (1 + engagement) * 2.

    engagement = 0.5 * hours / max(hours) + 0.5 * songs / max(songs) over the cohort; each half is 0.25
    (the neutral midpoint) when its column is absent, so engagement is 0.5 when both are absent.
    """
    codes, types = pd.factorize(features["subscription_type"])
    base = np.array([CLV_BASE.get(t, CLV_BASE_OTHER) for t in types] + [CLV_BASE_OTHER])[codes]
    yearly = features["payment_plan"].astype(str).str.strip().str.lower().eq("yearly").to_numpy()
    engagement = np.zeros(len(features))
    for column in ("weekly_hours", "weekly_songs_played"):
        if column in features.columns and features[column].notna().all():
            values = features[column].to_numpy(dtype=float)
            top = values.max()
            engagement += 0.5 * values / top if top > 0 else 0.0
        else:
            engagement += 0.25
    return base * np.where(yearly, YEARLY_MULTIPLIER, 1.0) * (1.0 + engagement) * 2.0


def risk_tier(p: np.ndarray | pd.Series) -> np.ndarray:
    """Low p<=0.3, Medium 0.3<p<=0.7, High p>0.7."""
    p = np.asarray(p, dtype=float)
    return np.where(p > RISK_BOUNDS[1], "High", np.where(p > RISK_BOUNDS[0], "Medium", "Low"))


def value_tier(v: np.ndarray | pd.Series) -> np.ndarray:
    """Low v<=150, Medium 150<v<=300, High v>300."""
    v = np.asarray(v, dtype=float)
    return np.where(v > VALUE_BOUNDS[1], "High", np.where(v > VALUE_BOUNDS[0], "Medium", "Low"))


def normalize_subscriptions(types: pd.Series) -> pd.Series:
    """Known subscription types in their reference spelling, whatever the case and surrounding spaces
    (`premium`, ` PREMIUM ` -> `Premium`); other types are kept as given (trimmed)."""
    text = types.astype(str)
    # A cohort has a handful of distinct spellings: normalize those, then map every row by its code.
    codes, uniques = pd.factorize(text)
    spelled = pd.Series(uniques, dtype=object).str.strip()
    known = spelled.str.lower().map({t.lower(): t for t in SUBSCRIPTION_TYPES})
    names = known.where(known.notna(), spelled).to_numpy(dtype=object)
    return pd.Series(names[codes], index=types.index).astype(text.dtype)


def unknown_subscription_warnings(cohort: pd.DataFrame) -> list[str]:
    """A warning per subscription type that is not one of `SUBSCRIPTION_TYPES` (kept, with a default CLV)."""
    counts = cohort["subscription_type"].astype(str).value_counts(sort=False).sort_index()
    return [
        f"subscription type {kind!r} ({count:,} customer{'s' if count != 1 else ''}) is not one of "
        f"{', '.join(SUBSCRIPTION_TYPES)}: kept as its own group, with the CLV base {CLV_BASE_OTHER:g} "
        "unless the file gives `clv`; no Premium coverage"
        for kind, count in counts.items()
        if kind not in SUBSCRIPTION_TYPES
    ]


def load_cohort(
    predictions: Source,
    features: Source,
    *,
    predictions_name: str | None = None,
    features_name: str | None = None,
) -> pd.DataFrame:
    """Load, validate and merge the predictions and features CSVs into a cohort frame.

    Customer ids are opaque text: read, matched, checked for duplicates and kept exactly as given, trimmed
    of surrounding spaces only (`00200123` stays `00200123`; `0204496` and `204496` are two customers; a
    25-digit id is kept whole). Subscription types are normalized (`normalize_subscriptions`).

    Raises `InputError` listing every problem found (file, row, column), and returns nothing partial.
    """
    pred_raw, pred_file = read_csv_text(predictions, predictions_name)
    feat_raw, feat_file = read_csv_text(features, features_name)

    problems = _missing_columns(pred_raw, PREDICTION_COLUMNS, pred_file)
    problems += _missing_columns(feat_raw, REQUIRED_FEATURE_COLUMNS, feat_file)
    if problems:
        raise InputError(problems)

    pred_ids = pred_raw["customer_id"].str.strip()
    feat_ids = feat_raw["customer_id"].str.strip()
    pred_codes, feat_codes = _id_codes(pred_ids, feat_ids)
    _id_problems(pred_ids, pred_codes, pred_file, problems)
    probability = parse_numeric(
        pred_raw, "churn_probability", pred_file, problems, low=0.0, high=1.0, what="churn_probability"
    )
    _id_problems(feat_ids, feat_codes, feat_file, problems)
    problems += _blank_cells(feat_raw, "subscription_type", feat_file, "subscription_type")
    problems += _blank_cells(feat_raw, "payment_plan", feat_file, "payment_plan")
    numeric: dict[str, np.ndarray] = {}
    for column in OPTIONAL_NUMERIC_FEATURES:
        if column in feat_raw.columns:
            numeric[column] = parse_numeric(feat_raw, column, feat_file, problems, low=0.0, what=column)

    problems += _unmatched_ids(pred_ids, pred_codes, feat_codes, pred_file, feat_file)
    problems += _unmatched_ids(feat_ids, feat_codes, pred_codes, feat_file, pred_file)
    if problems:
        raise InputError(problems)

    # Ids are unique and the same in both files: align the features to the predictions' row order
    # (what a one-to-one left merge does, without its hash join).
    position_of_code = np.empty(max(pred_codes.max(), feat_codes.max()) + 1, dtype=np.int64)
    position_of_code[feat_codes] = np.arange(len(feat_codes))
    order = position_of_code[pred_codes]
    # Text columns stay Series (Arrow-backed where pandas uses Arrow): `take` keeps them off Python objects.
    cohort = pd.DataFrame(
        {
            "customer_id": pred_ids.reset_index(drop=True),
            "churn_probability": probability,
            "subscription_type": normalize_subscriptions(feat_raw["subscription_type"])
            .take(order)
            .reset_index(drop=True),
            "payment_plan": feat_raw["payment_plan"].str.strip().take(order).reset_index(drop=True),
        }
    )
    for column, values in numeric.items():
        cohort[column] = values[order]
    return finish_cohort(cohort)


def finish_cohort(cohort: pd.DataFrame) -> pd.DataFrame:
    """Add CLV (estimated unless given) and tiers to a merged, validated cohort; order the columns.

    Customer ids become text (numbers to their digits); subscription types are normalized.
    """
    cohort = cohort.copy()
    cohort["customer_id"] = cohort["customer_id"].astype(str).str.strip()
    cohort["subscription_type"] = normalize_subscriptions(cohort["subscription_type"])
    if "clv" not in cohort.columns or cohort["clv"].isna().any():
        cohort["clv"] = estimate_clv(cohort)
    for column in ("weekly_hours", "weekly_songs_played", "num_playlists_created"):
        if column not in cohort.columns:
            cohort[column] = np.nan
    cohort["risk_tier"] = risk_tier(cohort["churn_probability"])
    cohort["value_tier"] = value_tier(cohort["clv"])
    return cohort[COHORT_COLUMNS].reset_index(drop=True)


def bundled_data_dir() -> Path:
    """The repository's `data/` folder (bundled cohort, catalog and churn model)."""
    return Path(__file__).resolve().parent.parent / "data"


def load_bundled_cohort() -> pd.DataFrame:
    """The bundled synthetic 250-customer weekly cohort (`data/prediction_250.csv`, `data/test_250.csv`)."""
    folder = bundled_data_dir()
    return load_cohort(folder / "prediction_250.csv", folder / "test_250.csv")
