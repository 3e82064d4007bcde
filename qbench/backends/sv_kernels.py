"""Numba kernels of the in-process state-vector engine (``backend=statevector``).

Why hand-written: QOKit (JPMorgan) shows the fast way to simulate QAOA (a precomputed cost
diagonal, one phase pass per layer, mixers applied to blocks of qubits per memory pass), but its
PyPI release falls back to a pure-Python simulator here and pins an older Qiskit; Aer applies one
gate per pass. These kernels implement QOKit's approach for the circuits qbench builds.

Conventions: amplitude index bit ``q`` is qubit ``q`` (Qiskit's little-endian order); a Z term
has eigenvalue ``s_q = 1 - 2 x_q``. Every kernel works in place on a contiguous complex vector
(complex128 or complex64) and is multithreaded with ``prange`` over independent chunks.

The vector butterflies, the prefetch and the ``noalias`` bodies come from the LLVM-IR layer
(:mod:`qbench.backends.sv_intrinsics`), or from its plain-numba twins
(:mod:`qbench.backends.sv_intrinsics_plain`) where that layer does not import or fails its check
on the installed numba (:func:`vector_layer`, run before the first kernel is compiled).
"""

from __future__ import annotations

import os
import types
import warnings
from types import SimpleNamespace

import numba
import numpy as np
from numba import njit, prange

from qbench import compilation
from qbench.backends import sv_intrinsics_plain as plain
from qbench.backends.sv_intrinsics_plain import LANES, ROW_BITS

try:
    from qbench.backends import sv_intrinsics as intrinsics
    _IMPORT_ERROR: Exception | None = None
except Exception as error:  # numba's or llvmlite's internals differ from those the IR was written for
    intrinsics = None
    _IMPORT_ERROR = error

_LAYER = intrinsics if intrinsics is not None else plain
_rx4_vectors = _LAYER.rx4_vectors
_row_vectors_rx = _LAYER.row_vectors_rx
_row_vectors_general = _LAYER.row_vectors_general
_prefetch = _LAYER.prefetch

# Numba's own thread pool ("workqueue") rather than OpenMP unless the user chose a layer: on a
# machine shared with other jobs, OpenMP's barriers stalled each parallel pass by up to 0.2 s
# (measured here: n=16 QAOA p=3, 0.09-0.34 s with omp vs 0.014-0.03 s with workqueue). The
# engine launches kernels from one thread at a time, which is all workqueue supports.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

# A compilation (cache miss) is announced in one line and left out of progress estimates.
compilation.listen()

#: Qubits handled per memory pass: the low block is a contiguous chunk of 2^LOW_BITS amplitudes
#: (64 KiB at complex128, its tile in L2), a high block a tile of
#: 2^HIGH_BITS strided runs of 2^ROW_BITS contiguous amplitudes (1 MiB at complex128).
LOW_BITS = 12
HIGH_BITS = 12
RUN_BITS = 6

#: Bytes of padding after every chunk of a QAOA state (one cache line): chunk c of 2^L
#: amplitudes starts at ``c * pitch``, ``pitch = 2^L + CHUNK_PAD_BYTES / itemsize``. The
#: high-block passes read and write rows one chunk apart; unpadded, those rows all start at the
#: same offset modulo 2^L x 8 bytes and fall into the same few L1 and L2 sets, where they evict
#: one another before use (measured here, gather + scatter of 1024 rows of 64 values, 2^14
#: apart, n = 24: one thread 4.1 -> 2.6 ns per amplitude with a one-line pad, two threads 2.6 ->
#: 1.7; pads of 64 and 72 values: 4.0 and 3.7). See :func:`chunk_pitch`.
CHUNK_PAD_BYTES = 64

#: Serial twins of the parallel kernels (the same code compiled without ``parallel``), by name:
#: dispatching a parallel region costs tens of microseconds even on one thread (measured here,
#: the n = 12 phase + low-block pass: 79 us minimum / 130 us median parallel vs 19 / 21 us
#: serial; n = 16: 251-355 us vs 225 us), more than the whole work on small states.
SERIAL = SimpleNamespace()


def parallel_kernel(**options):
    """``njit(parallel=True, cache=True, **options)``, and a serial twin put in :data:`SERIAL`
    (``prange`` is ``range`` there). The twin is compiled from a renamed copy of the function:
    numba names its on-disk cache after the function's qualified name and line and does not
    key it by the ``parallel`` flag, so under one name the two compiled versions would share
    cache entries and one could be loaded for the other (measured: the parallel high-block
    pass ran at 10.5 instead of 2.7 ns per amplitude)."""
    def compile_both(function):
        twin = types.FunctionType(function.__code__, function.__globals__, function.__name__ + "_serial",
                                  function.__defaults__, function.__closure__)
        twin.__qualname__ = function.__qualname__ + "_serial"
        setattr(SERIAL, function.__name__, njit(cache=True, **options)(twin))
        return njit(parallel=True, cache=True, **options)(function)
    return compile_both


#: The functions made by :func:`work_function`, by name (recompiled without the IR layer's
#: pipeline when the plain layer takes over).
_WORK_FUNCTIONS: list[str] = []


def work_function(function):
    """``njit(cache=True, fastmath=True)`` with the IR layer's ``noalias`` pipeline
    (``sv_intrinsics.NoAliasPipeline``): the body of a parallel pass (one chunk or tile),
    called from the parallel kernel's ``prange`` loop and
    from its serial twin, so that it is compiled once for both (the passes' gates, inlined in
    it, are most of the kernels' compilation: measured with an empty numba cache, the kernels
    of a QAOA run, CVaR and sampling at n = 10 and 19: 277 s with the bodies in the kernels,
    67 s this way; 40 s for the current kernels). Without
    ``noalias`` the outlined low pass ran 5-7% slower than inside the ``prange`` loop
    (measured, n = 24, one thread: 4.8 vs 4.5 ns per amplitude); with it, as fast."""
    _WORK_FUNCTIONS.append(function.__name__)
    return njit(cache=True, fastmath=True, **_LAYER.WORK_OPTIONS)(function)


