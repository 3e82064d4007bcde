"""The QUBO energy as a cost over measured bitstrings: the diagonal cost a circuit minimises,
aggregated as expectation or CVaR, and the normalisation of its Hamiltonian.

Backends evaluate a :class:`DiagonalCost`; variational solvers build one from their settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from qbench.qubo import Qubo


def cvar(values: np.ndarray, probabilities: np.ndarray, alpha: float) -> float:
    """Conditional value at risk: the mean of the lowest ``alpha`` fraction of the distribution.

    The state at the boundary contributes only the part of its probability that fits
    (Barkoutsos et al. 2020); ``alpha = 1`` is the plain expectation.
    """
    values = np.asarray(values, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    if alpha >= 1.0:
        return float(values @ probabilities / probabilities.sum())
    order = np.argsort(values, kind="stable")
    v, p = values[order], probabilities[order] / probabilities.sum()
    before = np.concatenate([[0.0], np.cumsum(p)[:-1]])
    weight = np.clip(alpha - before, 0.0, p)
    return float(v @ weight / alpha)


@dataclass(frozen=True)
class DiagonalCost:
    """A QUBO cost to minimise over measured bitstrings, aggregated as expectation or CVaR.

    ``scale`` divides the Hamiltonian used to build circuits (angles see a normalised cost);
    reported values are always in QUBO energy units.
    """

    qubo: Qubo
    alpha: float = 1.0
    scale: float = 1.0
    hamiltonian: SparsePauliOp = field(init=False)
    constant: float = field(init=False)

    def __post_init__(self) -> None:
        op, constant = self.qubo.to_ising()
        object.__setattr__(self, "hamiltonian", op)
        object.__setattr__(self, "constant", constant)

    @property
    def circuit_hamiltonian(self) -> SparsePauliOp:
        """The Ising operator the ansatz evolves under (normalised by ``scale``)."""
        return (self.hamiltonian / self.scale).simplify(atol=0)

    def of_samples(self, bits: np.ndarray) -> float:
        """Aggregate the QUBO energy over measured bitstrings (one per row, equally likely)."""
        energies = self.qubo.energies(bits)
        return cvar(energies, np.ones(len(energies)), self.alpha)


def normalisation(qubo: Qubo) -> float:
    """The largest absolute Ising coefficient: dividing by it puts angles on a common scale,
    whatever the penalty weight (a penalty QUBO's raw coefficients reach thousands)."""
    op, _ = qubo.to_ising()
    largest = float(np.max(np.abs(op.coeffs))) if len(op.coeffs) else 0.0
    return largest if largest > 0 else 1.0
