"""Benchmark of ``backend=statevector`` against Aer and qiskit-optimization, in one run.

    python benchmarks/bench_statevector.py            # full run (n = 16, 20, 24), < 10 min
    python benchmarks/bench_statevector.py --quick    # small run (n = 12, 14, 16)

Parts (same instances, parameters and machine for every engine; ratios per row):
1. one QAOA energy (p = 1, 3) on MDKP penalty QUBOs of n qubits: qbench's engine vs Aer
   EstimatorV2 vs Aer's statevector method (save_statevector, then the energy dot product);
2. a whole QAOA solve (COBYLA, 100 evaluations, p = 2) at n = 16 and 20: ``qbench run
   solver=qaoa backend=statevector`` vs qiskit-optimization's ``MinimumEigenOptimizer(QAOA(...))``
   with Aer's SamplerV2 on the same penalty QUBO; median wall time of 5 (n = 16) or 3 (n = 20)
   runs per side, the sides alternating, and both final objectives;
3. achieved memory bandwidth of one evaluation vs the copy bandwidth, measured in alternation,
   with the evaluation's two floors: its bytes at copy speed and its butterfly arithmetic at
   the in-cache rate measured in the same rounds; and vs an in-place pass's bandwidth (how the
   engine's passes access memory) with the two-ceiling roofline fraction;
4. peak memory (growth of the peak RSS, VmHWM, of a fresh subprocess) of prepare + energy + sampling at the
   largest n vs the 16 bytes x 2^n of the state;
5. one p = 3 energy at the two largest n by kind of cost, the engine's two phase paths: the
   integer QUBO of part 1 (table of distinct values), the same QUBO with float coefficients
   and multi-angle QAOA (the Ising phase factored per chunk), each vs Aer as in part 1.

Prints a Markdown table and writes JSON to results/bench/statevector-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Aer's OpenMP threads spin at barriers by default; on a machine shared with other jobs that made
# its energies 2-3x slower (measured here). Passive waiting gives Aer its best time; qbench's
# engine does not use OpenMP (see qbench/backends/sv_kernels.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from numba import njit, prange  # noqa: E402

from qbench.ansatz import qaoa_layout  # noqa: E402
from qbench.backends.aer import AerBackend  # noqa: E402
from qbench.backends.statevector import StatevectorBackend  # noqa: E402
from qbench.backends.sv_cpu import PART_OFFSET  # noqa: E402
from qbench.backends.sv_kernels import ROW_BITS, TAN, _gates  # noqa: E402
from qbench.formulations.penalty import PenaltyQubo  # noqa: E402
from qbench.qubo import Qubo  # noqa: E402
from qbench.qubo_cost import DiagonalCost, normalisation  # noqa: E402
from qbench.problems.mdkp import Generator, generate  # noqa: E402


def mdkp_with_qubits(n: int):
    """The first generated MDKP instance (seed 0, two constraints) whose penalty QUBO has
    exactly ``n`` variables, as (generator, encoding)."""
    for constraints in (2, 3, 1):
        for items in range(n, 0, -1):
            generator = Generator(n_items=items, n_constraints=constraints, seed=0)
            encoding = PenaltyQubo().encode(generate(generator))
            if encoding.qubits == n:
                return generator, encoding
    raise SystemExit(f"no MDKP instance with {n} QUBO variables")


def qubo_program(qubo: Qubo):
    """``qubo`` as qiskit-optimization's unconstrained minimisation program (for its QAOA)."""
    from qiskit_optimization import QuadraticProgram

    qp = QuadraticProgram("qubo")
    names = list(qubo.names) or [f"x[{i}]" for i in range(qubo.num_variables)]
    for v in names:
        qp.binary_var(v)
    rows, cols = np.nonzero(qubo.quadratic)
    qp.minimize(
        constant=qubo.offset,
        linear=dict(zip(names, qubo.linear.tolist())),
        quadratic={(names[i], names[j]): float(qubo.quadratic[i, j]) for i, j in zip(rows.tolist(), cols.tolist())},
    )
    return qp


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls (after the caller's warm-up) and the last value."""
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), value


