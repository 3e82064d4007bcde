"""Slack-free constraint handling vs the penalty QUBO: qubits and optimality gap.

    python benchmarks/study_slack_free.py [--backend statevector] [--seed 0] [--survey]

Runs, on the small shipped/generated instances (default generated MDKP, SAC-94 pet2, MIS
1tc.8, a generated 4-city TSP in the position model, a generated 6-city TSP in the edge model,
whose 10 subtour inequalities are what the slack-free methods drop), the penalty QUBO with
slack, the unbalanced formulation, the Lagrangian solver with every multiplier method and graph
shrinking -- all with the inner (or only) solver ``cvar_vqe`` -- through the ordinary run
pipeline (``qbench.runner``), and prints a markdown table of qubits and gap (``infeasible``
when the answer violates a constraint, ``-`` when the QUBO is too large to simulate here; the
solver's raw answer in parentheses where the run's repair improved it). ``--survey`` adds the
unbalanced-penalization survey: on how many small MDKP instances the exact ground state of the
unbalanced QUBO (published coefficients) is feasible, and on how many it is optimal.
Needs ``QBENCH_INSTANCES`` for pet2 and 1tc.8.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hydra import compose, initialize_config_dir  # noqa: E402

from qbench import runner  # noqa: E402
from qbench.registry import CONF_DIR  # noqa: E402

INSTANCES = {
    "mdkp default (6x2)": ["problem=mdkp"],
    "mdkp pet2 (10x10)": ["problem=mdkp", "problem.instance=pet2"],
    "mis 1tc.8": ["problem=mis", "problem.instance=1tc.8"],
    "tsp 4 cities": ["problem=tsp"],
    "tsp 6 cities, edge model": ["problem=tsp", "problem.model=edge", "problem.generator.n=6"],
}
METHODS = ["subgradient", "dual_averaging", "cutting_plane", "bundle", "augmented"]
#: Largest state vector simulated in the study (2^24 amplitudes per evaluation).
MAX_QUBITS = 24


def configurations() -> dict[str, list[str]]:
    rows = {
        "penalty QUBO + cvar_vqe": ["formulation=penalty", "solver=cvar_vqe"],
        "unbalanced + cvar_vqe": ["formulation=unbalanced", "solver=cvar_vqe"],
    }
    for method in METHODS:
        # COBYLA needs parameters + 2 evaluations per inner solve: up to 6 x 10 + 2 = 62 here.
        rows[f"lagrangian/{method}"] = ["solver=lagrangian", f"solver.method={method}", "solver.inner=cvar_vqe",
                                        "solver.inner_maxiter=100"]
    rows["shrink (2/3, SDP)"] = ["solver=shrink", "solver.inner=cvar_vqe"]
    return rows


def compose_config(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def qubits_needed(overrides: list[str]) -> int | None:
    """Qubits the configuration would simulate, computed without running it."""
    from qbench import registry

    cfg = compose_config(overrides)
    problem = registry.build_problem(cfg.problem)
    formulation = registry.build_component(cfg.formulation, "formulation")
    n = formulation.encode(problem).qubits
    if cfg.solver.name == "lagrangian":
        return problem.size()["variables"]
    if cfg.solver.name == "shrink":
        return cfg.solver.target_qubits or int(np.ceil(cfg.solver.ratio * n))
    return n


def cell(record) -> str:
    """``qubits / gap`` of the final answer, and the solver's raw answer's gap beside it when
    the run's repair changed it."""
    if record.status != "ok":
        return f"error: {record.error}"
    text = f"{record.qubits} / {_gap(record.feasible, record.gap)}"
    if (record.raw_feasible, record.raw_gap) != (record.feasible, record.gap):
        text += f" (raw {_gap(record.raw_feasible, record.raw_gap)})"
    return text


def _gap(feasible: bool | None, gap: float | None) -> str:
    if not feasible:
        return "infeasible"
    return "-" if gap is None else f"{100 * gap:.1f}%"


def study(backend: str, seed: int) -> str:
    rows = configurations()
    header = "| method | " + " | ".join(INSTANCES) + " |"
    lines = [header, "|" + "---|" * (len(INSTANCES) + 1)]
    for label, solver in rows.items():
        cells = []
        for problem in INSTANCES.values():
            overrides = [*problem, *solver, f"backend={backend}", f"seed={seed}", "progress=false"]
            qubits = qubits_needed(overrides)
            if qubits is not None and qubits > MAX_QUBITS:
                cells.append(f"{qubits} / -")
                continue
            cells.append(cell(runner.execute(compose_config(overrides))))
            print(f"  {label} on {problem}: {cells[-1]}", file=sys.stderr)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def unbalanced_survey() -> str:
    """Exact ground state of the unbalanced QUBO on small MDKP instances vs brute force."""
    from qbench.problems.mdkp import Generator, generate
    from qbench.formulations.unbalanced import UnbalancedPenalty
    from qbench.registry import build_problem

    problems = [generate(Generator(n_items=n, n_constraints=m, seed=s))
                for n in (5, 6, 8, 10) for m in (1, 2, 3) for s in range(3)]
    problems += [build_problem({"name": "mdkp", "instance": name, "index": None}) for name in ("pet2", "mknap1-1")]
    feasible = optimal = 0
    for p in problems:
        qubo = UnbalancedPenalty().encode(p).qubo
        index = int(np.argmin(qubo.all_energies()))
        x = np.array([(index >> i) & 1 for i in range(qubo.num_variables)])
        xs = np.array(list(itertools.product([0, 1], repeat=p.n_items)))
        fits = np.all(xs @ p.weights.T <= p.capacities + 1e-9, axis=1)
        best = float((xs[fits] @ p.profits).max())
        ev = p.evaluate(x)
        feasible += ev.feasible
        optimal += ev.feasible and abs(ev.objective - best) < 1e-9
    return (f"unbalanced penalization (lambda1=0.96, lambda2=0.0371), exact ground state on "
            f"{len(problems)} small MDKP instances: feasible on {feasible}, optimal on {optimal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="statevector")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--survey", action="store_true", help="also print the unbalanced-penalization survey")
    args = parser.parse_args()
    print(f"qubits / gap, inner (or only) solver cvar_vqe, backend {args.backend}, seed {args.seed}\n")
    print(study(args.backend, args.seed))
    if args.survey:
        print("\n" + unbalanced_survey())


if __name__ == "__main__":
    main()
