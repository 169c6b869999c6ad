"""Small Streamlit rendering helpers shared by pages (column formats, tables)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

MONEY = st.column_config.NumberColumn(format="dollar")
COUNT = st.column_config.NumberColumn(format="localized")


def percent_column(label: str | None = None, digits: int = 1):
    """For values already in percent (e.g. 12.5 -> '12.5%')."""
    return st.column_config.NumberColumn(label, format=f"%.{digits}f%%")


def as_percent(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Fractions to percent values, for `percent_column`."""
    out = frame.copy()
    for column in columns:
        out[column] = out[column].astype(float) * 100.0
    return out


def table(
    frame: pd.DataFrame, money: list[str] = (), percent: list[str] = (), key: str | None = None, **config
):
    """A read-only table: money columns as $1,234.57, percent columns (already in percent) as 12.3%."""
    column_config = {c: MONEY for c in money}
    column_config.update({c: percent_column() for c in percent})
    column_config.update(config)
    st.dataframe(frame, hide_index=True, column_config=column_config, key=key, placeholder="–")
