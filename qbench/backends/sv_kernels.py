"""Numba kernels of the in-process state-vector engine (``backend=statevector``).

Why hand-written: QOKit (JPMorgan) shows the fast way to simulate QAOA (a precomputed cost
diagonal, one phase pass per layer, mixers applied to blocks of qubits per memory pass), but its
PyPI release falls back to a pure-Python simulator here and pins an older Qiskit; Aer applies one
gate per pass. These kernels implement QOKit's approach for the circuits qbench builds.

Conventions: amplitude index bit ``q`` is qubit ``q`` (Qiskit's little-endian order); a Z term
has eigenvalue ``s_q = 1 - 2 x_q``. Every kernel works in place on a contiguous complex vector
(complex128 or complex64) and is multithreaded with ``prange`` over independent chunks.
"""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

# Numba's own thread pool ("workqueue") rather than OpenMP unless the user chose a layer: on a
# machine shared with other jobs, OpenMP's barriers stalled each parallel pass by up to 0.2 s
# (measured here: n=16 QAOA p=3, 0.09-0.34 s with omp vs 0.014-0.03 s with workqueue). The
# engine launches kernels from one thread at a time, which is all workqueue supports.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

#: Qubits handled per memory pass: the low block is a contiguous chunk of 2^LOW_BITS amplitudes
#: (64 KiB at complex128, in L2), a high block a tile of 2^HIGH_BITS strided runs of 2^RUN_BITS
#: contiguous amplitudes gathered into a local buffer (512 KiB at complex128).
LOW_BITS = 12
HIGH_BITS = 12
RUN_BITS = 3


# --------------------------------------------------------------------------------------------
# Ising diagonals:  D(z) = sum_q h_q s_q + sum_{q<r} J_qr s_q s_r
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _low_table(h, J, L):
    """D restricted to the terms among qubits 0..L-1, for every assignment of those bits."""
    size = 1 << L
    table = np.empty(size, dtype=np.float64)
    for k in range(size):
        v = 0.0
        for q in range(L):
            sq = 1.0 - 2.0 * ((k >> q) & 1)
            v += h[q] * sq
            for r in range(q + 1, L):
                v += J[q, r] * sq * (1.0 - 2.0 * ((k >> r) & 1))
        table[k] = v
    return table


@njit(cache=True, inline="always")
def _high_part(h, J, n, L, hi, field):
    """Terms among qubits >= L for the high bits ``hi`` (value returned), and the field they put
    on each low qubit (written to ``field``): D = high + low_table[lo] + sum_j field_j s_j."""
    e = 0.0
    for q in range(L, n):
        sq = 1.0 - 2.0 * ((hi >> (q - L)) & 1)
        e += h[q] * sq
        for r in range(q + 1, n):
            e += J[q, r] * sq * (1.0 - 2.0 * ((hi >> (r - L)) & 1))
    for j in range(L):
        f = 0.0
        for q in range(L, n):
            f += J[j, q] * (1.0 - 2.0 * ((hi >> (q - L)) & 1))
        field[j] = f
    return e


@njit(cache=True, inline="always")
def _linear_all(field, L, out):
    """``sum_j field_j s_j`` for every assignment of L bits, by doubling (2^L additions)."""
    total = 0.0
    for j in range(L):
        total += field[j]
    out[0] = total
    for j in range(L):
        step = 1 << j
        d = 2.0 * field[j]
        for k in range(step):
            out[k + step] = out[k] - d


@njit(parallel=True, cache=True)
def ising_diagonal(h, J, L, out):
    """Write D(z) for every basis state into ``out`` (float64 or int64/int32: the integer
    variant needs integer h, J and is then exact)."""
    n = h.shape[0]
    low = _low_table(h, J, L)
    size = 1 << L
    for hi in prange(out.shape[0] >> L):
        field = np.empty(L, dtype=np.float64)
        lin = np.empty(size, dtype=np.float64)
        e = _high_part(h, J, n, L, hi, field)
        _linear_all(field, L, lin)
        base = hi << L
        for lo in range(size):
            out[base + lo] = e + low[lo] + lin[lo]