def aer_statevector_energy(simulator, isa, x, energies):
    bound = isa.assign_parameters(x)
    bound.save_statevector()
    state = np.asarray(simulator.run(bound).result().get_statevector())
    return float((state.real**2 + state.imag**2) @ energies)


# ------------------------------------------------------------------------------------------------
#: The phase each kind of cost takes in the engine: integer penalty QUBOs a table of the
#: distinct cost values below 16 qubits (statevector.TABLE_PHASE_BELOW); from 16 qubits, and
#: for float costs and multi-angle layers, the factored Ising phase.
COST_KINDS = {"integer": "MDKP penalty QUBO (integer: table phase below 16 qubits, else Ising phase)",
              "float": "the same QUBO, coefficients perturbed by 0.1% (float costs: Ising phase)",
              "multi_angle": "multi-angle QAOA on the MDKP QUBO (one angle per term: Ising phase)"}


def qubo_of_kind(qubo: Qubo, kind: str) -> Qubo:
    if kind != "float":
        return qubo
    rng = np.random.default_rng(0)
    return Qubo(qubo.linear * (1 + 1e-3 * rng.standard_normal(qubo.linear.shape)),
                qubo.quadratic * (1 + 1e-3 * rng.standard_normal(qubo.quadratic.shape)), qubo.offset)


def part_energy(sizes, reps_list, aer_max_n, kind="integer"):
    from qiskit_aer import AerSimulator

    rows = []
    simulator = AerSimulator(method="statevector")
    for n in sizes:
        generator, encoding = mdkp_with_qubits(n)
        qubo = qubo_of_kind(encoding.qubo, kind)
        cost = DiagonalCost(qubo, scale=normalisation(qubo))
        zz = int(np.count_nonzero(qubo.quadratic))
        energies = qubo.all_energies() if n <= aer_max_n else None
        for p in reps_list:
            layout = qaoa_layout(cost.circuit_hamiltonian, p, multi_angle=kind == "multi_angle")
            if kind == "multi_angle":
                x = np.random.default_rng(0).uniform(0.1, 0.6, layout.num_parameters)
            else:
                x = layout.pack(np.linspace(0.2, 0.6, p)[:, None], np.linspace(0.6, 0.2, p)[:, None])
            engine = StatevectorBackend()
            start = time.perf_counter()
            prepared = engine.prepare(layout.circuit, structure=layout)
            engine.cost(prepared, cost, x)  # warm-up: builds the cost table, loads kernels
            prepare_s = time.perf_counter() - start
            # the engine's evaluations are cheap: more of them below n = 24 (with 3, one n = 20 row
            # read 0.0076 s in one part and 0.0177 s in another of the same run)
            t_sv, e_sv = timed(lambda: engine.cost(prepared, cost, x)[0], 5 if n >= 24 else 21)
            row = {"n": n, "p": p, "kind": kind, "zz_terms": zz, "instance": f"mdkp items={generator.n_items} m={generator.n_constraints}",
                   "statevector_s": t_sv, "statevector_prepare_s": prepare_s, "energy": e_sv}
            if n <= aer_max_n:
                repeats = 3 if n <= 16 else 1
                aer = AerBackend()
                aer_prepared = aer.prepare(layout.circuit)
                t_est, e_est = timed(lambda: aer.cost(aer_prepared, cost, x)[0], repeats)
                t_asv, e_asv = timed(lambda: aer_statevector_energy(simulator, aer_prepared.isa, x, energies), repeats)
                row.update(aer_estimator_s=t_est, aer_statevector_s=t_asv,
                           ratio_estimator=t_est / t_sv, ratio_aer_statevector=t_asv / t_sv,
                           max_abs_diff=max(abs(e_est - e_sv), abs(e_asv - e_sv)))
            rows.append(row)
            print(f"  energy {kind} n={n} p={p}: statevector {t_sv:.4f} s"
                  + (f", Aer estimator {row['aer_estimator_s']:.3f} s, Aer statevector {row['aer_statevector_s']:.3f} s"
                     if "aer_estimator_s" in row else ""), flush=True)
    return rows


