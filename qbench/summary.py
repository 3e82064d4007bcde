"""The short human summary ``run`` prints after each run."""

from __future__ import annotations

from pathlib import Path

from qbench.records import RunRecord


#: The top-level phases of a run; other timing keys are solver sub-phases inside ``solve``.
PHASES = ("build", "reference", "formulate", "solve", "repair", "evaluate")


def _num(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.{digits}g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.4g}%"


def _yes(value: bool | None) -> str:
    return "yes" if value else "NO"


def _repaired(record: RunRecord) -> bool:
    """Whether the final answer is a repair of the solver's (raw and final figures differ)."""
    final = (record.objective, record.feasible, record.violation)
    raw = (record.raw_objective, record.raw_feasible, record.raw_violation)
    return record.raw_objective is not None and final != raw


def format_summary(record: RunRecord, path: Path | None = None) -> str:
    """A few aligned lines: instance, solver, objective vs reference, feasibility, qubits, time."""
    if record.status != "ok":
        lines = [f"qbench: error: {record.error}"]
        if path is not None:
            lines.append(f"record     {path}")
        return "\n".join(lines)
    gap = _percent(record.gap)
    ref = _num(record.reference)
    if record.reference is not None:
        ref += f" ({record.reference_source}{'' if record.reference_proven else ', best known'})"
    feasible = f"{_yes(record.feasible)} (violation {_num(record.violation)})"
    objective = _num(record.objective)
    if _repaired(record):
        # The solver's own answer next to the repaired one (see qbench.repair).
        objective += f" (raw {_num(record.raw_objective)}, {record.repair} repair)"
        gap += f" (raw {_percent(record.raw_gap)})"
        feasible += f"; raw {_yes(record.raw_feasible)} (violation {_num(record.raw_violation)})"
    qubits = _num(record.qubits)
    if record.qubo_variables is not None:
        qubits += f" (penalty QUBO: {record.qubo_variables} variables)"
    times = record.times
    phases = [k for k in PHASES if k in times]
    inner = ", ".join(f"{k} {v:.3g}" for k, v in times.items() if k not in PHASES and k != "total")
    parts = ", ".join(
        f"{k} {times[k]:.3g}" + (f" [{inner}]" if k == "solve" and inner else "") for k in phases
    )
    lines = [
        f"instance   {record.instance} ({record.problem}: {record.instance_description})",
        f"solver     {record.solver}" + (f" on {record.backend}" if record.backend else "")
        + f" (status {record.solver_status})",
        f"objective  {objective}   reference {ref}   gap {gap}",
        f"feasible   {feasible}",
        f"qubits     {qubits}",
        f"time       {times.get('total', 0):.3g} s ({parts})",
    ]
    if record.dual_bound is not None:
        lines.insert(3, f"bound      {_num(record.dual_bound)}")
    if path is not None:
        lines.append(f"record     {path}")
    return "\n".join(lines)
