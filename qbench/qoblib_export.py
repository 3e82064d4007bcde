"""Market-split and MIS results in QOBLIB's submission format, ready for a pull request there.

Format as QOBLIB documents it (github.com/ZIB-AOPT/QOBLIB: CONTRIBUTING.md, the checker
``misc/ci/check_submission.py`` and published submissions such as
``07-independentset/submissions/20250115_QAOA_Egger/``), laid out as QOBLIB's repository is so
that it can be copied into a checkout: ``01-marketsplit/submissions/`` and
``07-independentset/submissions/``, each with one submission directory per method,
``YYYYMMDD_<Method>_<Submitter>/``, holding one directory per instance with

- ``<instance>_summary.csv``: the 30 columns below, in this order (the checker compares the
  header exactly), one data row;
- ``solutions/<instance>_solution_<N>.mst``, N = 0, 1, ... consecutive: one file per run in the
  "named variable" format both problem checkers read (``x#<i> <0|1>``, i 1-based = the DIMACS
  vertex for MIS, the column of A for market split);
- ``<instance>_objective_time_series.json``: a list with one list per run that had a feasible
  answer (in the order of the solution files), of ``{"Time": s, "Incumbent": value}`` entries,
  ``Time`` in seconds from the start of the run: the run's incumbents (``RunRecord.incumbents``,
  monotone in the problem's sense) and, when the run went on after its last improvement, a last
  entry at the run's end holding its final best. Not written when no run had a feasible answer.

Only instances of QOBLIB's library are exported (named instances whose manifest takes them from
ZIB-AOPT/QOBLIB): QOBLIB's checker reads the instance from its own ``instances/`` directory.
Numbers come from the run records only; what the records do not know (non-zero coefficients,
coefficient ranges, GPU/QPU times, hardware unless ``--hardware`` is given) is ``N/A``, which
the checker accepts. ``# Runs`` counts completed (``ok``) runs; ``# Successful Runs`` and
``Success Threshold`` follow QOBLIB's definition (feasible runs within ``epsilon`` of the best
value this method found, :func:`qbench.metrics.qoblib_successful_runs`); ``Time to Solution`` is
QOBLIB's, the mean over feasible runs of the time each first held its final best
(:mod:`qbench.metrics`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from qbench import __version__, instances, metrics

COLUMNS = [
    "Problem", "Submitter", "Affiliation", "Date", "Reference", "Best Objective Value",
    "Optimality Bound", "Modeling Approach", "# Decision Variables", "# Binary Variables",
    "# Integer Variables", "# Continuous Variables", "# Non-Zero Coefficients", "Coefficients Type",
    "Coefficients Range", "Workflow", "Algorithm Type", "Paradigm", "# Runs", "# Feasible Runs",
    "# Successful Runs", "Success Threshold", "Hardware Specifications", "Total Runtime",
    "Time to Solution", "CPU Runtime", "GPU Runtime", "QPU Runtime", "Other HW Runtime", "Remarks",
]
#: qbench's problem -> QOBLIB's problem directory.
PROBLEM_DIRS = {"msp": "01-marketsplit", "mis": "07-independentset"}
QOBLIB_REPOSITORY = "ZIB-AOPT/QOBLIB"
NA = "N/A"
TIME_SERIES_SUFFIX = "_objective_time_series.json"
#: Solvers whose answer does not depend on the seed.
DETERMINISTIC = ("scip", "exact")


@dataclass(frozen=True)
class Export:
    """The instance directories written, and the instances left out (not in QOBLIB's library)."""

    written: list[Path]
    skipped: list[str]


def export(frame: pd.DataFrame, out: Path, submitter: str = NA, affiliation: str = NA,
           hardware: str = NA, today: date | None = None, epsilon: float = 0.0) -> Export:
    """Write the submissions under ``out`` (QOBLIB's repository layout)."""
    today = today or date.today()
    written = []
    data = frame[frame["problem"].isin(list(PROBLEM_DIRS)) & (frame["status"] == "ok")]
    library = [in_qoblib(p, str(i)) for p, i in zip(data["problem"], data["instance"])]
    skipped = sorted({f"{p}/{i}" for p, i, keep in zip(data["problem"], data["instance"], library) if not keep})
    data = data[library]
    for (method, problem, instance), runs in data.groupby(["method", "problem", "instance"], sort=True):
        name = _slug(method)
        submission = (out / PROBLEM_DIRS[problem] / "submissions"
                      / f"{today:%Y%m%d}_{name}_{_slug(submitter) if submitter != NA else 'qbench'}")
        directory = submission / str(instance)
        (directory / "solutions").mkdir(parents=True, exist_ok=True)
        runs = runs.sort_values(["seed", "key"])
        for index, solution in enumerate(runs["solution"]):
            _write_solution(directory / "solutions" / f"{instance}_solution_{index}.mst", solution)
        series = time_series(runs)
        if series:
            (directory / f"{instance}{TIME_SERIES_SUFFIX}").write_text(json.dumps(series, indent=1))
        row = summary_row(runs, str(instance), submitter, affiliation, hardware, today, epsilon)
        with open(directory / f"{instance}_summary.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerow(row)
        written.append(directory)
    return Export(written, skipped)


def in_qoblib(problem: str, instance: str) -> bool:
    """Whether ``instance`` is a named instance taken from QOBLIB's repository."""
    entry = instances.manifest(problem).get(instance)
    return entry is not None and f"/{QOBLIB_REPOSITORY}/" in entry.main_file.url


def time_series(runs: pd.DataFrame) -> list[list[dict[str, float]]]:
    """QOBLIB's objective time series of ``runs``: one entry list per run with incumbents."""
    series = []
    totals = runs["time_total"] if "time_total" in runs else pd.Series(np.nan, index=runs.index)
    incumbents = runs["incumbents"] if "incumbents" in runs else pd.Series(None, index=runs.index)
    for points, total in zip(incumbents, totals):
        if points is None or isinstance(points, float) or len(points) == 0:
            continue
        entries = [{"Time": float(t), "Incumbent": float(v)} for t, v in points]
        if pd.notna(total) and float(total) > entries[-1]["Time"]:
            entries.append({"Time": float(total), "Incumbent": entries[-1]["Incumbent"]})
        series.append(entries)
    return series


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text)).strip("-") or "run"


