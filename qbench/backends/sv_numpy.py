"""Plain-NumPy twins of the state-vector kernels, for small states: nothing to compile.

The numba kernels (:mod:`qbench.backends.sv_kernels`) are compiled the first time they run (tens
of seconds with an empty numba cache, see ``qbench.compilation``), which on a state of a few
thousand amplitudes costs far more than the work. States of fewer than
``sv_kernel_sets.NUMPY_BELOW`` qubits therefore run on these functions instead: the same names,
arguments and results as the kernels the engine calls on such states (QAOA layouts themselves
evolve on :class:`qbench.backends.sv_gpu.ArrayQaoaEngine` with ``xp=numpy``). Each is written
for clarity on small arrays, not for speed or memory on large ones. They are part of the fast
CPU engine (:mod:`qbench.backends.sv_cpu`); the engine written to be read and checked against
is :mod:`qbench.backends.sv_reference`.

Layout conventions are the kernels': amplitude index bit ``q`` is qubit ``q``; a state in parts
is ``re``/``im`` in chunks of 2^L values ``pitch`` apart; ``index``/``values`` are logical.
"""

from __future__ import annotations

import numpy as np


def _logical(values: np.ndarray, L: int, pitch: int, count: int) -> np.ndarray:
    """The first ``count`` amplitudes of a chunked part (chunks of 2^L values, ``pitch`` apart)."""
    size = 1 << L
    chunks = count >> L
    return values[:chunks * pitch].reshape(chunks, pitch)[:, :size].reshape(-1)


def _squared(re: np.ndarray, im: np.ndarray, L: int, pitch: int, count: int) -> np.ndarray:
    r, i = _logical(re, L, pitch, count), _logical(im, L, pitch, count)
    return r.astype(np.float64) ** 2 + i.astype(np.float64) ** 2


# -- Ising diagonals -------------------------------------------------------------------------------
def ising_diagonal(h, J, L, out) -> None:
    """``out[z] = D(z)`` (``L`` is the kernels' tiling and does not matter here); integer ``out``
    gets the exactly rounded value of integer ``h``, ``J``."""
    from qbench.backends.sv_gpu import ising_values

    values = ising_values(np, h, J, h.shape[0])
    out[:] = np.rint(values) if out.dtype.kind in "iu" else values


def distinct_levels(values, lo, hi):
    """Distinct values of an integer vector in [lo, hi], ascending, and the position of each
    possible value among them."""
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[values - lo] = True
    position = (np.cumsum(present) - present).astype(np.int32)
    return np.flatnonzero(present).astype(np.int64) + lo, position


def remap(values, lo, position, index) -> None:
    index[:] = position[values - lo]


def compact_sorted(values, rank) -> int:
    """Distinct values of the ascending ``values`` moved to its front; ``rank[k]`` the position
    of ``values[k]``'s value among them. Returns their count."""
    if values.shape[0] == 0:
        return 0
    new = np.empty(values.shape[0], dtype=bool)
    new[0] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    rank[:] = np.cumsum(new) - 1
    distinct = values[new]
    values[:distinct.shape[0]] = distinct
    return int(distinct.shape[0])


def phase_table(levels, angle, out) -> None:
    """``out[k] = (cos, -sin)(angle * levels[k])``."""
    t = angle * levels.astype(np.float64)
    out[:, 0] = np.cos(t)
    out[:, 1] = -np.sin(t)


def cvar_ascending(levels, unit, constant, masses, alpha) -> float:
    """CVaR at ``alpha`` of ``unit * levels + constant`` (ascending) with unnormalised masses:
    the lowest ``alpha`` of the mass, the boundary level counted in part."""
    target = alpha * float(np.sum(masses))
    before = np.concatenate([[0.0], np.cumsum(masses)[:-1]])
    weights = np.clip(target - before, 0.0, masses)
    return unit * float(np.sum(levels * weights)) / target + constant


# -- reductions over a state in parts --------------------------------------------------------------
# (sums of products rather than ``@``: a BLAS dot's threads cost milliseconds to wake on a busy
# machine, see ``sv_gpu.ArrayQaoaEngine.expectation``)
def expect_table(re, im, index, values, L, pitch) -> float:
    return float(np.sum(_squared(re, im, L, pitch, index.shape[0]) * values[index]))


def expect_dense(re, im, diagonal, L, pitch) -> float:
    return float(np.sum(_squared(re, im, L, pitch, diagonal.shape[0]) * diagonal))


def level_probabilities(re, im, index, out, L, pitch) -> None:
    out[:] = np.bincount(index, weights=_squared(re, im, L, pitch, index.shape[0]), minlength=out.shape[0])


def probabilities_into(re, im, out, L, pitch) -> None:
    out[:] = _squared(re, im, L, pitch, out.shape[0])


# -- generic gates on a complex vector -------------------------------------------------------------
def apply_1q(psi, q, U) -> None:
    """A 2x2 unitary on qubit ``q``."""
    view = psi.reshape(-1, 2, 1 << q)
    a, b = view[:, 0, :].copy(), view[:, 1, :]
    view[:, 0, :] = U[0, 0] * a + U[0, 1] * b
    view[:, 1, :] = U[1, 0] * a + U[1, 1] * b


def apply_2q(psi, q0, q1, U) -> None:
    """A 4x4 unitary on qubits (q0, q1); matrix index = bit(q0) + 2 bit(q1) (Qiskit order)."""
    lo, hi = min(q0, q1), max(q0, q1)
    # axes: [above hi, bit hi, between, bit lo, below lo]
    view = psi.reshape(-1, 2, 1 << (hi - lo - 1), 2, 1 << lo)
    parts = [view[:, b1, :, b0, :].copy() if q0 == lo else view[:, b0, :, b1, :].copy()
             for b1 in (0, 1) for b0 in (0, 1)]  # amplitude of matrix index 2 b1 + b0
    U = np.asarray(U)
    for row, (b1, b0) in enumerate((b1, b0) for b1 in (0, 1) for b0 in (0, 1)):
        out = view[:, b1, :, b0, :] if q0 == lo else view[:, b0, :, b1, :]
        out[...] = U[row, 0] * parts[0] + U[row, 1] * parts[1] + U[row, 2] * parts[2] + U[row, 3] * parts[3]


def apply_diagonal_2q(psi, q0, q1, d) -> None:
    """A diagonal two-qubit gate: ``psi_z *= d[bit(q0) + 2 bit(q1)]``."""
    z = np.arange(psi.shape[0])
    psi *= np.asarray(d, dtype=psi.dtype)[((z >> q0) & 1) + 2 * ((z >> q1) & 1)]


def pauli_expectation(psi, xmask, zmask) -> complex:
    """``sum_k conj(psi[k ^ x]) (-1)^{|k & z|} psi[k]`` (without the i^{#Y})."""
    k = np.arange(psi.shape[0], dtype=np.int64)
    signs = 1.0 - 2.0 * (np.bitwise_count(k & int(zmask)) & 1)
    return complex(np.sum(np.conj(psi[k ^ int(xmask)]) * psi * signs))
