"""``backend=statevector``: an in-process exact state-vector engine for the variational loop.

The backend compiles each circuit once for a :class:`~qbench.backends.engine.StateVectorEngine`
and asks it for states, exact expectation values (QUBO energies, CVaR, Pauli observables),
probabilities, seeded samples and adjoint gradients. Which engine runs a circuit is
:class:`~qbench.backends.sv_engines.EngineChoice`'s: with ``engine=auto`` (the default) the fast
ones, the numba kernels (:mod:`qbench.backends.sv_cpu`; states under 16 qubits on NumPy, so that
a small run compiles nothing) and QAOA layouts on a CUDA GPU through CuPy when one is usable
(:mod:`qbench.backends.sv_gpu`; tested with NumPy standing in for CuPy, not yet timed on a GPU);
with ``engine=reference`` the plain-NumPy reference (:mod:`qbench.backends.sv_reference`).

Two kinds of circuit: QAOA layouts (``structure`` is a :class:`qbench.ansatz.QaoaLayout`: QAOA,
CVaR-QAOA, multi-angle and warm-start QAOA), evolved as diagonal phases and mixers, and any
other circuit (VQE's hardware-efficient ansätze, PCE/QRAO circuits), unrolled to one- and
two-qubit gates once (:mod:`qbench.backends.sv_program`). Costs are exact from the state;
sampling draws from the exact distribution with a seed from :meth:`Backend.next_seed`. Global
phases are not tracked (they change no probability or expectation value).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import SparsePauliOp

from qbench.ansatz import QaoaLayout, ising_terms
from qbench.backends.base import Backend, PreparedCircuit, Samples, metrics_of
from qbench.backends.engine import StateVectorEngine
from qbench.backends.sv_diagonal import Diagonal
from qbench.backends.sv_engines import EngineChoice
from qbench.backends.sv_program import Observable, PauliSum, Program
from qbench.errors import ConfigError
from qbench.params import check
from qbench.qubo_cost import DiagonalCost

#: A Z-only observable with more terms than this (a QUBO Hamiltonian) is evaluated through its
#: diagonal (one pass), a smaller one term by term.
DIAGONAL_TERMS = 8

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
    ``block_qubits``: qubits per memory pass of the numba kernels (2^block_qubits amplitudes per
    cache tile; 0 = automatic, ``sv_cpu.KernelEngine.block_bits``);
    ``threads``: worker threads (0 = all cores numba sees); ``device``: where QAOA layouts run
    (``auto``: on a CUDA GPU through CuPy when one is usable, else the CPU; ``gpu``: the GPU or a
    ConfigError saying why not; ``cpu``: numba). Other circuits always run on the CPU.
    ``engine``: ``auto`` (the fast engines above) or ``reference`` (plain NumPy, on the CPU:
    :mod:`qbench.backends.sv_reference`)."""

    precision: Literal["double", "single"] = "double"
    block_qubits: int = 0
    threads: int = 0
    device: Literal["auto", "cpu", "gpu"] = "auto"
    engine: Literal["auto", "reference"] = "auto"

    def __post_init__(self) -> None:
        check(self.precision in ("double", "single"), "precision", f"must be double or single, got {self.precision!r}")
        check(0 <= self.block_qubits <= 16, "block_qubits", f"must be 0 (automatic) or 1..16, got {self.block_qubits}")
        check(self.threads >= 0, "threads", f"must be >= 0, got {self.threads}")
        check(self.device in ("auto", "cpu", "gpu"), "device", f"must be auto, cpu or gpu, got {self.device!r}")
        check(self.engine in ("auto", "reference"), "engine", f"must be auto or reference, got {self.engine!r}")
        check(not (self.engine == "reference" and self.device == "gpu"), "engine",
              "reference runs on the CPU: use device=auto or cpu with it")