#: Which intrinsics the kernels compile with, once :func:`vector_layer` has checked.
_CHOSEN: str | None = None


def vector_layer() -> str:
    """``"llvm-ir"`` when the IR intrinsics import and pass :func:`sv_intrinsics.check`, else
    ``"plain numba (<why>)"`` after switching every kernel to the plain-numba twins (with a
    warning: the same results to rounding, slower kernels). Checked once per process, before the engine's first
    kernel call, so that no kernel has been compiled with the other layer yet."""
    global _CHOSEN
    if _CHOSEN is None:
        failure = _IMPORT_ERROR
        if failure is None:
            try:
                intrinsics.check()
            except Exception as error:
                failure = error
        reason = None if failure is None else f"{type(failure).__name__}: {(str(failure).strip() or '-').splitlines()[0]}"
        _CHOSEN = "llvm-ir" if reason is None else f"plain numba ({reason})"
        if reason is not None:
            if _LAYER is not plain:
                use_plain_layer()
            warnings.warn(f"qbench: the state-vector kernels run without their LLVM-IR intrinsics ({reason}); "
                          "the same results to rounding, slower", RuntimeWarning, stacklevel=2)
    return _CHOSEN


def use_plain_layer() -> None:
    """Compile the kernels from here on with the plain-numba intrinsics: the module's names of
    the intrinsics rebound, the work functions recompiled without the ``noalias`` pipeline
    under names of their own (numba's cache does not key on the pipeline)."""
    global _LAYER, _rx4_vectors, _row_vectors_rx, _row_vectors_general, _prefetch
    _LAYER = plain
    _rx4_vectors, _row_vectors_rx = plain.rx4_vectors, plain.row_vectors_rx
    _row_vectors_general, _prefetch = plain.row_vectors_general, plain.prefetch
    for name in _WORK_FUNCTIONS:
        function = globals()[name].py_func
        twin = types.FunctionType(function.__code__, function.__globals__, name + "_plain", function.__defaults__,
                                  function.__closure__)
        twin.__qualname__ = function.__qualname__ + "_plain"
        globals()[name] = njit(cache=True, fastmath=True)(twin)


# --------------------------------------------------------------------------------------------
# Ising diagonals:  D(z) = sum_q h_q s_q + sum_{q<r} J_qr s_q s_r
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _low_table(h, J, L):
    """D restricted to the terms among qubits 0..L-1, for every assignment of those bits, by
    doubling (O(2^L) additions, not 2^L L^2): for z < 2^k, setting bit k flips s_k and changes D
    by -2 (h_k + sum_{k<r<L} J_kr + sum_{r<k} J_rk s_r(z)); the last sum is itself a linear
    function of z, tabulated by doubling in ``lin``."""
    size = 1 << L
    table = np.empty(size, dtype=np.float64)
    lin = np.empty(max(1, size >> 1), dtype=np.float64)
    total = 0.0
    for q in range(L):
        total += h[q]
        for r in range(q + 1, L):
            total += J[q, r]
    table[0] = total
    for k in range(L):
        rest = h[k]
        for r in range(k + 1, L):
            rest += J[k, r]
        lin[0] = 0.0
        for r in range(k):
            lin[0] += J[r, k]
        for r in range(k):
            step = 1 << r
            d = 2.0 * J[r, k]
            for m in range(step):
                lin[m + step] = lin[m] - d
        step = 1 << k
        for m in range(step):
            table[m + step] = table[m] - 2.0 * (rest + lin[m])
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
# Product states, phases, blocked single-qubit layers (QAOA layouts)
#
# The QAOA state lives in structure-of-arrays form for a whole evaluation: real parts in ``re``,
# imaginary parts in ``im`` (two contiguous float vectors). The butterflies want that layout
# (contiguous rows of real and of imaginary parts vectorise; on interleaved complex numbers the
# re/im swap of -i*sin kept them scalar), and holding it between passes removes the
# de-interleave and re-interleave copies every pass paid when the state was one complex vector
# (measured at n = 24, p = 3: see benchmarks/README.md). A complex vector is made only where
# one leaves the engine (``StatevectorBackend.state``); probabilities are re^2 + im^2 anyway.
# --------------------------------------------------------------------------------------------
def chunk_pitch(L: int, itemsize: int) -> int:
    """Values from one chunk's start to the next in a padded QAOA state of 2^L-value chunks
    (see :data:`CHUNK_PAD_BYTES`)."""
    return (1 << L) + CHUNK_PAD_BYTES // itemsize


@njit(cache=True, inline="always")
def _position(z, L, pitch):
    """Where amplitude ``z`` lies in a state of chunks of 2^L values ``pitch`` apart."""
    return (z >> L) * pitch + (z & ((1 << L) - 1))


@parallel_kernel()
def product_state(re, im, vectors, L, pitch):
    """``re + i im = kron_q (vectors[q, 0] |0> + vectors[q, 1] |1>)`` (one write pass; chunks
    of 2^L amplitudes ``pitch`` apart)."""
    n = vectors.shape[0]
    size = 1 << L
    low = np.ones(size, dtype=np.complex128)
    for k in range(size):
        for q in range(L):
            low[k] *= vectors[q, (k >> q) & 1]
    for hi in prange(1 << (n - L)):
        a = complex(1.0)
        for q in range(L, n):
            a *= vectors[q, (hi >> (q - L)) & 1]
        base = hi * pitch
        for lo in range(size):
            v = a * low[lo]
            re[base + lo] = v.real
            im[base + lo] = v.imag



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
def _rx4(ar, ai, br, bi, cr, ci, dr, di, c1, s1, c2, s2):
    """The butterflies of :func:`_rx4_rows` on one value of each of its four rows."""
    ar, ai, br, bi = c1 * ar + s1 * bi, c1 * ai - s1 * br, c1 * br + s1 * ai, c1 * bi - s1 * ar
    cr, ci, dr, di = c1 * cr + s1 * di, c1 * ci - s1 * dr, c1 * dr + s1 * ci, c1 * di - s1 * cr
    return (c2 * ar + s2 * ci, c2 * ai - s2 * cr, c2 * br + s2 * di, c2 * bi - s2 * dr,
            c2 * cr + s2 * ai, c2 * ci - s2 * ar, c2 * dr + s2 * bi, c2 * di - s2 * br)