@njit(cache=True)
def distinct_levels(values, lo, hi):
    """Distinct values of an integer vector with entries in [lo, hi] (sorted ascending) and the
    position of each possible value among them: O(N + range) with a presence table, no sort."""
    span = hi - lo + 1
    present = np.zeros(span, dtype=np.bool_)
    for k in range(values.shape[0]):
        present[values[k] - lo] = True
    position = np.empty(span, dtype=np.int32)
    count = 0
    for v in range(span):
        position[v] = count
        if present[v]:
            count += 1
    levels = np.empty(count, dtype=np.int64)
    for v in range(span):
        if present[v]:
            levels[position[v]] = v + lo
    return levels, position


@njit(parallel=True, cache=True)
def remap(values, lo, position, index):
    """index[k] = position[values[k] - lo] (``index`` may be ``values`` itself)."""
    for k in prange(values.shape[0]):
        index[k] = position[values[k] - lo]


# --------------------------------------------------------------------------------------------
# Product states, phases, blocked single-qubit layers
# --------------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def product_state(psi, vectors, L):
    """``psi = kron_q (vectors[q, 0] |0> + vectors[q, 1] |1>)`` (one write pass)."""
    n = vectors.shape[0]
    size = 1 << L
    low = np.ones(size, dtype=psi.dtype)
    for k in range(size):
        for q in range(L):
            low[k] *= vectors[q, (k >> q) & 1]
    for hi in prange(psi.shape[0] >> L):
        a = vectors[0, 0] * 0 + 1
        for q in range(L, n):
            a *= vectors[q, (hi >> (q - L)) & 1]
        base = hi << L
        for lo in range(size):
            psi[base + lo] = a * low[lo]


@njit(cache=True, inline="always")
def _pair_rx(f, i0, i1, c, s):
    """Butterfly of RX-type [[c, -is], [-is, c]] on amplitudes i0, i1 of the float view ``f``
    (re, im interleaved): half the multiplications of a general 2x2 matrix."""
    ar = f[2 * i0]
    ai = f[2 * i0 + 1]
    br = f[2 * i1]
    bi = f[2 * i1 + 1]
    f[2 * i0] = c * ar + s * bi
    f[2 * i0 + 1] = c * ai - s * br
    f[2 * i1] = c * br + s * ai
    f[2 * i1 + 1] = c * bi - s * ar


@njit(cache=True, inline="always")
def _pair(f, i0, i1, m):
    """Butterfly with the 2x2 matrix ``m = [u00r, u00i, u01r, u01i, u10r, u10i, u11r, u11i]``."""
    ar = f[2 * i0]
    ai = f[2 * i0 + 1]
    br = f[2 * i1]
    bi = f[2 * i1 + 1]
    f[2 * i0] = m[0] * ar - m[1] * ai + m[2] * br - m[3] * bi
    f[2 * i0 + 1] = m[0] * ai + m[1] * ar + m[2] * bi + m[3] * br
    f[2 * i1] = m[4] * ar - m[5] * ai + m[6] * br - m[7] * bi
    f[2 * i1 + 1] = m[4] * ai + m[5] * ar + m[6] * bi + m[7] * br


@njit(cache=True, inline="always")
def _gates_in_chunk(f, base, size, M, rx, first, count):
    """Apply gate M[first + j] to bit j of the contiguous chunk [base, base + size)."""
    for j in range(count):
        m = M[first + j]
        c = m[0]
        s = -m[3]
        step = 1 << j
        if rx:  # the loop is duplicated so that each copy has no branch inside
            for start in range(base, base + size, 2 * step):
                for i0 in range(start, start + step):
                    _pair_rx(f, i0, i0 + step, c, s)
        else:
            for start in range(base, base + size, 2 * step):
                for i0 in range(start, start + step):
                    _pair(f, i0, i0 + step, m)


@njit(parallel=True, cache=True, fastmath=True)
def phase_table_low_block(f, index, table, M, rx, L):
    """One pass: ``psi *= table[index]`` (the cost phase: one complex number per distinct cost
    value, ``table`` as (re, im) rows), then the gates M on the low L qubits, chunk by chunk
    while the chunk is in cache."""
    size = 1 << L
    for c in prange((f.shape[0] >> 1) >> L):
        base = c << L
        for i in range(base, base + size):
            k = index[i]
            pr = table[k, 0]
            pi = table[k, 1]
            ar = f[2 * i]
            ai = f[2 * i + 1]
            f[2 * i] = ar * pr - ai * pi
            f[2 * i + 1] = ar * pi + ai * pr
        _gates_in_chunk(f, base, size, M, rx, 0, L)


