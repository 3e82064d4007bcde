"""What the state-vector engines evolve and measure, independent of how: a QAOA layout as its
diagonal phases and mixer matrices (:class:`QaoaProgram`), any other circuit as one- and
two-qubit gates compiled once (:class:`GateProgram`), and observables as Pauli masks
(:class:`PauliSum`) or diagonals (:class:`~qbench.backends.sv_diagonal.Diagonal`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qbench.ansatz import QaoaLayout
from qbench.backends import sv_gates
from qbench.backends.sv_diagonal import Diagonal, DiagonalCache, IsingIndex
from qbench.errors import ConfigError


def _rotation_y(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)


def _rotation_z(phi: np.ndarray) -> np.ndarray:
    zero = np.zeros_like(phi)
    return np.stack([np.stack([np.exp(-0.5j * phi), zero], -1), np.stack([zero, np.exp(0.5j * phi)], -1)], -2)


@dataclass
class QaoaProgram:
    """A QAOA layout as diagonal phases and per-qubit mixer matrices."""

    layout: QaoaLayout
    standard: bool  # one gamma per layer: the phase is exp(-i gamma D)
    diagonal: Diagonal | None  # D of the cost layer, where the engine asked for it (qaoa_program)
    initial: np.ndarray  # (n, 2) one-qubit states of the product initial state
    coefficients: np.ndarray  # the layout's term coefficients
    index: IsingIndex  # where the terms go in h, J

    @property
    def num_qubits(self) -> int:
        return self.layout.circuit.num_qubits

    def ising(self, gammas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Field and coupling of one layer's phase operator (each term's coefficient times its
        angle: ``gammas`` holds one angle, or one per term in multi-angle QAOA)."""
        return self.index.arrays(gammas * self.coefficients)

    def mixers(self, betas: np.ndarray) -> np.ndarray:
        """(n, 2, 2) mixer matrices of one layer: RX(2 beta) or RY(t) RZ(-2 beta) RY(-t)."""
        if self.layout.warm_angles is None:
            c, s = np.cos(betas), np.sin(betas)
            return np.stack([np.stack([c, -1j * s], -1), np.stack([-1j * s, c], -1)], -2)
        theta = np.asarray(self.layout.warm_angles, dtype=float)
        return _rotation_y(theta) @ _rotation_z(-2 * betas) @ _rotation_y(-theta)


def qaoa_program(layout: QaoaLayout, diagonals: DiagonalCache, integer_diagonal: bool,
                 any_diagonal: bool) -> QaoaProgram:
    """``layout`` as a :class:`QaoaProgram`, with the diagonal of its cost layer (standard QAOA
    only) built where the engine reads its phase from it: ``integer_diagonal`` when the costs
    are integer multiples of one unit (a table of distinct values), ``any_diagonal`` whatever
    the costs (a dense vector for float costs)."""
    n = layout.circuit.num_qubits
    standard = bool(np.all(layout.gamma_index == layout.gamma_index[:, :1]))
    coefficients = np.array([t.coeff for t in layout.terms], dtype=float)
    wanted = standard and (any_diagonal or integer_diagonal and diagonals.unit_of(coefficients)[1])
    diagonal = diagonals.get(layout.terms, n) if wanted else None
    if layout.warm_angles is None:
        initial = np.full((n, 2), 2**-0.5, dtype=complex)
    else:
        theta = np.asarray(layout.warm_angles, dtype=float)
        initial = np.stack([np.cos(theta / 2), np.sin(theta / 2)], -1).astype(complex)
    return QaoaProgram(layout, standard, diagonal, initial, coefficients, IsingIndex.of(layout.terms, n))


@dataclass
class GateProgram:
    """A circuit unrolled to one- and two-qubit gates, compiled to a :class:`sv_gates.GateSequence`
    (each gate's matrix as a function of the parameters: no binding per evaluation)."""

    circuit: QuantumCircuit
    sequence: sv_gates.GateSequence

    @property
    def num_qubits(self) -> int:
        return self.circuit.num_qubits


def gate_program(circuit: QuantumCircuit) -> GateProgram:
    """``circuit`` (one- and two-qubit unitary gates and barriers) as a :class:`GateProgram`; a
    ConfigError names the first instruction that is not such a gate."""
    for inst in circuit.data:
        name = inst.operation.name
        if name == "barrier":
            continue
        if inst.clbits or name in ("measure", "reset") or inst.operation.num_qubits > 2:
            raise ConfigError(f"backend=statevector: cannot simulate instruction {name!r} "
                              "(unitary 1- and 2-qubit gates only)")
    return GateProgram(circuit, sv_gates.GateSequence(circuit))


Program = QaoaProgram | GateProgram


@dataclass(frozen=True)
class PauliSum:
    """``sum_k coeff_k i^{#Y} X^{x_k} Z^{z_k}`` as ``terms`` ``(x mask, z mask, coeff i^{#Y})``:
    bit q of a mask is qubit q; each Pauli string is ``i^{#Y} X^x Z^z`` up to the order of the
    factors, which ``coeff`` already accounts for (see ``sv_kernels.pauli_expectation``)."""

    terms: tuple[tuple[int, int, complex], ...]

    @classmethod
    def of(cls, observable: SparsePauliOp) -> "PauliSum":
        n = observable.num_qubits
        weights = 1 << np.arange(n, dtype=np.int64)
        terms = []
        for label, coeff in observable.to_list():
            bits = np.array(list(reversed(label)))
            xmask = int(weights[(bits == "X") | (bits == "Y")].sum())
            zmask = int(weights[(bits == "Z") | (bits == "Y")].sum())
            terms.append((xmask, zmask, complex(coeff) * 1j ** int((bits == "Y").sum())))
        return cls(tuple(terms))


#: What an engine measures: a diagonal (QUBO energies, Z-only Hamiltonians) or Pauli strings.
Observable = Diagonal | PauliSum
