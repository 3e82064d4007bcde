"""The optional GPU (CuPy) path of ``backend=statevector``: QAOA layouts evolved on a device.

:class:`ArrayQaoaEngine` evolves a :class:`~qbench.backends.sv_program.QaoaProgram` (standard
QAOA with a tabulated or dense diagonal, multi-angle QAOA, warm-start mixers) with nothing but
NumPy-compatible array calls on an array module ``xp``: ``xp=cupy`` keeps the state on a CUDA
device, ``xp=numpy`` runs the same code on the CPU, which is how the tests check its logic on
machines without a GPU (CI has none). The numba engine stays the CPU path; this one is only
routed to when :func:`gpu_status` says a device is usable.

Why it is shaped this way:

* The state is one complex array (complex128 or complex64), not the CPU engine's split real
  and imaginary parts: the split layout exists for the CPU's SIMD butterflies, while array
  expressions on a complex array need half the kernel launches and the same bytes.
* Each mixer gate is one vectorised butterfly over the state reshaped to
  ``(N >> (q+1), 2, 1 << q)``; the CPU engine's cache tiling (several qubits per memory pass,
  :mod:`qbench.backends.sv_kernels`) is not ported: a GPU's memory bandwidth (several TB/s)
  makes a pass per gate cheap (here a few array expressions over half-states each; fusing them
  into one ``cupy.ElementwiseKernel`` is the next step once measured), and tiling there would
  mean hand-written CUDA kernels. The
  cost phase is a gather ``table[index]`` of the phases of the distinct cost values (one sin
  and cos per value, the same ``phase_table`` the CPU engine uses), ``exp(-i gamma unit D)``
  of a dense diagonal, or, for multi-angle QAOA, the Ising diagonal of the layer's angles as
  block quadratic forms plus one matrix product (no loop over 2^n, no n x 2^n spin matrix).
* The per-state diagonal data (index, dense values) is uploaded once per
  :class:`~qbench.backends.sv_diagonal.DiagonalData` (cached by identity, a small LRU); only
  small tables (phases, level values, 2x2 mixers) cross the bus per layer.
* CVaR is a device ``bincount`` of ``|psi|^2`` over the index (the probability of each
  distinct cost value), then :func:`qbench.backends.sv_kernels.cvar_ascending` on the host.

Peak device memory is :meth:`ArrayQaoaEngine.memory_required`: the state plus at most 40 bytes
per amplitude (two cached diagonals and the temporaries of array expressions). This path has
not been timed on a GPU: its speed, and the cost of the CVaR histogram's atomics when there are
very few distinct values, are unknown.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qbench.ansatz import QaoaLayout
from qbench.backends import sv_cpu
from qbench.backends import sv_kernels as kernels
from qbench.backends.engine import StateVectorEngine
from qbench.backends.sv_diagonal import Diagonal, DiagonalCache, DiagonalData
from qbench.backends.sv_program import Observable, PauliSum, Program, QaoaProgram, qaoa_program


def gpu_status() -> tuple[bool, str]:
    """``(True, device name)`` when CuPy imports and a CUDA device runs a kernel, else
    ``(False, one-line reason)``. Never raises."""
    try:
        import cupy
    except ImportError:
        return False, "cupy is not installed"
    except Exception as error:  # a broken CUDA toolkit can fail at import time
        return False, f"cupy failed to import: {_first_line(error)}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:
        return False, f"no CUDA device ({_first_line(error)})"
    if count < 1:
        return False, "no CUDA device"
    try:
        if int((cupy.arange(4) + 1).sum()) != 10:  # allocates, compiles and runs a kernel
            return False, "the CUDA device computed a wrong test sum"
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
    except Exception as error:
        return False, f"the CUDA device is not usable: {_first_line(error)}"
    return True, f"CUDA device 0: {name}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def level_phases(data: DiagonalData, angle: float, host: Any = kernels) -> np.ndarray:
    """``exp(-i angle level)`` of each distinct level as a complex host vector: integer levels
    through ``host.phase_table`` (:func:`sv_kernels.phase_table`, as the CPU engine does, or its
    NumPy twin), float levels (a dense diagonal tabulated for CVaR) directly."""
    if data.levels.dtype.kind == "i":
        table = np.empty((len(data.levels), 2))
        host.phase_table(data.levels, angle, table)
        return table[:, 0] + 1j * table[:, 1]
    return np.exp(-1j * angle * data.levels)


class ArrayQaoaEngine(StateVectorEngine):
    """QAOA layouts on the array module ``xp`` (``numpy`` or ``cupy``) at precision
    ``real_dtype`` (``float64``: complex128 states; ``float32``: complex64). ``host`` holds the
    host-side helpers (``phase_table``, ``cvar_ascending``): the numba kernels, or their NumPy
    twins (:mod:`qbench.backends.sv_numpy`) where nothing may be compiled. ``diagonals`` builds
    the programs' cost diagonals (:meth:`prepare`); gate circuits are not this engine's.

    :meth:`evolve` returns the state as a device array; :meth:`expectation`, :meth:`cvar`,
    :meth:`level_probabilities`, :meth:`probabilities` and :meth:`vector` reduce or copy it to
    the host."""

    def __init__(self, xp: ModuleType, real_dtype: Any = np.float64, cache_size: int = 2,
                 host: Any = kernels, diagonals: DiagonalCache | None = None) -> None:
        self.xp = xp
        self.name = getattr(xp, "__name__", "array")
        self.host = host
        self.diagonals = diagonals
        self.real_dtype = np.dtype(real_dtype)
        self.dtype = np.result_type(self.real_dtype, np.complex64)
        self.cache_size = cache_size
        self._uploads: OrderedDict[int, tuple[DiagonalData, dict[str, Any]]] = OrderedDict()

    def prepare(self, circuit: QuantumCircuit, layout: QaoaLayout | None) -> Program:
        """The QAOA program of ``layout``, with the diagonal of its cost layer: on a device for
        any costs (a stored phase is cheaper there than the Ising values each layer), with NumPy
        for integer costs (a table of distinct values) only."""
        if layout is None:
            raise TypeError(f"the {self.name} array engine runs QAOA layouts only")
        return qaoa_program(layout, self.diagonals, integer_diagonal=True, any_diagonal=self.xp is not np)

    # -- host <-> device ------------------------------------------------------------------------
    def _host(self, array) -> np.ndarray:
        return np.asarray(array) if self.xp is np else self.xp.asnumpy(array)

    def _device(self, data: DiagonalData, name: str):
        """``data.<name>`` on the device, uploaded the first time it is asked for (the data
        object is held with its uploads, so that its id is not reused while cached)."""
        if id(data) in self._uploads:
            self._uploads.move_to_end(id(data))
        else:
            self._uploads[id(data)] = (data, {})
            while len(self._uploads) > self.cache_size:
                self._uploads.popitem(last=False)
        uploads = self._uploads[id(data)][1]
        if name not in uploads:
            uploads[name] = self.xp.asarray(getattr(data, name))
            if name == "index":  # a tabulated diagonal is always read through its index
                uploads.pop("dense", None)
        return uploads[name]

    # -- evolution ------------------------------------------------------------------------------
    def evolve(self, program: QaoaProgram, x: np.ndarray, observe: Diagonal | None = None):
        """The state at parameters ``x`` (device array of ``2^n`` amplitudes, amplitude index
        bit q = qubit q): the product initial state, then per layer the cost phase and the
        mixer on every qubit, as the layout's circuit does."""
        xp = self.xp
        layout = program.layout
        n = layout.circuit.num_qubits
        gammas, betas = layout.unpack(np.asarray(x, dtype=float))
        psi = xp.ones(1, dtype=self.dtype)
        for q in range(n):  # kron(v_{n-1}, ..., v_0): qubit q is bit q of the index
            psi = xp.outer(xp.asarray(program.initial[q].astype(self.dtype)), psi).ravel()
        for layer in range(layout.reps):
            psi *= self._phase(program, gammas[layer], n)
            for q, m in enumerate(program.mixers(betas[layer]).astype(self.dtype)):
                self._butterfly(psi, q, m)
        return psi

    def _phase(self, program: QaoaProgram, gammas: np.ndarray, n: int):
        """The layer's cost phase ``exp(-i sum_k gamma_k c_k Z_k)`` for every basis state (a
        table gather in the state's dtype, else complex128: ``psi *= phase`` casts in place)."""
        xp = self.xp
        if program.diagonal is None:  # multi-angle (or a float-cost program built without a GPU)
            h, J = program.ising(gammas)
            return _exp_i(xp, ising_values(xp, h, J, n), -1.0)
        gamma = float(gammas[0]) if gammas.shape[0] else 0.0
        angle = gamma * program.diagonal.unit
        data = program.diagonal.data
        if data.index is not None:
            table = xp.asarray(level_phases(data, angle, self.host).astype(self.dtype))
            return xp.take(table, self._device(data, "index"))
        return _exp_i(xp, self._device(data, "dense"), -angle)

    def _butterfly(self, psi, q: int, m: np.ndarray) -> None:
        """The 2x2 matrix ``m`` on qubit ``q``, in place: (a, b) <- (m00 a + m01 b, m10 a + m11 b)
        over the pairs of amplitudes that differ in bit q (two half-state temporaries)."""
        view = psi.reshape(psi.shape[0] >> (q + 1), 2, 1 << q)
        a, b = view[:, 0, :], view[:, 1, :]
        top = a * m[0, 0]
        scratch = b * m[0, 1]
        top += scratch
        b *= m[1, 1]
        b += self.xp.multiply(a, m[1, 0], out=scratch)
        a[...] = top

    # -- results --------------------------------------------------------------------------------
    def _squared(self, psi):
        p = psi.real * psi.real
        p += psi.imag * psi.imag
        return p

    def expectation(self, psi, observable: Observable) -> float:
        """``sum_z |psi_z|^2 D(z)``: gathered level values or the dense diagonal; a Pauli sum
        on the host vector (:func:`sv_cpu.pauli_value`)."""
        if isinstance(observable, PauliSum):
            return sv_cpu.pauli_value(self.vector(psi), observable)
        xp = self.xp
        diagonal = observable
        data = diagonal.data
        p = self._squared(psi)
        # Products summed rather than ``xp.dot``: NumPy's dot goes to a multithreaded BLAS, whose
        # threads cost milliseconds to wake on a busy machine (measured here, 2^14 values:
        # 3.1 ms vs 10 us).
        if data.index is not None:
            values = xp.asarray(diagonal.values())
            p *= xp.take(values, self._device(data, "index"))
            return float(p.sum())
        p *= self._device(data, "dense")
        return diagonal.unit * float(p.sum()) + diagonal.constant

    def level_probabilities(self, psi, diagonal: Diagonal) -> np.ndarray:
        """The probability of each distinct value of ``diagonal`` (tabulated first if dense), as
        a host float64 vector aligned with ``diagonal.values()``."""
        data = diagonal.data
        data.tabulate()
        counts = self.xp.bincount(self._device(data, "index"), weights=self._squared(psi), minlength=len(data.levels))
        return self._host(counts).astype(np.float64, copy=False)

    def cvar(self, psi, diagonal: Diagonal, alpha: float) -> float:
        masses = self.level_probabilities(psi, diagonal)
        return self.host.cvar_ascending(diagonal.data.levels, diagonal.unit, diagonal.constant, masses, alpha)

    def expectations(self, program: Program, parameters: np.ndarray, observables: Sequence[Observable]) -> np.ndarray:
        """With a Pauli sum among the observables, every one of them from the host vector by
        the CPU engine's reductions (one copy per row); else on the device."""
        if not any(isinstance(observable, PauliSum) for observable in observables):
            return super().expectations(program, parameters, observables)
        values = np.empty((len(parameters), len(observables)))
        for row, x in enumerate(parameters):
            psi = self.vector(self.evolve(program, x))
            values[row] = sv_cpu.vector_values(psi, observables)
        return values

    def memory_required(self, num_qubits: int) -> int:
        """Peak device bytes, as counted from the array expressions (not measured on a device):
        the state, up to 8 bytes per amplitude for each cached diagonal (a 2-4 byte index or a
        dense float64 vector; the circuit's and the cost's when they are not shared) and at most
        24 of temporaries (a complex128 phase and the float64 angles it came from; a probability
        and a gathered value in a reduction; the butterfly's two half-state temporaries).
        NumPy's own iteration buffers (``xp=numpy``) are not counted."""
        return (self.dtype.itemsize + 24 + 8 * self.cache_size) * 2**num_qubits

    def free_bytes(self) -> int | None:
        """Device memory free for a state: the driver's free bytes plus the blocks CuPy's pool
        holds for reuse; ``None`` for a host array module (the backend checks host memory)."""
        cuda = getattr(self.xp, "cuda", None)
        if cuda is None:
            return None
        return int(cuda.runtime.memGetInfo()[0]) + int(self.xp.get_default_memory_pool().free_bytes())

    def probabilities(self, psi) -> np.ndarray:
        """``|psi|^2`` as a host float64 vector (for the CPU engine's inverse-CDF sampling)."""
        return self._host(self._squared(psi)).astype(np.float64, copy=False)

    def vector(self, psi) -> np.ndarray:
        """The state as a host complex vector (a copy for ``xp=cupy``)."""
        return self._host(psi)


