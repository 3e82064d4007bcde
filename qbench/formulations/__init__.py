"""Formulations: ways of turning a constrained problem into a QUBO, each with its decoder."""

from qbench.formulations.base import Encoding, Formulation, constraint_group

__all__ = ["Encoding", "Formulation", "constraint_group"]
