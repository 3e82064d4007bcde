"""LLVM-IR intrinsics of the numba kernels (:mod:`qbench.backends.sv_kernels`): butterflies on
vectors of LANES values with multiply-adds, a cache prefetch, and a compiler pipeline that marks
a function's arrays ``noalias``. They subclass numba's compiler and build IR through numba's and
llvmlite's internals, which change between releases (hence the upper bounds on both in
pyproject.toml). :mod:`qbench.backends.sv_intrinsics_plain` holds plain-numba functions of the
same names and arguments; ``sv_kernels`` takes those when this module fails to import or
:func:`check` fails (see ``sv_kernels.vector_layer``).

numba's on-disk cache keys a kernel by its own source file: after editing this one, delete the
cached ``sv_kernels.*.nbi``/``.nbc`` files (``__pycache__`` or ``NUMBA_CACHE_DIR``), or the
kernels load their old intrinsics.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import njit
from numba import types as numba_types
from numba.core import cgutils
from numba.core import compiler as numba_compiler
from numba.extending import intrinsic

from qbench.backends.sv_intrinsics_plain import LANES, ROW_BITS


class NoAliasPipeline(numba_compiler.Compiler):
    """numba's nopython pipeline with its ``noalias`` flag: the function's array arguments are
    taken not to share memory (LLVM's ``noalias``), as numba already does for the bodies of
    ``prange`` loops whose arrays it finds distinct. The functions compiled this way (a chunk or
    tile of a memory pass, see ``sv_kernels.work_function``) are called with distinct arrays only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.flags.noalias = True


#: Options of ``sv_kernels.work_function``: the ``noalias`` pipeline.
WORK_OPTIONS = {"pipeline_class": NoAliasPipeline}


class VectorCode:
    """LLVM IR for butterflies on vectors of LANES values of ``dtype`` (the arrays' precision),
    shared by the intrinsics below: loads and stores at an element, coefficients spread over the
    lanes, and the complex updates, as multiply-adds."""

    def __init__(self, context, builder, dtype, array):
        self.context, self.builder, self.dtype = context, builder, dtype
        scalar = context.get_data_type(dtype)
        self.vector = ir.VectorType(scalar, LANES)
        self.index32 = ir.IntType(32)
        self.fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(self.vector, [self.vector] * 3),
            f"llvm.fma.v{LANES}f{64 if isinstance(scalar, ir.DoubleType) else 32}")
        self.alignment = array.data.type.pointee.get_abi_alignment(context.target_data)  # of one value

    def pointer(self, array, at):
        """The vector of ``array`` (a numba array structure) from element ``at``."""
        return self.builder.bitcast(self.builder.gep(array.data, [at]), self.vector.as_pointer())

    def load(self, array, at):
        return self.builder.load(self.pointer(array, at), align=self.alignment)

    def store(self, value, array, at):
        self.builder.store(value, self.pointer(array, at), align=self.alignment)

    def cast(self, value, numba_type):
        """A scalar of type ``numba_type`` in the arrays' precision."""
        return self.context.cast(self.builder, value, numba_type, self.dtype)

    def lanes(self, values):
        """A vector with lane l = values[l]."""
        result = ir.Constant(self.vector, ir.Undefined)
        for lane, value in enumerate(values):
            result = self.builder.insert_element(result, value, ir.Constant(self.index32, lane))
        return result

    def splat(self, value):
        """``value`` in every lane."""
        one = self.builder.insert_element(ir.Constant(self.vector, ir.Undefined), value, ir.Constant(self.index32, 0))
        return self.builder.shuffle_vector(one, ir.Constant(self.vector, ir.Undefined),
                                           ir.Constant(ir.VectorType(self.index32, LANES), [0] * LANES))

    def shuffle(self, value, lanes):
        """``value`` with lane l taken from lane ``lanes[l]``."""
        return self.builder.shuffle_vector(value, value, ir.Constant(ir.VectorType(self.index32, LANES), list(lanes)))

    def combine(self, terms):
        """sum of a * b over the (a, b) pairs of vectors, as multiply-adds."""
        total = self.builder.fmul(*terms[0])
        for a, b in terms[1:]:
            total = self.builder.call(self.fma, [a, b, total])
        return total

    def rx(self, c, s, xr, xi, yr, yi):
        """c x - i s y (RX-type gate [[c, -is], [-is, c]] on x with partner y; c, s vectors)."""
        return self.combine([(c, xr), (s, yi)]), self.combine([(c, xi), (self.builder.fneg(s), yr)])

    def general(self, u, v, xr, xi, yr, yi):
        """u x + v y for complex vectors u = (ur, ui), v = (vr, vi)."""
        (ur, ui), (vr, vi) = u, v
        neg = self.builder.fneg
        return (self.combine([(ur, xr), (neg(ui), xi), (vr, yr), (neg(vi), yi)]),
                self.combine([(ur, xi), (ui, xr), (vr, yi), (vi, yr)]))