def _exp_i(xp: ModuleType, values, scale: float):
    """``exp(i scale values)`` as a complex128 vector (exponentiated in place: one temporary)."""
    phase = xp.multiply(values, 1j * scale)
    return xp.exp(phase, out=phase)


def ising_values(xp: ModuleType, h: np.ndarray, J: np.ndarray, n: int):
    """``D(z) = sum_q h_q s_q + sum_{q<r} J_qr s_q s_r`` (``s_q = 1 - 2 z_q``) for every z, as
    a device float64 vector. With z = hi 2^L + lo: D = D_hi[hi] + D_lo[lo] + S_hi J_cross S_lo^T,
    where D_lo, D_hi are the quadratic forms of each half over its 2^(n/2) spin rows (J upper
    triangular) and the cross terms are one matrix product writing the 2^n values."""
    L = n // 2
    h, J = xp.asarray(h, dtype=np.float64), xp.asarray(J, dtype=np.float64)

    def spins(first: int, count: int):
        bits = (xp.arange(1 << count)[:, None] >> xp.arange(count)[None, :]) & 1
        return 1.0 - 2.0 * bits.astype(np.float64), slice(first, first + count)

    s_lo, lo = spins(0, L)
    s_hi, hi = spins(L, n - L)
    d_lo = s_lo @ h[lo] + ((s_lo @ J[lo, lo]) * s_lo).sum(axis=1)
    d_hi = s_hi @ h[hi] + ((s_hi @ J[hi, hi]) * s_hi).sum(axis=1)
    values = (s_hi @ J[lo, hi].T) @ s_lo.T
    values += d_hi[:, None]
    values += d_lo[None, :]
    return values.ravel()
