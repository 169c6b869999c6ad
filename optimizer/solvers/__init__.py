"""Solver backends behind one contract (`base`): Gurobi, HiGHS and the decomposition for any size.

`choose_solver` picks the backend (and says why); `open_session` opens a `SolverSession` on a built problem.
"""

from optimizer.solvers.base import (
    ABSOLUTE_GAP,
    GUROBI_SIZE_LIMIT,
    GUROBI_SIZE_LIMIT_ERROR,
    UNLIMITED_GUROBI_ENV,
    Solution,
    SolverSession,
    SolverUnavailable,
    SolveStatus,
    relative_gap,
)
from optimizer.solvers.gurobi import GurobiSession
from optimizer.solvers.highs import HighsSession
from optimizer.solvers.registry import (
    choose_solver,
    gurobi_available,
    highs_available,
    open_session,
    within_gurobi_license,
)

__all__ = [
    "ABSOLUTE_GAP",
    "GUROBI_SIZE_LIMIT",
    "GUROBI_SIZE_LIMIT_ERROR",
    "UNLIMITED_GUROBI_ENV",
    "GurobiSession",
    "HighsSession",
    "Solution",
    "SolveStatus",
    "SolverSession",
    "SolverUnavailable",
    "choose_solver",
    "gurobi_available",
    "highs_available",
    "open_session",
    "relative_gap",
    "within_gurobi_license",
]
