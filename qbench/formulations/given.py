"""A formulation that hands out an encoding built elsewhere.

Methods that solve a sequence of QUBOs of their own making (a Lagrangian relaxation per
multiplier vector, a shrunk graph) run their inner solver on such an encoding, so the inner
solver is any ordinary QUBO solver, unchanged.
"""

from __future__ import annotations

from qbench.formulations.base import Encoding, Formulation
from qbench.problem import Problem


class GivenEncoding(Formulation):
    name = "given"

    def __init__(self, encoding: Encoding) -> None:
        self.encoding = encoding

    def encode(self, problem: Problem) -> Encoding:
        return self.encoding