@njit(cache=True, inline="always")
def _rx4_move(re, im, at, step1, step2, out_re, out_im, out_at, out_step1, out_step2, count, c1, s1, c2, s2):
    """:func:`_rx4_rows` on the rows ``at``, ``at + step1``, ``at + step2``, ``at + step1 +
    step2`` of ``re, im`` (``count`` values each), written to the rows ``out_at`` .. (steps
    ``out_step1``, ``out_step2``) of ``out_re, out_im`` (a tile and the state, or the same rows:
    the sweep in place): vectors of LANES values (:func:`_rx4_vectors`), values one by one past
    the last whole vector (rows shorter than a vector, in small chunks)."""
    whole = count - count % LANES
    for t in range(0, whole, LANES):
        _rx4_vectors(re, im, at + t, step1, step2, out_re, out_im, out_at + t, out_step1, out_step2, c1, s1, c2, s2)
    for t in range(whole, count):
        a = at + t
        o = out_at + t
        out_re[o], out_im[o], out_re[o + out_step1], out_im[o + out_step1], out_re[o + out_step2], \
            out_im[o + out_step2], out_re[o + out_step1 + out_step2], out_im[o + out_step1 + out_step2] = _rx4(
                re[a], im[a], re[a + step1], im[a + step1], re[a + step2], im[a + step2], re[a + step1 + step2],
                im[a + step1 + step2], c1, s1, c2, s2)


@njit(cache=True, inline="always")
def _rx4_rows(re, im, at, step1, step2, count, c1, s1, c2, s2):
    """Two RX-type gates in one sweep over four rows of ``count`` values, ``at``, ``at +
    step1``, ``at + step2``, ``at + step1 + step2``: (c1, s1) on the pairs of rows ``step1``
    apart, then (c2, s2) on those ``step2`` apart. Half the loads and stores of two separate
    sweeps."""
    _rx4_move(re, im, at, step1, step2, re, im, at, step1, step2, count, c1, s1, c2, s2)


#: How a pass applies its single-qubit gates: any 2x2 matrix (warm-start mixers), RX as
#: [[c, -is], [-is, c]], or RX in the tangent form: RX(2 beta) = cos(beta) [[1, -i t],
#: [-i t, 1]], t = tan(beta), without its factor cos(beta) (the pass applies the product of its
#: gates' factors once, see :func:`pass_form`): :func:`_rx_rows` with c = 1, a literal that the
#: compiler folds after inlining, so each value costs one multiply-add instead of a multiply and
#: a multiply-add.
GENERAL, RX, TAN = 0, 1, 2

#: The tangent form is used while the product of the pass's cosines is at least this (double,
#: single precision): the pass multiplies its input by that product first and each gate then
#: divides by its cosine, so values stay between the product times the amplitudes and the
#: amplitudes, and a product this small neither underflows nor reaches subnormal numbers (the
#: rounding is that of the RX form: c x + s y and c (x + t y) round alike, also for a small c).
#: Below it (beta within about 1e-17 of pi/2 in double; beta near pi/2, which optimizers reach,
#: in single precision) the pass takes the RX form.
TAN_MIN_SCALE = (1e-200, 1e-20)


@njit(cache=True, inline="always")
def pass_form(M, first, count, rx):
    """(form, scale) of a pass applying gates M[first:first+count]: the tangent form and the
    product of the gates' cosines (the factor the pass multiplies its input by) when every
    gate is RX and that product is not too small (:data:`TAN_MIN_SCALE`), else the RX or
    general form and 1.0. Measured here (Zen 4, one thread, tiles in L1/L2): 0.12-0.13 against
    0.16 ns per amplitude and gate for the RX form."""
    if not rx:
        return GENERAL, 1.0
    scale = 1.0
    for q in range(first, first + count):
        scale *= M[q, 0]
    if abs(scale) < TAN_MIN_SCALE[0 if M.itemsize == 8 else 1]:
        return RX, 1.0
    return TAN, scale


@njit(cache=True, inline="always")
def _tangent(m):
    """The tangent-form coefficient of RX gate ``m`` (see :data:`TAN`): -t = -tan(beta)."""
    return -m[3] / m[0]


@njit(cache=True, inline="always")
def _pair(re, im, a, b, count, m, form):
    """Gate ``m`` on the rows [a, a+count) and [b, b+count) in the pass's ``form``."""
    if form == TAN:
        _rx_rows(re, im, a, b, count, 1.0, _tangent(m))
    elif form == RX:
        _rx_rows(re, im, a, b, count, m[0], -m[3])
    else:
        _general_rows(re, im, a, b, count, m)


@njit(cache=True, inline="always")
def _quad_coefficients(m1, m2, form, scale):
    """(c1, s1, c2, s2) of :func:`_rx4_rows` for RX gates m1, m2 in the pass's form (RX or
    tangent), the first gate's multiplied by ``scale``."""
    if form == TAN:
        return scale, scale * _tangent(m1), 1.0, _tangent(m2)
    return scale * m1[0], -scale * m1[3], m2[0], -m2[3]


