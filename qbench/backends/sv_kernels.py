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
#: (256 KiB at complex128, twice: the tile and its transpose, in L2), a high block a tile of
#: 2^HIGH_BITS strided runs of 2^ROW_BITS contiguous amplitudes (1 MiB at complex128).
LOW_BITS = 12
HIGH_BITS = 12
RUN_BITS = 6


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


@njit(cache=True)
def phase_table(levels, angle, out):
    """``out[k] = (cos, -sin)(angle * levels[k])`` for sorted integer levels: the phase of each
    distinct cost value. Many levels over a range R are done as products of two tables of about
    sqrt(R) angles (one complex product per level instead of a sin and a cos; measured 0.2 ms
    per layer for 10^4 levels with numpy's cos/sin); the phase differs from the direct one by a
    few ulps of the angle."""
    count = levels.shape[0]
    lo = levels[0]
    span = levels[count - 1] - lo + 1
    shift = 0
    while (1 << (2 * shift)) < span:
        shift += 1
    K = 1 << shift
    nq = (span >> shift) + 1
    if count <= 2 * (nq + K):
        for k in range(count):
            t = angle * levels[k]
            out[k, 0] = np.cos(t)
            out[k, 1] = -np.sin(t)
        return
    a_re = np.empty(nq)
    a_im = np.empty(nq)
    for q in range(nq):
        t = angle * (lo + (q << shift))
        a_re[q] = np.cos(t)
        a_im[q] = np.sin(t)
    b_re = np.empty(K)
    b_im = np.empty(K)
    for r in range(K):
        t = angle * r
        b_re[r] = np.cos(t)
        b_im[r] = np.sin(t)
    for k in range(count):
        d = levels[k] - lo
        q = d >> shift
        r = d & (K - 1)
        out[k, 0] = a_re[q] * b_re[r] - a_im[q] * b_im[r]
        out[k, 1] = -(a_re[q] * b_im[r] + a_im[q] * b_re[r])


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


# Butterflies run on structure-of-arrays copies of cache-sized tiles (real and imaginary parts in
# separate buffers), arranged so that every gate pairs contiguous rows of at least 2^ROW_BITS
# amplitudes: LLVM then vectorises the inner loops (AVX2/AVX-512). On the interleaved complex
# vector the stride-1 and stride-2 qubits and the re/im swap of -i*sin kept every butterfly
# scalar, and rows of 8 still ran at the scalar speed (measured: 0.73 ns per amplitude and gate
# for rows of 8, 0.18 for 64, 0.13 for 1024).
ROW_BITS = 6


@njit(cache=True, inline="always")
def _rx_rows(re, im, a, b, count, c, s):
    """RX-type [[c, -is], [-is, c]] on the rows [a, a+count) and [b, b+count). Slices, not
    offset indexing: with them LLVM proves the accesses non-negative and vectorises."""
    ra = re[a:a + count]
    ia = im[a:a + count]
    rb = re[b:b + count]
    ib = im[b:b + count]
    for t in range(count):
        ar = ra[t]
        ai = ia[t]
        br = rb[t]
        bi = ib[t]
        ra[t] = c * ar + s * bi
        ia[t] = c * ai - s * br
        rb[t] = c * br + s * ai
        ib[t] = c * bi - s * ar


@njit(cache=True, inline="always")
def _general_rows(re, im, a, b, count, m):
    """The 2x2 matrix ``m = [u00r, u00i, u01r, u01i, u10r, u10i, u11r, u11i]`` on two rows."""
    ra = re[a:a + count]
    ia = im[a:a + count]
    rb = re[b:b + count]
    ib = im[b:b + count]
    for t in range(count):
        ar = ra[t]
        ai = ia[t]
        br = rb[t]
        bi = ib[t]
        ra[t] = m[0] * ar - m[1] * ai + m[2] * br - m[3] * bi
        ia[t] = m[0] * ai + m[1] * ar + m[2] * bi + m[3] * br
        rb[t] = m[4] * ar - m[5] * ai + m[6] * br - m[7] * bi
        ib[t] = m[4] * ai + m[5] * ar + m[6] * bi + m[7] * br


