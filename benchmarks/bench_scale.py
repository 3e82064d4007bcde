"""Paper-size runs that finish: QAOA on a bounded MPS, PCE and QRAO at their real cost.

    QBENCH_INSTANCES=../shared/instances python benchmarks/bench_scale.py      # all parts, ~4 min
    python benchmarks/bench_scale.py --parts mps --uncapped-timeout 400

Parts (SAC-94 instances from QBENCH_INSTANCES, penalty QUBOs as the comparative study built them):
1. ``mps``: one QAOA p = 1 sampling evaluation (1000 shots, the linear-ramp start) of hp1 (60
   qubits, 1255 ZZ terms) on ``backend=aer_mps``: the defaults (bond dimension capped at 16,
   reverse Cuthill-McKee chain), the cap in qubit order, caps 32 and 64 on the chain, caps 16
   and 32 from the comparative study's start (gamma = pi, beta = pi/2 on the normalised
   Hamiltonian), and no cap in qubit order (the former defaults) in a child process stopped
   after ``--uncapped-timeout`` seconds; each with the record's truncation facts; then the run ``qbench run
   problem=mdkp problem.instance=hp1 solver=qaoa backend=aer_mps solver.reps=1 solver.maxiter=3
   solver.shots=1000 solver.final_shots=1000``.
2. ``pce``: PCE at the comparative study's settings (k = 2, SLSQP, 100 iterations, triple
   flips; backend=statevector) on hp1, pb1 and pet3: solve seconds and answer; and one loss
   gradient of hp1's 7-qubit brickwork (210 parameters) by the adjoint method and by parameter
   shift (420 parameter sets in one estimate).
3. ``qrao``: magic rounding of the default MDKP (10 qubits, 10 000 shots): decoding and
   evaluating the samples on arrays vs the library's ``MagicRounding.round`` on the same
   measurements; and whole QRAO runs on MIS 1tc.8 and the default MDKP.

Runs execute in this process (numba kernels cached, imports done): a ``qbench run`` command adds
2-3 s of start-up. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from qbench import registry, runner  # noqa: E402
from qbench.registry import CONF_DIR  # noqa: E402

PCE_INSTANCES = ("hp1", "pb1", "pet3")
QAOA_RUN = ("problem=mdkp", "problem.instance=hp1", "solver=qaoa", "backend=aer_mps", "solver.reps=1",
            "solver.maxiter=3", "solver.shots=1000", "solver.final_shots=1000", "progress=false")


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def qubo_of(*overrides: str):
    cfg = OmegaConf.to_container(config(*overrides), resolve=True)
    formulation = registry.build_component(cfg["formulation"], "formulation")
    return formulation.encode(registry.build_problem(cfg["problem"])).qubo


# -- 1. bounded MPS ------------------------------------------------------------------------------
def mps_evaluation(cap: int, order: str, gamma: float = 0.375, beta: float = 0.375) -> dict:
    """One QAOA p = 1 sampling evaluation of hp1 on aer_mps: seconds and truncation facts
    (default angles: the linear ramp's p = 1 start)."""
    from qbench.ansatz import qaoa_layout
    from qbench.backends.aer import AerBackend, AerParams
    from qbench.qubo_cost import DiagonalCost, normalisation

    qubo = qubo_of("problem=mdkp", "problem.instance=hp1")
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = qaoa_layout(cost.circuit_hamiltonian, 1)
    x = layout.pack(np.array([gamma]), np.array([beta]))
    threshold = 1e-10 if cap else 1e-16
    backend = AerBackend(AerParams(method="matrix_product_state", mps_max_bond_dimension=cap,
                                   mps_truncation_threshold=threshold, mps_qubit_order=order)).seeded(0)
    prepared = backend.prepare(layout.circuit)
    start = time.perf_counter()
    backend.sample(prepared, x[None, :], 1000)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **{k: v for k, v in backend.mps_info().items() if k != "mps_chain_positions"}}