@njit(cache=True, inline="always")
def _quad(re, im, at, step1, step2, count, m1, m2, form):
    """RX gates m1 on the rows ``step1`` apart and m2 on those ``step2`` apart of the four rows
    from ``at`` (:func:`_rx4_rows`) in one sweep (RX or tangent form).
    Each form calls the sweep with its own coefficients, so that the tangent form's literal 1.0
    reaches the loop and folds away (one multiply-add per value and gate): choosing the
    coefficients first and calling once left a run-time 1.0 there (measured, gates on bits
    6-13 of a 2^14 tile: 0.157 against 0.132 ns per amplitude and gate)."""
    if form == TAN:
        _rx4_rows(re, im, at, step1, step2, count, 1.0, _tangent(m1), 1.0, _tangent(m2))
    else:
        _rx4_rows(re, im, at, step1, step2, count, m1[0], -m1[3], m2[0], -m2[3])


@njit(cache=True, inline="always")
def _gate(re, im, size, position, m, form):
    """Gate ``m`` on bit ``position`` of the tile index (rows of 2^position amplitudes)."""
    stride = 1 << position
    for start in range(0, size, 2 * stride):
        _pair(re, im, start, start + stride, stride, m, form)


@njit(cache=True, inline="always")
def _gates(re, im, size, low, high, M, first, form):
    """Gates M[first + j - low] on tile bits j = low..high-1 (rows of >= 2^low amplitudes); RX
    gates two at a time (:func:`_quad`)."""
    j = low
    while j < high:
        if form != GENERAL and j + 1 < high:
            s1 = 1 << j
            s2 = s1 << 1
            for start in range(0, size, 2 * s2):
                _quad(re, im, start, s1, s2, s1, M[first + j - low], M[first + j + 1 - low], form)
            j += 2
        else:
            _gate(re, im, size, j, M[first + j - low], form)
            j += 1


@njit(cache=True, inline="always")
def _gates_into(re, im, size, low, high, M, first, form, out_re, out_im):
    """:func:`_gates`, the result written to the same positions of ``out_re, out_im``: an even
    number of RX gates ends with a radix-4 sweep that writes there (:func:`_rx4_move`), others
    are followed by a copy."""
    if form != GENERAL and high - low >= 2 and (high - low) % 2 == 0:
        _gates(re, im, size, low, high - 2, M, first, form)
        j = high - 2
        step = 1 << j
        c1, s1, c2, s2 = _quad_coefficients(M[first + j - low], M[first + j + 1 - low], form, 1.0)
        for start in range(0, size, 4 * step):
            _rx4_move(re, im, start, step, 2 * step, out_re, out_im, start, step, 2 * step, step, c1, s1, c2, s2)
        return
    _gates(re, im, size, low, high, M, first, form)
    for k in range(size):
        out_re[k] = re[k]
        out_im[k] = im[k]



@njit(cache=True, inline="always")
def _row_gates(re, im, at, out_re, out_im, out_at, M, form):
    """Gates M[0:ROW_BITS] (qubits 0..ROW_BITS-1) on the 2^ROW_BITS values from ``at`` of ``re,
    im``, written from ``out_at`` of ``out_re, out_im`` (may be the input): one load and one
    store per value, in registers (``sv_intrinsics.row_vectors_rx``, ``row_vectors_general``). Each form its own call (the
    tangent form's literal 1.0 folds away, see :func:`_quad`). Replaces a transpose of the
    chunk (so that bits 0-5 indexed rows of a tile) and three sweeps over that tile: measured,
    one thread, a 2^14-amplitude chunk in L2, 1.59 -> 0.53 ns per amplitude."""
    if form == TAN:
        _row_vectors_rx(re, im, at, out_re, out_im, out_at,
                        (1.0, _tangent(M[0]), 1.0, _tangent(M[1]), 1.0, _tangent(M[2]), 1.0, _tangent(M[3]),
                         1.0, _tangent(M[4]), 1.0, _tangent(M[5])))
    elif form == RX:
        _row_vectors_rx(re, im, at, out_re, out_im, out_at,
                        (M[0, 0], -M[0, 3], M[1, 0], -M[1, 3], M[2, 0], -M[2, 3], M[3, 0], -M[3, 3], M[4, 0], -M[4, 3],
                         M[5, 0], -M[5, 3]))
    else:
        _row_vectors_general(re, im, at, out_re, out_im, out_at, M)


@njit(cache=True, inline="always")
def _row_bits(L):
    """The low bits of a chunk of 2^L amplitudes whose gates the phase applies row by row
    (:func:`_row_gates`): ROW_BITS, or none in chunks under one row (their gates all in sweeps)."""
    return ROW_BITS if L >= ROW_BITS else 0


@njit(cache=True, inline="always")
def _table_phase(table, k, uniform, r, i, j):
    """Amplitude ``j`` of ``r + i i`` times the phase ``table[k]`` (``uniform >= 0``: that
    constant instead of the amplitude, which is then not read)."""
    pr = table[k, 0]
    pi = table[k, 1]
    if uniform >= 0:
        return uniform * pr, uniform * pi
    ar = r[j]
    ai = i[j]
    return ar * pr - ai * pi, ar * pi + ai * pr


@njit(cache=True, inline="always")
def _table_phases(r, i, iv, phases, L, uniform, tr, ti, M, form):
    """The chunk ``r + i i`` times ``phases[iv]`` (:func:`phase_table_low_block`) into the tile
    ``tr, ti``, row by row, each row's low gates applied while it is in L1 (:func:`_row_gates`)."""
    width = 1 << min(L, ROW_BITS)
    for start in range(0, 1 << L, width):
        for lo in range(start, start + width):
            tr[lo], ti[lo] = _table_phase(phases, iv[lo], uniform, r, i, lo)
        if _row_bits(L):
            _row_gates(tr, ti, start, tr, ti, start, M, form)