@njit(cache=True, inline="always")
def _rx4_rows(re, im, a, b, c, d, count, c1, s1, c2, s2):
    """Two RX-type gates in one sweep over four rows: (c1, s1) on the pairs (a, b), (c, d),
    then (c2, s2) on (a, c), (b, d). Half the loads and stores of two separate sweeps."""
    ra = re[a:a + count]
    ia = im[a:a + count]
    rb = re[b:b + count]
    ib = im[b:b + count]
    rc = re[c:c + count]
    ic = im[c:c + count]
    rd = re[d:d + count]
    id_ = im[d:d + count]
    for t in range(count):
        ar = ra[t]
        ai = ia[t]
        br = rb[t]
        bi = ib[t]
        cr = rc[t]
        ci = ic[t]
        dr = rd[t]
        di = id_[t]
        ar, ai, br, bi = c1 * ar + s1 * bi, c1 * ai - s1 * br, c1 * br + s1 * ai, c1 * bi - s1 * ar
        cr, ci, dr, di = c1 * cr + s1 * di, c1 * ci - s1 * dr, c1 * dr + s1 * ci, c1 * di - s1 * cr
        ra[t] = c2 * ar + s2 * ci
        ia[t] = c2 * ai - s2 * cr
        rc[t] = c2 * cr + s2 * ai
        ic[t] = c2 * ci - s2 * ar
        rb[t] = c2 * br + s2 * di
        ib[t] = c2 * bi - s2 * dr
        rd[t] = c2 * dr + s2 * bi
        id_[t] = c2 * di - s2 * br


@njit(cache=True, inline="always")
def _gate(re, im, size, position, m, rx):
    """Gate ``m`` on bit ``position`` of the tile index (rows of 2^position amplitudes)."""
    stride = 1 << position
    for start in range(0, size, 2 * stride):
        if rx:
            _rx_rows(re, im, start, start + stride, stride, m[0], -m[3])
        else:
            _general_rows(re, im, start, start + stride, stride, m)


@njit(cache=True, inline="always")
def _gates(re, im, size, low, high, M, first, rx):
    """Gates M[first + j - low] on tile bits j = low..high-1 (rows of >= 2^low amplitudes); RX
    gates two at a time (:func:`_rx4_rows`)."""
    j = low
    while j < high:
        if rx and j + 1 < high:
            m1 = M[first + j - low]
            m2 = M[first + j + 1 - low]
            s1 = 1 << j
            s2 = s1 << 1
            for start in range(0, size, 2 * s2):
                _rx4_rows(re, im, start, start + s1, start + s2, start + s1 + s2, s1,
                          m1[0], -m1[3], m2[0], -m2[3])
            j += 2
        else:
            _gate(re, im, size, j, M[first + j - low], rx)
            j += 1


#: Row pitch padding (amplitudes) of a transposed tile: rows a power of two apart would share
#: the same few L1 sets (measured: a 256 x 64 transpose ran 4x slower than 64 x 64).
PAD = 8


