"""The action catalog: what can be done to a customer, at what cost and with what uplift, for whom.

CSV columns: action_id, action_name, channel, cost, uplift, eligible_segment, min_clv, max_clv, description
(+ optional `enabled`). Action 0 is the implicit "No Action" baseline and gets no decision variable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.csvout import csv_bytes
from optimizer.data import (
    Source,
    bundled_data_dir,
    parse_numeric,
    read_csv_text,
    unknown_subscription_warnings,
)
from optimizer.errors import InputError, InputProblem, spreadsheet_row

CHANNELS = ("none", "email", "in_app", "push", "call")
# Which channel capacity each channel draws on.
CAPACITY_OF_CHANNEL = {"email": "email", "in_app": "push", "push": "push", "call": "call"}
CATALOG_COLUMNS = [
    "action_id",
    "action_name",
    "channel",
    "cost",
    "uplift",
    "eligible_segment",
    "min_clv",
    "max_clv",
    "description",
    "enabled",
]
REQUIRED_CATALOG_COLUMNS = ["action_id", "action_name", "channel", "cost", "uplift", "eligible_segment"]
VALUE_SEGMENTS = {"high_value": "High", "medium_value": "Medium", "low_value": "Low"}
RISK_SEGMENTS = {"high_risk": "High", "medium_risk": "Medium", "low_risk": "Low"}
NO_ACTION_ID = 0
MAX_ACTION_ID = 2**31 - 1  # ids are small whole numbers; larger ones would not survive a 64-bit float
_TRUE = {"true", "1", "yes", "y", ""}
_FALSE = {"false", "0", "no", "n"}


def default_catalog_path():
    return bundled_data_dir() / "actions.csv"


def load_catalog(source: Source | None = None, name: str | None = None) -> pd.DataFrame:
    """Load and validate an action catalog CSV (default: the bundled `data/actions.csv`)."""
    frame, shown = read_csv_text(default_catalog_path() if source is None else source, name)
    return validate_catalog(frame, shown)


def validate_catalog(frame: pd.DataFrame, file: str = "action catalog") -> pd.DataFrame:
    """Validate a catalog (text cells or typed values, e.g. an edited table) and return it typed.

    Raises `InputError` listing every problem (file, row, column).
    """
    if frame.empty:
        raise InputError(InputProblem(file, "the catalog has no actions"))
    text = frame.copy()
    text.columns = [str(c).strip() for c in text.columns]
    missing = [c for c in REQUIRED_CATALOG_COLUMNS if c not in text.columns]
    if missing:
        raise InputError([InputProblem(file, "required column is missing", column=c) for c in missing])
    for column in text.columns:
        text[column] = text[column].map(_cell_text)

    problems: list[InputProblem] = []
    ids = parse_numeric(text, "action_id", file, problems, low=0, what="action_id")
    for i in np.flatnonzero(np.isfinite(ids) & (ids != np.floor(ids))):
        problems.append(
            InputProblem(file, "action_id must be a whole number", spreadsheet_row(i), "action_id")
        )
    too_large = np.isfinite(ids) & (ids > MAX_ACTION_ID)
    for i in np.flatnonzero(too_large):
        problems.append(
            InputProblem(
                file,
                f"action_id {text['action_id'].iloc[i]} is out of range: use a whole number "
                f"from 0 to {MAX_ACTION_ID}",
                spreadsheet_row(i),
                "action_id",
            )
        )
    ids = np.where(too_large, np.nan, ids)  # reported once, not again as a duplicate
    seen: dict[float, int] = {}
    for position, value in enumerate(ids):
        if np.isfinite(value):
            if value in seen:
                problems.append(
                    InputProblem(
                        file,
                        f"duplicate action_id {int(value)} "
                        f"(first seen in row {spreadsheet_row(seen[value])})",
                        spreadsheet_row(position),
                        "action_id",
                    )
                )
            seen.setdefault(value, position)
    for i in np.flatnonzero(text["action_name"].eq("").to_numpy()):
        problems.append(InputProblem(file, "action_name is empty", spreadsheet_row(i), "action_name"))
    channel = text["channel"].str.lower()
    for i in np.flatnonzero(~channel.isin(CHANNELS).to_numpy()):
        problems.append(
            InputProblem(
                file,
                f"unknown channel {text['channel'].iloc[i]!r}; use one of {', '.join(CHANNELS)}",
                spreadsheet_row(i),
                "channel",
            )
        )
    cost = parse_numeric(text, "cost", file, problems, low=0.0, what="cost")
    uplift = parse_numeric(text, "uplift", file, problems, low=0.0, high=1.0, what="uplift")
    segment = text["eligible_segment"]
    for i in np.flatnonzero(segment.eq("").to_numpy()):
        problems.append(
            InputProblem(
                file, "eligible_segment is empty (use 'all')", spreadsheet_row(i), "eligible_segment"
            )
        )
    bounds = {}
    for column in ("min_clv", "max_clv"):
        if column in text.columns:
            given = text[column].ne("").to_numpy()
            sub_problems: list[InputProblem] = []
            values = parse_numeric(text, column, file, sub_problems, low=0.0, what=column)
            problems += [p for p in sub_problems if p.row is not None and given[p.row - 2]]
            bounds[column] = np.where(given, values, np.nan)
        else:
            bounds[column] = np.full(len(text), np.nan)
    crossed = bounds["min_clv"] >= bounds["max_clv"]
    for i in np.flatnonzero(crossed):
        problems.append(InputProblem(file, "min_clv must be below max_clv", spreadsheet_row(i), "max_clv"))
    enabled = np.ones(len(text), dtype=bool)
    if "enabled" in text.columns:
        flag = text["enabled"].str.lower()
        for i in np.flatnonzero(~flag.isin(_TRUE | _FALSE).to_numpy()):
            problems.append(
                InputProblem(
                    file, f"{text['enabled'].iloc[i]!r} is not true/false", spreadsheet_row(i), "enabled"
                )
            )
        enabled = ~flag.isin(_FALSE).to_numpy()
    no_action = ids == NO_ACTION_ID
    for i in np.flatnonzero(no_action & ((np.nan_to_num(cost) != 0) | (np.nan_to_num(uplift) != 0))):
        problems.append(
            InputProblem(
                file, "action 0 is 'No Action': its cost and uplift must be 0", spreadsheet_row(i), "cost"
            )
        )
    if problems:
        raise InputError(problems)

    catalog = pd.DataFrame(
        {
            "action_id": ids.astype("int64"),
            "action_name": text["action_name"].to_numpy(),
            "channel": channel.to_numpy(),
            "cost": cost,
            "uplift": uplift,
            "eligible_segment": segment.to_numpy(),
            "min_clv": bounds["min_clv"],
            "max_clv": bounds["max_clv"],
            "description": text["description"].to_numpy() if "description" in text.columns else "",
            "enabled": enabled,
        }
    )
    if not (catalog["enabled"] & (catalog["action_id"] != NO_ACTION_ID)).any():
        raise InputError(
            InputProblem(file, "no action is enabled: enable at least one action besides No Action")
        )
    return catalog.sort_values("action_id", kind="stable").reset_index(drop=True)


def catalog_file_frame(catalog: pd.DataFrame) -> pd.DataFrame:
    """A typed catalog in its CSV file layout: `CATALOG_COLUMNS`, blank CLV bounds, enabled as true/false."""
    frame = catalog.reindex(columns=CATALOG_COLUMNS).copy()
    frame["enabled"] = np.where(frame["enabled"].fillna(True).astype(bool), "true", "false")
    frame["description"] = frame["description"].fillna("")
    return frame


def catalog_csv_bytes(catalog: pd.DataFrame) -> bytes:
    """A typed catalog as a CSV file that `load_catalog` reads back unchanged (formula text neutralized on
    writing and restored on reading: `optimizer.csvout`)."""
    return csv_bytes(catalog_file_frame(catalog))


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value).strip()


def active_actions(catalog: pd.DataFrame) -> pd.DataFrame:
    """The actions that get decision variables: enabled, and not the No Action baseline."""
    mask = catalog["enabled"].to_numpy(dtype=bool) & (catalog["action_id"].to_numpy() != NO_ACTION_ID)
    return catalog[mask].reset_index(drop=True)


def eligibility(cohort: pd.DataFrame, actions: pd.DataFrame) -> np.ndarray:
    """Boolean matrix (customers x actions): may customer i receive action k?

    `eligible_segment` is `all`, a subscription type (case-insensitive), a value tier (`high_value`,
    `medium_value`, `low_value`) or a risk tier (`high_risk`, ...); `min_clv < clv <= max_clv` narrows it.
    """
    clv = cohort["clv"].to_numpy(dtype=float)
    subscription = cohort["subscription_type"].astype(str).str.lower().to_numpy()
    value = cohort["value_tier"].to_numpy()
    risk = cohort["risk_tier"].to_numpy()
    masks = []
    for segment, low, high in actions[["eligible_segment", "min_clv", "max_clv"]].itertuples(index=False):
        key = str(segment).strip().lower()
        if key == "all":
            mask = np.ones(len(cohort), dtype=bool)
        elif key in VALUE_SEGMENTS:
            mask = value == VALUE_SEGMENTS[key]
        elif key in RISK_SEGMENTS:
            mask = risk == RISK_SEGMENTS[key]
        else:
            mask = subscription == key
        if pd.notna(low):
            mask = mask & (clv > low)
        if pd.notna(high):
            mask = mask & (clv <= high)
        masks.append(mask)
    if not masks:
        return np.zeros((len(cohort), 0), dtype=bool)
    return np.column_stack(masks)


def input_warnings(cohort: pd.DataFrame, catalog: pd.DataFrame) -> list[str]:
    """What is accepted but probably wrong in this week's inputs: unknown subscription types, and enabled
    actions that no customer is eligible for (the CLI prints them on stderr; the app shows them)."""
    return unknown_subscription_warnings(cohort) + unmatched_segments(cohort, catalog)


def unmatched_segments(cohort: pd.DataFrame, catalog: pd.DataFrame) -> list[str]:
    """Warnings for enabled actions that no customer of this cohort is eligible for."""
    actions = active_actions(catalog)
    eligible = eligibility(cohort, actions)
    return [
        f"Action {row.action_id} '{row.action_name}' (segment '{row.eligible_segment}') "
        "matches no customer in this cohort."
        for row, count in zip(actions.itertuples(), eligible.sum(axis=0), strict=True)
        if count == 0
    ]
