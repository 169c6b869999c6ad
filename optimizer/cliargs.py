"""Argument types and the parser class shared by every `python -m optimizer` command.

Each type function turns one flag's text into a value or raises `argparse.ArgumentTypeError` with a sentence
saying what the flag accepts; argparse prefixes it with the flag (`argument --time-limit: ...`), and
`Parser.error` prints that as one line on stderr and exits 2 (no usage block, no traceback).
Only the standard library is imported here, so building the parser costs nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from typing import NoReturn

EXIT_BAD_INPUT = 2
MAX_SEED = 2**63 - 1  # a seed is stored with the plan (a 64-bit integer column)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (`error: argument --x: ...`) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None


def amount(text: str) -> float:
    """A non-negative finite amount of dollars (the budget)."""
    value = _number(text, "must be a non-negative amount in dollars")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative amount in dollars, got {text!r}")
    return value


def capacity(text: str) -> float | None:
    """A whole number of customers, or 'none' / 'unlimited' / 'inf' for no limit."""
    if text.strip().lower() in ("none", "inf", "unlimited"):
        return None
    what = "must be a whole number of customers (0 or more) or 'none' for no limit"
    value = _number(text, what)
    if value < 0 or value != math.floor(value):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def rate(text: str) -> float:
    """A fraction between 0 and 1."""
    what = "rate must be a fraction between 0 and 1"
    value = _number(text, what)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def seconds(text: str) -> float:
    """A positive number of seconds (a time limit; leave the flag out for no limit)."""
    what = "must be a positive number of seconds (leave the flag out for no limit)"
    value = _number(text, what)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def seed(text: str) -> int:
    """A random seed: a whole number, 0 or more."""
    what = f"must be a whole number from 0 to {MAX_SEED}"
    value = _integer(text, what)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def count(text: str) -> int:
    """A whole number, 0 or more."""
    what = "must be a whole number, 0 or more"
    value = _integer(text, what)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def positive_count(text: str) -> int:
    """A whole number, 1 or more."""
    what = "must be a whole number, 1 or more"
    value = _integer(text, what)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def positive_number(text: str) -> float:
    """A positive finite number."""
    what = "must be a positive number"
    value = _number(text, what)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def non_negative_number(text: str) -> float:
    """A finite number, 0 or more."""
    what = "must be a number, 0 or more"
    value = _number(text, what)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date must be YYYY-MM-DD, got {text!r}") from None


def budgets(text: str) -> list[float]:
    """'150,175,200' -> [150.0, 175.0, 200.0]: comma-separated non-negative amounts."""
    what = "must be comma-separated non-negative amounts, e.g. 150,175,200"
    parts = [part.strip() for part in text.split(",")]
    if not parts or any(not part for part in parts):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    values = [_number(part, what) for part in parts]
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return values


def channel_cap(text: str):
    """`CHANNEL=M:W` (e.g. email=2:28): at most M actions of a catalog channel within W days."""
    from optimizer.loop.policies import ChannelCap, PolicyError

    try:
        return ChannelCap.parse(text)
    except PolicyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def control_fraction(text: str) -> float:
    """The global control group's share of the customer base: a number from 0 to 0.5."""
    what = "must be a number from 0 to 0.5"
    value = _number(text, what)
    if not 0.0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def plan_ids(text: str) -> list[int]:
    """`3,4,5`: saved plan ids, each a whole number, 1 or more."""
    out = []
    for part in text.split(","):
        try:
            value = int(part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"plan ids must look like 3,4,5, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"plan ids must be 1 or more, got {part.strip()!r}")
        out.append(value)
    return list(dict.fromkeys(out))