def part_mps(uncapped_timeout: float) -> None:
    print("\n### 1. One QAOA p = 1 evaluation of hp1 (60 qubits) on aer_mps, 1000 shots\n")
    print("| cap | chain order | seconds | widest bond | fidelity estimate | approximate |")
    print("|---|---|---|---|---|---|")
    for cap, order in [(16, "rcm"), (16, "none"), (32, "rcm"), (64, "rcm")]:
        row = mps_evaluation(cap, order)
        print(f"| {cap} | {order} | {row['seconds']:.1f} | {row['mps_bond_dimension_reached']} | "
              f"{row['mps_fidelity_estimate']:.4f} | {row['mps_approximate']} |", flush=True)
    for cap in (16, 32):  # the comparative study's start, a far more entangled state
        row = mps_evaluation(cap, "rcm", np.pi, np.pi / 2)
        print(f"| {cap} | rcm, start gamma = pi, beta = pi/2 | {row['seconds']:.1f} | "
              f"{row['mps_bond_dimension_reached']} | {row['mps_fidelity_estimate']:.4f} | {row['mps_approximate']} |",
              flush=True)
    try:
        out = subprocess.run([sys.executable, __file__, "--mps-one", "0", "none"], capture_output=True, text=True,
                             timeout=uncapped_timeout, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(f"| none | none | {row['seconds']:.1f} | {row['mps_bond_dimension_reached']} | "
              f"{row['mps_fidelity_estimate']:.4f} | {row['mps_approximate']} |")
    except subprocess.TimeoutExpired:
        print(f"| none | none | not finished in {uncapped_timeout:.0f} | | | |")
    start = time.perf_counter()
    record = runner.execute(config(*QAOA_RUN))
    info = record.solver_info
    print(f"\n`qbench run {' '.join(QAOA_RUN[:-1])}`: status {record.status}, {time.perf_counter() - start:.1f} s, "
          f"{info.get('circuit_evaluations')} evaluations, objective {record.objective}, "
          f"fidelity estimate {info.get('mps_fidelity_estimate')}")


# -- 2. PCE --------------------------------------------------------------------------------------
def part_pce() -> None:
    from qbench.solvers.pce import PceLoss, brickwork, correlators, regulariser_scale
    from qbench.backends.statevector import StatevectorBackend
    from qbench.maxcut import qubo_to_maxcut

    print("\n### 2. PCE at the comparative study's settings (backend=statevector)\n")
    print("| instance | QUBO variables | qubits | solve s | total s | objective | gradient |")
    print("|---|---|---|---|---|---|---|")
    for instance in PCE_INSTANCES:
        record = runner.execute(config("problem=mdkp", f"problem.instance={instance}", "solver=pce",
                                       "progress=false"))
        print(f"| {instance} | {record.qubo_variables} | {record.qubits} | {record.times['solve']:.1f} | "
              f"{record.times['total']:.1f} | {record.objective} | {record.solver_info['gradient']} |", flush=True)

    qubo = qubo_of("problem=mdkp", "problem.instance=hp1")
    maxcut = qubo_to_maxcut(qubo)
    loss = PceLoss(qubo, maxcut, "maxcut", 1.5 * 7, 0.5, regulariser_scale(maxcut))
    circuit, observables = brickwork(7, 14), correlators(7, 2, maxcut.num_nodes)
    engine = StatevectorBackend()
    prepared = engine.prepare(circuit)
    theta = np.random.default_rng(0).uniform(-np.pi, np.pi, circuit.num_parameters)
    weights = loss.gradient(engine.estimate(prepared, observables, theta[None, :])[0])
    times = {"adjoint": [], "parameter shift": []}
    for _ in range(5):
        start = time.perf_counter()
        adjoint = engine.gradient(prepared, observables, weights, theta)
        times["adjoint"].append(time.perf_counter() - start)
        start = time.perf_counter()
        shifts = np.pi / 2 * np.eye(len(theta))
        shifted = engine.estimate(prepared, observables, np.vstack([theta + shifts, theta - shifts]))
        shifted = (shifted[: len(theta)] - shifted[len(theta):]) / 2 @ weights
        times["parameter shift"].append(time.perf_counter() - start)
    print(f"\nOne loss gradient, hp1 (7 qubits, {circuit.num_parameters} parameters), medians of 5: "
          + ", ".join(f"{k} {np.median(v) * 1e3:.0f} ms" for k, v in times.items())
          + f"; largest difference {np.abs(adjoint - shifted).max() / np.abs(shifted).max():.1e} of the largest entry")


# -- 3. QRAO -------------------------------------------------------------------------------------
def part_qrao() -> None:
    from qiskit_optimization.algorithms.qrao import MagicRounding, QuantumRandomAccessEncoding, RoundingContext

    from qbench.solvers.qrao import BatchedMagicRounding, objective_values, quadratic_program
    from qbench.ansatz import hardware_efficient
    from qbench.backends.sampler_adapter import BackendSampler
    from qbench.backends.statevector import StatevectorBackend

    print("\n### 3. QRAO\n")
    qubo = qubo_of("problem=mdkp")
    encoding = QuantumRandomAccessEncoding(3)
    encoding.encode(quadratic_program(qubo))
    circuit = hardware_efficient(encoding.num_qubits, "efficient_su2", 5, "linear")
    circuit = circuit.assign_parameters(np.random.default_rng(0).uniform(0, 2 * np.pi, circuit.num_parameters))
    context = RoundingContext(encoding, expectation_values=None, circuit=circuit)
    rounding = BatchedMagicRounding(StatevectorBackend().seeded(1), 10000, seed=5)
    start = time.perf_counter()
    ours = rounding.round(context)
    whole = time.perf_counter() - start
    measured = [dict(counts) for counts in ours.basis_counts]
    start = time.perf_counter()
    assignments, _ = rounding.decode(measured, ours.bases, encoding.var2op, 3)
    objective_values(encoding.problem, assignments)
    arrays = time.perf_counter() - start
    with warnings.catch_warnings():  # the library warns that its sampler is not a reference one
        warnings.simplefilter("ignore")
        library = MagicRounding(BackendSampler(StatevectorBackend().seeded(1), 10000), seed=5)
    library._evaluate_magic_bases = lambda *args: measured  # the same measurements
    start = time.perf_counter()
    theirs = library.round(context)
    library_s = time.perf_counter() - start
    same = len(ours.samples) == len(theirs.samples) and all(
        np.array_equal(a.x, b.x) and abs(a.fval - b.fval) < 1e-9 for a, b in zip(ours.samples, theirs.samples))
    print(f"Magic rounding of the default MDKP ({encoding.num_qubits} qubits, 10 000 shots, {len(ours.bases)} bases, "
          f"{len(ours.samples)} distinct samples): {whole:.1f} s in all. Decoding and evaluating the samples: "
          f"{arrays:.2f} s on arrays, {library_s:.1f} s by the library on the same measurements "
          f"(identical samples: {same}).")
    print("\n| run | total s | objective |\n|---|---|---|")
    for overrides in (("problem=mis", "problem.instance=1tc.8"), ("problem=mdkp",)):
        record = runner.execute(config(*overrides, "solver=qrao", "progress=false"))
        print(f"| {' '.join(overrides)} | {record.times['total']:.1f} | {record.objective} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="mps,pce,qrao")
    parser.add_argument("--uncapped-timeout", type=float, default=120.0)
    parser.add_argument("--mps-one", nargs=2, metavar=("CAP", "ORDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mps_one:
        print(json.dumps(mps_evaluation(int(args.mps_one[0]), args.mps_one[1])))
        return
    parts = args.parts.split(",")
    if "mps" in parts:
        part_mps(args.uncapped_timeout)
    if "pce" in parts:
        part_pce()
    if "qrao" in parts:
        part_qrao()


if __name__ == "__main__":
    main()
