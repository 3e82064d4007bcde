"""``python -m qbench report DIR``: the tables a paper prints, and its figures, from the store.

Tables (markdown in ``report.md``, each also as CSV under ``tables/``):

- ``summary``: per problem x method (solver and its varied settings), the comparative study's
  layout: runs, ok / failed runs, feasibility rate, mean and median optimality gap, success
  probability, qubits, QUBO variables, median and mean wall time.
- ``instances``: the same per instance, with the best objective and the reference.
- ``qubits``: qubits and QUBO variables against instance size per formulation and method.

Definitions (stated in ``report.md`` too): ``runs`` counts every record (ok, error, timeout);
``feasible`` = feasible answers / runs, so a failed run counts as not feasible; ``gap`` is the
relative optimality gap of feasible answers against a reference (mean and median over the runs
that have one); ``success`` = mean over runs of the probability of sampling an optimal solution
in the final distribution (``solver_info.optimal_probability``; quantum and sampling solvers);
``qubits`` = median qubits the method used (classical solvers: none); ``time`` = wall time of
the whole run in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from qbench import plots, store

DEFINITIONS = """\
`runs`: all records (ok, error, timeout, skipped); `ok`/`failed`/`skipped`: by status (`skipped`:
not started, estimated past `timeout_s` or the memory). `feasible`: feasible
answers / runs (failed runs count as not feasible). `gap mean`/`gap median`: relative
optimality gap of feasible answers against the reference, over the runs that have one.
`success`: mean probability of sampling an optimal solution in the final distribution.
`qubits`: median qubits used (none for classical solvers); `QUBO vars`: median variables of the
formulation's QUBO. `time`: wall time of the whole run, seconds. `time/estimate`: median over
ok runs of the run's time over the estimate made before it (SCIP's, its time limit, left out).
"""

_SUMMARY_HEADERS = {
    "problem": "problem", "method": "method", "runs": "runs", "ok": "ok", "failed": "failed", "skipped": "skipped",
    "feasible_rate": "feasible", "gap_mean": "gap mean", "gap_median": "gap median",
    "success_probability": "success", "qubits": "qubits", "qubo_variables": "QUBO vars",
    "time_median_s": "time median [s]", "time_mean_s": "time mean [s]", "time_vs_estimate": "time/estimate",
}


def _aggregate(group: pd.DataFrame) -> pd.Series:
    ok = group["status"] == "ok"
    skipped = group["status"] == "skipped"
    feasible = group["feasible"].fillna(False).astype(bool) & ok
    gaps = group.loc[feasible, "gap"].dropna()
    return pd.Series({
        "runs": len(group),
        "ok": int(ok.sum()),
        "failed": int((~ok & ~skipped).sum()),
        "skipped": int(skipped.sum()),
        "feasible_rate": feasible.sum() / len(group),
        "gap_mean": gaps.mean() if len(gaps) else np.nan,
        "gap_median": gaps.median() if len(gaps) else np.nan,
        "success_probability": group.loc[ok, "success_probability"].mean(),
        "qubits": group.loc[ok, "qubits"].median(),
        "qubo_variables": group.loc[ok, "qubo_variables"].median(),
        "time_median_s": group.loc[ok, "time_total"].median(),
        "time_mean_s": group.loc[ok, "time_total"].mean(),
        "time_vs_estimate": _time_vs_estimate(group[ok]),
    })


def _time_vs_estimate(ok: pd.DataFrame) -> float:
    """Median of time / estimate over runs with an estimate that is a prediction (not a bound)."""
    if "estimate_seconds" not in ok or "estimate_bound" not in ok:
        return np.nan
    predicted = ~ok["estimate_bound"].astype("boolean").fillna(False).astype(bool)
    ratio = ok.loc[predicted, "time_total"] / ok.loc[predicted, "estimate_seconds"]
    ratio = ratio.replace([np.inf, -np.inf], np.nan).dropna()
    return float(ratio.median()) if len(ratio) else np.nan


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per problem x method (the comparative study's table)."""
    if frame.empty:
        return pd.DataFrame(columns=list(_SUMMARY_HEADERS))
    frame = _with_time(frame)
    table = frame.groupby(["problem", "method"], sort=True).apply(_aggregate, include_groups=False)
    return table.reset_index()