class StatevectorBackend(Backend):
    """Exact in-process simulation: see the module docstring."""

    name = "statevector"
    Params = StatevectorParams
    exact_expectations = True

    def __init__(self, params: StatevectorParams | None = None) -> None:
        super().__init__(params)
        import numba

        self.threads = min(self.params.threads or numba.config.NUMBA_NUM_THREADS, numba.config.NUMBA_NUM_THREADS)
        self.dtype = np.complex128 if self.params.precision == "double" else np.complex64
        self.engines = EngineChoice(self.params.engine, self.params.device, self.dtype, self.params.block_qubits,
                                    self.threads)
        self.diagonals = self.engines.diagonals
        self._last_cost: tuple[DiagonalCost, Diagonal] | None = None

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "precision": self.params.precision,
                "block_qubits": self.params.block_qubits, "threads": self.threads, "engine": self.params.engine,
                "device": "gpu" if self.engines.gpu is not None else "cpu", "device_note": self.engines.device_note}

    def memory_required(self, num_qubits: int) -> int:
        """Host bytes of a state of ``num_qubits`` and its working data on the CPU engine
        (``sv_cpu.KernelEngine.memory_required``, or the reference engine's)."""
        return self.engines.memory_required(num_qubits)

    # -- preparation ----------------------------------------------------------------------------
    def transpile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        """Unroll to one- and two-qubit gates; a circuit already made of them (QAOA layouts,
        Qiskit's hardware-efficient ansätze) is used as it is (the transpiler costs ~0.1-1 s)."""
        if all(inst.operation.name in _BASIS or inst.operation.name == "barrier" for inst in circuit.data):
            return circuit
        return transpile(circuit, basis_gates=BASIS_GATES, optimization_level=0)

    def prepare(self, circuit: QuantumCircuit, structure: Any = None) -> PreparedCircuit:
        """The circuit's program on the engine chosen for it (``extra["engine"]``,
        ``extra["program"]``)."""
        self.check_qubits(circuit.num_qubits)
        start = time.perf_counter()
        isa = self.transpile(circuit)
        prepared = PreparedCircuit(circuit, isa, metrics_of(circuit, isa))
        layout = structure if (isinstance(structure, QaoaLayout) and structure.circuit.num_qubits == circuit.num_qubits
                               and structure.num_parameters == circuit.num_parameters) else None
        engine = self.engines.engine_for(circuit.num_qubits, qaoa=layout is not None)
        prepared.extra["engine"] = engine
        prepared.extra["program"] = engine.prepare(isa, layout)
        self.timings["transpile"] += time.perf_counter() - start
        return prepared

    @staticmethod
    def _engine(prepared: PreparedCircuit) -> tuple[StateVectorEngine, Program]:
        return prepared.extra["engine"], prepared.extra["program"]

    # -- results --------------------------------------------------------------------------------
    def state(self, prepared: PreparedCircuit, x: np.ndarray) -> np.ndarray:
        """The state at parameters ``x`` as a host complex vector (it may be the engine's reused
        buffer: copy it to keep it)."""
        engine, program = self._engine(prepared)
        return engine.vector(engine.evolve(program, x))

    def _cost_diagonal(self, cost: DiagonalCost, n: int) -> Diagonal:
        """The QUBO energy of every state (remembered for the last cost: the optimizer asks
        for the same one every evaluation)."""
        if self._last_cost is None or self._last_cost[0] is not cost:
            self._last_cost = (cost, self.diagonals.get(ising_terms(cost.hamiltonian), n, cost.constant))
        return self._last_cost[1]

    def cost(self, prepared: PreparedCircuit, cost: DiagonalCost, parameters: np.ndarray,
             shots: int | None = None) -> np.ndarray:
        """Exact expectation or CVaR of the QUBO energy at each row (from shots if asked)."""
        parameters = np.atleast_2d(np.asarray(parameters, dtype=float))
        if shots is not None:
            samples = self.sample(prepared, parameters, shots)
            return np.array([cost.of_samples(s.bits) for s in samples])
        start = time.perf_counter()
        engine, program = self._engine(prepared)
        diagonal = self._cost_diagonal(cost, prepared.logical.num_qubits)
        if cost.alpha < 1.0:
            # CVaR reads the diagonal as its distinct values; tabulated before any evolution, so
            # that a circuit sharing it takes its phase from the same form at every row
            self.diagonals.tabulate(diagonal)
        values = np.empty(len(parameters))
        for row, x in enumerate(parameters):
            if cost.alpha >= 1.0:
                values[row] = engine.expectation(engine.evolve(program, x, observe=diagonal), diagonal)
            else:
                values[row] = engine.cvar(engine.evolve(program, x), diagonal, cost.alpha)
        self.timings["execute"] += time.perf_counter() - start
        self.evaluations += len(parameters)
        return values

    def estimate(self, prepared: PreparedCircuit, observables: list[SparsePauliOp], parameters: np.ndarray) -> np.ndarray:
        """Exact expectation values, shape ``(len(parameters), len(observables))``."""
        parameters = np.atleast_2d(np.asarray(parameters, dtype=float))
        start = time.perf_counter()
        n = prepared.logical.num_qubits
        memo = prepared.extra.setdefault("observables", {})
        if len(memo) > 4096:
            memo.clear()
        measured = []
        for obs in observables:  # keyed by identity; the memo keeps the object (and its id) alive
            if id(obs) not in memo:
                memo[id(obs)] = (obs, self._observable(obs, n))
            measured.append(memo[id(obs)][1])
        engine, program = self._engine(prepared)
        values = engine.expectations(program, parameters, measured)
        self.timings["execute"] += time.perf_counter() - start
        self.evaluations += len(parameters)
        return values

    def _observable(self, observable: SparsePauliOp, n: int) -> Observable:
        """A QUBO-like Hamiltonian (Z and ZZ terms, more than :data:`DIAGONAL_TERMS`) as its
        diagonal, any other observable as Pauli masks."""
        if observable.num_qubits != n:
            raise ConfigError(f"observable has {observable.num_qubits} qubits, the circuit {n}")
        x, z = observable.paulis.x, observable.paulis.z
        if len(observable) > DIAGONAL_TERMS and not x.any() and z.sum(axis=1).max(initial=0) <= 2:
            constant = float(np.real(sum(c for label, c in observable.to_list() if set(label) == {"I"})))
            return self.diagonals.get(ising_terms(observable), n, constant)
        return PauliSum.of(observable)

    def gradient(self, prepared: PreparedCircuit, observables: list[SparsePauliOp], weights: np.ndarray,
                 x: np.ndarray) -> np.ndarray | None:
        """The exact gradient of ``sum_i weights[i] <O_i>`` at ``x`` where the engine has one (the
        adjoint method for gate circuits, counted as one evaluation); ``None`` for QAOA layouts
        and gates without a trigonometric form."""
        engine, program = self._engine(prepared)
        start = time.perf_counter()
        memo = prepared.extra.setdefault("pauli_sums", {})
        if len(memo) > 4096:
            memo.clear()
        for obs in observables:  # keyed by identity, as the observables of estimate()
            if id(obs) not in memo:
                memo[id(obs)] = (obs, PauliSum.of(obs))
        weighted = PauliSum(tuple((xmask, zmask, w * coeff)
                                  for obs, w in zip(observables, np.asarray(weights, dtype=float))
                                  for xmask, zmask, coeff in memo[id(obs)][1].terms if w))
        gradient = engine.gradient(program, np.asarray(x, dtype=float), weighted)
        self.timings["execute"] += time.perf_counter() - start
        if gradient is not None:
            self.evaluations += 1
        return gradient

    def sample(self, prepared: PreparedCircuit, parameters: np.ndarray, shots: int) -> list[Samples]:
        """``shots`` bitstrings per row, drawn from the exact distribution (a seed per row)."""
        parameters = np.atleast_2d(np.asarray(parameters, dtype=float))
        start = time.perf_counter()
        engine, program = self._engine(prepared)
        rngs = [np.random.default_rng(self.next_seed()) for _ in range(len(parameters))]
        out = [Samples(bits, shots) for bits in engine.samples(program, parameters, shots, rngs)]
        self.timings["execute"] += time.perf_counter() - start
        self.evaluations += len(parameters)
        self.shots += shots * len(parameters)
        return out

    # The abstract primitives-style hooks are not used: estimate/sample/cost are overridden.
    def _estimate(self, isa, observables, parameters):  # pragma: no cover - see estimate()
        raise NotImplementedError

    def _sample(self, isa, parameters, shots):  # pragma: no cover - see sample()
        raise NotImplementedError