@intrinsic
def rx4_vectors(typingctx, re, im, at, step1, step2, out_re, out_im, out_at, out_step1, out_step2, c1, s1, c2, s2):
    """The butterflies of ``sv_kernels._rx4`` on LANES consecutive values of four rows, ``at``, ``at +
    step1``, ``at + step2`` and ``at + step1 + step2`` of ``re, im``, written to the same rows
    (``out_step1``, ``out_step2`` apart) of ``out_re, out_im`` from ``out_at``, which may be the
    input itself: every value is loaded before any is stored. Written in LLVM IR: numba's loops
    over eight row slices vectorise behind run-time checks that the rows do not overlap, and
    their loop control (measured, one thread, a 2^14-amplitude tile in L2, the gates on bits
    6-13: 0.139 ns per amplitude and gate as a numba loop, 0.126 as these vectors; with the
    tile in L1 0.156 against 0.111)."""
    def codegen(context, builder, signature, args):
        source = [context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 1)]
        target = [context.make_array(signature.args[k])(context, builder, args[k]) for k in (5, 6)]
        code = VectorCode(context, builder, signature.args[0].dtype, source[0])

        def starts(at, step1, step2):
            return at, builder.add(at, step1), builder.add(at, step2), builder.add(builder.add(at, step1), step2)

        inputs = starts(args[2], args[3], args[4])
        real = [code.load(source[0], at) for at in inputs]
        imag = [code.load(source[1], at) for at in inputs]
        for (c, s), pairs in (((10, 11), ((0, 1), (2, 3))), ((12, 13), ((0, 2), (1, 3)))):
            c, s = (code.splat(code.cast(args[k], signature.args[k])) for k in (c, s))
            for a, b in pairs:  # (c, s) on rows a, b: a' = c a - i s b, b' = c b - i s a
                (real[a], imag[a]), (real[b], imag[b]) = (code.rx(c, s, real[a], imag[a], real[b], imag[b]),
                                                          code.rx(c, s, real[b], imag[b], real[a], imag[a]))
        for k, at in enumerate(starts(args[7], args[8], args[9])):
            code.store(real[k], target[0], at)
            code.store(imag[k], target[1], at)
        return context.get_dummy_value()
    intp = numba_types.intp
    return numba_types.void(re, im, intp, intp, intp, out_re, out_im, intp, intp, intp, c1, s1, c2, s2), codegen


