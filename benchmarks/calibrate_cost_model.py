"""Estimate against actual time and memory for small runs of every kind (the cost model's check).

    python benchmarks/calibrate_cost_model.py            # the cases below, one process each
    python benchmarks/calibrate_cost_model.py --quick    # the first few only

Each case is one ``python -m qbench run`` in a fresh process (as a sweep runs it). Its record
holds the estimate made before the run (``estimate.seconds``, ``estimate.peak_bytes``) and the
run's own time (``times.total``); the peak resident memory is the child's (``ru_maxrss``).
Prints one row per case, time / estimate and memory / estimate, and the median and largest
factor between the two (either way). SCIP's estimate is its time limit, a bound: not compared.
The constants of ``qbench/cost_model.py`` were set from this table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (label, overrides): the shipped experiments' small runs and the README's commands.
CASES = [
    ("readme qaoa statevector 14q", ["problem=mdkp", "solver=qaoa"]),
    ("smoke qaoa aer", ["problem=mdkp", "problem.generator.n_items=4", "problem.generator.n_constraints=2",
                        "solver=qaoa", "solver.reps=1", "solver.maxiter=20", "backend=aer"]),
    ("smoke sa mdkp", ["problem=mdkp", "problem.generator.n_items=4", "problem.generator.n_constraints=2", "solver=sa"]),
    ("smoke exact mis", ["problem=mis", "problem.generator.n=8", "solver=exact"]),
    ("qaoa p3 statevector 18q", ["problem=mis", "problem.generator.n=18", "problem.generator.p=0.3",
                                 "solver=qaoa", "solver.reps=3", "solver.maxiter=60"]),
    ("cvar_vqe statevector 14q", ["problem=mdkp", "solver=cvar_vqe", "solver.maxiter=60"]),
    ("ma_qaoa statevector 12q", ["problem=mis", "problem.generator.n=12", "solver=ma_qaoa", "solver.maxiter=80"]),
    ("ws_qaoa shots statevector 14q", ["problem=mdkp", "solver=ws_qaoa", "solver.shots=2000", "solver.maxiter=40"]),
    ("qaoa shots aer 14q", ["problem=mdkp", "solver=qaoa", "solver.maxiter=40", "solver.shots=2000", "backend=aer"]),
    ("vqe aer_mps 14q", ["problem=mdkp", "solver=vqe", "solver.maxiter=40", "solver.shots=2000", "backend=aer_mps"]),
    ("pce mdkp 14q->5q", ["problem=mdkp", "solver=pce", "solver.maxiter=20"]),
    ("qrao mdkp 14q", ["problem=mdkp", "solver=qrao", "solver.maxiter=20"]),
    ("sa msp 20q", ["problem=msp", "problem.instance=ms_03_050_002", "solver=sa"]),
    ("qaoa p2 mps chi16 msp 20q", ["problem=msp", "problem.instance=ms_03_050_002", "solver=qaoa",
                                   "solver.maxiter=10", "solver.shots=1000", "solver.final_shots=1000",
                                   "backend=aer_mps", "backend.mps_max_bond_dimension=16"]),
    ("lagrangian exact mdkp", ["problem=mdkp", "problem.generator.n_items=12", "solver=lagrangian"]),
    ("shrink exact mis 16", ["problem=mis", "problem.instance=1tc.16", "solver=shrink"]),
]


def run_case(overrides: list[str], out: Path) -> tuple[dict, int, float]:
    """Run one case in a child process; its record, the child's peak RSS in bytes and its CPU
    seconds (start-up included: next to the run's wall time it shows how busy the machine was)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "qbench", "run", *overrides, f"output_root={out}",
                           "progress=false"], capture_output=True, text=True, cwd=ROOT, env=os.environ)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = after.ru_maxrss * 1024
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    line = [l for l in (done.stdout + done.stderr).splitlines() if l.startswith("record")]
    if not line:
        raise RuntimeError(f"{' '.join(overrides)}: no record\n{done.stderr[-2000:]}")
    record = json.loads(Path(line[-1].split()[-1]).read_text())
    # ru_maxrss of all children is a running maximum: only a new maximum is this child's
    return record, (peak if peak > before.ru_maxrss * 1024 else 0), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first four cases")
    args = parser.parse_args()
    cases = CASES[:4] if args.quick else CASES
    factors = []
    print("| case | status | time [s] | process CPU [s] | estimate [s] | time/estimate | peak RSS | estimate | basis |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, overrides in cases:
            record, peak, cpu = run_case(overrides, Path(tmp))
            estimate = record.get("estimate") or {}
            actual = (record.get("times") or {}).get("total")
            predicted = estimate.get("seconds")
            ratio = actual / predicted if actual and predicted else float("nan")
            if predicted and actual and not estimate.get("bound"):
                factors.append(max(ratio, 1 / ratio))
            rss = f"{peak / 2**20:.0f} MiB" if peak else "-"
            print(f"| {label} | {record['status']} | {actual or float('nan'):.3g} | {cpu:.3g} | {predicted or float('nan'):.3g} | "
                  f"{ratio:.2f} | {rss} | {estimate.get('peak_bytes', 0) / 2**20:.0f} MiB | {estimate.get('basis', '')} |",
                  flush=True)
    if factors:
        factors.sort()
        median = factors[len(factors) // 2]
        print(f"\n{len(factors)} cases: factor between time and estimate median {median:.2f}, "
              f"largest {factors[-1]:.2f} (geometric mean {math.exp(sum(map(math.log, factors)) / len(factors)):.2f})")


if __name__ == "__main__":
    main()