# ------------------------------------------------------------------------------------------------
def part_end_to_end(n, maxiter, repeats, reps=2):
    """Median wall time of ``repeats`` whole solves per side, the two sides alternating (one
    solve per side swung the ratio by up to 2x on this shared machine), after one warm-up solve
    per side on a small instance of the same shape (numba's kernel cache loaded, Aer and
    qiskit-optimization imported)."""
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2
    from qiskit_optimization.algorithms import MinimumEigenOptimizer
    from qiskit_optimization.minimum_eigensolvers import QAOA
    from qiskit_optimization.optimizers import COBYLA

    from qbench.registry import build_problem
    from qbench.solvers.qaoa import QaoaParams, initial_angles
    from tests.helpers import compose_config, run

    def overrides_for(generator, maxiter):
        return ["solver=qaoa", "backend=statevector", "progress=false", f"solver.reps={reps}",
                f"solver.maxiter={maxiter}", "solver.optimizer=COBYLA",
                f"problem.generator.n_items={generator.n_items}",
                f"problem.generator.n_constraints={generator.n_constraints}", f"problem.generator.seed={generator.seed}"]

    def qiskit_solve(encoding, maxiter):
        scale = normalisation(encoding.qubo)
        gammas, betas = initial_angles(QaoaParams(reps=reps), np.random.default_rng(0))
        # Same starting angles: qiskit-optimization's QAOA evolves under the raw Ising operator and
        # orders its parameters beta[0..p-1], gamma[0..p-1]; qbench divides the operator by `scale`.
        initial_point = np.concatenate([betas, gammas / scale])
        pass_manager = generate_preset_pass_manager(optimization_level=1, backend=AerSimulator())
        qaoa = QAOA(SamplerV2(seed=0), COBYLA(maxiter=maxiter), reps=reps, initial_point=initial_point,
                    pass_manager=pass_manager)
        return MinimumEigenOptimizer(qaoa).solve(qubo_program(encoding.qubo))

    generator, encoding = mdkp_with_qubits(n)
    overrides = overrides_for(generator, maxiter)
    small_generator, small_encoding = mdkp_with_qubits(min(n, 10))
    run(*overrides_for(small_generator, 10))  # warm-up
    qiskit_solve(small_encoding, 10)
    qbench_times, solve_times, compose_times, qiskit_times = [], [], [], []
    for _ in range(repeats):  # alternating, so that a drift in the machine's load hits both sides
        start = time.perf_counter()
        record = run(*overrides)
        qbench_times.append(time.perf_counter() - start)
        if record.status != "ok":
            raise SystemExit(f"qbench run failed: {record.error}")
        solve_times.append(record.times["solve"])
        compose_times.append(qbench_times[-1] - record.times["total"])
        start = time.perf_counter()
        result = qiskit_solve(encoding, maxiter)
        qiskit_times.append(time.perf_counter() - start)
    problem = build_problem(compose_config(*overrides).problem)
    qiskit_eval = problem.evaluate(encoding.decode(np.asarray(result.x)))
    qbench_s, qiskit_s = float(np.median(qbench_times)), float(np.median(qiskit_times))
    return {
        "n": n, "reps": reps, "maxiter": maxiter, "repeats": repeats,
        "instance": f"mdkp items={generator.n_items} m={generator.n_constraints} seed={generator.seed}",
        "qbench_s": qbench_s, "qbench_times": qbench_times, "qbench_solve_s": float(np.median(solve_times)),
        "qbench_compose_s": float(np.median(compose_times)),
        "qbench_objective": record.objective, "qbench_feasible": record.feasible,
        "qbench_evaluations": record.solver_info["optimizer_evaluations"],
        "qiskit_optimization_s": qiskit_s, "qiskit_times": qiskit_times, "qiskit_objective": float(qiskit_eval.objective),
        "qiskit_feasible": bool(qiskit_eval.feasible), "qiskit_qubo_energy": float(result.fval),
        "qiskit_sampler_shots": 1024,
        "reference_optimum": record.reference, "ratio": qiskit_s / qbench_s,
        "ratio_solve": qiskit_s / float(np.median(solve_times)),
    }