def _row_vectors_intrinsic(general):
    """The intrinsic of ``sv_kernels._row_gates``: the gates on bits 0..ROW_BITS-1 of 2^ROW_BITS
    consecutive values held in registers, the low bits across the lanes of a vector, the others
    across vectors. ``general``: any 2x2 matrices, ``gates`` a C-contiguous array of the
    kernels' rows [u00r, u00i, u01r, u01i, u10r, u10i, u11r, u11i] (rows 0..ROW_BITS-1); else
    RX-type gates, ``gates`` a tuple (c0, s0, c1, s1, ...) as in ``sv_kernels._rx_rows``."""
    lane_bits = LANES.bit_length() - 1
    vectors = 1 << (ROW_BITS - lane_bits)

    def typer(typingctx, re, im, at, out_re, out_im, out_at, gates):
        if general and not (isinstance(gates, numba_types.Array) and gates.ndim == 2 and gates.layout == "C"):
            # the codegen reads gate g's number k at offset 8 g + k
            raise numba.core.errors.TypingError(f"general gates must be a C-contiguous 2-d array of rows, got {gates}")

        def codegen(context, builder, signature, args):
            source = [context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 1)]
            target = [context.make_array(signature.args[k])(context, builder, args[k]) for k in (3, 4)]
            code = VectorCode(context, builder, signature.args[0].dtype, source[0])
            if general:
                table = context.make_array(signature.args[6])(context, builder, args[6])

            def coefficient(k):  # the k-th number describing the gates, in the arrays' precision
                if general:
                    return code.cast(builder.load(builder.gep(table.data, [ir.Constant(ir.IntType(64), k)])),
                                     signature.args[6].dtype)
                return code.cast(builder.extract_value(args[6], k), signature.args[6].types[k])

            def offsets(at):
                return [builder.add(at, ir.Constant(at.type, k * LANES)) for k in range(vectors)]

            real = [code.load(source[0], at) for at in offsets(args[2])]
            imag = [code.load(source[1], at) for at in offsets(args[2])]
            for gate in range(ROW_BITS):
                if general:
                    u = [coefficient(8 * gate + k) for k in range(8)]  # u00r u00i u01r u01i u10r u10i u11r u11i
                else:
                    c, s = coefficient(2 * gate), coefficient(2 * gate + 1)
                if gate < lane_bits:  # pairs of lanes l, l ^ 2^gate in every vector
                    bit = 1 << gate
                    if general:  # lane l: its own value times u00 or u11, its partner's times u01 or u10
                        own = [code.lanes([u[k + 6] if lane & bit else u[k] for lane in range(LANES)]) for k in (0, 1)]
                        other = [code.lanes([u[k + 4] if lane & bit else u[k + 2] for lane in range(LANES)]) for k in (0, 1)]
                    else:
                        c_all, s_all = code.splat(c), code.splat(s)
                    for k in range(vectors):
                        xr, xi = real[k], imag[k]
                        pr, pi = (code.shuffle(x, [lane ^ bit for lane in range(LANES)]) for x in (xr, xi))
                        if general:
                            real[k], imag[k] = code.general(own, other, xr, xi, pr, pi)
                        else:  # x' = c x - i s p
                            real[k], imag[k] = code.rx(c_all, s_all, xr, xi, pr, pi)
                    continue
                step = 1 << (gate - lane_bits)  # pairs of vectors a, a + step
                if general:
                    v = [code.splat(x) for x in u]
                else:
                    c_all, s_all = code.splat(c), code.splat(s)
                for a in range(vectors):
                    if a & step:
                        continue
                    b = a + step
                    ar, ai, br, bi = real[a], imag[a], real[b], imag[b]
                    if general:  # a' = u00 a + u01 b, b' = u10 a + u11 b
                        (real[a], imag[a]), (real[b], imag[b]) = (code.general(v[0:2], v[2:4], ar, ai, br, bi),
                                                                  code.general(v[4:6], v[6:8], ar, ai, br, bi))
                    else:  # a' = c a - i s b, b' = c b - i s a
                        (real[a], imag[a]), (real[b], imag[b]) = (code.rx(c_all, s_all, ar, ai, br, bi),
                                                                  code.rx(c_all, s_all, br, bi, ar, ai))
            for k, at in enumerate(offsets(args[5])):
                code.store(real[k], target[0], at)
                code.store(imag[k], target[1], at)
            return context.get_dummy_value()
        intp = numba_types.intp
        return numba_types.void(re, im, intp, out_re, out_im, intp, gates), codegen
    typer.__name__ = typer.__qualname__ = "row_vectors_" + ("general" if general else "rx")
    return intrinsic(typer)


# row_vectors lists the six gates of a row one by one; LANES = 8 puts three of them across lanes
assert ROW_BITS == 6 and LANES == 8
row_vectors_rx = _row_vectors_intrinsic(False)
row_vectors_general = _row_vectors_intrinsic(True)


