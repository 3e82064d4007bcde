"""The QUBO every quantum and annealing solver works on.

``E(x) = offset + linear . x + x^T Q x`` over ``x in {0,1}^n``, minimised, with ``Q`` strictly
upper triangular. Bit ``i`` of a basis-state index is ``x_i`` (Qiskit's little-endian order), so
index ``k`` of :meth:`Qubo.all_energies` is the energy of the state Qiskit prints as ``bin(k)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qiskit.quantum_info import SparsePauliOp
from qiskit_optimization import QuadraticProgram

from qbench.errors import ResourceLimitError


@dataclass(frozen=True, eq=False)
class Qubo:
    """An unconstrained binary minimisation problem in dense matrix form."""

    linear: np.ndarray
    quadratic: np.ndarray
    offset: float = 0.0
    names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = self.linear.shape[0]
        if self.quadratic.shape != (n, n):
            raise ValueError(f"quadratic must be {n}x{n}, got {self.quadratic.shape}")
        if np.any(np.tril(self.quadratic) != 0):
            raise ValueError("quadratic must be strictly upper triangular")
        if self.names and len(self.names) != n:
            raise ValueError("one name per variable expected")

    @property
    def num_variables(self) -> int:
        return int(self.linear.shape[0])

    @classmethod
    def from_quadratic_program(cls, qp: QuadraticProgram) -> Qubo:
        """Read an unconstrained, all-binary, minimising :class:`QuadraticProgram`."""
        if qp.get_num_linear_constraints() or qp.get_num_quadratic_constraints():
            raise ValueError("a QUBO has no constraints; convert the program first")
        if qp.get_num_binary_vars() != qp.get_num_vars():
            raise ValueError("a QUBO has binary variables only")
        sign = 1.0 if qp.objective.sense == qp.objective.sense.MINIMIZE else -1.0
        linear = sign * qp.objective.linear.to_array().astype(float)
        full = sign * np.asarray(qp.objective.quadratic.to_array(symmetric=False), dtype=float)
        # x_i^2 = x_i on binaries: the diagonal is linear.
        linear = linear + np.diag(full)
        upper = np.triu(full, 1) + np.tril(full, -1).T
        return cls(
            linear=linear,
            quadratic=upper,
            offset=sign * float(qp.objective.constant),
            names=tuple(v.name for v in qp.variables),
        )

    def energy(self, x: np.ndarray) -> float:
        """Energy of one assignment."""
        x = np.asarray(x, dtype=float)
        return float(self.offset + self.linear @ x + x @ self.quadratic @ x)

    def energies(self, xs: np.ndarray) -> np.ndarray:
        """Energies of a batch of assignments, one per row."""
        xs = np.asarray(xs, dtype=float)
        return self.offset + xs @ self.linear + np.einsum("ki,ij,kj->k", xs, self.quadratic, xs)

    def all_energies(self, max_variables: int = 26) -> np.ndarray:
        """Energy of every basis state, indexed as described in the module docstring.

        Built by doubling: the states with ``x_i = 1`` are the states over the first ``i``
        variables shifted by ``linear_i + sum_{j<i} Q_ji x_j``, so the cost is ``O(n 2^n)``
        vectorised work (the coupling field of variable ``i`` is itself built by doubling over
        ``2^i`` states) and no Python loop over states.
        """
        n = self.num_variables
        if n > max_variables:
            raise ResourceLimitError(
                f"{n} variables: enumerating 2^{n} states exceeds the limit of {max_variables} "
                "variables (raise it explicitly if the memory is there)"
            )
        energies = np.full(1, self.offset, dtype=float)
        for i in range(n):
            coupling = self.quadratic[:i, i]
            shift = self.linear[i] + _linear_form_all(coupling)
            energies = np.concatenate([energies, energies + shift])
        return energies

    def to_ising(self) -> tuple[SparsePauliOp, float]:
        """The Ising Hamiltonian ``H`` and constant ``c`` with ``E(x) = <x|H|x> + c``.

        Uses ``x_i = (1 - Z_i) / 2``: a measured bit 1 is variable value 1.
        """
        n = self.num_variables
        if n == 0:
            return SparsePauliOp("", coeffs=[0.0]), self.offset
        z_coeff = -0.5 * self.linear.copy()
        constant = self.offset + 0.5 * self.linear.sum()
        terms: list[tuple[str, list[int], float]] = []
        rows, cols = np.nonzero(self.quadratic)
        for i, j in zip(rows.tolist(), cols.tolist()):
            w = self.quadratic[i, j]
            constant += w / 4
            z_coeff[i] -= w / 4
            z_coeff[j] -= w / 4
            terms.append(("ZZ", [i, j], w / 4))
        for i in range(n):
            if z_coeff[i] != 0:
                terms.append(("Z", [i], z_coeff[i]))
        if not terms:
            terms.append(("", [], 0.0))
        op = SparsePauliOp.from_sparse_list(terms, num_qubits=n).simplify(atol=0)
        return op, float(constant)

    def to_dict(self) -> dict[tuple[int, int], float]:
        """The ``{(i, j): w}`` form dimod samplers take, linear terms on the diagonal."""
        q: dict[tuple[int, int], float] = {
            (i, i): float(w) for i, w in enumerate(self.linear) if w != 0
        }
        rows, cols = np.nonzero(self.quadratic)
        for i, j in zip(rows.tolist(), cols.tolist()):
            q[(i, j)] = float(self.quadratic[i, j])
        return q


def _linear_form_all(coeffs: np.ndarray) -> np.ndarray:
    """Values of ``sum_j coeffs_j x_j`` for every assignment of ``len(coeffs)`` bits, by doubling."""
    values = np.zeros(1, dtype=float)
    for c in coeffs:
        values = np.concatenate([values, values + c])
    return values
