"""The decomposition's tuning (`DecompositionOptions`), its progress callback type and the certified gap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from optimizer.solvers.base import ABSOLUTE_GAP

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DecompositionOptions:
    """Tuning of the decomposition path. The defaults suit 250 to a few million customers."""

    target_gap: float = 1e-4  # accept a plan once the certified relative gap is at most this (0.01%)
    exact_limit: int = 2_000  # variables up to which the MILP is solved whole when the gap stays above target
    working_set: int = 1_000  # customers in the first sifting LP (LP relaxation sessions)
    neighbourhood: int = 300  # most ambiguous customers (smallest margins) freed in the plan's MILP
    rounding_gap: float = 1e-5  # a rounded LP plan of the neighbourhood this close to the bound is kept
    certify_limit: int = 20_000  # choices up to which the reduced-cost-fixed MILP is solved exactly
    max_rounds: int = 4  # plan MILPs, neighbourhood x4 each time, before settling for the gap reached
    sample_size: int = 2_000  # customers in the sample LP (first multipliers for a general objective)
    dual_iterations: int = 400  # cutting-plane steps on L at most
    dual_tolerance: float = 1e-10  # stop when the cutting-plane model promises less than this (relative)


def certified_gap(value: float, bound: float) -> float:
    """(bound - value) / |value|, 0 within `ABSOLUTE_GAP`."""
    if bound - value <= ABSOLUTE_GAP:
        return 0.0
    return (bound - value) / max(abs(value), 1e-10)