@parallel_kernel(fastmath=True)
def phase_table_low_block(re, im, index, table, M, rx, L, pitch, uniform=-1.0):
    """One pass: ``psi *= table[index]`` (the cost phase: one complex number per distinct cost
    value, ``table`` as (re, im) rows), then the gates M on the low L qubits, chunk by chunk
    while the chunk is in cache. ``uniform >= 0``: the state is taken to be that real constant
    everywhere and not read (the first layer of QAOA from |+>^n: no initial-state pass).
    Chunks are ``pitch`` values apart in the state (see :data:`CHUNK_PAD_BYTES`), 2^L apart in
    ``index``."""
    form, scale = pass_form(M, 0, L, rx)
    phases = np.empty_like(table)  # times the tangent form's factor (see pass_form)
    for k in range(table.shape[0]):
        phases[k, 0] = scale * table[k, 0]
        phases[k, 1] = scale * table[k, 1]
    # the Ising phase's arguments (see _phase_low_chunk): not used here, and distinct arrays
    h, J, pr, pi = np.empty(0), np.empty((0, 0)), np.empty(0), np.empty(0)
    for c in prange(index.shape[0] >> L):
        _phase_low_chunk(re, im, index, phases, h, J, pr, pi, M, L, pitch, form, uniform, np.int64(c))


@njit(cache=True, inline="always")
def _field_phases(field, first, count, angle, out):
    """``out[m] = exp(-i angle) prod_j exp(2i field_{first + j})`` over the set bits j of m: the
    phase exp(-i sum_q field_q s_q) of a linear Ising term over ``count`` qubits from
    ``first``, by doubling (one complex product per entry)."""
    out[0, 0] = np.cos(angle)
    out[0, 1] = -np.sin(angle)
    for j in range(count):
        t = 2.0 * field[first + j]
        wr = np.cos(t)
        wi = np.sin(t)
        step = 1 << j
        for m in range(step):
            ar = out[m, 0]
            ai = out[m, 1]
            out[m + step, 0] = ar * wr - ai * wi
            out[m + step, 1] = ar * wi + ai * wr


@njit(cache=True, inline="always")
def _low_phases(h, J, L, scale, pr, pi):
    """``pr + i pi = scale exp(-i low(z))`` for the terms among qubits 0..L-1 and every z <
    2^L, with few sines
    and cosines: for w = min(L, ROW_BITS), low(z) = low_w(z_lo) + e(z_hi) + sum_j field_j(z_hi)
    s_j (the terms among the lowest w qubits, those among the others, and the field these put
    on the lowest: :func:`_high_part` on the block), so the phase is a table of 2^w phases
    times, for each z_hi, 2^w products built by doubling (:func:`_field_phases`): 2^w + (w + 1)
    2^(L - w) sines and cosines instead of 2^L. Serial on purpose: every parallel region costs a
    wake-up of the other threads, which between an optimizer's evaluations on this shared
    machine took milliseconds (measured, QAOA p = 2 solves, 100 evaluations: n = 18 0.81 ->
    0.60 s, n = 20 2.18 -> 1.94 s with this loop serial instead of a region of its own)."""
    w = min(L, ROW_BITS)
    width = 1 << w
    base = _low_table(h, J, w)
    br = np.empty(width)
    bi = np.empty(width)
    for m in range(width):
        br[m] = scale * np.cos(base[m])
        bi[m] = -scale * np.sin(base[m])
    field = np.empty(w)
    factors = np.empty((width, 2))
    for hi in range(1 << (L - w)):
        e = _high_part(h, J, L, w, hi, field)
        linear = 0.0
        for j in range(w):
            linear += field[j]
        _field_phases(field, 0, w, e + linear, factors)
        for m in range(width):
            k = (hi << w) | m
            pr[k] = br[m] * factors[m, 0] - bi[m] * factors[m, 1]
            pi[k] = br[m] * factors[m, 1] + bi[m] * factors[m, 0]


@njit(cache=True, inline="always")
def _ising_phases(r, i, h, J, pr, pi, L, uniform, c, tr, ti, re, im, pitch, M, form):
    """Chunk ``c``, ``r + i i``, times its phase exp(-i D) (:func:`phase_ising_low_block`; ``pr
    + i pi``: exp(-i low) times the pass's factor, from :func:`_low_phases`) into the tile, as
    :func:`_table_phases`. ``re, im``: the whole state (chunks ``pitch`` apart), for
    prefetching the rows ahead."""
    n = h.shape[0]
    size = 1 << L
    width_bits = min(L, ROW_BITS)
    width = 1 << width_bits
    row_count = size >> width_bits
    field = np.empty(L, dtype=np.float64)
    rows = np.empty((row_count, 2), dtype=np.float64)
    cols = np.empty((width, 2), dtype=np.float64)
    # the column factors as two rows (contiguous loads in the loop below), and the amplitudes
    # of a first layer's uniform state as a row of their own, so that the loop has no branch
    # (measured, a chunk in L2: 1.32 -> 1.09 ns per amplitude)
    col_r = np.empty(width, dtype=np.float64)
    col_i = np.empty(width, dtype=np.float64)
    uniform_r = np.full(width, uniform, dtype=r.dtype)
    uniform_i = np.zeros(width, dtype=r.dtype)
    e = _high_part(h, J, n, L, c, field)
    linear = 0.0
    for q in range(L):
        linear += field[q]
    _field_phases(field, 0, width_bits, 0.0, cols)
    _field_phases(field, width_bits, L - width_bits, e + linear, rows)
    for t in range(width):
        col_r[t] = cols[t, 0]
        col_i[t] = cols[t, 1]
    base = c * pitch
    for row in range(row_count):
        ahead = row + PHASE_PREFETCH_ROWS  # in this chunk or the next (see PHASE_PREFETCH_ROWS)
        at = base + (ahead << width_bits) if ahead < row_count else base + pitch + ((ahead - row_count) << width_bits)
        if uniform < 0 and at + width <= re.shape[0]:
            _prefetch_row(re, im, at, width)
        fr = rows[row, 0]
        fi = rows[row, 1]
        start = row << width_bits
        lr = pr[start:start + width]
        li = pi[start:start + width]
        ar_ = uniform_r if uniform >= 0 else r[start:start + width]
        ai_ = uniform_i if uniform >= 0 else i[start:start + width]
        out_r = tr[start:start + width]
        out_i = ti[start:start + width]
        for t in range(width):
            gr = col_r[t] * fr - col_i[t] * fi
            gi = col_r[t] * fi + col_i[t] * fr
            qr = lr[t] * gr - li[t] * gi
            qi = lr[t] * gi + li[t] * gr
            ar = ar_[t]
            ai = ai_[t]
            out_r[t] = ar * qr - ai * qi
            out_i[t] = ar * qi + ai * qr
        if _row_bits(L):  # the row's low gates while it is in L1
            _row_gates(tr, ti, start, tr, ti, start, M, form)