@njit(parallel=True, cache=True, fastmath=True)
def phase_dense_low_block(f, diagonal, gamma, M, rx, L):
    """As :func:`phase_table_low_block` with ``exp(-i gamma D(z))`` from a dense diagonal."""
    size = 1 << L
    for c in prange((f.shape[0] >> 1) >> L):
        base = c << L
        for i in range(base, base + size):
            t = gamma * diagonal[i]
            pr = np.cos(t)
            pi = -np.sin(t)
            ar = f[2 * i]
            ai = f[2 * i + 1]
            f[2 * i] = ar * pr - ai * pi
            f[2 * i + 1] = ar * pi + ai * pr
        _gates_in_chunk(f, base, size, M, rx, 0, L)


@njit(parallel=True, cache=True, fastmath=True)
def phase_ising_low_block(f, h, J, M, rx, L):
    """As :func:`phase_table_low_block` with ``exp(-i D(z))`` for an Ising diagonal whose
    coefficients already include the angles (multi-angle QAOA), computed on the fly."""
    n = h.shape[0]
    size = 1 << L
    low = _low_table(h, J, L)
    for c in prange((f.shape[0] >> 1) >> L):
        field = np.empty(L, dtype=np.float64)
        lin = np.empty(size, dtype=np.float64)
        e = _high_part(h, J, n, L, c, field)
        _linear_all(field, L, lin)
        base = c << L
        for lo in range(size):
            t = e + low[lo] + lin[lo]
            pr = np.cos(t)
            pi = -np.sin(t)
            i = base + lo
            ar = f[2 * i]
            ai = f[2 * i + 1]
            f[2 * i] = ar * pr - ai * pi
            f[2 * i + 1] = ar * pi + ai * pr
        _gates_in_chunk(f, base, size, M, rx, 0, L)


@njit(parallel=True, cache=True, fastmath=True)
def low_block(f, M, rx, L):
    """Gates M on the low L qubits, chunk by chunk (no phase)."""
    size = 1 << L
    for c in prange((f.shape[0] >> 1) >> L):
        _gates_in_chunk(f, c << L, size, M, rx, 0, L)


@njit(parallel=True, cache=True, fastmath=True)
def high_block(f, M, rx, first, count, run_bits=RUN_BITS):
    """Gates M[first:first+count] on qubits first.. in one memory pass. Each tile (all 2^count
    values of those bits x a run of contiguous amplitudes) is gathered into a local buffer,
    transposed so that each run's 2^count amplitudes are contiguous (no cache-set conflicts
    from the power-of-two stride; the low-block code then applies), and written back."""
    run = 1 << min(run_bits, first)
    runs_per_stride = (1 << first) // run
    m = 1 << count
    tiles = (f.shape[0] >> 1) // (m * run)
    gates = M[first:]
    for t in prange(tiles):
        low_part = (t % runs_per_stride) * run
        outer = t // runs_per_stride
        base = (outer << (first + count)) + low_part
        buf = np.empty(2 * m * run, dtype=f.dtype)
        for k in range(m):
            src = 2 * (base + (k << first))
            for r in range(run):
                buf[2 * (r * m + k)] = f[src + 2 * r]
                buf[2 * (r * m + k) + 1] = f[src + 2 * r + 1]
        for r in range(run):
            _gates_in_chunk(buf, r * m, m, gates, rx, 0, count)
        for k in range(m):
            dst = 2 * (base + (k << first))
            for r in range(run):
                f[dst + 2 * r] = buf[2 * (r * m + k)]
                f[dst + 2 * r + 1] = buf[2 * (r * m + k) + 1]


def single_qubit_layer(f: np.ndarray, M: np.ndarray, rx: bool, low_bits: int, high_bits: int,
                       low_done: bool = False) -> None:
    """Apply gate ``M[q]`` to every qubit ``q``: the low block of ``low_bits`` qubits (unless a
    fused phase pass did it), then the higher qubits ``high_bits`` at a time."""
    n = M.shape[0]
    if not low_done:
        low_block(f, M, rx, low_bits)
    first = low_bits
    while first < n:
        count = min(high_bits, n - first)
        high_block(f, M, rx, first, count)
        first += count


# --------------------------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def expect_table(psi, index, values):
    """sum_z |psi_z|^2 values[index_z]."""
    total = 0.0
    for i in prange(psi.shape[0]):
        a = psi[i]
        total += (a.real * a.real + a.imag * a.imag) * values[index[i]]
    return total


