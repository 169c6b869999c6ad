"""The decomposition: any number of customers, an exact feasible plan and a certified gap (see `session`)."""

from optimizer.solvers.decomposition.session import DecompositionOptions, DecompositionSession, structure

__all__ = ["DecompositionOptions", "DecompositionSession", "structure"]