@intrinsic
def prefetch(typingctx, array, index):
    """Ask for the cache line holding ``array[index]`` (LLVM's ``llvm.prefetch``: read, to all
    cache levels; a hint, never a fault). numba has no prefetch of its own."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        hint = ir.FunctionType(ir.VoidType(), [byte_pointer] + [ir.IntType(32)] * 3)
        function = cgutils.get_or_insert_function(builder.module, hint, "llvm.prefetch.p0")
        constant = [ir.Constant(ir.IntType(32), v) for v in (0, 3, 1)]  # read, keep in all levels, data
        builder.call(function, [builder.bitcast(pointer, byte_pointer)] + constant)
        return context.get_dummy_value()
    return numba_types.void(array, numba_types.intp), codegen


@njit(cache=True, fastmath=True, pipeline_class=NoAliasPipeline)
def _probe(re, im, c, s, rows):
    """Each intrinsic once (rows of LANES values, then a row of 2^ROW_BITS), compiled with the
    ``noalias`` pipeline: the four outputs of :func:`check`."""
    rx4_re, rx4_im = np.empty_like(re), np.empty_like(im)
    rx4_vectors(re, im, 0, LANES, 2 * LANES, rx4_re, rx4_im, 0, LANES, 2 * LANES, c, s, s, c)
    rx_re, rx_im = re.copy(), im.copy()
    row_vectors_rx(rx_re, rx_im, 0, rx_re, rx_im, 0, (c, s, s, c, c, -s, -s, c, c, s, s, -c))
    general_re, general_im = np.empty_like(re), np.empty_like(im)
    row_vectors_general(re, im, 0, general_re, general_im, 0, rows)
    prefetch(re, 0)
    return rx4_re, rx4_im, rx_re, rx_im, general_re, general_im


def _row_gates(psi: np.ndarray, matrices: list[np.ndarray]) -> np.ndarray:
    """``matrices[q]`` on bit q of ``psi``'s index, one after the other (NumPy)."""
    psi = psi.copy()
    for q, m in enumerate(matrices):
        view = psi.reshape(-1, 2, 1 << q)
        view[:] = np.einsum("ab,kbl->kal", m, view)
    return psi


def check() -> None:
    """Compile (numba caches it) and run each intrinsic once against the same gates in NumPy;
    raises where one fails to compile or differs by more than rounding."""
    rng = np.random.default_rng(0)
    size = 1 << ROW_BITS
    psi = rng.normal(size=size) + 1j * rng.normal(size=size)
    c, s = 0.8, 0.6
    matrices = [np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))[0] for _ in range(ROW_BITS)]
    flat = np.array([m.reshape(4) for m in matrices])
    rows = np.ascontiguousarray(np.stack([flat.real, flat.imag], axis=-1).reshape(ROW_BITS, 8))
    got = _probe(psi.real.copy(), psi.imag.copy(), c, s, rows)

    def rx(c, s):
        return np.array([[c, -1j * s], [-1j * s, c]])

    quad = psi[:4 * LANES].reshape(4, LANES)  # rows at, at + step1, at + step2, at + step1 + step2
    first = np.einsum("ab,bk->ak", rx(c, s), quad.reshape(2, 2, LANES).transpose(1, 0, 2).reshape(2, -1))
    pairs = first.reshape(2, 2, LANES).transpose(1, 0, 2).reshape(4, LANES)
    second = np.einsum("ab,bk->ak", rx(s, c), pairs.reshape(2, -1)).reshape(4, LANES)
    expected = [second.reshape(-1),
                _row_gates(psi, [rx(c, s), rx(s, c), rx(c, -s), rx(-s, c), rx(c, s), rx(s, -c)]),
                _row_gates(psi, matrices)]
    values = [got[0][:4 * LANES] + 1j * got[1][:4 * LANES], got[2] + 1j * got[3], got[4] + 1j * got[5]]
    for name, value, wanted in zip(("rx4_vectors", "row_vectors_rx", "row_vectors_general"), values, expected):
        if not np.allclose(value, wanted, rtol=0, atol=1e-12):
            raise ArithmeticError(f"{name} differs from NumPy by {np.max(np.abs(value - wanted)):.1e}")
