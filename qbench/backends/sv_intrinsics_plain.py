"""Plain-numba twins of the LLVM-IR intrinsics (:mod:`qbench.backends.sv_intrinsics`): the same
names, arguments and results (to rounding: the IR rounds each multiply-add once, these loops as
LLVM contracts them), written as ordinary numba loops with no numba or llvmlite internals.
``sv_kernels`` compiles its kernels with these when the IR layer does not import or does not
pass its check on the installed numba (see ``sv_kernels.vector_layer``): the kernels then run
slower (no hand-placed vectors, no prefetch, no ``noalias`` bodies) with the same results.
"""

from __future__ import annotations

from numba import njit

#: Sweeps run on contiguous rows of at least 2^ROW_BITS amplitudes (as numba loops, rows of 8
#: ran at the scalar speed: 0.73 ns per amplitude and gate for rows of 8, 0.18 for 64, 0.13 for
#: 1024); the gates on the lowest ROW_BITS qubits run on each row in registers
#: (``sv_kernels._row_gates``: ROW_BITS - 3 bits across vectors of LANES = 8 values, 3 across
#: lanes).
ROW_BITS = 6

#: Values per vector of the IR butterflies (``rx4_vectors``, ``row_vectors_*``): one AVX-512
#: register of float64; LLVM splits the vectors where the machine's are narrower.
LANES = 8

#: Options of ``sv_kernels.work_function`` (the IR layer adds its ``noalias`` pipeline).
WORK_OPTIONS: dict = {}


@njit(cache=True, inline="always")
def _rx_pair(re, im, a, b, c, s):
    """[[c, -is], [-is, c]] on amplitudes ``a`` (the one with the bit clear) and ``b``."""
    ar = re[a]
    ai = im[a]
    br = re[b]
    bi = im[b]
    re[a] = c * ar + s * bi
    im[a] = c * ai - s * br
    re[b] = c * br + s * ai
    im[b] = c * bi - s * ar


@njit(cache=True, inline="always")
def rx4_vectors(re, im, at, step1, step2, out_re, out_im, out_at, out_step1, out_step2, c1, s1, c2, s2):
    """(c1, s1) on the pairs of rows ``step1`` apart, then (c2, s2) on those ``step2`` apart, of
    LANES values of the four rows from ``at``, written to the rows from ``out_at`` (which may be
    the input: each value is read before its row is written)."""
    for t in range(LANES):
        a = at + t
        ar, ai = re[a], im[a]
        br, bi = re[a + step1], im[a + step1]
        cr, ci = re[a + step2], im[a + step2]
        dr, di = re[a + step1 + step2], im[a + step1 + step2]
        ar, ai, br, bi = c1 * ar + s1 * bi, c1 * ai - s1 * br, c1 * br + s1 * ai, c1 * bi - s1 * ar
        cr, ci, dr, di = c1 * cr + s1 * di, c1 * ci - s1 * dr, c1 * dr + s1 * ci, c1 * di - s1 * cr
        ar, ai, cr, ci = c2 * ar + s2 * ci, c2 * ai - s2 * cr, c2 * cr + s2 * ai, c2 * ci - s2 * ar
        br, bi, dr, di = c2 * br + s2 * di, c2 * bi - s2 * dr, c2 * dr + s2 * bi, c2 * di - s2 * br
        o = out_at + t
        out_re[o], out_im[o] = ar, ai
        out_re[o + out_step1], out_im[o + out_step1] = br, bi
        out_re[o + out_step2], out_im[o + out_step2] = cr, ci
        out_re[o + out_step1 + out_step2], out_im[o + out_step1 + out_step2] = dr, di


@njit(cache=True, inline="always")
def _copy_row(re, im, at, out_re, out_im, out_at):
    """The row from ``at`` to ``out_at`` (the callers' rows coincide or do not overlap)."""
    for k in range(1 << ROW_BITS):
        out_re[out_at + k] = re[at + k]
        out_im[out_at + k] = im[at + k]


@njit(cache=True, inline="always")
def _rx_gate(re, im, at, bit, c, s):
    """(c, s) on bit ``bit`` of the row from ``at``."""
    for k in range(1 << ROW_BITS):
        if not k & bit:
            _rx_pair(re, im, at + k, at + (k | bit), c, s)


@njit(cache=True, inline="always")
def row_vectors_rx(re, im, at, out_re, out_im, out_at, gates):
    """RX-type gates ``(gates[2 q], gates[2 q + 1])`` = (c, s) on bits q = 0..ROW_BITS-1 of the
    2^ROW_BITS values from ``at``, written from ``out_at``."""
    _copy_row(re, im, at, out_re, out_im, out_at)
    _rx_gate(out_re, out_im, out_at, 1, gates[0], gates[1])
    _rx_gate(out_re, out_im, out_at, 2, gates[2], gates[3])
    _rx_gate(out_re, out_im, out_at, 4, gates[4], gates[5])
    _rx_gate(out_re, out_im, out_at, 8, gates[6], gates[7])
    _rx_gate(out_re, out_im, out_at, 16, gates[8], gates[9])
    _rx_gate(out_re, out_im, out_at, 32, gates[10], gates[11])


@njit(cache=True, inline="always")
def row_vectors_general(re, im, at, out_re, out_im, out_at, gates):
    """The 2x2 matrices ``gates[q]`` (rows [u00r, u00i, u01r, u01i, u10r, u10i, u11r, u11i]) on
    bits q = 0..ROW_BITS-1 of the 2^ROW_BITS values from ``at``, written from ``out_at``."""
    _copy_row(re, im, at, out_re, out_im, out_at)
    for q in range(ROW_BITS):
        m = gates[q]
        bit = 1 << q
        for k in range(1 << ROW_BITS):
            if k & bit:
                continue
            a = out_at + k
            b = out_at + (k | bit)
            ar, ai, br, bi = out_re[a], out_im[a], out_re[b], out_im[b]
            out_re[a] = m[0] * ar - m[1] * ai + m[2] * br - m[3] * bi
            out_im[a] = m[0] * ai + m[1] * ar + m[2] * bi + m[3] * br
            out_re[b] = m[4] * ar - m[5] * ai + m[6] * br - m[7] * bi
            out_im[b] = m[4] * ai + m[5] * ar + m[6] * bi + m[7] * br


@njit(cache=True, inline="always")
def prefetch(array, index):
    """A hint in the IR layer; nothing here."""
    return None
