"""``python -m qbench report DIR``: the tables a paper prints, and its figures, from the store.

Tables (markdown in ``report.md``, each also as CSV under ``tables/``):

- ``summary``: per problem x method (solver and its varied settings), the comparative study's
  layout: runs, ok / failed runs, feasibility rate, mean and median optimality gap, success
  probability, qubits, QUBO variables, median and mean wall time.
- ``instances``: the same per instance, with the best objective and the reference.
- ``qubits``: qubits and QUBO variables against instance size per formulation and method.
- ``leaderboard``: per problem x instance x method, success and time to solution over the runs
  (:mod:`qbench.metrics`): runs, feasible and successful runs at the threshold ``epsilon``, the run
  success probability ``p_s``, the lift over uniform random sampling, TTS99 with its bootstrap
  95 % interval, QOBLIB's time to solution, the gap before and after repair, the energy
  approximation ratio, qubits and two-qubit gates; a run whose final sampling covered at least
  a quarter of the search space is flagged.

Definitions (stated in ``report.md`` too): ``runs`` counts every record (ok, error, timeout);
``feasible`` = feasible answers / runs, so a failed run counts as not feasible; ``gap`` is the
relative optimality gap of feasible answers against a reference (mean and median over the runs
that have one); ``feasible raw`` and ``gap raw`` are the same for the solvers' own answers before
the runs' repair (:mod:`qbench.repair`; equal to the others where nothing was repaired);
``success`` = mean over runs of the probability of sampling an optimal solution
in the final distribution (``solver_info.optimal_probability``; quantum and sampling solvers;
none for a method that decodes a single answer); ``success uniform`` = mean over the same runs of
the probability that a uniformly random bitstring of the QUBO is optimal
(:mod:`qbench.baseline`), the figure ``success`` must beat; ``covering`` = runs whose final
sampling drew at least a quarter as many shots as the QUBO has states (their gap of 0 says little
about the method); ``qubits`` = median qubits the method used (classical solvers: none);
``time`` = wall time of the whole run in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from qbench import metrics, plots, store

DEFINITIONS = """\
`runs`: all records (ok, error, timeout, skipped); `ok`/`failed`/`skipped`: by status (`skipped`:
not started, estimated past `timeout_s` or the memory). `feasible`: feasible
answers / runs (failed runs count as not feasible). `gap mean`/`gap median`: relative
optimality gap of feasible answers against the reference, over the runs that have one.
`feasible raw`/`gap raw`: the same (gap: mean) for the solvers' own answers before repair
(`repair=greedy`); the other columns are the final, repaired answers.
`success`: mean probability of sampling an optimal solution in the final distribution (none for
methods that decode a single answer); `success uniform`: the same for uniformly random bitstrings
of the QUBO, over the same runs; `covering`: runs whose final sampling drew >= 1/4 as many shots
as the QUBO has states (a gap of 0 there says little about the method).
`qubits`: median qubits used (none for classical solvers); `QUBO vars`: median variables of the
formulation's QUBO. `time`: wall time of the whole run, seconds. `time/estimate`: median over
ok runs of the run's time over the estimate made before it (SCIP's, its time limit, left out).
"""

_SUMMARY_HEADERS = {
    "problem": "problem", "method": "method", "runs": "runs", "ok": "ok", "failed": "failed", "skipped": "skipped",
    "feasible_rate": "feasible", "raw_feasible_rate": "feasible raw", "gap_mean": "gap mean",
    "raw_gap_mean": "gap raw", "gap_median": "gap median",
    "success_probability": "success", "qubits": "qubits", "qubo_variables": "QUBO vars",
    "time_median_s": "time median [s]", "time_mean_s": "time mean [s]", "time_vs_estimate": "time/estimate",
    "success_uniform": "success uniform", "covering_runs": "covering",
}


def _aggregate(group: pd.DataFrame) -> pd.Series:
    ok = group["status"] == "ok"
    skipped = group["status"] == "skipped"
    feasible = group["feasible"].fillna(False).astype(bool) & ok
    gaps = group.loc[feasible, "gap"].dropna()
    sampled = ok & group["success_probability"].notna()
    raw_feasible = group["raw_feasible"].fillna(False).astype(bool) & ok
    raw_gaps = group.loc[raw_feasible, "raw_gap"].dropna()
    return pd.Series({
        "runs": len(group),
        "ok": int(ok.sum()),
        "failed": int((~ok & ~skipped).sum()),
        "skipped": int(skipped.sum()),
        "feasible_rate": feasible.sum() / len(group),
        "raw_feasible_rate": raw_feasible.sum() / len(group),
        "gap_mean": gaps.mean() if len(gaps) else np.nan,
        "raw_gap_mean": raw_gaps.mean() if len(raw_gaps) else np.nan,
        "gap_median": gaps.median() if len(gaps) else np.nan,
        "success_probability": group.loc[ok, "success_probability"].mean(),
        "qubits": group.loc[ok, "qubits"].median(),
        "qubo_variables": group.loc[ok, "qubo_variables"].median(),
        "time_median_s": group.loc[ok, "time_total"].median(),
        "time_mean_s": group.loc[ok, "time_total"].mean(),
        "success_uniform": group.loc[sampled, "p_optimal_uniform"].mean(),
        "covering_runs": int(group.loc[ok, "covers_space"].fillna(False).astype(bool).sum()),
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


LEADERBOARD_DEFINITIONS = """\
`successful@eps`: finished, feasible runs with a relative gap to the reference <= eps; `p_s` =
successful / runs (every record is a run). `p_opt/shot`: mean probability of sampling an optimum
in the final distribution. `lift`: mean of p_opt/shot over the same probability for uniform
random bitstrings. `TTS99`: mean wall time of a run x ln(0.01) / ln(1 - p_s) (one run when
p_s >= 0.99; inf when p_s = 0), in seconds, with a 95 % percentile-bootstrap interval over runs.
`to best`: mean over feasible runs of the time the run first held its final best (QOBLIB's time
to solution). `raw gap`/`gap`: mean gap before/after repair. `E ratio`: mean energy
approximation ratio. `qubits`, `2q gates`: medians. `covers space`: some run sampled at least
2^n/4 shots, so its success may owe nothing to the method. Formulas and sources: README, "Metrics".
"""

_LEADERBOARD_HEADERS = {
    "problem": "problem", "instance": "instance", "method": "method", "runs": "runs",
    "feasible_runs": "feasible", "successful_runs": "successful@eps", "p_s": "p_s",
    "shot_success_probability": "p_opt/shot", "optimal_lift": "lift", "tts99": "TTS99 [95% CI] [s]",
    "time_to_best_s": "to best [s]", "raw_gap": "raw gap", "gap": "gap",
    "energy_approximation_ratio": "E ratio", "qubits": "qubits", "two_qubit_gates": "2q gates",
    "covers_space": "covers space",
}


def leaderboard_table(frame: pd.DataFrame, epsilon: float = 0.0) -> pd.DataFrame:
    """Per problem x instance x method: success and time to solution (:mod:`qbench.metrics`) and
    the columns other fields supply (a field no record has gives NaN: shown as '-'). Sorted by
    TTS99 within an instance (infinite and undefined last)."""
    columns = ["problem", "instance", "method", "runs", "feasible_runs", "successful_runs", "p_s",
               "shot_success_probability", "optimal_lift", "tts99_s", "tts99_low_s", "tts99_high_s",
               "time_to_best_s", "raw_gap", "gap", "energy_approximation_ratio", "qubits",
               "two_qubit_gates", "covers_space"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = _with_time(frame)
    rows = []
    for (problem, instance, method), group in frame.groupby(["problem", "instance", "method"], sort=True):
        result = metrics.method_metrics(group, epsilon)
        ok = group[group["status"] == "ok"]
        feasible = ok[ok["feasible"].fillna(False).astype(bool)]
        tts = result.tts99
        rows.append({
            "problem": problem, "instance": instance, "method": method,
            "runs": result.runs, "feasible_runs": result.feasible_runs,
            "successful_runs": np.nan if result.successful_runs is None else result.successful_runs,
            "p_s": _or_nan(result.run_success_probability),
            "shot_success_probability": _or_nan(result.shot_success_probability),
            "optimal_lift": _mean(ok, "optimal_lift"),
            "tts99_s": np.nan if tts is None else tts.seconds,
            "tts99_low_s": np.nan if tts is None else tts.low,
            "tts99_high_s": np.nan if tts is None else tts.high,
            "time_to_best_s": _or_nan(result.time_to_best),
            "raw_gap": _mean(ok, "raw_gap"),
            "gap": _mean(feasible, "gap"),
            "energy_approximation_ratio": _mean(ok, "energy_approximation_ratio"),
            "qubits": _median(ok, "qubits"),
            "two_qubit_gates": _median(ok, "two_qubit_gates"),
            "covers_space": _any(group, "covers_space"),
        })
    table = pd.DataFrame(rows, columns=columns)
    table["covers_space"] = table["covers_space"].astype("boolean")
    return table.sort_values(["problem", "instance", "tts99_s", "p_s"], ascending=[True, True, True, False],
                             na_position="last", ignore_index=True)


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _mean(frame: pd.DataFrame, column: str) -> float:
    values = pd.to_numeric(frame[column], errors="coerce").dropna() if column in frame else ()
    return float(np.mean(values)) if len(values) else np.nan


def _median(frame: pd.DataFrame, column: str) -> float:
    values = pd.to_numeric(frame[column], errors="coerce").dropna() if column in frame else ()
    return float(np.median(values)) if len(values) else np.nan


def _any(frame: pd.DataFrame, column: str):
    """True if some run has ``column`` true, False if all that say have it false, else NA."""
    values = frame[column].dropna() if column in frame else ()
    return bool(np.any(values.astype(bool))) if len(values) else pd.NA


def leaderboard_markdown(table: pd.DataFrame, epsilon: float) -> str:
    """The leaderboard as markdown: TTS99 and its interval in one cell."""
    shown = table.copy()
    if not shown.empty:
        shown["tts99"] = [format_tts(*v) for v in zip(shown["tts99_s"], shown["tts99_low_s"], shown["tts99_high_s"])]
    headers = dict(_LEADERBOARD_HEADERS, successful_runs=f"successful@{epsilon:g}")
    order = [c for c in headers if c in shown.columns]
    return markdown(shown[order] if not shown.empty else shown, headers)


def format_tts(seconds: float, low: float, high: float) -> str:
    """``"25.8 [10.1, inf]"``; '-' without a TTS99."""
    if pd.isna(seconds):
        return "-"
    return f"{_seconds(seconds)} [{_seconds(low)}, {_seconds(high)}]"


def _seconds(value: float) -> str:
    return "inf" if np.isinf(value) else f"{float(value):.3g}"


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
    if column in ("feasible_rate", "raw_feasible_rate", "gap_mean", "raw_gap_mean", "gap_median",
                  "success_probability", "p_s", "shot_success_probability", "raw_gap", "gap"):
        return f"{100 * float(value):.1f}%"
    if column == "success_uniform":
        return f"{100 * float(value):.2g}%"
    if column == "optimal_lift":
        return f"{float(value):.3g}x"
    if column == "energy_approximation_ratio":
        return f"{float(value):.3f}"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if column.startswith("time"):
        return f"{float(value):.3g}"
    if isinstance(value, (float, np.floating)):
        return f"{int(value)}" if float(value).is_integer() else f"{float(value):.6g}"
    return str(value)


def write(frame: pd.DataFrame, out: Path, epsilon: float = 0.0) -> tuple[dict[str, Path], list[Path]]:
    """Write ``report.md``, the CSV tables and the figures under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    tables = {"summary": summary_table(frame), "instances": instance_table(frame),
              "qubits": qubits_table(frame), "leaderboard": leaderboard_table(frame, epsilon)}
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
        f"## Leaderboard: success and time to solution (epsilon = {epsilon:g})\n",
        leaderboard_markdown(tables["leaderboard"], epsilon), LEADERBOARD_DEFINITIONS,
        "## Per instance\n", markdown(tables["instances"]),
        "## Qubits vs instance size\n", markdown(tables["qubits"]),
        "## Figures\n", *[f"![{p.stem}](figures/{p.name})\n" for p in figures],
    ]
    (out / "report.md").write_text("\n".join(text))
    return csvs, figures


