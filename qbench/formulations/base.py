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
    """A problem encoded as a QUBO, with the map from QUBO bits back to the problem's variables.

    ``relaxes_model``: every ``x`` feasible in the problem's canonical model has an assignment
    decoding to it (its slack bits set to the exact slack) whose energy is at most the model's
    objective at ``x`` in minimisation form. A penalty QUBO meets it with equality (its penalty
    terms vanish on feasible points), a Lagrangian relaxation with ``u >= 0`` by weak duality;
    unbalanced terms and shrunk QUBOs do not. Only then can a QUBO minimum certify a native
    optimum (:mod:`qbench.optimality`).
    """

    formulation: str
    qubo: Qubo
    decoder: Callable[[np.ndarray], np.ndarray]
    num_original: int
    info: dict[str, Any] = field(default_factory=dict)
    relaxes_model: bool = False
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

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

    def decode_many(self, bits: np.ndarray) -> np.ndarray:
        """:meth:`decode` of every row of ``bits`` (one assignment per row), as an int8 matrix.

        Penalty encodings decode affinely (binary originals are a column selection, integer
        ones a weighted sum of their bits, slacks are dropped), so the map ``x = c + A b`` is
        learned once from ``n + 1`` calls of the real decoder and applied as one matrix product;
        it is trusted only after it reproduced the decoder on 32 random assignments and the
        all-ones one. A decoder that fails that check (e.g. a shrinker's XOR of merged sides) is
        called row by row, as before. Why: a 10 000-shot answer has thousands of distinct
        samples, and qiskit-optimization's ``interpret`` chain costs ~25 us per call.
        """
        bits = np.asarray(bits)
        n = self.qubo.num_variables
        if bits.ndim != 2 or bits.shape[1] != n:
            raise ValueError(f"expected rows of {n} bits, got shape {bits.shape}")
        affine = self._affine_decoder()
        if affine is None:
            return np.array([self.decode(row) for row in bits], dtype=np.int8).reshape(len(bits), -1)
        offset, matrix = affine
        return (offset + bits.astype(np.float64) @ matrix).round().astype(np.int8)

    def affine_map(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(c, A^T)`` with ``decode(b) == round(c + b @ A^T)``, or ``None`` for a decoder that
        is not affine (see :meth:`decode_many`)."""
        return self._affine_decoder()

    @property
    def decodes_affinely(self) -> bool:
        """Whether :meth:`decode_many` decodes by one matrix product (cheap for any number of
        rows) rather than by calling the decoder row by row."""
        return self._affine_decoder() is not None

    def _affine_decoder(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(c, A^T)`` with ``decode(b) == round(c + b @ A^T)`` for every check, else ``None``
        (computed once per encoding)."""
        if "affine" not in self._memo:
            n = self.qubo.num_variables
            offset = np.asarray(self.decoder(np.zeros(n, dtype=np.int64)), dtype=float)
            matrix = np.empty((n, offset.shape[0]))
            for j in range(n):
                unit = np.zeros(n, dtype=np.int64)
                unit[j] = 1
                matrix[j] = np.asarray(self.decoder(unit), dtype=float) - offset
            checks = np.vstack([np.ones((1, n), dtype=np.int64),
                                np.random.default_rng(0).integers(0, 2, (32, n))])
            exact = all(np.array_equal(np.asarray(self.decoder(b), dtype=float).round(), (offset + b @ matrix).round())
                        for b in checks)
            self._memo["affine"] = (offset, matrix) if exact else None
        return self._memo["affine"]


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