def instance_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per problem x instance x method, with the best feasible objective and the reference."""
    if frame.empty:
        return pd.DataFrame()
    frame = _with_time(frame)
    rows = []
    for (problem, instance, method), group in frame.groupby(["problem", "instance", "method"], sort=True):
        row = {"problem": problem, "instance": instance, "method": method, **_aggregate(group)}
        feasible = group[(group["status"] == "ok") & group["feasible"].fillna(False).astype(bool)]
        sense = group["sense"].dropna()
        best = np.nan
        if len(feasible):
            best = feasible["objective"].max() if len(sense) and sense.iloc[0] == "max" else feasible["objective"].min()
        row["best_objective"] = best
        row["reference"] = group["reference"].dropna().iloc[0] if group["reference"].notna().any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def qubits_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Qubits and QUBO variables vs instance size, per problem x formulation x method."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame()
    table = (ok.groupby(["problem", "formulation", "method", "instance"], sort=True)
             .agg(variables=("variables", "median"), qubo_variables=("qubo_variables", "median"),
                  qubits=("qubits", "median"), runs=("key", "count"))
             .reset_index().sort_values(["problem", "formulation", "method", "variables"]))
    return table


def _with_time(frame: pd.DataFrame) -> pd.DataFrame:
    if "time_total" not in frame:
        frame = frame.assign(time_total=np.nan)
    return frame


def markdown(table: pd.DataFrame, headers: dict[str, str] | None = None) -> str:
    """A GitHub markdown table; rates and gaps in percent, missing values as '-'."""
    if table.empty:
        return "(no records)\n"
    headers = headers or {c: c.replace("_", " ") for c in table.columns}
    columns = [c for c in table.columns if c in headers]
    lines = ["| " + " | ".join(headers[c] for c in columns) + " |",
             "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(table[c]) else "---" for c in columns)
             + "|"]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(format_cell(c, row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def format_cell(column: str, value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "-"
    if column in ("feasible_rate", "gap_mean", "gap_median", "success_probability"):
        return f"{100 * float(value):.1f}%"
    if column.startswith("time"):
        return f"{float(value):.3g}"
    if isinstance(value, (float, np.floating)):
        return f"{int(value)}" if float(value).is_integer() else f"{float(value):.6g}"
    return str(value)


def write(frame: pd.DataFrame, out: Path) -> tuple[dict[str, Path], list[Path]]:
    """Write ``report.md``, the CSV tables and the figures under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    tables = {"summary": summary_table(frame), "instances": instance_table(frame),
              "qubits": qubits_table(frame)}
    csvs = {}
    for name, table in tables.items():
        csvs[name] = out / "tables" / f"{name}.csv"
        table.to_csv(csvs[name], index=False)
    figures = plots.make_all(frame, out / "figures")
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    experiments = sorted(e for e in frame["experiment"].dropna().unique()) if len(frame) else []
    text = [
        f"# Report: {', '.join(experiments) or 'runs'}\n",
        f"{len(frame)} runs: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "error", "timeout"))
        + (f", {counts['skipped']} skipped" if counts.get("skipped") else "") + "\n",
        "## Per problem and method\n", markdown(tables["summary"], _SUMMARY_HEADERS), DEFINITIONS,
        "## Per instance\n", markdown(tables["instances"]),
        "## Qubits vs instance size\n", markdown(tables["qubits"]),
        "## Figures\n", *[f"![{p.stem}](figures/{p.name})\n" for p in figures],
    ]
    (out / "report.md").write_text("\n".join(text))
    return csvs, figures


def main(directory: str, out: str | None = None, qoblib: bool = False, submitter: str = "N/A",
         affiliation: str = "N/A", hardware: str = "N/A") -> int:
    from qbench.errors import QbenchError

    if not Path(directory).is_dir():
        raise QbenchError(f"{directory}: no such results directory")
    frame, store_path = store.collect(directory)
    out_dir = Path(out) if out else Path(directory) / "report"
    csvs, figures = write(frame, out_dir)
    print(store.describe(frame, store_path))
    print()
    print(markdown(summary_table(frame), _SUMMARY_HEADERS))
    print(f"report  {out_dir / 'report.md'}")
    print(f"tables  {', '.join(str(p) for p in csvs.values())}")
    print(f"figures {len(figures)}: {', '.join(p.name for p in figures) or '-'}")
    if qoblib:
        from qbench import qoblib_export

        written = qoblib_export.export(frame, out_dir / "qoblib", submitter=submitter,
                                       affiliation=affiliation, hardware=hardware)
        print(f"qoblib  {len(written)} instance directories under {out_dir / 'qoblib'}")
    return 0
