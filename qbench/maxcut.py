"""A QUBO as a weighted Max-Cut on ``n + 1`` nodes, and a cut back as QUBO bits.

Any QUBO over ``x in {0,1}^n`` is a weighted Max-Cut on the ``n`` variables plus one *anchor*
node (Barahona et al. 1988): with spins ``s`` and ``x_i = (1 - s_i s_anchor) / 2`` (variable
``i`` is 1 exactly when node ``i`` is on the other side of the cut from the anchor),

    E(x) = offset - cut(s),    cut(s) = sum_{i<j} w_ij (1 - s_i s_j) / 2,

so minimising the energy is maximising the cut. The weights come from the QUBO's Ising form
(:meth:`qbench.qubo.Qubo.to_ising`): a coupling ``J_ij Z_i Z_j`` becomes the edge ``w_ij = 2 J_ij``
and a field ``h_i Z_i`` the edge ``w_{i,anchor} = 2 h_i``. Weights can have either sign. Both
sides of a cut give the same bits, which is why only the anchor's relative side matters.

PCE maps this graph's nodes to Pauli correlators; graph shrinking merges its nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from qbench.qubo import Qubo


@dataclass(frozen=True, eq=False)
class MaxCut:
    """A weighted Max-Cut instance: symmetric ``weights`` with zero diagonal over
    ``num_nodes = n + 1`` nodes, the anchor last; ``offset`` makes ``E(x) = offset - cut``."""

    weights: np.ndarray
    offset: float

    @property
    def num_nodes(self) -> int:
        return int(self.weights.shape[0])

    @property
    def anchor(self) -> int:
        """The node whose side defines ``x = 0`` (the last one)."""
        return self.num_nodes - 1

    def cut_value(self, sides: np.ndarray) -> float:
        """Total weight of the edges cut by ``sides`` (0/1 per node)."""
        return float(self.cut_values(np.asarray(sides)[None, :])[0])

    def cut_values(self, sides: np.ndarray) -> np.ndarray:
        """Cut values of a batch of 0/1 side assignments, one per row."""
        spins = 1.0 - 2.0 * np.asarray(sides, dtype=float)
        total = self.weights.sum() / 2
        return total / 2 - np.einsum("ki,ij,kj->k", spins, self.weights, spins) / 4

    def graph(self) -> nx.Graph:
        """The instance as a networkx graph with ``weight`` edge attributes (nonzero edges only)."""
        g = nx.Graph()
        g.add_nodes_from(range(self.num_nodes))
        rows, cols = np.nonzero(np.triu(self.weights, 1))
        g.add_weighted_edges_from((int(i), int(j), float(self.weights[i, j])) for i, j in zip(rows, cols))
        return g


def qubo_to_maxcut(qubo: Qubo) -> MaxCut:
    """The weighted Max-Cut on ``n + 1`` nodes whose cuts are the QUBO's assignments
    (``E(x) = offset - cut``; see the module docstring)."""
    n = qubo.num_variables
    op, constant = qubo.to_ising()
    weights = np.zeros((n + 1, n + 1))
    for label, qubits, coeff in op.to_sparse_list():
        pair = list(qubits) if len(qubits) == 2 else [qubits[0], n] if len(qubits) == 1 else None
        if pair is None:  # the identity term
            constant += float(np.real(coeff))
            continue
        if set(label) != {"Z"}:
            raise ValueError(f"not an Ising term: {label}")
        i, j = pair
        weights[i, j] += 2 * float(np.real(coeff))
        weights[j, i] = weights[i, j]
    # E = constant + sum_{i<j} (w_ij / 2) s_i s_j = constant + W/2 - cut, with W the total weight.
    return MaxCut(weights=weights, offset=float(constant + np.triu(weights, 1).sum() / 2))


def cut_to_bits(sides: np.ndarray) -> np.ndarray:
    """QUBO bits of a cut (0/1 side per node, anchor last): ``x_i = side_i XOR side_anchor``.
    Works on one cut or a batch (one per row)."""
    sides = np.asarray(sides, dtype=np.int8)
    return np.bitwise_xor(sides[..., :-1], sides[..., -1:])


def bits_to_cut(bits: np.ndarray) -> np.ndarray:
    """The cut of QUBO bits with the anchor on side 0 (the inverse of :func:`cut_to_bits`)."""
    bits = np.asarray(bits, dtype=np.int8)
    return np.concatenate([bits, np.zeros(bits.shape[:-1] + (1,), dtype=np.int8)], axis=-1)
