"""The report's figures (PNG, matplotlib's non-interactive Agg backend), one function each.

A figure whose data is absent from the records (no quantum runs: no qubits; no optimizer runs:
no traces) is not drawn; :func:`make_all` returns the files it wrote.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def make_all(frame: pd.DataFrame, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    ok = frame[frame["status"] == "ok"] if len(frame) else frame
    written = []
    for name, draw in (("qubits_vs_size", qubits_vs_size), ("gap_vs_qubits", gap_vs_qubits),
                       ("time_scaling", time_scaling), ("feasibility", feasibility)):
        source = frame if name == "feasibility" else ok
        path = out / f"{name}.png"
        if len(source) and draw(source, path):
            written.append(path)
    for problem in sorted(ok["problem"].dropna().unique()) if len(ok) else []:
        path = out / f"convergence_{problem}.png"
        if convergence(ok[ok["problem"] == problem], path, problem):
            written.append(path)
    return written


def _axes():
    """A new figure of the report's common size."""
    return plt.subplots(figsize=(6.4, 4.4))


def _finish(fig, ax, path: Path, title: str, xlabel: str | None, ylabel: str) -> bool:
    """Label, add the legend, write the PNG and release the figure (every figure ends here)."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return save(fig, path)


def save(fig, path: Path, dpi: int = 120) -> bool:
    """Lay out, write the PNG and release the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return True


def qubits_vs_size(ok: pd.DataFrame, path: Path) -> bool:
    """Qubits against the instance's native variables: one series per formulation's QUBO
    (variables = qubits a plain encoding needs) and one per quantum method (qubits used)."""
    series = []
    # One line per problem class: sizes of different problems are not one scale.
    for (problem, formulation), g in ok.dropna(subset=["variables", "qubo_variables"]).groupby(["problem", "formulation"]):
        points = g.groupby("variables")["qubo_variables"].median()
        series.append((f"{problem}: {formulation} QUBO", points))
    for (problem, method), g in ok.dropna(subset=["variables", "qubits"]).groupby(["problem", "method"]):
        series.append((f"{problem}: {method} (qubits used)", g.groupby("variables")["qubits"].median()))
    if not series:
        return False
    fig, ax = _axes()
    for label, points in series:
        ax.plot(points.index, points.values, marker="o", label=label)
    return _finish(fig, ax, path, "Qubits vs instance size", "instance size (native binary variables)", "qubits")


def gap_vs_qubits(ok: pd.DataFrame, path: Path) -> bool:
    data = ok.dropna(subset=["qubits", "gap"])
    if data.empty:
        return False
    fig, ax = _axes()
    for (problem, method), g in data.groupby(["problem", "method"]):
        ax.scatter(g["qubits"], 100 * g["gap"], label=f"{problem}: {method}", alpha=0.7)
    return _finish(fig, ax, path, "Gap vs qubits (feasible answers)", "qubits", "optimality gap [%]")


def time_scaling(ok: pd.DataFrame, path: Path) -> bool:
    data = ok.dropna(subset=["variables", "time_total"]) if "time_total" in ok else ok.iloc[0:0]
    if data.empty:
        return False
    fig, ax = _axes()
    for (problem, method), g in data.groupby(["problem", "method"]):
        points = g.groupby("variables")["time_total"].median()
        ax.plot(points.index, points.values, marker="o", label=f"{problem}: {method}")
    ax.set_yscale("log")
    return _finish(fig, ax, path, "Time scaling", "instance size (native binary variables)", "median wall time [s]")


def feasibility(frame: pd.DataFrame, path: Path) -> bool:
    feasible = frame["feasible"].fillna(False).astype(bool) & (frame["status"] == "ok")
    rate = feasible.groupby([frame["problem"], frame["method"]]).mean().unstack("method")
    if rate.empty:
        return False
    fig, ax = _axes()
    width = 0.8 / max(1, rate.shape[1])
    x = np.arange(len(rate.index))
    for i, method in enumerate(rate.columns):
        ax.bar(x + i * width, 100 * rate[method].fillna(0).to_numpy(), width, label=method)
    ax.set_xticks(x + 0.4 - width / 2, rate.index)
    ax.set_ylim(0, 105)
    return _finish(fig, ax, path, "Feasibility by method", None, "feasible runs [%]")


def convergence(ok: pd.DataFrame, path: Path, problem: str) -> bool:
    """Optimizer traces (objective per evaluation, ``solver_info.trace``), one line per run."""
    data = ok[ok["trace"].map(lambda t: t is not None and len(t) > 0)]
    if data.empty:
        return False
    fig, ax = _axes()
    colours = {m: f"C{i}" for i, m in enumerate(sorted(data["method"].unique()))}
    for method, g in data.groupby("method"):
        for i, trace in enumerate(g["trace"]):
            ax.plot(np.arange(1, len(trace) + 1), trace, color=colours[method], alpha=0.6,
                    label=method if i == 0 else None)
    return _finish(fig, ax, path, f"Convergence: {problem}", "optimizer evaluation", "objective (solver's cost)")