@njit(cache=True, inline="always")
def _chunk_tiles(size, dtype):
    """The tile buffers of a phase + low-block pass's chunk (see :func:`_phase_low_chunk`)."""
    return np.empty(size, dtype=dtype), np.empty(size, dtype=dtype)


@work_function
def _phase_low_chunk(re, im, index, phases, h, J, pr, pi, M, L, pitch, form, uniform, c):
    """Chunk ``c`` of a phase + low-block pass: its phase from the table (``index`` not empty,
    :func:`phase_table_low_block`) or from the Ising coefficients (:func:`phase_ising_low_block`)
    into a tile, row by row, each row's gates on bits 0..ROW_BITS-1 applied in registers as
    soon as it is written (:func:`_row_gates`), then the gates on the other bits in sweeps over
    the tile, the last of which writes it back into the state (:func:`_gates_into`); chunks
    under 2^ROW_BITS amplitudes in sweeps only. The tile is local to the kernel, so that LLVM
    knows it aliases nothing (on views of the state it vectorised worse, measured 5.8 vs 4.7 ns
    per amplitude). Measured (n = 24, a block of 14 qubits, ns per amplitude, one / two
    threads): 3.63 / 1.93 with bits 0-5 handled in a transposed copy of the chunk (one
    transpose and three sweeps), 3.26-3.39 / 1.73-1.77 with :func:`_row_gates` after the phase,
    2.98 / 1.50 with it fused into the phase's rows. One function for both phases: their gates
    are most of its compilation (measured with the script of :func:`work_function`: 96 s with a
    function per pass, 67 s with this one; as fast)."""
    size = 1 << L
    tr, ti = _chunk_tiles(size, re.dtype)
    r = re[c * pitch:c * pitch + size]
    i = im[c * pitch:c * pitch + size]
    if index.shape[0] > 0:
        _table_phases(r, i, index[c << L:(c << L) + size], phases, L, uniform, tr, ti, M, form)
    else:
        _ising_phases(r, i, h, J, pr, pi, L, uniform, c, tr, ti, re, im, pitch, M, form)
    low = _row_bits(L)
    _gates_into(tr, ti, size, low, L, M, low, form, r, i)


@parallel_kernel(fastmath=True)
def phase_ising_low_block(re, im, h, J, M, rx, L, pitch, uniform=-1.0):
    """As :func:`phase_table_low_block` with the phase ``exp(-i D(z))`` of an Ising diagonal
    whose coefficients include the angle (non-integer costs: gamma times the diagonal;
    multi-angle QAOA: one angle per term), without a sine or cosine per amplitude. Within a
    chunk (high bits fixed) D = e + low(z_lo) + sum_q field_q s_q (:func:`_high_part`), so the
    phase is exp(-i low), the same for every chunk (:func:`_low_phases`, once per call), times a
    product over the chunk's qubits, split into a factor per row of 2^ROW_BITS positions and
    one per column (2^(L - ROW_BITS) + 2^ROW_BITS complex numbers per chunk, by doubling):
    three complex products per amplitude, all on contiguous rows. Measured at n = 24, two
    threads: 2.0-2.4 ns per amplitude, as fast as the table phase of integer costs, where a
    sine and cosine per amplitude took 8-11 (float costs) and 16-18 (multi-angle); one p = 3
    energy with float costs 575 -> 243 ms, multi-angle 600 -> 260 ms (n = 16: 3.7 -> 1.7 ms)."""
    size = 1 << L
    form, scale = pass_form(M, 0, L, rx)
    pr = np.empty(size, dtype=np.float64)  # exp(-i low), times the tangent form's factor (see
    pi = np.empty(size, dtype=np.float64)  # pass_form)
    _low_phases(h, J, L, scale, pr, pi)
    no_index = np.empty(0, dtype=np.uint16)  # the table phase's arguments (see _phase_low_chunk)
    no_phases = np.empty((0, 2), dtype=re.dtype)
    for c in prange(1 << (h.shape[0] - L)):
        _phase_low_chunk(re, im, no_index, no_phases, h, J, pr, pi, M, L, pitch, form, uniform, np.int64(c))



@njit(cache=True, inline="always")
def _prefetch_row(re, im, start, run):
    """Prefetch ``run`` values from ``start`` of ``re`` and ``im``, a cache line at a time."""
    line = 64 // re.itemsize
    for offset in range(0, run, line):
        _prefetch(re, start + offset)
        _prefetch(im, start + offset)


#: Rows ahead that :func:`_copy_rows` prefetches when gathering a high-block tile: its rows are
#: short (2^RUN_BITS values) and far apart, too short for the hardware's stream prefetcher
#: (measured, n = 24 high pass, medians: one thread 3.36 -> 3.16-3.25 ns per amplitude for 2-8
#: rows ahead, two threads 1.78 -> 1.65-1.72; best at 4).
PREFETCH_ROWS = 4

