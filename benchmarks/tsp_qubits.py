"""Qubits of the TSP models: position (assignment) vs edge model, with and without slack.

    python benchmarks/tsp_qubits.py [--sizes 4 5 6 7 8] [--no-burma14]

Prints a markdown table, per instance (generated n-city instances, seed 0, and TSPLIB burma14
when ``QBENCH_INSTANCES`` or the download cache has it), of the qubits of

* the position model's penalty QUBO (``problem.model=position``, city 0 fixed: (n-1)^2),
* the edge model's penalty QUBO (``formulation=penalty``): edges plus the binary-encoded slack
  of every subtour row, for ``problem.subtours=nonredundant`` and ``all``,
* the edge model under ``solver=lagrangian`` (the subtour rows dualised, the degree rows a
  squared penalty: qubits = edges),
* the edge model under ``formulation=unbalanced`` (no slack: qubits = edges).

Every figure comes from the formulation code itself (``encode(problem).qubits``; the Lagrangian
solver's own :class:`~qbench.linear_model.LinearModel`), except where the penalty QUBO is too
large to build here (over :data:`MAX_BUILT` qubits): there it is counted as the edges plus
``(|S| - 1).bit_length()`` slack bits per subtour row (qiskit-optimization's integer slack of
``x(E(S)) <= |S| - 1`` ranges over 0..|S|-1, binary-encoded in that many bits), marked
"(counted)". The count is checked against the built QUBO on every instance that is built.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qbench.problems.tsp_edges import TspEdges, subtour_sets  # noqa: E402
from qbench.errors import QbenchError, ResourceLimitError  # noqa: E402
from qbench.formulations.penalty import PenaltyQubo  # noqa: E402
from qbench.formulations.unbalanced import UnbalancedPenalty  # noqa: E402
from qbench.linear_model import LinearModel  # noqa: E402
from qbench.registry import build_problem  # noqa: E402

#: Largest penalty QUBO built (a dense matrix of MAX_BUILT^2 floats, a few times over).
MAX_BUILT = 3000
COLUMNS = ("position penalty", "edge penalty (nonredundant)", "edge penalty (all)",
           "edge lagrangian", "edge unbalanced")


def counted_penalty_qubits(problem: TspEdges) -> int:
    """Edges plus the slack bits of every subtour row (see the module docstring)."""
    slack = sum((len(s) - 1).bit_length() for s in subtour_sets(problem.n, problem.subtours))
    return problem.layout.num_variables + slack


def penalty_qubits(problem: TspEdges) -> tuple[int, bool]:
    """``(qubits, built)``: the penalty QUBO's size, built when small enough, else counted."""
    counted = counted_penalty_qubits(problem)
    if counted > MAX_BUILT:
        return counted, False
    built = PenaltyQubo().encode(problem).qubits
    if built != counted:
        raise AssertionError(f"{problem.name} ({problem.subtours}): built {built} != counted {counted}")
    return built, True


def row(config: dict) -> dict[str, str]:
    """The table row of the instance that ``config`` (a ``problem`` config) describes."""
    position = build_problem({**config, "model": "position"})
    cells = {"instance": f"{position.name} (n={position.n})",
             "position penalty": str(PenaltyQubo().encode(position).qubits)}
    for subtours in ("nonredundant", "all"):
        edge = build_problem({**config, "model": "edge", "subtours": subtours})
        qubits, built = penalty_qubits(edge)
        cells[f"edge penalty ({subtours})"] = f"{qubits}" + ("" if built else " (counted)")
        cells[f"rows ({subtours})"] = str(edge.num_subtour_rows)
    edge = build_problem({**config, "model": "edge", "subtours": "nonredundant"})
    cells["edge lagrangian"] = slack_free_qubits(edge, lambda: LinearModel.from_problem(edge).num_variables)
    cells["edge unbalanced"] = slack_free_qubits(edge, lambda: UnbalancedPenalty().encode(edge).qubits)
    return cells


def slack_free_qubits(problem: TspEdges, built: Callable[[], int]) -> str:
    """The edge binaries alone (no slack): built and checked where the rows are written out,
    else counted (the model refuses more than its limit of explicit subtour rows)."""
    try:
        qubits = built()
    except ResourceLimitError:
        return f"{problem.layout.num_variables} (counted)"
    if qubits != problem.layout.num_variables:
        raise AssertionError(f"{problem.name}: built {qubits} != {problem.layout.num_variables} edge binaries")
    return str(qubits)


def table(configs: list[dict]) -> str:
    header = ["instance", *COLUMNS, "subtour rows (nonredundant / all)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for config in configs:
        cells = row(config)
        rows = f"{cells['rows (nonredundant)']} / {cells['rows (all)']}"
        lines.append("| " + " | ".join([cells["instance"], *(cells[c] for c in COLUMNS), rows]) + " |")
        print(f"  {cells['instance']} done", file=sys.stderr)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    parser.add_argument("--no-burma14", action="store_true")
    args = parser.parse_args()
    configs = [{"name": "tsp", "instance": None, "generator": {"n": n}} for n in args.sizes]
    if not args.no_burma14:
        try:
            build_problem({"name": "tsp", "instance": "burma14"})
            configs.append({"name": "tsp", "instance": "burma14"})
        except QbenchError as exc:
            print(f"burma14 left out: {exc}", file=sys.stderr)
    print(table(configs))


if __name__ == "__main__":
    main()