@njit(cache=True, inline="always")
def _tile(f, base, first, count, run_bits, M, rx, re, im, re2, im2):
    """Gates M[first + j] (j < count) on a tile held in ``re, im`` as ``k * run + r`` (k: the
    gate bits, r: 2^run_bits contiguous amplitudes at ``base + (k << first) + r``), then the
    tile written back to ``f``. Gate j sits on tile bit ``run_bits + j``; the gates whose rows
    would be shorter than 2^ROW_BITS are applied to a transposed copy whose rows are indexed by
    the low ROW_BITS tile bits (padded pitch), which is then transposed back. Tiles smaller
    than 2^(2 ROW_BITS) amplitudes use short rows and no transpose. ``re2, im2`` hold
    ``_transposed_size(size)`` values. All copies go through slices: offset indexing into the
    big vector kept them scalar (measured: 8.2 ns per amplitude for the low pass, 3.6 after)."""
    bits = count + run_bits
    size = 1 << bits
    run = 1 << run_bits
    split = ROW_BITS if bits >= 2 * ROW_BITS else 0
    start_bit = max(run_bits, split)
    _gates(re, im, size, start_bit, run_bits + count, M, first + start_bit - run_bits, rx)
    if run_bits < split:
        rows = size >> split
        width = 1 << split
        pitch = rows + PAD
        for b in range(width):  # transpose: element g * width + b goes to row b, column g
            r2 = re2[b * pitch:b * pitch + rows]
            i2 = im2[b * pitch:b * pitch + rows]
            for g in range(rows):
                r2[g] = re[g * width + b]
                i2[g] = im[g * width + b]
        p = run_bits
        while p < min(split, run_bits + count):
            m = M[first + p - run_bits]
            if rx and p + 1 < min(split, run_bits + count):
                m2 = M[first + p + 1 - run_bits]
                for b in range(width):
                    if (b >> p) & 3 == 0:
                        _rx4_rows(re2, im2, b * pitch, (b + (1 << p)) * pitch, (b + (2 << p)) * pitch,
                                  (b + (3 << p)) * pitch, rows, m[0], -m[3], m2[0], -m2[3])
                p += 2
                continue
            for b in range(width):
                if (b >> p) & 1 == 0:
                    partner = b + (1 << p)
                    if rx:
                        _rx_rows(re2, im2, b * pitch, partner * pitch, rows, m[0], -m[3])
                    else:
                        _general_rows(re2, im2, b * pitch, partner * pitch, rows, m)
            p += 1
        for b in range(width):
            r2 = re2[b * pitch:b * pitch + rows]
            i2 = im2[b * pitch:b * pitch + rows]
            for g in range(rows):
                re[g * width + b] = r2[g]
                im[g * width + b] = i2[g]
    for k in range(1 << count):
        dst = 2 * (base + (k << first))
        fv = f[dst:dst + 2 * run]
        rv = re[k * run:(k + 1) * run]
        iv = im[k * run:(k + 1) * run]
        for r in range(run):
            fv[2 * r] = rv[r]
            fv[2 * r + 1] = iv[r]


@njit(cache=True, inline="always")
def _transposed_size(size):
    return ((size >> ROW_BITS) + PAD) << ROW_BITS


@njit(cache=True, inline="always")
def _low_gates_store(f, base, L, M, rx, re, im, re2, im2):
    """Gates M[0:L] on the contiguous chunk of 2^L amplitudes at ``base`` held in ``re, im``."""
    _tile(f, base, 0, L, 0, M, rx, re, im, re2, im2)


@njit(parallel=True, cache=True, fastmath=True)
def phase_table_low_block(f, index, table, M, rx, L, uniform=-1.0):
    """One pass: ``psi *= table[index]`` (the cost phase: one complex number per distinct cost
    value, ``table`` as (re, im) rows), then the gates M on the low L qubits, chunk by chunk
    while the chunk is in cache. ``uniform >= 0``: the state is taken to be that real constant
    everywhere and not read (the first layer of QAOA from |+>^n: no initial-state pass)."""
    size = 1 << L
    for c in prange((f.shape[0] >> 1) >> L):
        re = np.empty(size, dtype=f.dtype)
        im = np.empty(size, dtype=f.dtype)
        re2 = np.empty(_transposed_size(size), dtype=f.dtype)
        im2 = np.empty(_transposed_size(size), dtype=f.dtype)
        base = c << L
        fv = f[2 * base:2 * (base + size)]
        iv = index[base:base + size]
        if uniform >= 0:
            for lo in range(size):
                k = iv[lo]
                re[lo] = uniform * table[k, 0]
                im[lo] = uniform * table[k, 1]
        else:
            for lo in range(size):
                k = iv[lo]
                pr = table[k, 0]
                pi = table[k, 1]
                ar = fv[2 * lo]
                ai = fv[2 * lo + 1]
                re[lo] = ar * pr - ai * pi
                im[lo] = ar * pi + ai * pr
        _low_gates_store(f, base, L, M, rx, re, im, re2, im2)