@njit(parallel=True, cache=True)
def expect_dense(psi, diagonal):
    """sum_z |psi_z|^2 D(z)."""
    total = 0.0
    for i in prange(psi.shape[0]):
        a = psi[i]
        total += (a.real * a.real + a.imag * a.imag) * diagonal[i]
    return total


@njit(cache=True)
def level_probabilities(psi, index, count):
    """Probability of each distinct cost value (a histogram of |psi|^2 over ``index``)."""
    out = np.zeros(count, dtype=np.float64)
    for i in range(psi.shape[0]):
        a = psi[i]
        out[index[i]] += a.real * a.real + a.imag * a.imag
    return out


@njit(parallel=True, cache=True)
def probabilities_into(psi, out):
    for i in prange(psi.shape[0]):
        a = psi[i]
        out[i] = a.real * a.real + a.imag * a.imag


# --------------------------------------------------------------------------------------------
# Generic gates (circuits that are not QAOA layouts)
# --------------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def apply_1q(psi, q, U):
    """A 2x2 unitary on qubit q (one pass over the pairs)."""
    u00, u01, u10, u11 = U[0, 0], U[0, 1], U[1, 0], U[1, 1]
    step = 1 << q
    half = psi.shape[0] >> 1
    for k in prange(half):
        i0 = ((k >> q) << (q + 1)) | (k & (step - 1))
        i1 = i0 | step
        a = psi[i0]
        b = psi[i1]
        psi[i0] = u00 * a + u01 * b
        psi[i1] = u10 * a + u11 * b


@njit(parallel=True, cache=True)
def apply_2q(psi, q0, q1, U):
    """A 4x4 unitary on qubits (q0, q1); matrix index = bit(q0) + 2 bit(q1) (Qiskit order)."""
    lo = min(q0, q1)
    hi = max(q0, q1)
    b0 = 1 << q0
    b1 = 1 << q1
    quarter = psi.shape[0] >> 2
    for k in prange(quarter):
        i = ((k >> lo) << (lo + 1)) | (k & ((1 << lo) - 1))
        i = ((i >> hi) << (hi + 1)) | (i & ((1 << hi) - 1))
        i00 = i
        i01 = i | b0
        i10 = i | b1
        i11 = i | b0 | b1
        a0 = psi[i00]
        a1 = psi[i01]
        a2 = psi[i10]
        a3 = psi[i11]
        psi[i00] = U[0, 0] * a0 + U[0, 1] * a1 + U[0, 2] * a2 + U[0, 3] * a3
        psi[i01] = U[1, 0] * a0 + U[1, 1] * a1 + U[1, 2] * a2 + U[1, 3] * a3
        psi[i10] = U[2, 0] * a0 + U[2, 1] * a1 + U[2, 2] * a2 + U[2, 3] * a3
        psi[i11] = U[3, 0] * a0 + U[3, 1] * a1 + U[3, 2] * a2 + U[3, 3] * a3


@njit(parallel=True, cache=True)
def apply_diagonal_2q(psi, q0, q1, d):
    """A diagonal two-qubit gate (CZ, RZZ, CP, ...): psi_z *= d[bit(q0) + 2 bit(q1)]."""
    for i in prange(psi.shape[0]):
        psi[i] *= d[((i >> q0) & 1) + 2 * ((i >> q1) & 1)]


@njit(cache=True, inline="always")
def _parity(v):
    v ^= v >> 32
    v ^= v >> 16
    v ^= v >> 8
    v ^= v >> 4
    v ^= v >> 2
    v ^= v >> 1
    return v & 1


@njit(parallel=True, cache=True)
def pauli_expectation(psi, xmask, zmask):
    """sum_k conj(psi[k ^ x]) (-1)^{|k & z|} psi[k]: <psi| X^x Z^z |psi> without the i^{#Y}."""
    re = 0.0
    im = 0.0
    for k in prange(psi.shape[0]):
        v = np.conj(psi[k ^ xmask]) * psi[k]
        if _parity(np.int64(k) & zmask):
            v = -v
        re += v.real
        im += v.imag
    return re + 1j * im


def gate_rows(U: np.ndarray) -> np.ndarray:
    """2x2 matrices (k, 2, 2) as the kernels' rows [u00r, u00i, u01r, u01i, u10r, u10i, u11r, u11i]."""
    flat = np.asarray(U, dtype=np.complex128).reshape(len(U), 4)
    return np.ascontiguousarray(np.stack([flat.real, flat.imag], axis=-1).reshape(len(U), 8))
