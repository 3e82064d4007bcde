"""Seconds and bytes of circuit work on each backend: the formulas and constants of the cost model.

:mod:`qbench.estimate` describes a run as a :class:`Workload` (a :class:`CircuitShape` executed
so many times, with so many shots and observables) and asks :func:`circuit_cost` what it takes
on the configured backend. The formulas count the work the backends do:

* ``statevector``: QAOA layouts cost one memory pass over the 2^n amplitudes per layer and
  block of qubits (``1 + ceil((n - low) / high)`` passes, see ``sv_kernels``); states below
  ``sv_kernel_sets.NUMPY_BELOW`` qubits run on NumPy at about ``n + 4`` passes per layer; other
  circuits cost one pass per two-qubit gate and per run of one-qubit gates on a qubit, plus the
  Python work of binding and unrolling the circuit; each Pauli term estimated is one more pass.
* ``aer``/``aer_gpu``: one pass per gate and per Pauli term of the observable, and a fixed cost
  per primitive call. (``aer_gpu`` is counted as the CPU: not measured on a GPU.)
* ``aer_mps``: bond dimension ``chi = min(cap, 2^(n/2), 2^(gates across the worst cut))`` (the
  cap is ``backend.max_bond_dimension`` or ``backend.mps_max_bond_dimension`` when set, else
  none); memory ``n chi^2`` complex numbers (two per site); each two-qubit gate an SVD of a
  ``2 chi`` square matrix, ``chi^3`` work, once per qubit of distance between its qubits (Aer
  swaps them next to each other); each shot a sweep over the ``n`` sites.
* ``fake_ibm``: the device's noise model on Aer: ``shots`` trajectories of the transpiled
  circuit (routing on the heavy-hex coupling map multiplies two-qubit gates, assumed
  ``ROUTING_FACTOR``), a density matrix (4^n) up to ``DENSITY_MATRIX_MAX`` qubits.
* ``ibm``: device time only, ``shots`` at ``SHOT_S`` each plus ``JOB_S`` per job; the queue is
  unknown and not counted.

Why constants and not a timing taken on each install: the estimate goes into the run record
and decides whether a run starts, so the same config must give the same estimate wherever and
whenever it is computed (a timing taken on a busy machine would skip runs that fit). The
constants were measured on one machine (2 cores of a 2.6 GHz Zen 4, shared with other work;
CPU times of the pieces, so an idle machine's); ``python benchmarks/calibrate_cost_model.py``
runs small cases of every kind and prints their time against the estimate, and the report's
``time/estimate`` column shows how far the model is off for a study's own runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

GiB = 1 << 30
MiB = 1 << 20

#: Resident memory of a run's process before its state: Python, NumPy, Qiskit, the solvers
#: (measured: 290-420 MiB for the runs of the smoke experiment).
BASE_BYTES = 400 * MiB
#: Seconds of every run outside its solver: building the problem, the reference, the
#: formulation, evaluating the answer (measured 0.02-0.4 s for small instances; the imports
#: happen before the run's clock starts, when it is estimated).
RUN_OVERHEAD_S = 0.05
#: Starting a run's process in a sweep (Python and the imports before the run's clock: 2-3 s
#: measured); not part of the run's estimate, which compares with its ``times.total``.
PROCESS_START_S = 3.0
#: Building and binding a Qiskit circuit, per gate (QAOA layouts: one parameter expression
#: per term; measured 25-60 us).
CIRCUIT_GATE_S = 40e-6
#: Optimizer bookkeeping per cost evaluation (SciPy, traces, the cost's own arrays): COBYLA's
#: own work 0.3-0.9 ms per evaluation (measured, 6-270 parameters), the others' 0.01-0.2 ms;
#: and importing SciPy's optimizers once where the solver's module has not (0.15-0.3 s).
EVALUATION_S = {"COBYLA": 0.9e-3}
DEFAULT_EVALUATION_S = 0.15e-3
OPTIMIZER_SETUP_S = 0.15
#: Choosing the answer from the final samples (``qbench.sampling``), per sample: distinct rows,
#: decoding, native evaluation of the distinct answers (fewer than the samples).
ANSWER_S = 10e-6
#: QUBO energies of sampled bitstrings: per shot and squared variable count.
ENERGY_S = 1.5e-9

# -- statevector (numba kernels, and NumPy below NUMPY_BELOW qubits) ----------------------------
SV_EVALUATION_S = 60e-6          # per QAOA evaluation: angles, tables, kernel dispatch
SV_SERIAL_AMPLITUDE_S = 2.8e-9   # per amplitude and memory pass, serial kernels (< 18 qubits)
SV_PARALLEL_AMPLITUDE_S = 1.6e-9  # the same on two threads (README: 0.164 s for n = 24, p = 3)
NP_LAYER_S = 40e-6               # NumPy QAOA: per layer
NP_QUBIT_S = 7e-6                # per layer and qubit (one butterfly call)
NP_AMPLITUDE_S = 3.5e-9          # per amplitude and pass, about n + 4 passes per layer
GATE_S = 9e-6                    # gate circuits: Python per gate (binding, matrix, fusing: 7-11 us)
GATE_AMPLITUDE_S = {"numpy": 4e-9, "serial": 1.8e-9, "parallel": 1.5e-9}  # per pass and amplitude
TERM_S = 10e-6                   # one Pauli term's expectation: call overhead
TERM_AMPLITUDE_S = 1.5e-9        # and per amplitude
SAMPLE_AMPLITUDE_S = 4e-9        # sampling: probabilities and their cumulative sum
SAMPLE_SHOT_S = 0.3e-6           # per shot: a binary search and its bits

# -- Qiskit Aer ----------------------------------------------------------------------------
AER_CALL_S = 4e-3                # one primitive call (EstimatorV2 or SamplerV2)
AER_AMPLITUDE_S = 2.0e-9         # per gate or Pauli term and amplitude (NOTES: 20 s, n = 24, p = 3)
AER_TRANSPILE_GATE_S = 120e-6    # Aer's preset pass manager, per gate
AER_SHOT_S = 1e-6
# Aer's matrix product state (CPU time measured on QAOA circuits of 20 and 45 qubits at caps
# chi = 4-64; within a factor 2.5 of each point):
MPS_CALL_S = 10e-3
MPS_GATE_S = 40e-6               # per two-qubit gate and qubit of distance,
MPS_GATE_CHI3_S = 20e-9          # plus this per chi^3 (an SVD of a 2 chi x 2 chi matrix)
MPS_SHOT_SITE_S = 4e-6           # per shot and site,
MPS_SHOT_CHI2_S = 7e-9           # plus this per chi^2
MPS_TERM_SITE_S = 8e-6           # per Pauli term and site (expectation values),
MPS_TERM_CHI3_S = 1.2e-9         # plus this per chi^3
MPS_MEMORY_FACTOR = 4            # the tensors, their SVD workspaces and copies
#: The bond dimension assumed when no cap is configured is at most this (beyond it nothing
#: finishes; the estimate is then astronomical anyway).
MPS_CHI_LIMIT = 2 ** 40

# -- noisy simulation and hardware -------------------------------------------------------------
ROUTING_FACTOR = 3.0             # two-qubit gates after routing per logical one (heavy hex)
DENSITY_MATRIX_MAX = 12
IBM_TRANSPILE_GATE_S = 400e-6    # preset pass manager at level 2, per logical gate
SHOT_S = 250e-6                  # one shot on an IBM device (default rep delay and readout)
JOB_S = 3.0                      # per job (one primitive call) besides its shots


@dataclass(frozen=True)
class CircuitShape:
    """What a cost model needs to know of a circuit.

    ``one_qubit_passes``: runs of one-qubit gates on a qubit between two-qubit gates (the
    engine fuses each run into one pass); ``one_qubit_gates``: all of them (Aer applies each);
    ``qaoa_layers``: > 0 for a QAOA layout (the engine's fast path); ``cut_crossings``: the
    most two-qubit gates across any cut between qubits ``k`` and ``k + 1`` (the bond dimension
    there is at most ``2^crossings``); ``distance``: mean ``|i - j|`` of two-qubit gates."""

    qubits: int
    one_qubit_gates: int
    one_qubit_passes: int
    two_qubit_gates: int
    parameters: int
    qaoa_layers: int = 0
    cut_crossings: int = 0
    distance: float = 1.0

    @classmethod
    def of_pairs(cls, n: int, pairs: np.ndarray, reps: int, parameters: int, warm: bool = False) -> CircuitShape:
        """A QAOA layout on ``n`` qubits with ZZ terms on ``pairs`` (k x 2) and ``reps`` layers."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        lo, hi = pairs.min(axis=1), pairs.max(axis=1)
        one_per_layer = n + (3 * n if warm else n)  # RZ per qubit, then RX (or RY RZ RY)
        return cls(
            qubits=n, one_qubit_gates=n + reps * one_per_layer, one_qubit_passes=n + reps * 2 * n,
            two_qubit_gates=reps * len(pairs), parameters=parameters, qaoa_layers=reps,
            cut_crossings=reps * _most_crossings(n, lo, hi),
            distance=float(np.mean(hi - lo)) if len(pairs) else 1.0,
        )

    @classmethod
    def of_circuit(cls, circuit: Any) -> CircuitShape:
        """The shape of a Qiskit circuit of one- and two-qubit gates."""
        n = circuit.num_qubits
        pending = np.zeros(n, dtype=bool)
        ones = passes = 0
        lo, hi = [], []
        for inst in circuit.data:
            if inst.operation.name == "barrier":
                continue
            qubits = [circuit.find_bit(q).index for q in inst.qubits]
            if len(qubits) == 1:
                ones += 1
                passes += not pending[qubits[0]]
                pending[qubits[0]] = True
            elif len(qubits) == 2:
                pending[qubits] = False
                lo.append(min(qubits))
                hi.append(max(qubits))
        lo_a, hi_a = np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)
        return cls(qubits=n, one_qubit_gates=ones, one_qubit_passes=passes, two_qubit_gates=len(lo),
                   parameters=circuit.num_parameters, cut_crossings=_most_crossings(n, lo_a, hi_a),
                   distance=float(np.mean(hi_a - lo_a)) if len(lo) else 1.0)

    @property
    def gates(self) -> int:
        return self.one_qubit_gates + self.two_qubit_gates

    def bond_dimension(self, cap: int | None) -> int:
        """The largest MPS bond dimension this circuit can need, under an optional cap."""
        bound = min(self.qubits // 2, self.cut_crossings)
        chi = MPS_CHI_LIMIT if bound >= MPS_CHI_LIMIT.bit_length() - 1 else 1 << bound
        return min(chi, cap) if cap else chi


def _most_crossings(n: int, lo: np.ndarray, hi: np.ndarray) -> int:
    """The most two-qubit gates (lo, hi) across one cut between neighbouring qubits."""
    if n < 2 or not len(lo):
        return 0
    steps = np.zeros(n + 1, dtype=np.int64)
    np.add.at(steps, lo, 1)
    np.add.at(steps, hi, -1)
    return int(np.cumsum(steps)[:-1].max())


@dataclass(frozen=True)
class Workload:
    """Circuit work of a run: ``executions`` evolutions of ``circuit`` while optimising (each
    estimating ``terms`` Pauli terms, or the QUBO cost when 0, from ``shots`` measurements or
    exactly when ``None``), then ``final_executions`` sampled, ``final_shots`` in all."""

    circuit: CircuitShape
    executions: int
    terms: int = 0
    cost_terms: int = 0      # Ising terms of the QUBO cost (what Aer's estimator evaluates)
    shots: int | None = None
    final_shots: int = 0
    final_executions: int = 1
    calls: int | None = None  # primitive calls (batched executions count once); None = executions


@dataclass(frozen=True)
class Cost:
    """``seconds`` of circuit work, ``setup`` seconds of building the backend once per run."""

    seconds: float
    peak_bytes: int
    basis: str
    setup: float = 0.0


#: Building the backend, once per run (imports included): Aer's simulator and pass manager
#: (1-3.6 s measured, the more the busier the machine), a fake device's noise model, a
#: connection to IBM Quantum. The
#: state-vector engine's imports (numba, 0.9 s) happen when the run is estimated, before its
#: clock starts.
#: Loading the compiled numba kernels a run uses from numba's cache (states from NUMPY_BELOW
#: qubits; measured 0.5-1.5 s per process). Compiling them, once per install, is not counted.
KERNEL_LOAD_S = 1.0
SETUP_S = {"statevector": 0.1, "aer": 1.5, "aer_gpu": 1.5, "aer_mps": 1.5, "fake_ibm": 5.0, "ibm": 15.0}


def circuit_cost(work: Workload, backend: dict[str, Any]) -> Cost:
    """Seconds and peak bytes of ``work`` on the backend configured by ``backend``."""
    name = str(backend.get("name"))
    if name == "statevector":
        cost = _statevector(work, backend)
    elif name == "aer_mps" or name.startswith("aer") and backend.get("method") == "matrix_product_state":
        cost = _mps(work, backend)
    elif name in ("aer", "aer_gpu"):
        cost = _aer(work, backend, name)
    elif name == "fake_ibm":
        cost = _noisy(work, backend)
    elif name == "ibm":
        cost = _device(work, backend)
    else:
        raise KeyError(name)
    return Cost(cost.seconds, cost.peak_bytes, cost.basis, cost.setup + SETUP_S.get(name, SETUP_S["aer"]))


def _statevector(work: Workload, backend: dict[str, Any]) -> Cost:
    from qbench.backends.sv_cpu import LARGE_BLOCK_FROM
    from qbench.backends.sv_kernel_sets import NUMPY_BELOW, SERIAL_BELOW

    c = work.circuit
    n = c.qubits
    size = float(2 ** n)
    reference = backend.get("engine") == "reference"  # plain NumPy at any size
    kind = "numpy" if n < NUMPY_BELOW or reference else "serial" if n < SERIAL_BELOW else "parallel"
    if c.qaoa_layers and kind == "numpy":
        per = c.qaoa_layers * (NP_LAYER_S + n * NP_QUBIT_S + (n + 4) * size * NP_AMPLITUDE_S)
        how = f"NumPy QAOA {c.qaoa_layers} layers x ~{n + 4} passes"
    elif c.qaoa_layers:
        low = 14 if n >= LARGE_BLOCK_FROM else 12
        passes = 1 + math.ceil(max(n - low, 0) / 12)
        amplitude = SV_SERIAL_AMPLITUDE_S if kind == "serial" else SV_PARALLEL_AMPLITUDE_S
        per = SV_EVALUATION_S + c.qaoa_layers * passes * size * amplitude
        how = f"QAOA kernels {c.qaoa_layers} layers x {passes} passes"
    else:
        gate_passes = c.one_qubit_passes + c.two_qubit_gates
        per = c.gates * GATE_S + gate_passes * size * GATE_AMPLITUDE_S[kind]
        how = f"{c.gates} gates in {gate_passes} passes ({kind})"
    evolve = per
    per += work.terms * (TERM_S + size * TERM_AMPLITUDE_S) + (size * TERM_AMPLITUDE_S if not work.terms else 0)
    sampling = _shots_s(work.shots, n) + (size * SAMPLE_AMPLITUDE_S if work.shots else 0)
    final = work.final_executions * (evolve + size * SAMPLE_AMPLITUDE_S) + _shots_s(work.final_shots, n)
    seconds = work.executions * (per + sampling) + final
    itemsize = 8 if backend.get("precision") == "single" else 16
    # as the engines' memory_required: sv_cpu.KernelEngine's, or sv_reference.ReferenceEngine's
    peak = int((2 * itemsize + 48 if reference else itemsize + 24) * size)
    load = 0.0 if kind == "numpy" else KERNEL_LOAD_S
    return Cost(seconds, peak, f"statevector 2^{n}: {how}, {_si(per)} per execution"
                + ("" if kind == "numpy" else " (+ compiling the kernels once per install)"), load)


def _shots_s(shots: int | None, n: int) -> float:
    return (shots or 0) * (SAMPLE_SHOT_S + n * n * ENERGY_S)


def _aer(work: Workload, backend: dict[str, Any], name: str) -> Cost:
    c = work.circuit
    n = c.qubits
    size = float(2 ** n)
    observable = work.terms or (0 if work.shots else work.cost_terms)
    per = (c.gates + observable) * size * AER_AMPLITUDE_S
    per += _shots_s(work.shots, n) + (work.shots or 0) * AER_SHOT_S
    calls = work.executions if work.calls is None else work.calls
    final = work.final_executions * (c.gates * size * AER_AMPLITUDE_S) + _shots_s(work.final_shots, n) \
        + work.final_shots * AER_SHOT_S + AER_CALL_S
    seconds = work.executions * per + calls * AER_CALL_S + final + 2 * c.gates * AER_TRANSPILE_GATE_S
    itemsize = 8 if backend.get("precision") == "single" else 16
    note = " (GPU not measured: CPU figures)" if name == "aer_gpu" else ""
    return Cost(seconds, int(2 * itemsize * size), f"{name} 2^{n}: {c.gates} gates + {observable} terms "
                f"per execution{note}")


def bond_cap(backend: dict[str, Any]) -> int | None:
    """The configured MPS bond-dimension cap (0 or unset = none)."""
    for key in ("max_bond_dimension", "mps_max_bond_dimension"):
        value = backend.get(key)
        if value:
            return int(value)
    return None


def _mps(work: Workload, backend: dict[str, Any]) -> Cost:
    c = work.circuit
    n = c.qubits
    cap = bond_cap(backend)
    chi = float(c.bond_dimension(cap))
    gates = c.two_qubit_gates * max(c.distance, 1.0) * (MPS_GATE_S + chi ** 3 * MPS_GATE_CHI3_S)
    shot = n * (MPS_SHOT_SITE_S + chi ** 2 * MPS_SHOT_CHI2_S)
    observable = work.terms or (0 if work.shots else work.cost_terms)
    terms = observable * n * (MPS_TERM_SITE_S + chi ** 3 * MPS_TERM_CHI3_S)
    per = gates + (work.shots or 0) * shot + terms + _shots_s(work.shots, n)
    calls = work.executions if work.calls is None else work.calls
    final = work.final_executions * gates + work.final_shots * shot + _shots_s(work.final_shots, n) + MPS_CALL_S
    seconds = work.executions * per + calls * MPS_CALL_S + final + 2 * c.gates * AER_TRANSPILE_GATE_S
    peak = n * chi ** 2 * 32 * MPS_MEMORY_FACTOR
    bound = f"cap {cap}" if cap and chi == cap else "no cap" if not cap else "below its cap"
    return Cost(seconds, int(min(peak, 2.0 ** 100)),
                f"aer_mps {n} sites, chi {_chi(chi)} ({bound}), {c.two_qubit_gates} two-qubit gates "
                f"x distance {c.distance:.3g}")


def _chi(chi: float) -> str:
    return f"2^{int(math.log2(chi))}" if chi > 4096 else f"{int(chi)}"


def _noisy(work: Workload, backend: dict[str, Any]) -> Cost:
    c = work.circuit
    n = c.qubits
    gates = c.one_qubit_gates * 3 + c.two_qubit_gates * ROUTING_FACTOR
    shots = work.shots or 8000  # costs on a noisy backend always come from shots
    if n <= DENSITY_MATRIX_MAX:
        per = gates * 4.0 ** n * AER_AMPLITUDE_S + _shots_s(shots, n)
        final = gates * 4.0 ** n * AER_AMPLITUDE_S + _shots_s(work.final_shots, n)
        peak, how = 16 * 4.0 ** n * 2, f"density matrix 4^{n}"
    else:
        per = shots * gates * 2.0 ** n * AER_AMPLITUDE_S + _shots_s(shots, n)
        final = work.final_shots * gates * 2.0 ** n * AER_AMPLITUDE_S + _shots_s(work.final_shots, n)
        peak, how = 32 * 2.0 ** n, f"{shots} trajectories of 2^{n}"
    calls = work.executions if work.calls is None else work.calls
    seconds = work.executions * per + final + (calls + 1) * AER_CALL_S + c.gates * IBM_TRANSPILE_GATE_S
    return Cost(seconds, int(min(peak, 2.0 ** 100)), f"fake_ibm noisy Aer, {how}, ~{gates:.0f} gates after routing "
                f"(x{ROUTING_FACTOR:g} assumed)")


def _device(work: Workload, backend: dict[str, Any]) -> Cost:
    shots = work.shots or 8000
    calls = work.executions if work.calls is None else work.calls
    seconds = (work.executions * shots + work.final_shots) * SHOT_S + (calls + 1) * JOB_S \
        + work.circuit.gates * IBM_TRANSPILE_GATE_S
    return Cost(seconds, 0, f"IBM device time: {work.executions} x {shots} shots at {SHOT_S * 1e6:.0f} us, "
                f"{calls + 1} jobs; queue wait unknown, not counted")


def _si(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"
