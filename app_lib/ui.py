"""Small Streamlit rendering helpers shared by pages (column formats, tables, pagination)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

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
    """A read-only table: money columns as $1,234.57, percent columns (already in percent) as 12.3%, other
    integer columns with thousands separators (18,720)."""
    column_config = {c: COUNT for c in frame.columns if pd.api.types.is_integer_dtype(frame[c].dtype)}
    column_config.update({c: MONEY for c in money})
    column_config.update({c: percent_column() for c in percent})
    column_config.update(config)
    st.dataframe(frame, hide_index=True, column_config=column_config, key=key, placeholder="–")


# --- pagination --------------------------------------------------------------------------------------

PAGE_SIZES = (100, 500, 1000, 5000)
DEFAULT_PAGE_SIZE = 500  # tables up to this many rows are shown whole, without page controls


@dataclass(frozen=True)
class PageSlice:
    """Rows start..stop (0-based, stop exclusive) of `total`, on page `page` of `pages` (1-based)."""

    start: int
    stop: int
    total: int
    page: int
    pages: int

    @property
    def label(self) -> str:
        """'rows 1–500 of 75,000' (1-based, inclusive, as people count rows)."""
        if self.total == 0:
            return "no rows"
        return f"rows {self.start + 1:,}–{self.stop:,} of {self.total:,}"


def page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size)) if page_size > 0 else 1


def page_slice(total: int, page_size: int, page: int) -> PageSlice:
    """The rows shown on `page` (clamped to the pages there are) with `page_size` rows per page."""
    if page_size <= 0:
        raise ValueError(f"page size must be positive, got {page_size}")
    pages = page_count(total, page_size)
    page = min(max(int(page), 1), pages)
    start = min((page - 1) * page_size, total)
    return PageSlice(start=start, stop=min(start + page_size, total), total=total, page=page, pages=pages)


def paged_table(
    frame: pd.DataFrame,
    key: str,
    *,
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    page_sizes: tuple[int, ...] = PAGE_SIZES,
    default_size: int = DEFAULT_PAGE_SIZE,
    money: list[str] = (),
    percent: list[str] = (),
    **config,
) -> PageSlice:
    """`table` for frames of any length: up to `default_size` rows show whole, as before; longer frames
    get a rows-per-page selector, a page number and 'rows 1–500 of 75,000', and only that page's rows are
    sent to the browser. `transform` formats the shown rows (applied to the slice only). Widget keys:
    key_size, key_page."""
    total = len(frame)
    if total <= default_size:
        table(transform(frame) if transform else frame, money=money, percent=percent, key=key, **config)
        return page_slice(total, max(total, 1), 1)
    ss = st.session_state
    size_key, page_key = f"{key}_size", f"{key}_page"
    if ss.get(size_key) not in page_sizes:
        ss[size_key] = default_size
    pages = page_count(total, ss[size_key])
    # A shorter frame or a larger page size can leave the stored page beyond the last one.
    ss[page_key] = min(max(int(ss.get(page_key, 1)), 1), pages)
    left, middle, right = st.columns([1, 1, 3], vertical_alignment="bottom")
    left.selectbox("Rows per page", page_sizes, key=size_key, format_func=lambda n: f"{n:,}")
    # No max_value: a maximum that changes with the page size would make a new widget (back to page 1);
    # a page past the end shows the last page (clamped above and in page_slice).
    middle.number_input("Page", min_value=1, step=1, key=page_key)
    shown = page_slice(total, ss[size_key], ss[page_key])
    right.caption(f"{shown.label} (page {shown.page:,} of {shown.pages:,})")
    rows = frame.iloc[shown.start : shown.stop]
    table(transform(rows) if transform else rows, money=money, percent=percent, key=key, **config)
    return shown
