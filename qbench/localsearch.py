"""Bit-flip local search on a QUBO: the post-processing of decoded answers (PCE).

Variable-neighbourhood descent: take the best single-bit flip while one lowers the energy; when
none does, try the best flip of two bits, then of three, and after any improvement go back to
single flips. It stops at a state no flip of up to ``depth`` bits improves. This is the
comparative study's "bit-swap search" (single flips, then pairs and triples), made deterministic
(best improvement, lowest index on ties) so that a run is reproducible.

Written here because the library descents at hand (dwave-samplers' ``SteepestDescentSolver``)
flip one bit at a time only. The energy changes of every 1-, 2- and 3-flip are computed at
once from the QUBO: with ``S = Q + Q^T`` and ``delta_i = 1 - 2 x_i``, flipping the set ``T``
changes the energy by ``sum_{i in T} d_i + sum_{i<j in T} S_ij delta_i delta_j`` where
``d_i = delta_i (l_i + (S x)_i)`` is the single-flip change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbench.qubo import Qubo

#: Neighbourhood names and the largest number of bits flipped together.
DEPTHS = {"none": 0, "single": 1, "double": 2, "triple": 3}

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LocalSearchResult:
    bits: np.ndarray
    energy: float
    moves: int


def local_search(qubo: Qubo, bits: np.ndarray, depth: int, max_moves: int = 100_000) -> LocalSearchResult:
    """Descend from ``bits`` with flips of up to ``depth`` (0-3) bits; see the module docstring."""
    if not 0 <= depth <= 3:
        raise ValueError(f"depth must be 0..3, got {depth}")
    x = np.asarray(bits, dtype=np.int8).copy()
    symmetric = qubo.quadratic + qubo.quadratic.T
    moves = 0
    while depth and moves < max_moves:
        flips = _best_flip(qubo.linear, symmetric, x, depth)
        if flips is None:
            break
        x[list(flips)] ^= 1
        moves += 1
    return LocalSearchResult(bits=x, energy=qubo.energy(x), moves=moves)


def _best_flip(linear: np.ndarray, symmetric: np.ndarray, x: np.ndarray, depth: int) -> tuple[int, ...] | None:
    """The improving flip of fewest bits (best within that size), or ``None``."""
    delta = 1.0 - 2.0 * x
    single = delta * (linear + symmetric @ x)
    n = len(x)
    if n == 0:
        return None
    if single.min() < -_TOLERANCE:
        return (int(np.argmin(single)),)
    if depth < 2 or n < 2:
        return None
    pair_term = symmetric * np.outer(delta, delta)
    pairs = single[:, None] + single[None, :] + pair_term
    pairs[np.tril_indices(n)] = np.inf  # i < j only
    if pairs.min() < -_TOLERANCE:
        return tuple(int(v) for v in np.unravel_index(np.argmin(pairs), pairs.shape))
    if depth < 3 or n < 3:
        return None
    triples = (
        pairs[:, :, None]
        + single[None, None, :]
        + pair_term[:, None, :]
        + pair_term[None, :, :]
    )
    i, j, k = np.indices((n, n, n), sparse=True)
    triples = np.where((i < j) & (j < k), triples, np.inf)
    if triples.min() < -_TOLERANCE:
        return tuple(int(v) for v in np.unravel_index(np.argmin(triples), triples.shape))
    return None
