"""The CPU engine of ``backend=statevector``: the numba kernels (:mod:`qbench.backends.sv_kernels`)
behind :class:`~qbench.backends.engine.StateVectorEngine`.

* QAOA layouts: the state is held as real and imaginary parts in padded chunks
  (:class:`StateParts`); each layer is one pass applying the cost phase fused with the mixer
  gates on the low qubits, plus one pass per further block of qubits (QOKit's approach). Integer
  costs on small states take their phase from a table of the distinct cost values; other
  diagonals (float costs) and multi-angle layers from the Ising coefficients, factored per chunk
  (:func:`~qbench.backends.sv_kernels.phase_ising_low_block`). The energy of a tabulated cost
  rides on the last pass.
* Gate circuits: gate by gate on a complex vector (runs of one-qubit gates on a qubit fused);
  many parameter sets of a small circuit are evolved together with NumPy
  (:func:`qbench.backends.sv_gates.evolve`). Exact gradients by the adjoint method.

States of fewer than ``sv_kernel_sets.NUMPY_BELOW`` qubits run on the kernels' NumPy twins,
mid-sized ones on their serial twins (:mod:`qbench.backends.sv_kernel_sets`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit

from qbench.ansatz import QaoaLayout
from qbench.backends import sv_gates, sv_kernel_sets
from qbench.backends import sv_kernels as kernels
from qbench.backends.engine import StateVectorEngine, inverse_cdf_samples
from qbench.backends.sv_diagonal import Diagonal, DiagonalCache
from qbench.backends.sv_program import (GateProgram, Observable, PauliSum, Program, QaoaProgram, gate_program,
                                        qaoa_program)

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

#: Values between the end of the QAOA state's real parts and the start of its imaginary parts
#: (see ``KernelEngine._state_parts``): 72 = 576 bytes, off every 4 KiB page alignment.
PART_OFFSET = 72

#: Gate circuits up to this many qubits evaluate many parameter sets together with numpy
#: (``KernelEngine._gate_batches``), at most BATCH_AMPLITUDES amplitudes at a time.
BATCH_QUBITS = 12
BATCH_AMPLITUDES = 1 << 20


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


@dataclass(frozen=True)
class KernelState:
    """The state :meth:`KernelEngine.evolve` left: its parts, the complex vector they view (gate
    circuits; ``None`` for a QAOA state, held in padded parts), and the expectation of the
    diagonal it was asked to observe when the last pass computed it."""

    parts: StateParts
    psi: np.ndarray | None = None
    observed: tuple[Diagonal, float] | None = None


def mixer_rows(program: QaoaProgram, betas: np.ndarray, dtype) -> np.ndarray:
    """One layer's mixers (:meth:`QaoaProgram.mixers`) as the kernels' rows
    (``sv_kernels.gate_rows``) in ``dtype``. RX(2 beta) is written directly as [c, 0, 0, -s, 0,
    -s, c, 0]: building and splitting the complex matrices took 25-30 us per layer, half of a
    p = 3 energy at n = 12 (measured)."""
    if program.layout.warm_angles is not None:
        return np.ascontiguousarray(kernels.gate_rows(program.mixers(betas)), dtype=dtype)
    rows = np.zeros((len(betas), 8), dtype=dtype)
    rows[:, 0] = rows[:, 6] = np.cos(betas)
    rows[:, 3] = rows[:, 5] = -np.sin(betas)
    return rows


def pauli_value(psi: np.ndarray, observable: PauliSum) -> float:
    """``<psi|O|psi>`` of a complex vector, term by term (``sv_kernels.pauli_expectation``)."""
    total = 0j
    for xmask, zmask, coeff in observable.terms:
        total += coeff * sv_kernel_sets.kernels_for(psi.shape[0]).pauli_expectation(psi, np.int64(xmask), np.int64(zmask))
    return float(total.real)


def diagonal_expectation(parts: StateParts, diagonal: Diagonal, values: np.ndarray | None = None) -> float:
    """``<psi|D|psi>`` by the kernels for the state's size; ``values``: ``diagonal.values()`` of a
    tabulated diagonal where the caller holds them (made here otherwise)."""
    data = diagonal.data
    k = sv_kernel_sets.kernels_for(parts.size)
    if data.index is not None:
        values = diagonal.values() if values is None else values
        return k.expect_table(parts.re, parts.im, data.index, values, parts.bits, parts.pitch)
    return diagonal.unit * k.expect_dense(parts.re, parts.im, data.dense, parts.bits, parts.pitch) + diagonal.constant


def vector_values(psi: np.ndarray, observables: Sequence[Observable]) -> np.ndarray:
    """``<psi|O|psi>`` of each observable for a host complex vector, by the kernels."""
    parts = StateParts.of_vector(psi)
    return np.array([pauli_value(psi, observable) if isinstance(observable, PauliSum)
                     else diagonal_expectation(parts, observable) for observable in observables])


def batch_values(states: np.ndarray, observable: Observable) -> np.ndarray:
    """``<psi_r|O|psi_r>`` at every row of ``states`` (rows, 2^n), with NumPy."""
    if isinstance(observable, Diagonal):
        return (np.abs(states) ** 2 @ observable.scaled()) * observable.unit + observable.constant
    total = np.zeros(len(states), dtype=complex)
    for xmask, zmask, coeff in observable.terms:
        total += coeff * sv_gates.pauli_expectations(states, xmask, zmask)
    return total.real


class KernelEngine(StateVectorEngine):
    """The numba kernels (see the module docstring) at the precision of ``dtype`` (complex128 or
    complex64), ``block_qubits`` qubits per memory pass (0: automatic, :meth:`block_bits`) on
    ``threads`` threads. One state at a time: its buffers are reused by every evolution."""

    name = "numba"

    def __init__(self, diagonals: DiagonalCache, dtype=np.complex128, block_qubits: int = 0, threads: int = 1) -> None:
        self.diagonals = diagonals
        self.dtype = np.dtype(dtype)
        self.real_dtype = np.dtype(np.float64 if self.dtype == np.complex128 else np.float32)
        self.block_qubits = block_qubits
        self.threads = threads
        self._state: np.ndarray | None = None
        self._parts: np.ndarray | None = None  # the QAOA state's real and imaginary parts
        self._buffer: np.ndarray | None = None

    def block_bits(self, num_qubits: int) -> int:
        """Qubits per memory pass for a state of ``num_qubits`` (``block_qubits``, or when 0:
        14 from :data:`LARGE_BLOCK_FROM` qubits, else 12)."""
        if self.block_qubits:
            return self.block_qubits
        return 14 if num_qubits >= LARGE_BLOCK_FROM else kernels.LOW_BITS

    def memory_required(self, num_qubits: int) -> int:
        """The state, plus at most 24 bytes per amplitude of working data: a cost diagonal (dense
        float64; or, tabulated for CVaR, a 2-4 byte index and its levels, which for a float
        cost are up to 8 bytes per state) and the float64 buffer of probabilities or level
        masses; while a float diagonal is tabulated, its sort order and sorted copy (24 bytes
        per state at once, before the buffer exists). Measured peaks at n = 24 (benchmark part
        4): 1.68x the complex128 state for an integer cost, 2.54x for a float cost with CVaR
        (2.29x after the tabulation); this counts 2.5x. (A QAOA state is held as real and
        imaginary parts, the same bytes; :meth:`vector` of a QAOA state makes a complex copy on
        top, which cost, sampling and CVaR do not need.)"""
        return (self.dtype.itemsize + 24) * 2**num_qubits

    def prepare(self, circuit: QuantumCircuit, layout: QaoaLayout | None) -> Program:
        # The circuit's own diagonal gives integer costs their table phase. A float-cost layer
        # takes its phase from the Ising coefficients, so its dense 8 bytes per state are not
        # built: it would not be the cost's diagonal either (their normalised coefficients
        # differ in the last bits), and with it a float cost peaked at 2.72x the state at
        # n = 24 against the memory guard's 2.0x (measured).
        if layout is not None:
            return qaoa_program(layout, self.diagonals, integer_diagonal=True, any_diagonal=False)
        return gate_program(circuit)

    # -- buffers --------------------------------------------------------------------------------
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
        pitch = kernels.chunk_pitch(bits, self.real_dtype.itemsize) if n > bits else 1 << n
        length = (1 << (n - bits)) * pitch
        if self._parts is None or self._parts.shape[0] != 2 * length + PART_OFFSET:
            self._parts = None
            self._parts = np.empty(2 * length + PART_OFFSET, dtype=self.real_dtype)
        return StateParts(self._parts[:length], self._parts[length + PART_OFFSET:], bits, pitch)

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

    # -- evolution ------------------------------------------------------------------------------
    def evolve(self, program: Program, x: np.ndarray, observe: Diagonal | None = None) -> KernelState:
        """The state at ``x``; with ``observe`` (a tabulated diagonal) and a QAOA layout that has
        a high-block pass, ``<psi|D|psi>`` is computed by that last pass."""
        n = program.num_qubits
        if n >= sv_kernel_sets.SERIAL_BELOW:
            import numba

            numba.set_num_threads(self.threads)
        x = np.asarray(x, dtype=float)
        if isinstance(program, QaoaProgram):
            parts = self._state_parts(n, self.block_bits(n))
            value = self._evolve_qaoa(program, parts, x, observe)
            return KernelState(parts, observed=None if value is None else (observe, value))
        psi = self._state_vector(n)
        self._evolve_gates(program, psi, x)
        return KernelState(StateParts.of_vector(psi), psi)

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
        k = sv_kernel_sets.kernels_for(1 << n)
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
            rows = mixer_rows(program, betas[layer], self.real_dtype)
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
        k = sv_kernel_sets.kernels_for(psi.shape[0])
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

    def _gate_batches(self, program: GateProgram, parameters: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, states)`` for consecutive rows of ``parameters``: the states of a gate
        circuit of up to :data:`BATCH_QUBITS` qubits, evolved together with numpy
        (:func:`sv_gates.evolve`) at most :data:`BATCH_AMPLITUDES` amplitudes at a time: for
        small states the per-gate dispatch, not the arithmetic, is the cost."""
        per_batch = max(1, BATCH_AMPLITUDES >> program.num_qubits)
        for start in range(0, len(parameters), per_batch):
            yield start, sv_gates.evolve(program.sequence, parameters[start:start + per_batch], self.dtype)

    def _batched(self, program: Program, rows: int) -> bool:
        """Whether :meth:`_gate_batches` evolves these rows (several, of a small gate circuit);
        a single state goes through the kernels, which are faster for it."""
        return rows > 1 and isinstance(program, GateProgram) and program.num_qubits <= BATCH_QUBITS

    # -- results --------------------------------------------------------------------------------
    def expectation(self, state: KernelState, observable: Observable) -> float:
        if isinstance(observable, PauliSum):
            return pauli_value(self.vector(state), observable)
        if state.observed is not None and state.observed[0] is observable:
            return state.observed[1]
        values = self._values(observable) if observable.data.index is not None else None
        return diagonal_expectation(state.parts, observable, values)

    def cvar(self, state: KernelState, diagonal: Diagonal, alpha: float) -> float:
        data = diagonal.data
        data.tabulate()
        parts = state.parts
        k = sv_kernel_sets.module_for(parts.size)
        masses = self._float_buffer(parts.size)[:len(data.levels)]
        k.level_probabilities(parts.re, parts.im, data.index, masses, parts.bits, parts.pitch)
        return k.cvar_ascending(data.levels, diagonal.unit, diagonal.constant, masses, alpha)

    def probabilities(self, state: KernelState) -> np.ndarray:
        parts = state.parts
        buffer = self._float_buffer(parts.size)
        sv_kernel_sets.kernels_for(parts.size).probabilities_into(parts.re, parts.im, buffer, parts.bits, parts.pitch)
        return buffer

    def vector(self, state: KernelState) -> np.ndarray:
        """A gate circuit's state vector itself (the engine's buffer); a new complex vector of a
        QAOA state's parts."""
        return state.psi if state.psi is not None else state.parts.vector(self.dtype)

    def expectations(self, program: Program, parameters: np.ndarray, observables: Sequence[Observable]) -> np.ndarray:
        """Batched for several rows of a small gate circuit; with a Pauli sum among the
        observables, every observable from the complex vector (a QAOA state's parts copied once)."""
        values = np.empty((len(parameters), len(observables)))
        if self._batched(program, len(parameters)):
            for first, states in self._gate_batches(program, parameters):
                values[first:first + len(states)] = np.stack([batch_values(states, obs) for obs in observables], 1)
            return values
        paulis = any(isinstance(observable, PauliSum) for observable in observables)
        for row, x in enumerate(parameters):
            state = self.evolve(program, x)
            if paulis:
                psi = self.vector(state)
                state = KernelState(StateParts.of_vector(psi), psi)
            values[row] = [self.expectation(state, observable) for observable in observables]
        return values

    def samples(self, program: Program, parameters: np.ndarray, shots: int,
                rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        if not self._batched(program, len(parameters)):
            return super().samples(program, parameters, shots, rngs)
        out = []
        for first, states in self._gate_batches(program, parameters):
            for state, rng in zip(states, rngs[first:first + len(states)]):
                cdf = self._float_buffer(states.shape[1])
                np.square(np.abs(state), out=cdf)
                out.append(inverse_cdf_samples(cdf, shots, rng))
        return out

    def gradient(self, program: Program, x: np.ndarray, observable: PauliSum) -> np.ndarray | None:
        """The adjoint method (:func:`sv_gates.adjoint_gradient`) with the kernels' gates; ``None``
        for QAOA layouts and gates without a trigonometric form."""
        if not isinstance(program, GateProgram):
            return None
        n = program.num_qubits
        k = sv_kernel_sets.kernels_for(1 << n)

        def apply(psi: np.ndarray, qubits: tuple[int, ...], matrix: np.ndarray) -> None:
            if len(qubits) == 1:
                k.apply_1q(psi, qubits[0], matrix)
            else:
                k.apply_2q(psi, qubits[0], qubits[1], matrix)

        if n >= sv_kernel_sets.SERIAL_BELOW:
            import numba

            numba.set_num_threads(self.threads)
        return sv_gates.adjoint_gradient(program.sequence, np.asarray(x, dtype=float), list(observable.terms), apply,
                                         self.dtype)
