"""The short human summary ``run`` prints after each run."""

from __future__ import annotations

from pathlib import Path

from qbench.records import RunRecord
from qbench.solver_info import SolverInfo


#: The top-level phases of a run; other timing keys are solver sub-phases inside ``solve``.
PHASES = ("build", "reference", "formulate", "solve", "baseline", "repair", "evaluate")


def _num(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.{digits}g}"


def _versus_uniform(p: float | None, uniform: float | None, lift: float | None, method: str | None,
                    stderr: float | None = None) -> str:
    """``0.016 (uniform 0.0039, lift 4.1x)``; Monte-Carlo estimates marked, with ``stderr``."""
    if uniform is None:
        return f"{_num(p, 3)} (uniform -)"
    if method == "exact":
        base = f"uniform {_num(uniform, 3)}"
    elif uniform == 0:
        base = "uniform 0 (Monte-Carlo: none drawn)"
    else:
        base = f"uniform ~{_num(uniform, 3)}" + (f" +- {stderr:.2g}" if stderr is not None else "") + " Monte-Carlo"
    return f"{_num(p, 3)} ({base}, lift {'-' if lift is None else f'{lift:.3g}x'})"


def sampling_lines(record: RunRecord) -> list[str]:
    """The sampled probabilities against uniform sampling of the same QUBO, and a warning when
    the final sampling is large enough to find the optimum by covering the space."""
    if record.uniform_method is None:
        return []
    # A shrink run's probabilities are its inner solver's, on the shrunk QUBO it sampled.
    sampled = SolverInfo.read(record.solver_info).sampled()
    p_opt = _versus_uniform(sampled.optimal_probability, record.p_optimal_uniform, record.optimal_lift,
                            record.uniform_method, record.uniform_stderr)
    p_feas = _versus_uniform(sampled.feasible_probability, record.p_feasible_uniform, record.feasible_lift,
                             record.uniform_method)
    line = f"sampling   p_opt {p_opt}   p_feas {p_feas}"
    if record.energy_approximation_ratio is not None:
        line += f"   energy ratio {record.energy_approximation_ratio:.3g}"
    lines = [line]
    if record.covers_space:
        coverage = record.final_coverage
        drawn = (f"{coverage:.3g}x as many shots as its QUBO has states" if coverage >= 1
                 else f"shots for {100 * coverage:.3g}% of its QUBO's states")
        lines.append(f"warning    final sampling draws {drawn}: a gap of 0 is not evidence of the method")
    return lines
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
        lines = [f"qbench: {'skipped' if record.status == 'skipped' else 'error'}: {record.error}"]
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
        *sampling_lines(record),
        f"time       {times.get('total', 0):.3g} s ({parts})",
    ]
    if record.dual_bound is not None:
        lines.insert(3, f"bound      {_num(record.dual_bound)}")
    if path is not None:
        lines.append(f"record     {path}")
    return "\n".join(lines)
