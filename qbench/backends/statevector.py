"""``backend=statevector``: an in-process exact state-vector engine for the variational loop.

Two paths behind the :class:`~qbench.backends.base.Backend` interface:

* QAOA layouts (``structure`` is a :class:`qbench.ansatz.QaoaLayout`: QAOA, CVaR-QAOA,
  multi-angle and warm-start QAOA): the diagonal of the cost layer is built once (vectorised,
  no Python loop over 2^n); each layer is one pass applying the cost phase fused with the mixer
  gates on the low qubits, plus one pass per further block of qubits (QOKit's approach, see
  :mod:`qbench.backends.sv_kernels`). When the Ising coefficients are integer multiples of one
  unit (every penalty QUBO with integer data), the diagonal is stored as an index into the
  table of its distinct values, so a layer needs one sin/cos per distinct value, not per
  amplitude, and CVaR is a histogram over the distinct values (no sort of 2^n energies). Other
  diagonals (float costs) and multi-angle layers take the phase from the Ising coefficients,
  factored per chunk (:func:`qbench.backends.sv_kernels.phase_ising_low_block`): 2^block
  sin/cos per layer, not one per amplitude either.
* Any other circuit (VQE's hardware-efficient ansätze, PCE/QRAO circuits): unrolled to one- and
  two-qubit gates once, then applied gate by gate (runs of one-qubit gates on a qubit fused).
  ``estimate`` evaluates arbitrary Pauli observables by bit masks.

Costs (QUBO expectation, CVaR) are exact from the state; sampling draws from the exact
distribution with a seed from :meth:`Backend.next_seed`. Global phases are not tracked (they
change no probability or expectation value).

``device=auto`` (the default) runs QAOA layouts on a CUDA GPU through CuPy when one is usable
(:mod:`qbench.backends.sv_gpu`, the same interface; gate circuits stay on the CPU); without one,
the numba engine. The GPU path is tested with numpy standing in for CuPy; it has not been
timed on a GPU.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import SparsePauliOp

from qbench.ansatz import IsingTerm, QaoaLayout, ising_terms
from qbench.backends import sv_gates, sv_gpu, sv_numpy
from qbench.backends import sv_kernels as kernels
from qbench.backends.base import Backend, PreparedCircuit, Samples, metrics_of
from qbench.errors import ConfigError, ResourceLimitError
from qbench.memory import format_bytes
from qbench.params import check
from qbench.variational import DiagonalCost

#: Below this many qubits a state is evolved by the kernels' serial twins (``sv_kernels.SERIAL``):
#: dispatching a parallel region costs more than the work, and on a loaded machine a thread
#: barrier can stall for milliseconds (measured, one QAOA p = 2 energy, medians: n = 16 1.2 ms
#: serial vs 2.1-2.4 ms parallel on two threads; n = 17-18 either way by turns; n = 20 19 vs
#: 12-17 ms).
SERIAL_BELOW = 18


#: Integer costs take their phase from the table of distinct cost values below this many qubits
#: and, like float costs, from the Ising coefficients from it on (``sv_kernels.
#: phase_ising_low_block``: no gather from the table). Measured here (Zen 4, two threads, one
#: phase + low pass of an MDKP penalty QUBO, ns per amplitude): n = 12 table 7.2 vs Ising 15.4
#: (its 2^L sines and cosines per call outweigh the state); n = 16 4.9 vs 4.8; n = 20 3.5 vs
#: 2.9; n = 24 2.6 vs 2.6.
TABLE_PHASE_BELOW = 16

#: From this many qubits the automatic block is 14 qubits (a 256 KiB chunk per array, in L2),
#: below it 12: measured (one QAOA p = 3 energy, interleaved medians, 2 threads): n = 24
#: 0.255-0.261 s with 14 vs 0.280-0.301 s with 12; n = 22 63 vs 67 ms; n = 16-20 equal or 12
#: ahead (n = 16 1.42 vs 1.53 ms).
LARGE_BLOCK_FROM = 22


#: States of fewer qubits than this run on plain NumPy (:mod:`qbench.backends.sv_numpy`, and
#: QAOA layouts on :class:`~qbench.backends.sv_gpu.ArrayQaoaEngine` with ``xp=numpy``), so that a
#: small run compiles no numba kernel: with an empty numba cache, compiling the kernels of a
#: 14-qubit QAOA run took 34 s of its 37 s here. Measured (one QAOA p = 3 energy, integer costs,
#: CPU time, medians): NumPy vs numba 0.5 vs 0.04 ms at 10 qubits, 1.0 vs 0.09 at 12, 3.4 vs 0.33
#: at 14, 6.4 vs 0.7 at 15, 13 vs 1.2 at 16: from 16 qubits a run's evaluations outweigh loading
#: the compiled kernels from numba's cache (about a second per process).
NUMPY_BELOW = 16


def kernels_for(size: int):
    """The kernel set for a state of ``size`` amplitudes: NumPy twins on small states (nothing
    to compile), the serial numba twins on mid-sized ones, the parallel kernels from
    :data:`SERIAL_BELOW` qubits."""
    if size < 1 << NUMPY_BELOW:
        return sv_numpy
    kernels.vector_layer()
    return kernels.SERIAL if size < 1 << SERIAL_BELOW else kernels


def module_for(size: int):
    """The kernels that have no serial twin (diagonals, tables, CVaR) for a state of ``size``
    amplitudes: their NumPy twins on small states, else :mod:`~qbench.backends.sv_kernels`."""
    if size < 1 << NUMPY_BELOW:
        return sv_numpy
    kernels.vector_layer()
    return kernels

#: Values between the end of the QAOA state's real parts and the start of its imaginary parts
#: (see ``StatevectorBackend._state_parts``): 72 = 576 bytes, off every 4 KiB page alignment.
PART_OFFSET = 72

#: A Z-only observable with more terms than this (a QUBO Hamiltonian) is evaluated through its
#: diagonal (one pass), a smaller one term by term.
DIAGONAL_TERMS = 8

#: Gate circuits up to this many qubits evaluate many parameter sets together with numpy
#: (``StatevectorBackend._gate_batches``), at most BATCH_AMPLITUDES amplitudes at a time.
BATCH_QUBITS = 12
BATCH_AMPLITUDES = 1 << 20

#: One- and two-qubit gates a general circuit is unrolled to (anything with a matrix works;
#: this list only tells the transpiler where to stop decomposing).
BASIS_GATES = [
    "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "rx", "ry", "rz", "p", "u",
    "cx", "cy", "cz", "ch", "swap", "iswap", "ecr", "rzz", "rxx", "ryy", "rzx", "cp", "crx",
    "cry", "crz",
]
_BASIS = frozenset(BASIS_GATES)


@dataclass(frozen=True)
class StatevectorParams:
    """``precision``: ``double`` (complex128) or ``single`` (complex64, about 1e-6 accurate);
    ``block_qubits``: qubits per memory pass (2^block_qubits amplitudes per cache tile; 0 =
    automatic, :func:`block_bits`);
    ``threads``: worker threads (0 = all cores numba sees); ``device``: where QAOA layouts run
    (``auto``: on a CUDA GPU through CuPy when one is usable, else the CPU; ``gpu``: the GPU or a
    ConfigError saying why not; ``cpu``: numba). Other circuits always run on the CPU."""

    precision: Literal["double", "single"] = "double"
    block_qubits: int = 0
    threads: int = 0
    device: Literal["auto", "cpu", "gpu"] = "auto"

    def __post_init__(self) -> None:
        check(self.precision in ("double", "single"), "precision", f"must be double or single, got {self.precision!r}")
        check(0 <= self.block_qubits <= 16, "block_qubits", f"must be 0 (automatic) or 1..16, got {self.block_qubits}")
        check(self.threads >= 0, "threads", f"must be >= 0, got {self.threads}")
        check(self.device in ("auto", "cpu", "gpu"), "device", f"must be auto, cpu or gpu, got {self.device!r}")


# ------------------------------------------------------------------------------------------------
# Diagonals of Ising operators
# ------------------------------------------------------------------------------------------------
@dataclass
class DiagonalData:
    """``D(z) / unit`` for every basis state: either integer ``levels`` (sorted distinct values)
    with a per-state ``index`` into them, or a ``dense`` float vector."""

    levels: np.ndarray | None = None
    index: np.ndarray | None = None
    dense: np.ndarray | None = None

    def tabulate(self) -> None:
        """Give a dense diagonal a levels/index form (one sort, for CVaR) in place of the dense
        vector (``levels[index]`` is the same diagonal). By hand rather than ``np.unique(...,
        return_inverse=True)``, whose temporaries took a float-cost CVaR run at n = 24 to 6.3x
        the state's bytes (measured): here at most the sort order (8 bytes per state), the
        sorted values and the index at once, the dense vector freed as soon as it is sorted."""
        if self.index is not None:
            return
        order = np.argsort(self.dense)
        ordered = self.dense[order]
        self.dense = None
        rank = np.empty(ordered.shape[0], dtype=np.uint32)
        count = module_for(ordered.shape[0]).compact_sorted(ordered, rank)
        self.levels = ordered[:count]
        self.index = np.empty(rank.shape[0], dtype=np.uint32)
        self.index[order] = rank


@dataclass
class Diagonal:
    """``D(z) = unit * data(z) + constant``: the data is shared by all operators proportional
    to each other (the circuit's normalised Hamiltonian and the QUBO's)."""

    data: DiagonalData
    unit: float
    constant: float = 0.0

    def values(self, out: np.ndarray | None = None) -> np.ndarray:
        """The distinct values of D (tabulated data only), ascending; written to the front of
        ``out`` when given (a tabulated float cost has about one value per state: the engine
        lends its float64 buffer rather than allocate 8 bytes per state per evaluation)."""
        levels = self.data.levels
        values = np.empty(len(levels)) if out is None else out[:len(levels)]
        np.multiply(levels, self.unit, out=values)
        values += self.constant
        return values


def integer_unit(coeffs: np.ndarray, max_lcm: int = 1 << 24) -> float | None:
    """The largest ``u`` with every coefficient an integer multiple of it, or ``None`` when there
    is none with a moderate denominator (the diagonal is then dense). Each ratio to the largest
    coefficient must be a fraction to a few ulps (a true ratio of integers is; an irrational one
    is not approximated that closely by denominators up to ``max_lcm``)."""
    coeffs = np.asarray(coeffs, dtype=float)
    top = float(np.max(np.abs(coeffs))) if coeffs.size else 0.0
    if top == 0.0:
        return 1.0
    lcm = 1
    for ratio in coeffs / top:
        frac = Fraction(float(ratio)).limit_denominator(max_lcm)
        if abs(float(frac) - ratio) > 1e-15:
            return None
        lcm = lcm * frac.denominator // math.gcd(lcm, frac.denominator)
        if lcm > max_lcm:
            return None
    unit = top / lcm
    multiples = np.round(coeffs / unit)
    if np.max(np.abs(coeffs - multiples * unit)) > 1e-13 * top:
        return None
    return unit


@dataclass(frozen=True)
class IsingIndex:
    """Where each term's coefficient goes in the field ``h`` and the upper-triangular coupling
    ``J`` of ``sum_k coeffs_k Z_{terms_k}``. Built once per QAOA layout, so that a layer's h and
    J are two bincounts, not a Python loop over the terms (that loop was 20 us per layer at
    n = 12, a fifth of one p = 3 evaluation with the Ising phase)."""

    n: int
    single_terms: np.ndarray
    single_qubits: np.ndarray
    pair_terms: np.ndarray
    pair_cells: np.ndarray  # q * n + r, q < r

    @classmethod
    def of(cls, terms: tuple[IsingTerm, ...] | list[IsingTerm], n: int) -> "IsingIndex":
        singles = [(k, t.qubits[0]) for k, t in enumerate(terms) if len(t.qubits) == 1]
        pairs = [(k, min(t.qubits) * n + max(t.qubits)) for k, t in enumerate(terms) if len(t.qubits) == 2]
        single_terms, single_qubits = np.array(singles, dtype=np.int64).reshape(-1, 2).T
        pair_terms, pair_cells = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        return cls(n, single_terms, single_qubits, pair_terms, pair_cells)

    def arrays(self, coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        coeffs = np.asarray(coeffs, dtype=float)
        h = np.bincount(self.single_qubits, weights=coeffs[self.single_terms], minlength=self.n)
        J = np.bincount(self.pair_cells, weights=coeffs[self.pair_terms], minlength=self.n * self.n)
        # (without terms bincount returns integers)
        return h.astype(float, copy=False), J.astype(float, copy=False).reshape(self.n, self.n)


def ising_arrays(terms: tuple[IsingTerm, ...] | list[IsingTerm], n: int, coeffs: np.ndarray):
    """Field ``h`` and upper-triangular coupling ``J`` of ``sum_k coeffs_k Z_{terms_k}`` (the
    terms' qubits with the given coefficients)."""
    return IsingIndex.of(terms, n).arrays(coeffs)


class DiagonalCache:
    """Diagonals by normalised coefficients, so that proportional operators share one vector;
    holds at most ``size`` of them (a run uses two: the circuit's and the cost's)."""

    def __init__(self, low_bits: int, size: int = 2) -> None:
        self.low_bits = low_bits
        self.size = size
        self._data: OrderedDict[tuple, DiagonalData] = OrderedDict()

    @staticmethod
    def unit_of(coeffs: np.ndarray) -> tuple[float, bool]:
        """The unit the diagonal of terms with these coefficients is stored in, and whether its
        values are integer multiples of it (then tabulated: an index into the distinct values)."""
        unit = integer_unit(coeffs)
        if unit is not None and np.abs(coeffs).sum() / unit < 2**30:
            return unit, True
        return (float(np.max(np.abs(coeffs))) if coeffs.size else 1.0), False

    def get(self, terms: list[IsingTerm] | tuple[IsingTerm, ...], n: int, constant: float = 0.0) -> Diagonal:
        coeffs = np.array([t.coeff for t in terms], dtype=float)
        unit, integral = self.unit_of(coeffs)
        normalised = np.round(coeffs / unit) if integral else coeffs / unit
        key = (n, integral, tuple(sorted((t.qubits, float(c)) for t, c in zip(terms, normalised))))
        if key in self._data:
            self._data.move_to_end(key)
        else:
            self._data[key] = self._build(terms, normalised, n, integral)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return Diagonal(self._data[key], float(unit), constant)

    def _build(self, terms, normalised: np.ndarray, n: int, integral: bool) -> DiagonalData:
        h, J = ising_arrays(terms, n, normalised)
        low = min(n, self.low_bits)
        k = module_for(1 << n)
        if not integral:
            dense = np.empty(1 << n)
            k.ising_diagonal(h, J, low, dense)
            return DiagonalData(dense=dense)
        values = np.empty(1 << n, dtype=np.int32)
        k.ising_diagonal(h, J, low, values)
        lo, hi = int(values.min()), int(values.max())
        if hi - lo >= 4 << n:  # a presence table larger than the vector: sort instead
            levels, inverse = np.unique(values, return_inverse=True)
            return DiagonalData(levels=levels.astype(np.int64), index=inverse.astype(np.uint32))
        levels, position = k.distinct_levels(values, lo, hi)
        index = np.empty(1 << n, dtype=np.uint16) if len(levels) <= 1 << 16 else values.view(np.uint32)
        k.remap(values, lo, position, index)
        return DiagonalData(levels=levels, index=index)


# ------------------------------------------------------------------------------------------------
# Programs: what to do per evaluation
# ------------------------------------------------------------------------------------------------
def _rotation_y(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)


def _rotation_z(phi: np.ndarray) -> np.ndarray:
    zero = np.zeros_like(phi)
    return np.stack([np.stack([np.exp(-0.5j * phi), zero], -1), np.stack([zero, np.exp(0.5j * phi)], -1)], -2)


@dataclass
class QaoaProgram:
    """A QAOA layout as diagonal phases and per-qubit mixer matrices."""

    layout: QaoaLayout
    standard: bool  # one gamma per layer: the phase is exp(-i gamma D)
    diagonal: Diagonal | None  # D of the cost layer (standard QAOA with integer costs, or any on a GPU)
    initial: np.ndarray  # (n, 2) one-qubit states of the product initial state
    coefficients: np.ndarray  # the layout's term coefficients
    index: IsingIndex  # where the terms go in h, J

    def ising(self, gammas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Field and coupling of one layer's phase operator (each term's coefficient times its
        angle: ``gammas`` holds one angle, or one per term in multi-angle QAOA)."""
        return self.index.arrays(gammas * self.coefficients)

    def mixers(self, betas: np.ndarray) -> np.ndarray:
        """(n, 2, 2) mixer matrices of one layer: RX(2 beta) or RY(t) RZ(-2 beta) RY(-t)."""
        if self.layout.warm_angles is None:
            c, s = np.cos(betas), np.sin(betas)
            return np.stack([np.stack([c, -1j * s], -1), np.stack([-1j * s, c], -1)], -2)
        theta = np.asarray(self.layout.warm_angles, dtype=float)
        return _rotation_y(theta) @ _rotation_z(-2 * betas) @ _rotation_y(-theta)

    def mixer_rows(self, betas: np.ndarray, dtype) -> np.ndarray:
        """:meth:`mixers` as the kernels' rows (``sv_kernels.gate_rows``) in ``dtype``. RX(2 beta)
        is written directly as [c, 0, 0, -s, 0, -s, c, 0]: building and splitting the complex
        matrices took 25-30 us per layer, half of a p = 3 energy at n = 12 (measured)."""
        if self.layout.warm_angles is not None:
            return np.ascontiguousarray(kernels.gate_rows(self.mixers(betas)), dtype=dtype)
        rows = np.zeros((len(betas), 8), dtype=dtype)
        rows[:, 0] = rows[:, 6] = np.cos(betas)
        rows[:, 3] = rows[:, 5] = -np.sin(betas)
        return rows


@dataclass(frozen=True)
class StateParts:
    """A state held as real and imaginary parts in chunks of 2^bits amplitudes, ``pitch`` values
    apart: a QAOA state's chunks are padded (``sv_kernels.CHUNK_PAD_BYTES``), the ``.real`` and
    ``.imag`` views of a complex vector are not (pitch = 2^bits). The reductions of
    ``sv_kernels`` take these four."""

    re: np.ndarray
    im: np.ndarray
    bits: int
    pitch: int

    @classmethod
    def of_vector(cls, psi: np.ndarray) -> "StateParts":
        bits = min(int(psi.shape[0]).bit_length() - 1, kernels.LOW_BITS)
        return cls(psi.real, psi.imag, bits, 1 << bits)

    @property
    def size(self) -> int:
        return (self.re.shape[0] // self.pitch) << self.bits

    def logical(self, values: np.ndarray) -> np.ndarray:
        """``values`` (re or im) as a (chunks, 2^bits) view in basis-state order."""
        chunks = values.shape[0] // self.pitch
        return values[:chunks * self.pitch].reshape(chunks, self.pitch)[:, :1 << self.bits]

    def vector(self, dtype) -> np.ndarray:
        """The state as a new complex vector in basis-state order."""
        psi = np.empty(self.size, dtype=dtype)
        shape = (-1, 1 << self.bits)
        psi.real.reshape(shape)[:] = self.logical(self.re)
        psi.imag.reshape(shape)[:] = self.logical(self.im)
        return psi


@dataclass
class GateProgram:
    """A circuit unrolled to one- and two-qubit gates, compiled to a :class:`sv_gates.GateSequence`
    (each gate's matrix as a function of the parameters: no binding per evaluation)."""

    circuit: QuantumCircuit
    sequence: sv_gates.GateSequence


def pauli_terms(observable: SparsePauliOp) -> list[tuple[int, int, complex]]:
    """``(x mask, z mask, coeff i^{#Y})`` of each Pauli term: ``P = i^{#Y} X^x Z^z`` up to
    the order of factors (see ``sv_kernels.pauli_expectation``)."""
    n = observable.num_qubits
    weights = 1 << np.arange(n, dtype=np.int64)
    terms = []
    for label, coeff in observable.to_list():
        bits = np.array(list(reversed(label)))
        xmask = int(weights[(bits == "X") | (bits == "Y")].sum())
        zmask = int(weights[(bits == "Z") | (bits == "Y")].sum())
        terms.append((xmask, zmask, complex(coeff) * 1j ** int((bits == "Y").sum())))
    return terms


class StatevectorBackend(Backend):
    """Exact in-process simulation (numba kernels): see the module docstring."""

    name = "statevector"
    Params = StatevectorParams
    exact_expectations = True

    def __init__(self, params: StatevectorParams | None = None) -> None:
        super().__init__(params)
        import numba

        self.threads = min(self.params.threads or numba.config.NUMBA_NUM_THREADS, numba.config.NUMBA_NUM_THREADS)
        self.dtype = np.complex128 if self.params.precision == "double" else np.complex64
        self.real_dtype = np.float64 if self.params.precision == "double" else np.float32
        self.diagonals = DiagonalCache(kernels.LOW_BITS)
        self._state: np.ndarray | None = None
        self._parts: np.ndarray | None = None  # the QAOA state's real and imaginary parts
        self._buffer: np.ndarray | None = None
        self._last_cost: tuple[DiagonalCost, Diagonal] | None = None
        self.gpu, self.device_note = self._gpu_engine()
        #: QAOA layouts of fewer than NUMPY_BELOW qubits (when not on a GPU): nothing to compile.
        self.small = sv_gpu.ArrayQaoaEngine(np, self.real_dtype, host=sv_numpy)

    def _gpu_engine(self) -> tuple[sv_gpu.ArrayQaoaEngine | None, str]:
        """The GPU engine for QAOA layouts and why (or why not)."""
        if self.params.device == "cpu":
            return None, "device=cpu"
        ok, reason = sv_gpu.gpu_status()
        if not ok:
            if self.params.device == "gpu":
                raise ConfigError(f"backend.device=gpu: {reason}")
            return None, reason
        import cupy

        return sv_gpu.ArrayQaoaEngine(cupy, self.real_dtype), reason

    def block_bits(self, num_qubits: int) -> int:
        """Qubits per memory pass for a state of ``num_qubits`` (``block_qubits``, or when 0:
        14 from :data:`LARGE_BLOCK_FROM` qubits, else 12)."""
        if self.params.block_qubits:
            return self.params.block_qubits
        return 14 if num_qubits >= LARGE_BLOCK_FROM else kernels.LOW_BITS

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "precision": self.params.precision,
                "block_qubits": self.params.block_qubits, "threads": self.threads,
                "device": "gpu" if self.gpu is not None else "cpu", "device_note": self.device_note}

    def memory_required(self, num_qubits: int) -> int:
        """The state, plus at most 24 bytes per amplitude of working data: a cost diagonal (dense
        float64; or, tabulated for CVaR, a 2-4 byte index and its levels, which for a float
        cost are up to 8 bytes per state) and the float64 buffer of probabilities or level
        masses; while a float diagonal is tabulated, its sort order and sorted copy (24 bytes
        per state at once, before the buffer exists). Measured peaks at n = 24 (benchmark part
        4): 1.68x the complex128 state for an integer cost, 2.54x for a float cost with CVaR
        (2.29x after the tabulation); this counts 2.5x. (A QAOA state is held as real and
        imaginary parts, the same bytes; ``state()`` of a QAOA circuit makes a complex copy on
        top, which cost, sampling and CVaR do not need.)"""
        return (np.dtype(self.dtype).itemsize + 24) * 2**num_qubits

    # -- preparation ----------------------------------------------------------------------------
    def transpile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        """Unroll to one- and two-qubit gates; a circuit already made of them (QAOA layouts,
        Qiskit's hardware-efficient ansätze) is used as it is (the transpiler costs ~0.1-1 s)."""
        if all(inst.operation.name in _BASIS or inst.operation.name == "barrier" for inst in circuit.data):
            return circuit
        return transpile(circuit, basis_gates=BASIS_GATES, optimization_level=0)

    def prepare(self, circuit: QuantumCircuit, structure: Any = None) -> PreparedCircuit:
        self.check_qubits(circuit.num_qubits)
        start = time.perf_counter()
        isa = self.transpile(circuit)
        prepared = PreparedCircuit(circuit, isa, metrics_of(circuit, isa))
        if isinstance(structure, QaoaLayout) and structure.circuit.num_qubits == circuit.num_qubits \
                and structure.num_parameters == circuit.num_parameters:
            prepared.extra["program"] = self._qaoa_program(structure)
        else:
            prepared.extra["program"] = self._gate_program(isa)
        prepared.extra["gpu"] = self._fits_gpu(prepared.extra["program"], circuit.num_qubits)
        prepared.extra["arrays"] = self._array_engine(prepared.extra["program"], circuit.num_qubits,
                                                      prepared.extra["gpu"])
        self.timings["transpile"] += time.perf_counter() - start
        return prepared

    def _fits_gpu(self, program, n: int) -> bool:
        """Whether this program runs on the GPU: a QAOA layout whose state and working data fit
        in the device's free memory (with device=gpu, one that does not is refused)."""
        if self.gpu is None or not isinstance(program, QaoaProgram):
            return False
        needed, free = self.gpu.memory_required(n), self.gpu.free_bytes()
        if free is None or needed <= free:
            return True
        if self.params.device == "gpu":
            raise ResourceLimitError(f"{n} qubits need about {format_bytes(needed)} on the GPU but only "
                                     f"{format_bytes(free)} is free; use backend.device=cpu")
        return False

    def _array_engine(self, program, n: int, gpu: bool) -> sv_gpu.ArrayQaoaEngine | None:
        """The array engine that evolves ``program``: the GPU's, NumPy's for a small QAOA layout
        (fewer than :data:`NUMPY_BELOW` qubits), or ``None`` for the numba kernels."""
        if gpu:
            return self.gpu
        if isinstance(program, QaoaProgram) and n < NUMPY_BELOW:
            return self.small
        return None

    def _array_state(self, prepared: PreparedCircuit, x: np.ndarray):
        """The state at ``x`` from the prepared circuit's array engine (a device array on a GPU),
        or ``None`` where the numba kernels run it."""
        engine = prepared.extra.get("arrays")
        return None if engine is None else engine.evolve(prepared.extra["program"], x)

    def _qaoa_program(self, layout: QaoaLayout) -> QaoaProgram:
        n = layout.circuit.num_qubits
        standard = bool(np.all(layout.gamma_index == layout.gamma_index[:, :1]))
        # The circuit's own diagonal gives integer costs their table phase (and the GPU engine
        # its phase). A float-cost layer on the CPU takes its phase from the Ising coefficients,
        # so its dense 8 bytes per state are not built: it would not be the cost's diagonal
        # either (their normalised coefficients differ in the last bits), and with it a float
        # cost peaked at 2.72x the state at n = 24 against the memory guard's 2.0x (measured).
        coefficients = np.array([t.coeff for t in layout.terms], dtype=float)
        wanted = standard and (self.gpu is not None or self.diagonals.unit_of(coefficients)[1])
        diagonal = self.diagonals.get(layout.terms, n) if wanted else None
        if layout.warm_angles is None:
            initial = np.full((n, 2), 2**-0.5, dtype=complex)
        else:
            theta = np.asarray(layout.warm_angles, dtype=float)
            initial = np.stack([np.cos(theta / 2), np.sin(theta / 2)], -1).astype(complex)
        return QaoaProgram(layout, standard, diagonal, initial, coefficients, IsingIndex.of(layout.terms, n))

    def _gate_program(self, isa: QuantumCircuit) -> GateProgram:
        for inst in isa.data:
            name = inst.operation.name
            if name == "barrier":
                continue
            if inst.clbits or name in ("measure", "reset") or inst.operation.num_qubits > 2:
                raise ConfigError(f"backend=statevector: cannot simulate instruction {name!r} (unitary 1- and 2-qubit gates only)")
        return GateProgram(isa, sv_gates.GateSequence(isa))

    # -- evolution ------------------------------------------------------------------------------
    def _state_vector(self, n: int) -> np.ndarray:
        if self._state is None or self._state.shape[0] != 1 << n:
            self._state = None
            self._state = np.empty(1 << n, dtype=self.dtype)
        return self._state

    def _real(self, values: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(values, dtype=self.real_dtype)

    def _state_parts(self, n: int, bits: int) -> StateParts:
        """The QAOA state's real and imaginary parts in padded chunks of 2^bits amplitudes (see
        ``sv_kernels.CHUNK_PAD_BYTES``): one buffer, the imaginary part starting PART_OFFSET
        values past the real part's end, so that re[k] and im[k] are not a large power of two
        apart (they would share cache sets and alias in the load/store queues: measured 5.8 vs
        4.1 ns per amplitude for the phase + low-block pass)."""
        bits = min(n, bits)
        pitch = kernels.chunk_pitch(bits, np.dtype(self.real_dtype).itemsize) if n > bits else 1 << n
        length = (1 << (n - bits)) * pitch
        if self._parts is None or self._parts.shape[0] != 2 * length + PART_OFFSET:
            self._parts = None
            self._parts = np.empty(2 * length + PART_OFFSET, dtype=self.real_dtype)
        return StateParts(self._parts[:length], self._parts[length + PART_OFFSET:], bits, pitch)

    def state(self, prepared: PreparedCircuit, x: np.ndarray) -> np.ndarray:
        """The state at parameters ``x`` as a complex vector (for a gate circuit the engine's
        reused buffer: copy it to keep it; for a QAOA layout a fresh vector)."""
        psi = self._array_state(prepared, x)
        if psi is not None:
            return prepared.extra["arrays"].state(psi)
        parts, _ = self._evolve(prepared, x)
        if isinstance(prepared.extra["program"], QaoaProgram):
            return parts.vector(self.dtype)
        return self._state

    def _evolve(self, prepared: PreparedCircuit, x: np.ndarray, expect: Diagonal | None = None):
        """The state at ``x`` as :class:`StateParts`, and ``<psi|D|psi>`` of the tabulated
        diagonal ``expect`` when the evolution could fuse it into its last pass (a QAOA layout
        with a high-block pass), else ``None``."""
        import numba

        program = prepared.extra["program"]
        n = prepared.logical.num_qubits
        if n >= SERIAL_BELOW:
            numba.set_num_threads(self.threads)
        x = np.asarray(x, dtype=float)
        if isinstance(program, QaoaProgram):
            parts = self._state_parts(n, self.block_bits(n))
            return parts, self._evolve_qaoa(program, parts, x, expect)
        psi = self._state_vector(n)
        self._evolve_gates(program, psi, x)
        return StateParts.of_vector(psi), None

    def _evolve_qaoa(self, program: QaoaProgram, parts: StateParts, x: np.ndarray,
                     expect: Diagonal | None) -> float | None:
        layout = program.layout
        n = layout.circuit.num_qubits
        block = self.block_bits(n)
        low = parts.bits
        high = min(block, kernels.HIGH_BITS)
        re, im, pitch = parts.re, parts.im, parts.pitch
        gammas, betas = layout.unpack(x)
        rx = layout.warm_angles is None
        k = kernels_for(1 << n)
        serial = k is kernels.SERIAL
        # Integer costs on small states: a table of the phases of the distinct values; any
        # other diagonal (and multi-angle QAOA) from its Ising coefficients
        # (sv_kernels.phase_ising_low_block; see TABLE_PHASE_BELOW).
        data = program.diagonal.data if program.diagonal is not None else None
        tabulated = (n < TABLE_PHASE_BELOW and data is not None and data.index is not None
                     and data.levels.dtype.kind == "i")
        # From |+>^n the first phase pass writes the state without reading it.
        uniform = 2.0 ** (-n / 2) if rx and layout.reps else -1.0
        if uniform < 0:
            k.product_state(re, im, program.initial, low, pitch)
        # The expectation rides on the last high-block pass when there is one.
        fuse = expect is not None and expect.data.index is not None and layout.reps and n > low
        value = None
        for layer in range(layout.reps):
            rows = program.mixer_rows(betas[layer], self.real_dtype)
            first = uniform if layer == 0 else -1.0
            if tabulated:
                gamma = float(gammas[layer, 0]) if gammas.shape[1] else 0.0
                table = np.empty((len(data.levels), 2))
                kernels.phase_table(data.levels, gamma * program.diagonal.unit, table)
                k.phase_table_low_block(re, im, data.index, self._real(table), rows, rx, low, pitch, first)
            else:
                h, J = program.ising(gammas[layer])
                k.phase_ising_low_block(re, im, h, J, rows, rx, low, pitch, first)
            if fuse and layer == layout.reps - 1:
                value = kernels.high_blocks(re, im, rows, rx, low, pitch, high, expect.data.index, self._values(expect),
                                            serial)
            else:
                kernels.high_blocks(re, im, rows, rx, low, pitch, high, serial=serial)
        return value

    def _evolve_gates(self, program: GateProgram, psi: np.ndarray, x: np.ndarray) -> None:
        k = kernels_for(psi.shape[0])
        psi[:] = 0
        psi[0] = 1
        pending: dict[int, np.ndarray] = {}

        def flush(q: int) -> None:
            if q in pending:
                k.apply_1q(psi, q, pending.pop(q).astype(self.dtype))

        sequence = program.sequence
        for step, matrix, diagonal in zip(sequence.steps, sequence.matrices(x[None, :]), sequence.diagonal):
            matrix = matrix if matrix.ndim == 2 else matrix[0]
            if len(step.qubits) == 1:
                q = step.qubits[0]
                pending[q] = matrix @ pending[q] if q in pending else matrix
                continue
            flush(step.qubits[0])
            flush(step.qubits[1])
            if diagonal:
                k.apply_diagonal_2q(psi, step.qubits[0], step.qubits[1], np.diagonal(matrix).astype(self.dtype))
            else:
                k.apply_2q(psi, step.qubits[0], step.qubits[1], matrix.astype(self.dtype))
        for q in range(program.circuit.num_qubits):
            flush(q)

    def _gate_batches(self, prepared: PreparedCircuit, parameters: np.ndarray):
        """``(start, states)`` for consecutive rows of ``parameters``: the states of a gate
        circuit of up to :data:`BATCH_QUBITS` qubits, evolved together with numpy
        (:func:`sv_gates.evolve`) at most :data:`BATCH_AMPLITUDES` amplitudes at a time: for
        small states the per-gate dispatch, not the arithmetic, is the cost."""
        program = prepared.extra["program"]
        n = prepared.logical.num_qubits
        per_batch = max(1, BATCH_AMPLITUDES >> n)
        for start in range(0, len(parameters), per_batch):
            yield start, sv_gates.evolve(program.sequence, parameters[start:start + per_batch], self.dtype)

    def _batched(self, prepared: PreparedCircuit, rows: int) -> bool:
        """Whether :meth:`_gate_batches` evolves these rows (several, of a small gate circuit);
        a single state goes through the kernels, which are faster for it."""
        return rows > 1 and isinstance(prepared.extra["program"], GateProgram) \
            and prepared.logical.num_qubits <= BATCH_QUBITS

    # -- results --------------------------------------------------------------------------------
    def _cost_diagonal(self, cost: DiagonalCost, n: int) -> Diagonal:
        """The QUBO energy of every state (remembered for the last cost: the optimizer asks
        for the same one every evaluation)."""
        if self._last_cost is None or self._last_cost[0] is not cost:
            self._last_cost = (cost, self.diagonals.get(ising_terms(cost.hamiltonian), n, cost.constant))
        return self._last_cost[1]

    def _float_buffer(self, size: int) -> np.ndarray:
        """The one reused float64 buffer of 2^n values: probabilities for sampling, the mass of
        each distinct cost value for CVaR (a float cost has up to one value per state)."""
        if self._buffer is None or self._buffer.shape[0] != size:
            self._buffer = None
            self._buffer = np.empty(size)
        return self._buffer

    def _values(self, diagonal: Diagonal) -> np.ndarray:
        """``diagonal.values()``, in the float buffer when there are many of them (float costs)."""
        many = len(diagonal.data.levels) > 1 << 16
        return diagonal.values(self._float_buffer(diagonal.data.index.shape[0]) if many else None)

    def _probabilities(self, parts: StateParts) -> np.ndarray:
        buffer = self._float_buffer(parts.size)
        kernels_for(parts.size).probabilities_into(parts.re, parts.im, buffer, parts.bits, parts.pitch)
        return buffer

    def cost(self, prepared: PreparedCircuit, cost: DiagonalCost, parameters: np.ndarray,
             shots: int | None = None) -> np.ndarray:
        """Exact expectation or CVaR of the QUBO energy at each row (from shots if asked)."""
        parameters = np.atleast_2d(np.asarray(parameters, dtype=float))
        if shots is not None:
            samples = self.sample(prepared, parameters, shots)
            return np.array([cost.of_samples(s.bits) for s in samples])
        start = time.perf_counter()
        diagonal = self._cost_diagonal(cost, prepared.logical.num_qubits)
        if cost.alpha < 1.0:
            diagonal.data.tabulate()
        values = np.empty(len(parameters))
        fused = diagonal if cost.alpha >= 1.0 else None
        for row, x in enumerate(parameters):
            psi = self._array_state(prepared, x)
            if psi is not None:
                values[row] = prepared.extra["arrays"].value(psi, diagonal, cost.alpha)
                continue
            parts, value = self._evolve(prepared, x, fused)
            values[row] = value if value is not None else self._diagonal_value(parts, diagonal, cost.alpha)
        self.timings["execute"] += time.perf_counter() - start
        self.evaluations += len(parameters)
        return values

    def _diagonal_value(self, parts: StateParts, diagonal: Diagonal, alpha: float) -> float:
        data = diagonal.data
        layout = (parts.re, parts.im)
        chunks = (parts.bits, parts.pitch)
        if alpha >= 1.0:
            k = kernels_for(parts.size)
            if data.index is not None:
                return k.expect_table(*layout, data.index, self._values(diagonal), *chunks)
            return diagonal.unit * k.expect_dense(*layout, data.dense, *chunks) + diagonal.constant
        k = module_for(parts.size)
        masses = self._float_buffer(parts.size)[:len(data.levels)]
        k.level_probabilities(*layout, data.index, masses, *chunks)
        return k.cvar_ascending(data.levels, diagonal.unit, diagonal.constant, masses, alpha)

    def estimate(self, prepared: PreparedCircuit, observables: list[SparsePauliOp], parameters: np.ndarray) -> np.ndarray:
        """Exact expectation values, shape ``(len(parameters), len(observables))``."""
        parameters = np.atleast_2d(np.asarray(parameters, dtype=float))
        start = time.perf_counter()
        n = prepared.logical.num_qubits
        memo = prepared.extra.setdefault("plans", {})
        if len(memo) > 4096:
            memo.clear()
        plans = []
        for obs in observables:  # keyed by identity; the memo keeps the object (and its id) alive
            if id(obs) not in memo:
                memo[id(obs)] = (obs, self._observable_plan(obs, n))
            plans.append(memo[id(obs)][1])
        values = np.empty((len(parameters), len(observables)))
        pauli = any(plan[0] == "paulis" for plan in plans)
        batched = self._batched(prepared, len(parameters))
        if batched:
            for first, states in self._gate_batches(prepared, parameters):
                values[first:first + len(states)] = np.stack([self._batch_values(states, plan) for plan in plans], 1)
        for row, x in enumerate(parameters[:0] if batched else parameters):
            arrays = None if pauli else self._array_state(prepared, x)
            if arrays is not None:  # Z-only observables of a QAOA state: diagonals on the array engine
                values[row] = [prepared.extra["arrays"].value(arrays, plan[1]) for plan in plans]
                continue
            if pauli:  # state() copies a GPU state to the host
                psi = self.state(prepared, x)
                parts = StateParts.of_vector(psi)
            else:
                parts, _ = self._evolve(prepared, x)
                psi = None
            for col, plan in enumerate(plans):
                values[row, col] = self._plan_value(psi, parts, plan)
        self.timings["execute"] += time.perf_counter() - start
        self.evaluations += len(parameters)
        return values

    def _observable_plan(self, observable: SparsePauliOp, n: int):
        if observable.num_qubits != n:
            raise ConfigError(f"observable has {observable.num_qubits} qubits, the circuit {n}")
        x, z = observable.paulis.x, observable.paulis.z
        if len(observable) > DIAGONAL_TERMS and not x.any() and z.sum(axis=1).max(initial=0) <= 2:
            constant = float(np.real(sum(c for label, c in observable.to_list() if set(label) == {"I"})))
            return ("diagonal", self.diagonals.get(ising_terms(observable), n, constant))
        return ("paulis", pauli_terms(observable))

    def _batch_values(self, states: np.ndarray, plan) -> np.ndarray:
        """One observable's plan at every row of ``states`` (rows, 2^n)."""
        kind, data = plan
        if kind == "diagonal":
            values = data.data.dense if data.data.index is None else data.data.levels[data.data.index]
            return (np.abs(states) ** 2 @ values) * data.unit + data.constant
        total = np.zeros(len(states), dtype=complex)
        for xmask, zmask, coeff in data:
            total += coeff * sv_gates.pauli_expectations(states, xmask, zmask)
        return total.real

    def gradient(self, prepared: PreparedCircuit, observables: list[SparsePauliOp], weights: np.ndarray,
                 x: np.ndarray) -> np.ndarray | None:
        """The exact gradient of ``sum_i weights[i] <O_i>`` at ``x`` for a gate circuit, by the
        adjoint method (:func:`sv_gates.adjoint_gradient`; counted as one evaluation); ``None``
        for QAOA layouts and gates without a trigonometric form."""
        if not isinstance(prepared.extra["program"], GateProgram):
            return None
        start = time.perf_counter()
        memo = prepared.extra.setdefault("pauli_terms", {})
        if len(memo) > 4096:
            memo.clear()
        for obs in observables:  # keyed by identity, as the plans of estimate()
            if id(obs) not in memo:
                memo[id(obs)] = (obs, pauli_terms(obs))
        terms = [(xmask, zmask, w * coeff) for obs, w in zip(observables, np.asarray(weights, dtype=float))
                 for xmask, zmask, coeff in memo[id(obs)][1] if w]
        n = prepared.logical.num_qubits
        k = kernels_for(1 << n)

        def apply(psi: np.ndarray, qubits: tuple[int, ...], matrix: np.ndarray) -> None:
            if len(qubits) == 1:
                k.apply_1q(psi, qubits[0], matrix)
            else:
                k.apply_2q(psi, qubits[0], qubits[1], matrix)

        if n >= SERIAL_BELOW:
            import numba

            numba.set_num_threads(self.threads)
        gradient = sv_gates.adjoint_gradient(prepared.extra["program"].sequence, np.asarray(x, dtype=float),
                                             terms, apply, self.dtype)
        self.timings["execute"] += time.perf_counter() - start
        if gradient is not None:
            self.evaluations += 1
        return gradient

    def _plan_value(self, psi: np.ndarray | None, parts: StateParts, plan) -> float:
        kind, data = plan
        if kind == "diagonal":
            return self._diagonal_value(parts, data, 1.0)
        total = 0j
        for xmask, zmask, coeff in data:
            total += coeff * kernels_for(psi.shape[0]).pauli_expectation(psi, np.int64(xmask), np.int64(zmask))
        return float(total.real)

    def sample(self, prepared: PreparedCircuit, parameters: np.ndarray, shots: int) -> list[Samples]:
        """``shots`` bitstrings per row, drawn from the exact distribution by inverse CDF (in
        place in one float64 buffer, so sampling adds 8 bytes per amplitude, not 16-24 as
        ``Generator.choice(p=...)`` would)."""
        parameters = np.atleast_2d(np.asarray(parameters, dtype=float))
        start = time.perf_counter()
        n = prepared.logical.num_qubits
        out = []
        batches = self._gate_batches(prepared, parameters) if self._batched(prepared, len(parameters)) else None
        states: np.ndarray = np.empty((0, 0))
        first = 0
        for row, x in enumerate(parameters):
            if batches is not None:
                if row - first >= len(states):
                    first, states = next(batches)
                cdf = self._float_buffer(states.shape[1])
                np.square(np.abs(states[row - first]), out=cdf)
            elif (psi := self._array_state(prepared, x)) is not None:
                cdf = prepared.extra["arrays"].probabilities(psi)
            else:
                parts, _ = self._evolve(prepared, x)
                cdf = self._probabilities(parts)
            np.cumsum(cdf, out=cdf)
            rng = np.random.default_rng(self.next_seed())
            draws = np.searchsorted(cdf, rng.random(shots) * cdf[-1], side="right")
            draws = np.minimum(draws, cdf.shape[0] - 1)
            bits = ((draws[:, None] >> np.arange(n)) & 1).astype(np.int8)
            out.append(Samples(bits, shots))
        self.timings["execute"] += time.perf_counter() - start
        self.evaluations += len(parameters)
        self.shots += shots * len(parameters)
        return out

    # The abstract primitives-style hooks are not used: estimate/sample/cost are overridden.
    def _estimate(self, isa, observables, parameters):  # pragma: no cover - see estimate()
        raise NotImplementedError

    def _sample(self, isa, parameters, shots):  # pragma: no cover - see sample()
        raise NotImplementedError