@njit(parallel=True, cache=True, fastmath=True)
def phase_dense_low_block(f, diagonal, gamma, M, rx, L):
    """As :func:`phase_table_low_block` with ``exp(-i gamma D(z))`` from a dense diagonal."""
    size = 1 << L
    for c in prange((f.shape[0] >> 1) >> L):
        re = np.empty(size, dtype=f.dtype)
        im = np.empty(size, dtype=f.dtype)
        re2 = np.empty(_transposed_size(size), dtype=f.dtype)
        im2 = np.empty(_transposed_size(size), dtype=f.dtype)
        base = c << L
        fv = f[2 * base:2 * (base + size)]
        dv = diagonal[base:base + size]
        for lo in range(size):
            t = gamma * dv[lo]
            pr = np.cos(t)
            pi = -np.sin(t)
            ar = fv[2 * lo]
            ai = fv[2 * lo + 1]
            re[lo] = ar * pr - ai * pi
            im[lo] = ar * pi + ai * pr
        _low_gates_store(f, base, L, M, rx, re, im, re2, im2)


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
        re = np.empty(size, dtype=f.dtype)
        im = np.empty(size, dtype=f.dtype)
        re2 = np.empty(_transposed_size(size), dtype=f.dtype)
        im2 = np.empty(_transposed_size(size), dtype=f.dtype)
        e = _high_part(h, J, n, L, c, field)
        _linear_all(field, L, lin)
        base = c << L
        fv = f[2 * base:2 * (base + size)]
        for lo in range(size):
            t = e + low[lo] + lin[lo]
            pr = np.cos(t)
            pi = -np.sin(t)
            ar = fv[2 * lo]
            ai = fv[2 * lo + 1]
            re[lo] = ar * pr - ai * pi
            im[lo] = ar * pi + ai * pr
        _low_gates_store(f, base, L, M, rx, re, im, re2, im2)


@njit(parallel=True, cache=True, fastmath=True)
def low_block(f, M, rx, L):
    """Gates M on the low L qubits, chunk by chunk (no phase)."""
    size = 1 << L
    for c in prange((f.shape[0] >> 1) >> L):
        re = np.empty(size, dtype=f.dtype)
        im = np.empty(size, dtype=f.dtype)
        re2 = np.empty(_transposed_size(size), dtype=f.dtype)
        im2 = np.empty(_transposed_size(size), dtype=f.dtype)
        base = c << L
        fv = f[2 * base:2 * (base + size)]
        for lo in range(size):
            re[lo] = fv[2 * lo]
            im[lo] = fv[2 * lo + 1]
        _low_gates_store(f, base, L, M, rx, re, im, re2, im2)


@njit(parallel=True, cache=True, fastmath=True)
def high_block(f, M, rx, first, count, run_bits=RUN_BITS):
    """Gates M[first:first+count] on qubits first.. in one memory pass. Each tile (all 2^count
    values of those bits x a run of 2^run_bits contiguous amplitudes) is copied into
    structure-of-arrays buffers, processed (:func:`_tile`) and written back."""
    run_bits = min(run_bits, first)
    run = 1 << run_bits
    runs_per_stride = (1 << first) // run
    m = 1 << count
    size = m * run
    tiles = (f.shape[0] >> 1) // size
    for t in prange(tiles):
        low_part = (t % runs_per_stride) * run
        outer = t // runs_per_stride
        base = (outer << (first + count)) + low_part
        re = np.empty(size, dtype=f.dtype)
        im = np.empty(size, dtype=f.dtype)
        re2 = np.empty(_transposed_size(size), dtype=f.dtype)
        im2 = np.empty(_transposed_size(size), dtype=f.dtype)
        for k in range(m):
            src = 2 * (base + (k << first))
            fv = f[src:src + 2 * run]
            rv = re[k * run:(k + 1) * run]
            iv = im[k * run:(k + 1) * run]
            for r in range(run):
                rv[r] = fv[2 * r]
                iv[r] = fv[2 * r + 1]
        _tile(f, base, first, count, run_bits, M, rx, re, im, re2, im2)


def single_qubit_layer(f: np.ndarray, M: np.ndarray, rx: bool, low_bits: int, high_bits: int = HIGH_BITS,
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
