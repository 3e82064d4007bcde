"""Parametrised circuits of the variational methods, with explicit parameter layouts.

QAOA's cost layer is built term by term from the Ising operator (RZ for Z terms, RZZ for ZZ
terms), so a multi-angle variant is the same construction with one angle per term, and the
in-process engine can reproduce the identical unitary from the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp


@dataclass(frozen=True)
class IsingTerm:
    """One diagonal term ``coeff * Z_qubits`` (one or two qubits)."""

    qubits: tuple[int, ...]
    coeff: float


def ising_terms(hamiltonian: SparsePauliOp) -> list[IsingTerm]:
    """The Z and ZZ terms of a diagonal Ising operator (identity dropped)."""
    terms = []
    for label, coeff in hamiltonian.to_list():
        if set(label) - {"I", "Z"}:
            raise ValueError(f"not a diagonal Ising term: {label}")
        qubits = tuple(i for i, ch in enumerate(reversed(label)) if ch == "Z")
        if len(qubits) > 2:
            raise ValueError(f"only 1- and 2-body terms are supported, got {label}")
        if qubits and abs(coeff.real) > 0:
            terms.append(IsingTerm(qubits, float(coeff.real)))
    return terms


@dataclass(frozen=True)
class QaoaLayout:
    """A QAOA circuit and where each angle sits in its parameter vector.

    ``gamma_index[layer, term]`` and ``beta_index[layer, qubit]`` index ``circuit.parameters``;
    for standard QAOA all terms (qubits) of a layer share one index.
    """

    circuit: QuantumCircuit
    terms: tuple[IsingTerm, ...]
    gamma_index: np.ndarray
    beta_index: np.ndarray
    warm_angles: np.ndarray | None

    @property
    def reps(self) -> int:
        return int(self.gamma_index.shape[0])

    @property
    def num_parameters(self) -> int:
        return self.circuit.num_parameters

    def pack(self, gammas: np.ndarray, betas: np.ndarray) -> np.ndarray:
        """Parameter vector from per-layer angles (broadcast over terms/qubits) or full arrays."""
        x = np.zeros(self.num_parameters)
        x[self.gamma_index] = np.broadcast_to(np.reshape(gammas, (self.reps, -1)), self.gamma_index.shape)
        x[self.beta_index] = np.broadcast_to(np.reshape(betas, (self.reps, -1)), self.beta_index.shape)
        return x

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-term gammas ``(reps, terms)`` and per-qubit betas ``(reps, qubits)``."""
        x = np.asarray(x)
        return x[self.gamma_index], x[self.beta_index]


def qaoa_layout(
    hamiltonian: SparsePauliOp,
    reps: int,
    multi_angle: bool = False,
    warm_angles: np.ndarray | None = None,
) -> QaoaLayout:
    """QAOA (Farhi et al. 2014), multi-angle QAOA (Herrman et al. 2022) or warm-start QAOA
    (Egger et al. 2021) for a diagonal Ising ``hamiltonian``.

    Layer ``l``: ``exp(-i gamma H)`` as ``RZ(2 gamma h_i)`` and ``RZZ(2 gamma J_ij)``, then the
    mixer: ``RX(2 beta)`` on every qubit, or, warm-started with angles ``theta_i``,
    ``RY(-theta_i) RZ(-2 beta) RY(theta_i)`` (circuit order) from the initial state
    ``RY(theta_i)|0>``. Parameters are named ``g{layer:02d}_{k:04d}`` / ``b{layer:02d}_{q:04d}`` so
    that Qiskit's name ordering of ``circuit.parameters`` is layer-major and stable.
    """
    n = hamiltonian.num_qubits
    terms = ising_terms(hamiltonian)
    circuit = QuantumCircuit(n, name="qaoa")
    gamma_names = np.empty((reps, len(terms) if multi_angle else 1), dtype=object)
    beta_names = np.empty((reps, n if multi_angle else 1), dtype=object)
    if warm_angles is None:
        circuit.h(range(n))
    else:
        for q, theta in enumerate(warm_angles):
            circuit.ry(float(theta), q)
    for layer in range(reps):
        gammas = [Parameter(f"g{layer:02d}_{k:04d}") for k in range(gamma_names.shape[1])]
        betas = [Parameter(f"b{layer:02d}_{q:04d}") for q in range(beta_names.shape[1])]
        gamma_names[layer] = [g.name for g in gammas]
        beta_names[layer] = [b.name for b in betas]
        for k, term in enumerate(terms):
            gamma = gammas[k if multi_angle else 0]
            if len(term.qubits) == 1:
                circuit.rz(2 * term.coeff * gamma, term.qubits[0])
            else:
                circuit.rzz(2 * term.coeff * gamma, *term.qubits)
        for q in range(n):
            beta = betas[q if multi_angle else 0]
            if warm_angles is None:
                circuit.rx(2 * beta, q)
            else:
                circuit.ry(-float(warm_angles[q]), q)
                circuit.rz(-2 * beta, q)
                circuit.ry(float(warm_angles[q]), q)
    position = {p.name: i for i, p in enumerate(circuit.parameters)}
    index = np.vectorize(position.__getitem__, otypes=[int])
    gamma_index = index(gamma_names)
    beta_index = index(beta_names)
    if not multi_angle:
        gamma_index = np.repeat(gamma_index, max(len(terms), 1), axis=1)[:, : max(len(terms), 1)]
        beta_index = np.repeat(beta_index, n, axis=1)
    return QaoaLayout(circuit, tuple(terms), gamma_index, beta_index, warm_angles)


def hardware_efficient(
    num_qubits: int,
    kind: Literal["efficient_su2", "real_amplitudes"] = "efficient_su2",
    reps: int = 2,
    entanglement: str = "reverse_linear",
) -> QuantumCircuit:
    """The VQE ansatz: Qiskit's ``efficient_su2`` (RY, RZ layers) or ``real_amplitudes`` (RY)
    with CX entanglers."""
    from qiskit.circuit.library import efficient_su2, real_amplitudes

    builder = efficient_su2 if kind == "efficient_su2" else real_amplitudes
    return builder(num_qubits, reps=reps, entanglement=entanglement)