#: Rows (of 2^ROW_BITS amplitudes) ahead that the Ising phase of the low pass prefetches as it
#: reads the state, across into the next chunk: the hardware's prefetcher alone left the row
#: loop waiting for memory (measured, n = 24 phase + low pass, medians: one thread 4.67 -> 4.25
#: ns per amplitude, two threads 2.34 -> 2.20; 4-16 rows alike, 4 best on one thread).
PHASE_PREFETCH_ROWS = 4


@njit(cache=True, inline="always")
def _copy_rows(src_re, src_im, dst_re, dst_im, src_base, src_pitch, m, run, dst_base, dst_pitch, scale=1.0, ahead=0):
    """Copy m rows of ``run`` amplitudes, times ``scale``: row k from ``src_base + k
    src_pitch`` to ``dst_base + k dst_pitch``, prefetching source row k + ``ahead`` (0: none)
    line by line."""
    for k in range(m):
        if ahead > 0 and k + ahead < m:
            _prefetch_row(src_re, src_im, src_base + (k + ahead) * src_pitch, run)
        a = src_base + k * src_pitch
        b = dst_base + k * dst_pitch
        sr = src_re[a:a + run]
        si = src_im[a:a + run]
        dr = dst_re[b:b + run]
        di = dst_im[b:b + run]
        for r in range(run):
            dr[r] = scale * sr[r]
            di[r] = scale * si[r]


#: Rows ahead that :func:`_tile_expectation` prefetches of the cost index: its rows (2^first
#: apart, 128 bytes) are too short for the hardware's stream prefetcher (measured, n = 24, two
#: threads, the last high pass with the expectation: 2.3-2.5 -> 1.9-2.1 ns per amplitude, the
#: pass without it 1.5; 4, 8 and 16 rows alike; prefetching to L2 only instead: 2.7-2.8).
INDEX_PREFETCH_ROWS = 8


@njit(cache=True, inline="always")
def _tile_expectation(tr, ti, eindex, evalues, base, first, m, run):
    """``sum |psi|^2 evalues[eindex]`` over a tile of :func:`high_block` (rows k of ``run``
    amplitudes from ``base + (k << first)``)."""
    part = 0.0
    line = 64 // eindex.itemsize
    for k in range(m):
        if k + INDEX_PREFETCH_ROWS < m:
            ahead = base + ((k + INDEX_PREFETCH_ROWS) << first)
            for offset in range(0, run, line):
                _prefetch(eindex, ahead + offset)
        ev = eindex[base + (k << first):base + (k << first) + run]
        dr = tr[k * run:(k + 1) * run]
        di = ti[k * run:(k + 1) * run]
        for r in range(run):
            part += (dr[r] * dr[r] + di[r] * di[r]) * evalues[ev[r]]
    return part


@work_function
def _high_tile(re, im, M, first, count, run_bits, L, pitch, eindex, evalues, form, scale, fused, t):
    """Tile ``t`` of :func:`high_block` (``run_bits`` at most L); returns its part of the
    expectation (0.0 when ``evalues`` is empty)."""
    run = 1 << run_bits
    runs_per_stride = (1 << first) >> run_bits
    m = 1 << count
    size = m * run
    row_pitch = (1 << (first - L)) * pitch  # between a tile's rows in the state
    low_part = (t % runs_per_stride) * run
    outer = t // runs_per_stride
    base = (outer << (first + count)) + low_part
    tr = np.empty(size, dtype=re.dtype)
    ti = np.empty(size, dtype=re.dtype)
    at = _position(base, L, pitch)
    if fused:  # the first two gates on the way in, the last two on the way out
        c1, s1, c2, s2 = _quad_coefficients(M[first], M[first + 1], form, scale)
        for k in range(0, m, 4):
            if k + PREFETCH_ROWS + 4 <= m:
                for j in range(4):
                    _prefetch_row(re, im, at + (k + PREFETCH_ROWS + j) * row_pitch, run)
            _rx4_move(re, im, at + k * row_pitch, row_pitch, 2 * row_pitch, tr, ti, k * run, run, 2 * run, run,
                      c1, s1, c2, s2)
        _gates(tr, ti, size, run_bits + 2, run_bits + count - 2, M, first + 2, form)
        c1, s1, c2, s2 = _quad_coefficients(M[first + count - 2], M[first + count - 1], form, 1.0)
        q = m >> 2
        for k in range(q):
            _rx4_move(tr, ti, k * run, q * run, 2 * q * run, re, im, at + k * row_pitch, q * row_pitch,
                      2 * q * row_pitch, run, c1, s1, c2, s2)
        return 0.0
    _copy_rows(re, im, tr, ti, at, row_pitch, m, run, 0, run, scale, PREFETCH_ROWS)
    _gates(tr, ti, size, run_bits, run_bits + count, M, first, form)
    _copy_rows(tr, ti, re, im, 0, run, m, run, at, row_pitch)
    return _tile_expectation(tr, ti, eindex, evalues, base, first, m if evalues.shape[0] > 0 else 0, run)


@parallel_kernel(fastmath=True)
def high_block(re, im, M, rx, first, count, run_bits, L, pitch, eindex, evalues):
    """Gates M[first:first+count] on qubits first.. (first >= L) in one memory pass, tile by
    tile: a tile is all 2^count values of those bits x a run of 2^run_bits contiguous
    amplitudes, copied row by row into tile buffers (plain contiguous copies: the rows of the
    state are 2^(first - L) chunks apart, and worked on in place they would share a few cache
    sets), processed there and copied back. The state's chunks of 2^L values are ``pitch``
    apart (see :data:`CHUNK_PAD_BYTES`). With ``evalues`` non-empty (the last pass of an
    evaluation) it also returns ``sum_z |psi_z|^2 evalues[eindex_z]`` of the result, from the
    tile while it is in cache: the expectation needs no pass of its own (0.0 otherwise)."""
    run_bits = min(run_bits, L)
    tiles = (1 << M.shape[0]) >> (count + run_bits)
    form, scale = pass_form(M, first, count, rx)
    # RX gates: the first and last two gates move the tile in and out (_rx4_move), two fewer
    # sweeps over it; not on the pass that also takes the expectation from the tile
    fused = form != GENERAL and count >= 4 and evalues.shape[0] == 0
    total = 0.0  # a reduction (an array of per-tile sums cost ~0.2 ms per call: measured)
    for t in prange(tiles):
        total += _high_tile(re, im, M, first, count, run_bits, L, pitch, eindex, evalues, form, scale, fused, np.int64(t))
    return total


