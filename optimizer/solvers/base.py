"""The solver contract: status values, the `Solution` every backend returns, the session Protocol, gaps.

A backend opens a session on a built `Problem`: the model is built once, then re-solved after changing
right-hand sides (`set_rhs`) or the objective (`set_objective`). Each session owns its own solver
environment (one Gurobi env per session, never shared between threads or Streamlit sessions).

Status is a value, not an exception: a `Solution` says optimal / infeasible / time_limit / no_solution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, Self

import numpy as np

# gurobipy from pip carries a size-limited license.
GUROBI_SIZE_LIMIT = 2000
GUROBI_SIZE_LIMIT_ERROR = 10010
# Set to 1 when a full Gurobi license is installed, so large models are not sent to HiGHS.
UNLIMITED_GUROBI_ENV = "PLAYLISTPRO_GUROBI_UNLIMITED"
ABSOLUTE_GAP = 1e-6


class SolverUnavailable(RuntimeError):
    """The requested solver cannot solve this model here (not installed, or the license forbids it)."""


class SolveStatus(StrEnum):
    """How a solve ended. A `StrEnum`: members compare equal to their string values."""

    OPTIMAL = "optimal"  # proven optimal (the decomposition: within its certified target gap)
    INFEASIBLE = "infeasible"  # no plan meets every constraint
    TIME_LIMIT = "time_limit"  # stopped at the time limit with a plan and its honest gap
    NO_SOLUTION = "no_solution"  # stopped with no plan


@dataclass
class Solution:
    status: SolveStatus
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    mip_gap: float | None
    runtime: float
    row_duals: np.ndarray | None = None  # LP relaxation only: d objective / d rhs, per matrix row
    multipliers: np.ndarray | None = None  # decomposition: per coupling row, d objective / d rhs
    detail: str = ""  # how the solution was found (the decomposition's method and sizes)

    def __post_init__(self) -> None:
        # A backend passing the plain string value still yields the enum member (and an unknown value fails).
        self.status = SolveStatus(self.status)

    @property
    def has_plan(self) -> bool:
        return self.x is not None


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|bound - objective| / max(|objective|, 1e-10): the usual MIP relative gap."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(bound - objective) / max(abs(objective), 1e-10)


class SolverSession(Protocol):
    """What every backend session offers: re-solve one built model with new right-hand sides or objectives."""

    name: str

    def set_rhs(self, rhs: np.ndarray) -> None: ...

    def set_objective(self, objective: np.ndarray, maximize: bool = True) -> None: ...

    def solve(self, time_limit: float | None = None) -> Solution: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