def _write_solution(path: Path, solution) -> None:
    values = [] if solution is None else [int(v) for v in solution]
    path.write_text("".join(f"x#{i} {v}\n" for i, v in enumerate(values, 1)))


def _num(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return NA
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


def summary_row(runs: pd.DataFrame, instance: str, submitter: str, affiliation: str,
                hardware: str, today: date, epsilon: float = 0.0) -> dict[str, str]:
    first = runs.iloc[0]
    solver = str(first["solver"])
    feasible = runs[runs["feasible"].fillna(False).astype(bool)]
    maximise = first["sense"] == "max"
    best = (feasible["objective"].max() if maximise else feasible["objective"].min()) if len(feasible) else None
    successful = metrics.qoblib_successful_runs(feasible["objective"].to_numpy(), str(first["sense"]), epsilon)
    time_to_solution = metrics.method_metrics(runs, epsilon).time_to_best
    proven = (solver == "scip" and best is not None
              and (runs["solver_status"] == "optimal").any())
    quantum = runs["qubits"].notna().any()
    backend = first["backend"]
    paradigm = ("Quantum Hardware" if backend == "ibm" else "Quantum Simulator") if quantum else "Classical"
    qubo = solver != "scip"
    variables = runs["qubo_variables" if qubo else "variables"].median()
    total = runs["time_total"].mean() if "time_total" in runs else None
    revisions = sorted({str(r) for r in runs["git_revision"].dropna()})
    return {
        "Problem": instance,
        "Submitter": submitter,
        "Affiliation": affiliation,
        "Date": today.isoformat(),
        "Reference": f"qbench {__version__}" + (f" (git {', '.join(revisions)})" if revisions else "")
                     + "; per-run configs and versions in the qbench run records",
        "Best Objective Value": _num(best),
        # Asserting a proven optimum makes QOBLIB's CI check optimality: only for SCIP's proofs.
        "Optimality Bound": _num(best) if proven else NA,
        "Modeling Approach": f"QUBO ({first['formulation']} formulation)" if qubo else "Binary linear program (MIP)",
        "# Decision Variables": _num(variables),
        "# Binary Variables": _num(variables),
        "# Integer Variables": "0" if qubo else NA,
        "# Continuous Variables": "0" if qubo else NA,
        "# Non-Zero Coefficients": NA,
        "Coefficients Type": NA,
        "Coefficients Range": NA,
        "Workflow": _workflow(first),
        "Algorithm Type": "Deterministic" if solver in DETERMINISTIC else "Stochastic",
        "Paradigm": paradigm,
        "# Runs": str(len(runs)),
        "# Feasible Runs": str(len(feasible)),
        "# Successful Runs": str(successful),
        "Success Threshold": _num(epsilon),
        "Hardware Specifications": hardware,
        "Total Runtime": _num(total),
        "Time to Solution": _num(time_to_solution),
        "CPU Runtime": _num(total) if paradigm != "Quantum Hardware" else NA,
        "GPU Runtime": NA,
        "QPU Runtime": NA,
        "Other HW Runtime": NA,
        "Remarks": "Runtimes in seconds, mean over runs (wall time of the whole qbench run); Time to "
                   "Solution: mean over the feasible runs of the time from the start of the run to the "
                   "first time it held its final best. "
                   f"Seeds {', '.join(str(int(s)) for s in sorted(runs['seed'].dropna().unique()))}.",
    }


def _workflow(first: pd.Series) -> str:
    method = str(first["method"])
    repair = ("; then the problem's greedy repair, kept where it improved the answer"
              if first.get("repair") == "greedy" else "")
    if first["solver"] == "scip":
        return f"qbench solver={method}: SCIP on the problem's MIP model{repair}"
    backend = f" on backend={first['backend']}" if pd.notna(first["qubits"]) else ""
    return (f"qbench solver={method}{backend}: {first['formulation']} QUBO of the instance; "
            f"the answer decoded to the original variables and evaluated natively{repair}")