NO_VALUES = np.empty(0)
NO_INDEX = np.empty(0, dtype=np.uint16)


def high_blocks(re: np.ndarray, im: np.ndarray, M: np.ndarray, rx: bool, low_bits: int, pitch: int,
                high_bits: int = HIGH_BITS, eindex: np.ndarray = NO_INDEX, evalues: np.ndarray = NO_VALUES,
                serial: bool = False) -> float:
    """Gates ``M[q]`` on every qubit ``q >= low_bits`` (the low block is fused with the phase
    pass; chunks of 2^low_bits values ``pitch`` apart), ``high_bits`` qubits per memory pass;
    returns the fused expectation of the last pass
    (see :func:`high_block`; 0.0 when ``evalues`` is empty or there is no high pass).
    ``serial``: use the serial twin of :func:`high_block`."""
    block = SERIAL.high_block if serial else high_block
    n = M.shape[0]
    first = low_bits
    total = 0.0
    while first < n:
        count = min(high_bits, n - first)
        last = first + count >= n
        total = block(re, im, M, rx, first, count, RUN_BITS, low_bits, pitch, eindex if last else NO_INDEX,
                      evalues if last else NO_VALUES)
        first += count
    return total


# --------------------------------------------------------------------------------------------
# Reductions (on real and imaginary parts: the QAOA state's arrays, or a complex vector's
# .real/.imag views), chunk by chunk: chunks of 2^L amplitudes ``pitch`` apart in re, im (the
# padded QAOA layout, see CHUNK_PAD_BYTES; pitch = 2^L for a vector without padding), 2^L apart
# in the logical vectors (index, diagonal, out).
# --------------------------------------------------------------------------------------------
@parallel_kernel()
def expect_table(re, im, index, values, L, pitch):
    """sum_z |psi_z|^2 values[index_z]."""
    size = 1 << L
    total = 0.0
    for c in prange(index.shape[0] >> L):
        r = re[c * pitch:c * pitch + size]
        i = im[c * pitch:c * pitch + size]
        iv = index[c << L:(c << L) + size]
        for k in range(size):
            total += (r[k] * r[k] + i[k] * i[k]) * values[iv[k]]
    return total


@parallel_kernel()
def expect_dense(re, im, diagonal, L, pitch):
    """sum_z |psi_z|^2 D(z)."""
    size = 1 << L
    total = 0.0
    for c in prange(diagonal.shape[0] >> L):
        r = re[c * pitch:c * pitch + size]
        i = im[c * pitch:c * pitch + size]
        d = diagonal[c << L:(c << L) + size]
        for k in range(size):
            total += (r[k] * r[k] + i[k] * i[k]) * d[k]
    return total


@njit(cache=True)
def compact_sorted(values, rank):
    """Distinct values of the ascending ``values`` moved to its front, in place; ``rank[k]``
    the position of ``values[k]``'s value among them. Returns their count."""
    count = 0
    for k in range(values.shape[0]):
        if k == 0 or values[k] != values[count - 1]:
            values[count] = values[k]
            count += 1
        rank[k] = count - 1
    return count


@njit(cache=True)
def cvar_ascending(levels, unit, constant, masses, alpha):
    """CVaR at ``alpha`` of the values ``unit * levels + constant`` (``levels`` ascending,
    ``unit > 0``) with (unnormalised) ``masses``: the mean of the lowest ``alpha`` of the mass,
    the boundary value counted in part (as :func:`qbench.qubo_cost.cvar`, without its sort and
    copies of arrays as long as the levels: a float cost has about one level per state)."""
    total = 0.0
    for k in range(masses.shape[0]):
        total += masses[k]
    target = alpha * total
    taken = 0.0
    weighted = 0.0
    for k in range(levels.shape[0]):
        m = masses[k]
        if taken + m >= target:
            weighted += levels[k] * (target - taken)
            return unit * weighted / target + constant
        taken += m
        weighted += levels[k] * m
    return unit * weighted / target + constant


@njit(cache=True)
def level_probabilities(re, im, index, out, L, pitch):
    """Probability of each distinct cost value (a histogram of |psi|^2 over ``index``) into
    ``out``, one entry per value (a caller's buffer: a float cost has about 2^n values)."""
    size = 1 << L
    out[:] = 0.0
    for c in range(index.shape[0] >> L):
        r = re[c * pitch:c * pitch + size]
        i = im[c * pitch:c * pitch + size]
        iv = index[c << L:(c << L) + size]
        for k in range(size):
            out[iv[k]] += r[k] * r[k] + i[k] * i[k]


@parallel_kernel()
def probabilities_into(re, im, out, L, pitch):
    """``out[z] = |psi_z|^2``."""
    size = 1 << L
    for c in prange(out.shape[0] >> L):
        r = re[c * pitch:c * pitch + size]
        i = im[c * pitch:c * pitch + size]
        o = out[c << L:(c << L) + size]
        for k in range(size):
            o[k] = r[k] * r[k] + i[k] * i[k]


# --------------------------------------------------------------------------------------------
# Generic gates (circuits that are not QAOA layouts)
# --------------------------------------------------------------------------------------------
@parallel_kernel()
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


@parallel_kernel()
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


@parallel_kernel()
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


@parallel_kernel()
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
