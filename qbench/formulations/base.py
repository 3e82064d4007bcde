"""The formulation interface: ``encode`` a problem into a QUBO, ``decode`` bits back.

Modelled on qiskit-optimization's converters (one transformation per class, ``convert`` and
``interpret``); an :class:`Encoding` keeps the QUBO together with its way back, so that every
solver decodes the same way and the native evaluation never sees slack bits.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench.problem import Problem
from qbench.qubo import Qubo

_GROUP = re.compile(r"^(?P<group>[^\[]+)\[.*\]$")


def constraint_group(name: str) -> str:
    """The group of a constraint named ``group[index]`` (problems name constraints this way)."""
    match = _GROUP.match(name)
    return match.group("group") if match else name


@dataclass(frozen=True, eq=False)
class Encoding:
    """A problem encoded as a QUBO, with the map from QUBO bits back to the problem's variables."""

    formulation: str
    qubo: Qubo
    program: QuadraticProgram
    decoder: Callable[[np.ndarray], np.ndarray]
    num_original: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def qubits(self) -> int:
        """Number of QUBO variables, i.e. qubits of a one-variable-per-qubit encoding."""
        return self.qubo.num_variables

    @property
    def slack_variables(self) -> int:
        return self.qubo.num_variables - self.num_original

    def decode(self, bits: np.ndarray) -> np.ndarray:
        """Problem variables (slacks dropped) from a QUBO assignment."""
        # int64, not the samplers' int8: qiskit's IntegerToBinary.interpret multiplies each bit by
        # its slack coefficient, and numpy 2 raises on int8 * 128 (slacks of 8 bits and more).
        bits = np.asarray(bits, dtype=np.int64)
        if bits.shape != (self.qubo.num_variables,):
            raise ValueError(f"expected {self.qubo.num_variables} bits, got shape {bits.shape}")
        return np.asarray(self.decoder(bits), dtype=float).round().astype(np.int8)


class Formulation(ABC):
    """Turns a :class:`Problem` into an :class:`Encoding`."""

    name: ClassVar[str]

    @abstractmethod
    def encode(self, problem: Problem) -> Encoding:
        """Build the QUBO of ``problem``."""


def objective_range_penalty(qp: QuadraticProgram) -> float:
    """``1 + (max - min)`` of the objective over the variable bounds.

    The same bound qiskit-optimization's ``LinearEqualityToPenalty`` uses for its automatic
    penalty (written out here because that one is private and, for non-integer constraint
    coefficients, jumps to a fixed 1e5 that flattens every variational landscape). A unit
    violation then costs more than any objective gain, which is exact for integer constraints.
    """
    lin = qp.objective.linear.bounds
    quad = qp.objective.quadratic.bounds
    return 1.0 + (lin.upperbound - lin.lowerbound) + (quad.upperbound - quad.lowerbound)
