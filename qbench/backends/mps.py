"""Matrix-product-state helpers for Aer's ``matrix_product_state`` method: a qubit order that
keeps two-qubit gates short, and what truncation did to a simulated state.

Qubit order. Aer's MPS applies a gate on qubits ``i, j`` after moving them next to each other
by swaps, and the bond dimension grows with the entanglement across each cut of the chain. A
dense penalty QUBO's cost layer touches most pairs, so the order of the chain decides how many
swaps and how wide the bonds get. :func:`chain_positions` places the qubits by the reverse
Cuthill-McKee order (SciPy's ``reverse_cuthill_mckee``) of the circuit's two-qubit interaction
graph, which keeps interacting qubits close; on SAC-94 hp1 (60 qubits, 1255 ZZ terms) it cuts
Aer's internal swaps from about 30 000 to about 7 000 per QAOA layer. :func:`relabelled` applies
the order as the circuit's layout with Qiskit's ``SetLayout``/``ApplyLayout`` passes, so
observables follow through ``SparsePauliOp.apply_layout`` and measurements still write clbit
``i`` for logical qubit ``i`` (sampled bitstrings come back in logical order).

Truncation. With ``mps_log_data`` Aer writes, for every operation, the bond dimensions after it
(``BD=[...]``) and, where an SVD dropped Schmidt coefficients, the sum of their squares
(``discarded_value``). :func:`truncation_of_log` reads both; ``prod(1 - discarded)`` over the
truncations is the usual estimate of the fidelity of the truncated state with the exact one
(Zhou, Stoudenmire & Waintal 2020). Aer keeps this log in one process-wide buffer that it never
clears (qiskit-aer 0.18: every logged run's metadata repeats all earlier logged runs, a few MB
per evaluation at 60 qubits), so it cannot be switched on for every evaluation:
:func:`diagnose` re-runs one chosen circuit with the log and reads only that run's part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.transpiler import Layout, PassManager
from qiskit.transpiler.passes import ApplyLayout, SetLayout

QubitOrder = Literal["none", "rcm"]

_BOND_DIMENSIONS = re.compile(r"BD=\[([^\]]*)\]")
_DISCARDED = re.compile(r"discarded_value=([0-9.eE+-]+)")


def interaction_graph(circuit: QuantumCircuit) -> np.ndarray:
    """Symmetric 0/1 adjacency of the qubit pairs that share a two-qubit gate (a barrier is not
    an interaction)."""
    n = circuit.num_qubits
    adjacency = np.zeros((n, n), dtype=np.int8)
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.num_qubits != 2 or operation.name == "barrier":
            continue
        i, j = (circuit.find_bit(q).index for q in instruction.qubits)
        adjacency[i, j] = adjacency[j, i] = 1
    return adjacency


def chain_positions(circuit: QuantumCircuit, order: QubitOrder) -> np.ndarray:
    """``positions[q]``: where logical qubit ``q`` sits on the MPS chain."""
    n = circuit.num_qubits
    if order == "none" or n < 3:
        return np.arange(n)
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    sequence = reverse_cuthill_mckee(csr_matrix(interaction_graph(circuit)), symmetric_mode=True)
    positions = np.empty(n, dtype=int)
    positions[sequence] = np.arange(n)
    return positions


def relabelled(circuit: QuantumCircuit, positions: np.ndarray) -> QuantumCircuit:
    """``circuit`` with logical qubit ``q`` on chain position ``positions[q]``, the permutation
    recorded as its layout (nothing is done for the identity)."""
    if np.array_equal(positions, np.arange(len(positions))):
        return circuit
    layout = Layout({circuit.qubits[q]: int(p) for q, p in enumerate(positions)})
    return PassManager([SetLayout(layout), ApplyLayout()]).run(circuit)


@dataclass(frozen=True)
class Truncation:
    """What one MPS simulation did to the state: the widest bond, how many SVDs dropped
    coefficients, their summed and largest discarded weight, and the fidelity estimate
    ``prod(1 - w)``."""

    max_bond_dimension: int
    truncations: int
    discarded_weight: float
    largest_discard: float
    fidelity_estimate: float

    def capped(self, cap: int, threshold: float) -> bool:
        """Whether the bond-dimension ``cap`` cut the state: an SVD trimmed by the truncation
        ``threshold`` alone discards less than ``threshold``, so one that discarded at least
        that much was cut by the cap."""
        return bool(cap and self.largest_discard > 0 and self.largest_discard >= threshold)


def truncation_of_log(log: str) -> Truncation:
    """The :class:`Truncation` of one run's part of Aer's ``MPS_log_data``."""
    bonds = " ".join(_BOND_DIMENSIONS.findall(log))
    widest = int(np.fromstring(bonds, dtype=np.int64, sep=" ").max()) if bonds.strip() else 1
    discarded = np.array(_DISCARDED.findall(log), dtype=float)
    return Truncation(
        max_bond_dimension=widest,
        truncations=len(discarded),
        discarded_weight=float(discarded.sum()),
        largest_discard=float(discarded.max(initial=0.0)),
        fidelity_estimate=float(np.prod(1.0 - discarded)),
    )


class _AerLog:
    """Aer's process-wide MPS log as seen by :func:`diagnose`: whether it accumulates across
    runs (found once with two one-gate runs) and how much of it earlier runs wrote."""

    accumulates: bool | None = None
    consumed = 0

    @classmethod
    def text(cls, simulator, circuit: QuantumCircuit) -> str:
        result = simulator.run(circuit, shots=1, mps_log_data=True).result()
        return result.results[0].metadata.get("MPS_log_data", "{}")[1:-1]

    @classmethod
    def own_part(cls, simulator, circuit: QuantumCircuit) -> str:
        """This run's part of the log of running ``circuit`` (measured) on ``simulator``."""
        if cls.accumulates is None:
            probe = QuantumCircuit(2)
            probe.cx(0, 1)
            probe.measure_all()
            first = cls.text(simulator, probe)
            second = cls.text(simulator, probe)
            cls.accumulates = len(second) > len(first)
            cls.consumed = len(second) if cls.accumulates else 0
        text = cls.text(simulator, circuit)
        if not cls.accumulates:
            return text
        own, cls.consumed = text[cls.consumed:], len(text)
        return own


def diagnose(simulator, circuit: QuantumCircuit) -> Truncation:
    """Run ``circuit`` (bound, with its measurements) once more with Aer's MPS log, one shot,
    and read what truncation did to its state."""
    return truncation_of_log(_AerLog.own_part(simulator, circuit))
