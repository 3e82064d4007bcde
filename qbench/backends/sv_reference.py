"""The reference state-vector engine: plain NumPy, written to be read (``backend.engine=reference``).

It implements :class:`~qbench.backends.engine.StateVectorEngine` the textbook way and shares no
code with the fast engines' evolution, so that they can be checked against it:

* the state is one complex vector, amplitude index bit ``q`` = qubit ``q`` (Qiskit's order);
* every gate is a tensor contraction over the state reshaped to ``(2,) * n``
  (:func:`apply_gate`);
* a QAOA layer multiplies the state by ``exp(-i D(z))``, with ``D`` the Ising diagonal of the
  layer's angles times the cost terms (:func:`ising_diagonal`), then applies each qubit's mixer;
* expectations are sums over the probabilities, CVaR sorts the values
  (:func:`qbench.qubo_cost.cvar`), samples come from the protocol's inverse CDF.

It is slower than the fast engines and needs more memory (:meth:`ReferenceEngine.memory_required`).
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit

from qbench.ansatz import QaoaLayout
from qbench.backends import sv_gates
from qbench.backends.engine import StateVectorEngine
from qbench.backends.sv_diagonal import Diagonal, DiagonalCache
from qbench.backends.sv_program import GateProgram, Observable, PauliSum, Program, QaoaProgram, gate_program, qaoa_program
from qbench.qubo_cost import cvar


def apply_gate(psi: np.ndarray, qubits: tuple[int, ...], matrix: np.ndarray) -> None:
    """``matrix`` (2^k x 2^k, index bit j = qubit ``qubits[j]``, Qiskit's order) on ``psi`` in
    place. As a tensor of shape ``(2,) * n`` the state has qubit q on axis n - 1 - q; the matrix
    reshaped to ``(2,) * 2k`` has qubit ``qubits[k-1]`` first among its rows and its columns."""
    n = psi.shape[0].bit_length() - 1
    k = len(qubits)
    axes = [n - 1 - q for q in reversed(qubits)]
    gate = np.asarray(matrix).reshape((2,) * 2 * k)
    result = np.tensordot(gate, psi.reshape((2,) * n), axes=(list(range(k, 2 * k)), axes))
    psi[:] = np.moveaxis(result, list(range(k)), axes).reshape(-1)


def ising_diagonal(h: np.ndarray, J: np.ndarray) -> np.ndarray:
    """``D(z) = sum_q h_q s_q + sum_{q<r} J_qr s_q s_r`` for every basis state z, with the spin
    ``s_q = 1 - 2 z_q`` (``J`` upper triangular), term by term."""
    n = h.shape[0]
    z = np.arange(1 << n)

    def spin(q: int) -> np.ndarray:
        return 1.0 - 2.0 * ((z >> q) & 1)

    diagonal = np.zeros(1 << n)
    for q in range(n):
        s_q = spin(q)
        if h[q]:
            diagonal += h[q] * s_q
        for r in np.flatnonzero(J[q, q + 1:]) + q + 1:
            diagonal += J[q, r] * s_q * spin(r)
    return diagonal


def pauli_expectation(psi: np.ndarray, observable: PauliSum) -> float:
    """``<psi|O|psi>``: for each term, ``X^x Z^z psi`` has amplitude ``(-1)^{|k & z|} psi_k`` at
    ``k ^ x``, so the term is ``sum_k conj(psi_{k ^ x}) (-1)^{|k & z|} psi_k`` times its
    coefficient (which holds the ``i^{#Y}``)."""
    k = np.arange(psi.shape[0])
    total = 0j
    for xmask, zmask, coeff in observable.terms:
        signs = 1.0 - 2.0 * (np.bitwise_count(k & zmask) & 1)
        total += coeff * np.sum(np.conj(psi[k ^ xmask]) * signs * psi)
    return float(total.real)


class ReferenceEngine(StateVectorEngine):
    """Plain NumPy at the precision of ``dtype`` (complex128 or complex64); see the module
    docstring. ``diagonals`` builds the cost diagonals the backend measures."""

    name = "reference"

    def __init__(self, diagonals: DiagonalCache, dtype=np.complex128) -> None:
        self.diagonals = diagonals
        self.dtype = np.dtype(dtype)

    def memory_required(self, num_qubits: int) -> int:
        """The state, a measured diagonal (8 bytes per amplitude), and the temporaries of one
        layer or gate: the basis indices, a spin vector and a product (8 each), the layer's
        diagonal and its phase (8 + 16), or a gate's contraction (a state); counted as the
        state twice plus 48 bytes per amplitude."""
        return (2 * self.dtype.itemsize + 48) * 2**num_qubits

    def prepare(self, circuit: QuantumCircuit, layout: QaoaLayout | None) -> Program:
        if layout is not None:  # each layer's phase comes from its Ising coefficients: no diagonal
            return qaoa_program(layout, self.diagonals, integer_diagonal=False, any_diagonal=False)
        return gate_program(circuit)

    def evolve(self, program: Program, x: np.ndarray, observe: Diagonal | None = None) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if isinstance(program, QaoaProgram):
            return self._evolve_qaoa(program, x)
        return self._evolve_gates(program, x)

    def _evolve_qaoa(self, program: QaoaProgram, x: np.ndarray) -> np.ndarray:
        """The product initial state, then per layer the cost phase and the mixer on every qubit."""
        psi = np.ones(1, dtype=complex)
        for state in program.initial:  # kron(v_{n-1}, ..., v_0): qubit q is bit q of the index
            psi = np.kron(state, psi)
        psi = psi.astype(self.dtype)
        gammas, betas = program.layout.unpack(x)
        for layer in range(program.layout.reps):
            h, J = program.ising(gammas[layer])
            psi *= np.exp(-1j * ising_diagonal(h, J))
            for q, mixer in enumerate(program.mixers(betas[layer])):
                apply_gate(psi, (q,), mixer)
        return psi

    def _evolve_gates(self, program: GateProgram, x: np.ndarray) -> np.ndarray:
        """|0...0>, then every gate of the circuit in order."""
        psi = np.zeros(1 << program.num_qubits, dtype=self.dtype)
        psi[0] = 1
        sequence = program.sequence
        for step, matrix in zip(sequence.steps, sequence.matrices(x[None, :])):
            apply_gate(psi, step.qubits, matrix if matrix.ndim == 2 else matrix[0])
        return psi

    def expectation(self, state: np.ndarray, observable: Observable) -> float:
        if isinstance(observable, PauliSum):
            return pauli_expectation(state, observable)
        return float(np.sum(self.probabilities(state) * observable.state_values()))

    def cvar(self, state: np.ndarray, diagonal: Diagonal, alpha: float) -> float:
        return float(cvar(diagonal.state_values(), self.probabilities(state), alpha))

    def probabilities(self, state: np.ndarray) -> np.ndarray:
        return np.abs(state).astype(np.float64) ** 2

    def vector(self, state: np.ndarray) -> np.ndarray:
        return state

    def gradient(self, program: Program, x: np.ndarray, observable: PauliSum) -> np.ndarray | None:
        """The adjoint method (:func:`sv_gates.adjoint_gradient`, its NumPy gates) for gate
        circuits; ``None`` for QAOA layouts."""
        if not isinstance(program, GateProgram):
            return None
        return sv_gates.adjoint_gradient(program.sequence, np.asarray(x, dtype=float), list(observable.terms),
                                         dtype=self.dtype)