# ------------------------------------------------------------------------------------------------
def bytes_per_evaluation(n: int, p: int, low: int, high: int, amplitude: int, index_bytes: int,
                         phase_index_bytes: int) -> int:
    """Memory traffic of one standard-QAOA energy as the engine runs it: per layer the phase +
    low-block pass (read and write the state, and the cost index where the phase is looked up
    in the table of distinct values, ``phase_index_bytes`` per state: 0 where it comes from the
    Ising coefficients; the first layer starts from |+>^n and does not read the state) and one
    pass per further block of ``high`` qubits (read and write), then the expectation: fused
    into the last high-block pass when there is one (it reads only the cost index there: the
    tile is in cache), else a pass of its own (read the state and the index)."""
    N = 2**n
    high_passes = -(-(n - min(n, low)) // high)
    per_layer = (2 * amplitude + phase_index_bytes) * N + high_passes * 2 * amplitude * N
    expectation = index_bytes * N if high_passes else (amplitude + index_bytes) * N
    return p * per_layer - amplitude * N + expectation


def part_bandwidth(n, p=3, rounds=11):
    """Engine evaluations and copies measured in alternation, ``rounds`` times: on this shared
    machine the copy bandwidth itself moves by 2x within minutes (13-50 GB/s seen), so each
    evaluation is compared with the copies taken right next to it; the figure is the median of
    the per-round fractions (their range is reported too)."""
    generator, encoding = mdkp_with_qubits(n)
    qubo = encoding.qubo
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = qaoa_layout(cost.circuit_hamiltonian, p)
    x = layout.pack(np.linspace(0.2, 0.6, p)[:, None], np.linspace(0.6, 0.2, p)[:, None])
    engine = StatevectorBackend()
    prepared = engine.prepare(layout.circuit, structure=layout)
    engine.cost(prepared, cost, x)
    index_bytes = prepared.extra["program"].diagonal.data.index.itemsize
    from qbench.backends.sv_cpu import TABLE_PHASE_BELOW
    from qbench.backends.sv_kernels import HIGH_BITS

    block_bits = engine.engines.cpu.block_bits
    moved = bytes_per_evaluation(n, p, block_bits(n), min(block_bits(n), HIGH_BITS), 16,
                                 index_bytes, index_bytes if n < TABLE_PHASE_BELOW else 0)
    a = np.ones(2**n, dtype=np.complex128)
    b = np.empty_like(a)
    np.copyto(b, a)
    parallel_copy(a, b)
    # the butterflies' rate with tiles in L1 (2^10 amplitudes, 16 KiB) and as the engine's low
    # pass holds them (2^block, in L2): the faster prices the arithmetic
    sweeps = [ButterflySweep(bits, engine.threads) for bits in (10, block_bits(n))]
    # an in-place pass over a state laid out as the engine's (real and imaginary parts), chunk
    # by chunk: the access pattern of the engine's passes, which write where they read (a copy's
    # writes go to lines not in cache, which the core first reads: 3 transfers per 2 counted)
    parts = np.ones(2 * 2**n + PART_OFFSET)
    part_re, part_im = parts[:2**n], parts[2**n + PART_OFFSET:]
    scale_in_place(part_re, part_im, block_bits(n), 1.0)
    evaluation, numpy_copy, threads_copy, in_place, gate_rate = [], [], [], [], []
    for _ in range(rounds):
        evaluation.append(timed(lambda: engine.cost(prepared, cost, x), 1)[0])
        numpy_copy.append(timed(lambda: np.copyto(b, a), 1)[0])
        threads_copy.append(timed(lambda: parallel_copy(a, b), 1)[0])
        in_place.append(timed(lambda: scale_in_place(part_re, part_im, block_bits(n), 1.0), 1)[0])
        gate_rate.append(min(sweep.seconds_per_amplitude_gate() for sweep in sweeps))
    copied = 2 * a.nbytes  # read + write
    in_place_s = [t * moved / copied for t in in_place]  # the evaluation's bytes at in-place speed
    # The roofline of each round is the faster of numpy's copy (one thread) and a copy on all
    # the engine's threads.
    copy_s = [min(c1, c2) * moved / copied for c1, c2 in zip(numpy_copy, threads_copy)]
    fractions = [c / e for c, e in zip(copy_s, evaluation)]
    # The butterflies alone: p layers of n RX gates on every amplitude, at this round's rate.
    arithmetic_s = [rate * p * n * 2**n for rate in gate_rate]
    seconds = float(np.median(evaluation))
    return {"n": n, "p": p, "rounds": rounds, "evaluation_s": seconds, "evaluation_times": evaluation,
            "bytes_moved": moved, "achieved_GBps": moved / seconds / 1e9,
            "copy_GBps": copied / float(np.median(np.minimum(numpy_copy, threads_copy))) / 1e9,
            "numpy_copy_GBps": copied / float(np.median(numpy_copy)) / 1e9,
            "parallel_copy_GBps": copied / float(np.median(threads_copy)) / 1e9,
            "roofline_fraction": float(np.median(fractions)), "roofline_fractions": fractions,
            "memory_floor_s": float(np.median(copy_s)), "arithmetic_floor_s": float(np.median(arithmetic_s)),
            "floors_over_evaluation": float(np.median([(c + g) / e for c, g, e in zip(copy_s, arithmetic_s, evaluation)])),
            "gate_ns_per_amplitude": 1e9 * float(np.median(gate_rate)),
            "in_place_GBps": copied / float(np.median(in_place)) / 1e9,
            "in_place_fraction": float(np.median([c / e for c, e in zip(in_place_s, evaluation)])),
            "memory_floor_in_place_s": float(np.median(in_place_s)),
            # the two-ceiling roofline: the larger floor (bytes at in-place speed, butterflies)
            "two_ceiling_fraction": float(np.median([max(c, g) / e for c, g, e in zip(in_place_s, arithmetic_s, evaluation)])),
            "index_bytes": index_bytes, "threads": engine.threads}


class ButterflySweep:
    """The engine's butterflies with no memory traffic: each of ``threads`` workers applies RX
    gates in the engine's tangent form to bits ROW_BITS..bits-1 of a tile of 2^bits amplitudes
    of its own, held in cache as the engine's passes hold theirs, over and over. Its time per
    amplitude and gate (wall, all threads) prices the arithmetic of an evaluation: one multiply-
    add per value and gate, which no schedule of memory passes removes."""

    def __init__(self, bits: int, threads: int, work: int = 1 << 27) -> None:
        self.bits, self.threads = bits, threads
        gates = bits - ROW_BITS
        self.repeats = max(1, work // (threads * gates << bits))
        self.work = self.repeats * threads * gates << bits
        # a small angle: values grow by sqrt(1 + tan^2) per gate in the tangent form, and must
        # stay finite over all the repeats
        beta = 0.01
        self.rows = np.tile([np.cos(beta), 0, 0, -np.sin(beta), 0, -np.sin(beta), np.cos(beta), 0], (gates, 1))
        butterfly_sweeps(self.rows, self.bits, 1, self.threads)

    def seconds_per_amplitude_gate(self) -> float:
        started = time.perf_counter()
        butterfly_sweeps(self.rows, self.bits, self.repeats, self.threads)
        return (time.perf_counter() - started) / self.work


@njit(parallel=True, cache=True)
def butterfly_sweeps(rows, bits, repeats, workers):
    """See :class:`ButterflySweep` (returns a value of the tiles so that the work is kept)."""
    total = 0.0
    for worker in prange(workers):
        size = 1 << bits
        tile_re = np.full(size, 0.5)
        tile_im = np.zeros(size)
        for repeat in range(repeats):
            _gates(tile_re, tile_im, size, ROW_BITS, bits, rows, 0, TAN)
        total += tile_re[0]
    return total


@njit(parallel=True, cache=True)
def scale_in_place(re, im, bits, factor):
    """``re, im *= factor`` chunk by chunk (2^bits values) on numba's threads: a read-modify-
    write pass with the engine's layout and access pattern (``factor`` a run-time value, so
    that the pass is not folded away)."""
    size = 1 << bits
    for c in prange(re.shape[0] >> bits):
        r = re[c * size:(c + 1) * size]
        i = im[c * size:(c + 1) * size]
        for k in range(size):
            r[k] = factor * r[k]
            i[k] = factor * i[k]


@njit(parallel=True, cache=True)
def parallel_copy(a, b):
    """``b[:] = a`` on numba's threads (the engine's)."""
    for i in prange(a.shape[0]):
        b[i] = a[i]


# ------------------------------------------------------------------------------------------------
def peak_rss() -> int:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it does not inherit the parent's
    high-water mark across fork + exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(n: int, kind: str) -> None:
    """Run in a fresh process: peak RSS after setup, then after prepare + energy + CVaR +
    sampling on the ``kind`` of cost (see :data:`COST_KINDS`)."""
    x = np.array([0.6, 0.4, 0.2, 0.2, 0.4, 0.6])  # betas, gammas of p = 3
    engine = StatevectorBackend()
    for size in (10, n):  # a warm-up on 10 qubits first: the compiled kernels loaded
        if size == n:
            engine = StatevectorBackend()
            before = peak_rss()
        qubo = qubo_of_kind(mdkp_with_qubits(size)[1].qubo, kind)
        cost = DiagonalCost(qubo, scale=normalisation(qubo))
        layout = qaoa_layout(cost.circuit_hamiltonian, 3)
        prepared = engine.prepare(layout.circuit, structure=layout)
        engine.cost(prepared, cost, x)
        engine.cost(prepared, DiagonalCost(qubo, alpha=0.25, scale=cost.scale), x)
        engine.sample(prepared, x, 10_000 if size == n else 100)
    print(json.dumps({"before": before, "after": peak_rss()}))


def part_memory(n):
    """Peak memory of the integer and the float-cost phase paths (the float one keeps a dense
    8-byte diagonal where the integer one keeps a 2-byte index)."""
    state = 16 * 2**n
    result = {"n": n, "state_bytes": state, "limit_over_state": 3.0,
              "memory_required": StatevectorBackend().memory_required(n)}
    for kind in ("integer", "float"):
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(n), "--memory-kind", kind],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        peak = data["after"] - data["before"]
        suffix = "" if kind == "integer" else "_float"
        result.update({f"peak_growth_bytes{suffix}": peak, f"peak_over_state{suffix}": peak / state})
    return result


# ------------------------------------------------------------------------------------------------
def energy_table(rows, title: str, kinds: bool) -> list[str]:
    lines = [title, ""]
    if kinds:
        lines += [f"- {kind}: {text}" + ("; the rows of part 1 (the same instances and parameters)"
                                         if any(r["kind"] == kind and r.get("measured_in") for r in rows) else "")
                  for kind, text in COST_KINDS.items() if any(r["kind"] == kind for r in rows)] + [""]
    lines += ["| " + ("cost | " if kinds else "") + "n | p | ZZ terms | statevector (s) | Aer EstimatorV2 (s) | ratio | Aer statevector (s) | ratio | max abs diff |",
              "|---" * (10 if kinds else 9) + "|"]
    for r in rows:
        head = f"| {r['kind']} " if kinds else ""
        if "aer_estimator_s" in r:
            lines.append(f"{head}| {r['n']} | {r['p']} | {r['zz_terms']} | {r['statevector_s']:.3g} | {r['aer_estimator_s']:.3f} | "
                         f"{r['ratio_estimator']:.1f}x | {r['aer_statevector_s']:.3f} | {r['ratio_aer_statevector']:.1f}x | "
                         f"{r['max_abs_diff']:.1e} |")
        else:
            lines.append(f"{head}| {r['n']} | {r['p']} | {r['zz_terms']} | {r['statevector_s']:.3g} | - | - | - | - | - |")
    return lines + [""]


def part_cost_kinds(results, sizes) -> list:
    """Part 5: one p = 3 energy per kind of cost at ``sizes``. The integer rows are part 1's when
    part 1 measured them in this run (the same instances, p = 3 and parameters): copied, not
    measured again (about 50 s of Aer at n = 24, to keep the whole run under 10 minutes)."""
    rows = []
    for kind in COST_KINDS:
        copied = [dict(r, measured_in="part 1") for r in results.get("energy", [])
                  if kind == "integer" and r["p"] == 3 and r["n"] in sizes]
        rows += copied if len(copied) == len(sizes) else part_energy(sizes, [3], aer_max_n=sizes[-1], kind=kind)
    return rows


def table(results) -> str:
    lines = []
    if "energy" in results:
        lines += energy_table(results["energy"], "### 1. One QAOA energy (MDKP penalty QUBO)", kinds=False)
    if "end_to_end" in results:
        ends = results["end_to_end"]
        e = ends[0]
        lines += [f"### 2. End-to-end QAOA solve (p={e['reps']}, COBYLA {e['maxiter']} evaluations; medians of alternating runs per side)", "",
                  "| n | runs per side | qbench run, backend=statevector (s) | of which config composition (s) | qiskit-optimization MinimumEigenOptimizer(QAOA), Aer SamplerV2 (s) | ratio | ratio, qbench solver part only | qbench objective | qiskit-optimization objective | optimum |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for e in ends:
            lines.append(f"| {e['n']} | {e['repeats']} | {e['qbench_s']:.3f} | {e['qbench_compose_s']:.3f} | {e['qiskit_optimization_s']:.2f} | "
                         f"{e['ratio']:.1f}x | {e['ratio_solve']:.1f}x | {e['qbench_objective']} | {e['qiskit_objective']} "
                         f"({'feasible' if e['qiskit_feasible'] else 'infeasible'}) | {e['reference_optimum']} |")
        lines.append("")
    if "bandwidth" in results:
        b = results["bandwidth"]
        fractions = b["roofline_fractions"]
        lines += [f"### 3. Memory bandwidth (n={b['n']}, p={b['p']}; {b['rounds']} rounds of one evaluation and one copy each)", "",
                  f"{b['bytes_moved'] / 1e9:.2f} GB moved per evaluation in {b['evaluation_s']:.3f} s (median): "
                  f"{b['achieved_GBps']:.1f} GB/s vs copy {b['copy_GBps']:.1f} GB/s (medians; numpy {b['numpy_copy_GBps']:.1f}, "
                  f"{b.get('threads', '')} numba threads {b['parallel_copy_GBps']:.1f}) = "
                  f"**{100 * b['roofline_fraction']:.0f}% of copy bandwidth** (median of the rounds' fractions; "
                  f"range {100 * min(fractions):.0f}-{100 * max(fractions):.0f}%)", ""]
        if "arithmetic_floor_s" in b:
            lines += [f"Floors of that evaluation, measured in the same rounds: its bytes at copy speed "
                      f"{b['memory_floor_s']:.3f} s; its {b['p']} x {b['n']} RX layers' butterflies alone, with the "
                      f"tiles in cache, {b['arithmetic_floor_s']:.3f} s ({b['gate_ns_per_amplitude']:.3f} ns per "
                      f"amplitude and gate on {b['threads']} threads, the faster of tiles in L1 and in L2). "
                      f"Floors summed = {100 * b['floors_over_evaluation']:.0f}% of the evaluation (median of the "
                      f"rounds): 50% of copy bandwidth needs the evaluation within 2x its memory floor, i.e. its "
                      f"arithmetic (butterflies, phase, tile copies) hidden under memory time.", ""]
        if "in_place_GBps" in b:
            lines += [f"Against an in-place pass (read-modify-write of the engine's real and imaginary parts, chunk "
                      f"by chunk, as the engine's passes access memory; a copy's writes first read their lines): "
                      f"{b['in_place_GBps']:.1f} GB/s, the evaluation's bytes in {b['memory_floor_in_place_s']:.3f} s = "
                      f"{100 * b['in_place_fraction']:.0f}% of in-place bandwidth. Two-ceiling roofline (the larger "
                      f"of that memory floor and the butterflies' floor, over the evaluation): "
                      f"{100 * b['two_ceiling_fraction']:.0f}%.", ""]
    if "memory" in results:
        m = results["memory"]
        lines += [f"### 4. Peak memory (n={m['n']})", "",
                  f"peak RSS growth {m['peak_growth_bytes'] / 2**20:.0f} MiB = {m['peak_over_state']:.2f} x the "
                  f"{m['state_bytes'] / 2**20:.0f} MiB state; float costs {m['peak_growth_bytes_float'] / 2**20:.0f} MiB = "
                  f"{m['peak_over_state_float']:.2f}x (limit 3x; memory guard assumes "
                  f"{m['memory_required'] / m['state_bytes']:.1f}x)", ""]
    if "cost_kinds" in results:
        lines += energy_table(results["cost_kinds"], "### 5. One QAOA energy by kind of cost (the engine's phase paths)",
                              kinds=True)
    return "\n".join(lines).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (n <= 16), a minute or two")
    parser.add_argument("--parts", default="12345", help="which parts to run (default 12345: all)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-kind", default="integer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.memory_kind)
        return
    sizes = [12, 14, 16] if args.quick else [16, 20, 24]
    started = time.perf_counter()
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "load_average": os.getloadavg()}, "quick": args.quick}
    parts = {"1": ("energy", lambda: part_energy(sizes, [1, 3], aer_max_n=sizes[-1])),
             # 5 runs per side at n = 16 (3 s each on the qiskit-optimization side), 3 at n = 20 (20 s)
             "2": ("end_to_end", lambda: [part_end_to_end(n, 30 if args.quick else 100, repeats)
                                         for n, repeats in ([(12, 2)] if args.quick else [(16, 5), (20, 3)])]),
             "3": ("bandwidth", lambda: part_bandwidth(sizes[-1])),
             "4": ("memory", lambda: part_memory(sizes[-1])),
             "5": ("cost_kinds", lambda: part_cost_kinds(results, sizes[1:]))}
    results["part_seconds"] = {}
    for key in sorted(set(args.parts) & set(parts)):
        name, run_part = parts[key]
        print(f"{key}. {name}", flush=True)
        part_started = time.perf_counter()
        results[name] = run_part()
        results["part_seconds"][name] = time.perf_counter() - part_started
    results["seconds"] = time.perf_counter() - started
    results["machine"]["load_average_end"] = os.getloadavg()
    text = table(results)
    print()
    print(text)
    parts_text = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in results["part_seconds"].items())
    print(f"\n(total {results['seconds']:.0f} s: {parts_text}; load average {results['machine']['load_average']} at start)")
    out = ROOT / "results" / "bench" / f"statevector-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**results, "table": text}, indent=1, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
