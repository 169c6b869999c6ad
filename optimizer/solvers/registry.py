"""Which backend solves a problem (`choose_solver`, with the reason for the user) and `open_session`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from optimizer.solvers.base import GUROBI_SIZE_LIMIT, UNLIMITED_GUROBI_ENV, SolverSession
from optimizer.solvers.gurobi import GurobiSession
from optimizer.solvers.highs import HighsSession

if TYPE_CHECKING:
    from optimizer.model import Problem
    from optimizer.solvers.decomposition import DecompositionOptions


def gurobi_available() -> bool:
    try:
        import gurobipy  # noqa: F401
    except ImportError:
        return False
    return True


def highs_available() -> bool:
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def within_gurobi_license(problem: Problem) -> bool:
    if os.environ.get(UNLIMITED_GUROBI_ENV) == "1":
        return True
    return problem.n_variables <= GUROBI_SIZE_LIMIT and problem.n_constraints <= GUROBI_SIZE_LIMIT


def choose_solver(problem: Problem, requested: str = "auto") -> tuple[str, str]:
    """Which backend solves this problem, and why (a sentence for the user).

    "auto": Gurobi within its pip license limit; above it the decomposition
    (`optimizer.solvers.decomposition`); HiGHS's MILP for a small model when gurobipy is not installed.
    """
    size = f"{problem.n_variables:,} variables and {problem.n_constraints:,} constraints"
    if requested in ("gurobi", "highs", "decomposition"):
        return requested, "requested"
    if requested != "auto":
        raise ValueError(f"unknown solver {requested!r}; use auto, gurobi, highs or decomposition")
    if not within_gurobi_license(problem):
        return "decomposition", (
            f"the model has {size}, over the 2,000 limit of gurobipy's size-limited pip license, "
            "so the decomposition over the coupling constraints ran (certified gap)"
        )
    if not gurobi_available():
        return "highs", "gurobipy is not installed, so the open-source HiGHS solver ran"
    return "gurobi", f"the model ({size}) fits gurobipy's size-limited license"


def open_session(
    problem: Problem,
    rhs: np.ndarray,
    solver: str,
    *,
    relax: bool = False,
    progress: Callable[[float, str], None] | None = None,
    options: DecompositionOptions | None = None,
) -> SolverSession:
    """Open a solver session (a context manager) for `problem` with right-hand sides `rhs`.

    `progress(fraction, message)` and `options` (a `DecompositionOptions`) tune the decomposition; the MILP
    solvers ignore them.
    """
    if solver == "gurobi":
        return GurobiSession(problem, rhs, relax=relax)
    if solver == "highs":
        return HighsSession(problem, rhs, relax=relax)
    if solver == "decomposition":
        from optimizer.solvers.decomposition import DecompositionSession

        return DecompositionSession(problem, rhs, relax=relax, options=options, progress=progress)
    raise ValueError(f"unknown solver {solver!r}")
