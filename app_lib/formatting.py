"""Money, percentages and counts as users read them; escaping for Streamlit's Markdown."""

from __future__ import annotations

import math
import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def money(value: float | None, cents: bool = True) -> str:
    """$1,234.56 (or $1,235 without cents); negative as -$12.00; '-' when missing."""
    if _missing(value):
        return "–"
    sign = "-" if value < 0 else ""
    amount = abs(value)
    return f"{sign}${amount:,.2f}" if cents else f"{sign}${amount:,.0f}"


def metric_money(value: float | None) -> str:
    """Money for a metric tile: cents below $100,000, whole dollars from there ($1,149,081), so seven-figure
    amounts of a large cohort fit the tile instead of being cut off."""
    return money(value, cents=_missing(value) or abs(value) < 100_000)


def signed_money(value: float | None, *, tile: bool = False) -> str:
    """+$12.34 / -$12.34 for changes; `tile`: whole dollars from $100,000 as in `metric_money`."""
    if _missing(value):
        return "–"
    return ("+" if value >= 0 else "-") + (metric_money(abs(value)) if tile else money(abs(value)))


def percent(value: float | None, digits: int = 1) -> str:
    """A value already in percent: 12.345 -> '12.3%'; thousands separated (2,319.2%)."""
    if _missing(value):
        return "–"
    return f"{value:,.{digits}f}%"


def share(part: float, whole: float, digits: int = 1) -> str:
    """part / whole as a percentage string; '–' when whole is 0."""
    if not whole:
        return "–"
    return percent(100.0 * part / whole, digits)


def count(value: float | None, digits: int = 0) -> str:
    if _missing(value):
        return "–"
    return f"{value:,.{digits}f}"


def esc(text: object) -> str:
    """Escape text for Streamlit Markdown so it shows literally.

    User-supplied names (actions, files, segments) must never become links, images, HTML or LaTeX, and a
    dollar amount must not start a formula ('$150 ... $3,478' renders as math without the escape).
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