def main(directory: str, out: str | None = None, qoblib: bool = False, submitter: str = "N/A",
         affiliation: str = "N/A", hardware: str = "N/A", epsilon: float = 0.0) -> int:
    from qbench.errors import QbenchError

    if not epsilon >= 0:  # also refuses NaN
        raise QbenchError(f"--epsilon: must be a relative gap >= 0 (0 = optimal only), got {epsilon}")
    frame, store_path = store.collect(directory)
    out_dir = Path(out) if out else Path(directory) / "report"
    csvs, figures = write(frame, out_dir, epsilon)
    print(store.describe(frame, store_path))
    print()
    print(markdown(summary_table(frame), _SUMMARY_HEADERS))
    print(leaderboard_markdown(leaderboard_table(frame, epsilon), epsilon))
    print(f"report  {out_dir / 'report.md'}")
    print(f"tables  {', '.join(str(p) for p in csvs.values())}")
    print(f"figures {len(figures)}: {', '.join(p.name for p in figures) or '-'}")
    if qoblib:
        from qbench import qoblib_export

        exported = qoblib_export.export(frame, out_dir / "qoblib", submitter=submitter,
                                        affiliation=affiliation, hardware=hardware, epsilon=epsilon)
        print(f"qoblib  {len(exported.written)} instance directories under {out_dir / 'qoblib'}"
              + (f" (not QOBLIB instances, left out: {', '.join(exported.skipped)})" if exported.skipped else ""))
    return 0
