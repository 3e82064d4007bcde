"""A small results directory for the dashboard tests, made by real runs (no hand-written numbers).

Two experiments (``study`` and ``extra``; ``sweep.experiment`` in the config, as a sweep sets it),
the sweep layout ``EXPERIMENT/runs/KEY/record.json``:
SCIP, simulated annealing (penalty and slack-free unbalanced formulation, two seeds), a short
QAOA (a convergence trace and a success probability), the Lagrangian dual (slack-free), one
instance of every problem class, a run that fails (unknown instance, an ``error`` record) and one
corrupt record file. Building it takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

from qbench.records import RECORD_FILE, RunRecord, write_record
from tests.helpers import run

#: (experiment, overrides) of every fixture run.
RUNS: list[tuple[str, tuple[str, ...]]] = [
    ("study", ("problem=mdkp", "solver=scip")),
    ("study", ("problem=mdkp", "solver=sa", "seed=0")),
    ("study", ("problem=mdkp", "solver=sa", "seed=1")),
    ("study", ("problem=mdkp", "solver=sa", "formulation=unbalanced", "seed=2")),
    ("study", ("problem=mdkp", "solver=lagrangian", "solver.max_iter=5")),
    ("study", ("problem=mdkp", "problem.generator.n_items=3", "problem.generator.n_constraints=1",
               "solver=qaoa", "solver.reps=1", "solver.maxiter=12", "solver.final_shots=500",
               "progress=false")),
    ("study", ("problem=mis", "solver=scip")),
    ("study", ("problem=mis", "solver=sa", "seed=3")),
    ("study", ("problem=mdkp", "problem.instance=no-such-instance", "solver=scip")),
    ("extra", ("problem=qap", "solver=scip")),
    ("extra", ("problem=tsp", "solver=scip")),
    ("extra", ("problem=bitalloc", "solver=scip")),
    ("extra", ("problem=msp", "solver=scip")),
]

CORRUPT = Path("study") / "runs" / "corrupt" / RECORD_FILE


def build(root: Path) -> list[tuple[str, RunRecord]]:
    """Run every fixture configuration, write its record under ``root``; return them all."""
    made = []
    for experiment, overrides in RUNS:
        record = run(f"+sweep.experiment={experiment}", *overrides)
        write_record(record, root / experiment / "runs" / record.key)
        made.append((experiment, record))
    (root / CORRUPT).parent.mkdir(parents=True)
    (root / CORRUPT).write_text('{"key": "corrupt", "status": ')  # cut short mid-write
    return made
