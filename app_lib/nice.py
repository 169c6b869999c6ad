"""Round numbers people read: the one place the app rounds a budget, a capacity, a slider end or a step.

Pure Python (no Streamlit). Two families: a multiple of a step (`ceil_to`, and the step ladder 1, 2, 5, 10,
25, 50, 100, ... of `step_for` / `nice_up`), and a factor of a power of ten (`decade_ceil`, `decade_floor`).
"""

from __future__ import annotations

import math

STEPS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000)
CEIL_FACTORS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8)  # slider ends: $3,000, $4,000, $60,000
FLOOR_FACTORS = (1, 2, 2.5, 5)  # sweep steps: $250, $100, $5,000


def ceil_to(value: float, step: float) -> float:
    """The smallest multiple of `step` at or above `value` (141.2 by 5 -> 145; 145 stays 145)."""
    return float(math.ceil(round(value / step, 9)) * step)


def step_for(value: float, points: int = 100) -> float:
    """The smallest step of `STEPS` that leaves at most `points` steps below `value`
    (45,000 -> 500, 199.8 -> 2, 26.6 -> 1; with 800 points, a $3,000 slider moves by $5)."""
    for step in STEPS:
        if value / step <= points:
            return float(step)
    return float(STEPS[-1])


def nice_up(value: float, points: int = 100) -> float:
    """`value` rounded up to `step_for(value, points)` (rounding up never makes a budget or a capacity
    harder to meet); 0 for a value at or below 0."""
    if value <= 0:
        return 0.0
    return ceil_to(value, step_for(value, points))


def decade_ceil(value: float, factors: tuple[float, ...] = CEIL_FACTORS) -> float:
    """The smallest factor x 10^k at or above a positive `value` (2,860 -> 3,000; 3,001 -> 4,000)."""
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in sorted(factors):
        if factor * magnitude >= value - 1e-9:
            return float(factor * magnitude)
    return float(10 * magnitude)


def decade_floor(value: float, factors: tuple[float, ...] = FLOOR_FACTORS) -> float:
    """The largest factor x 10^k at or below a positive `value` (260 -> 250; 99 -> 50)."""
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in sorted(factors, reverse=True):
        if factor * magnitude <= value + 1e-9:
            return float(factor * magnitude)
    return float(magnitude)


def sweep_step(span: float, points: int = 12) -> float:
    """The largest round step (1, 2, 2.5, 5 x 10^k) giving at least `points` levels over `span`."""
    if span <= 0:
        return 1.0
    return decade_floor(span / max(points - 1, 1))
