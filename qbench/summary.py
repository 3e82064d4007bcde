"""The short human summary ``run`` prints after each run."""

from __future__ import annotations

from pathlib import Path

from qbench.records import RunRecord


#: The top-level phases of a run; other timing keys are solver sub-phases inside ``solve``.
PHASES = ("build", "reference", "formulate", "solve", "evaluate")


def _num(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.{digits}g}"


def format_summary(record: RunRecord, path: Path | None = None) -> str:
    """A few aligned lines: instance, solver, objective vs reference, feasibility, qubits, time."""
    if record.status != "ok":
        lines = [f"qbench: {'skipped' if record.status == 'skipped' else 'error'}: {record.error}"]
        if path is not None:
            lines.append(f"record     {path}")
        return "\n".join(lines)
    gap = "-" if record.gap is None else f"{100 * record.gap:.4g}%"
    ref = _num(record.reference)
    if record.reference is not None:
        ref += f" ({record.reference_source}{'' if record.reference_proven else ', best known'})"
    feasible = "yes" if record.feasible else "NO"
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
        f"objective  {_num(record.objective)}   reference {ref}   gap {gap}",
        f"feasible   {feasible} (violation {_num(record.violation)})",
        f"qubits     {qubits}",
        f"time       {times.get('total', 0):.3g} s ({parts})",
    ]
    if record.dual_bound is not None:
        lines.insert(3, f"bound      {_num(record.dual_bound)}")
    if path is not None:
        lines.append(f"record     {path}")
    return "\n".join(lines)
