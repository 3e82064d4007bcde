"""The results store: run records (one JSON file per run) -> one flat table, in Parquet.

The JSON records are the source of truth; many writers (sweep workers, cluster jobs) each write
their own file atomically, so they never corrupt one another. ``collect`` aggregates them on
read into ``DIR/store/records.parquet`` (written atomically too), one row per record, for
pandas or DuckDB (:func:`query`, the table is called ``records``). Records are read through
:mod:`qbench.record_reader`, which checks each against the schema; a file that is not a valid
record (truncated by a crash, edited by hand, a wrong type in any field) is skipped with a
one-line warning naming the file and the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from qbench import errors
from qbench.errors import QbenchError
from qbench.record_reader import BadRecordError, read_data
from qbench.records import RECORD_FILE
from qbench.solver_info import SolverInfo

STORE_FILE = Path("store") / "records.parquet"

#: Identity and outcome columns, in this order; then ``time_*`` per phase, then the rest.
COLUMNS = [
    "experiment", "key", "problem", "instance", "instance_hash", "method", "solver", "backend",
    "formulation", "seed", "status", "error", "solver_status", "objective", "reference",
    "reference_source", "reference_proven", "gap", "approximation_ratio", "feasible", "violation",
    "repair", "raw_objective", "raw_gap", "raw_feasible", "raw_violation", "dual_bound", "qubits",
    "qubo_variables", "variables", "constraints", "success_probability", "feasible_probability",
    "p_optimal_uniform", "p_feasible_uniform", "uniform_method", "uniform_stderr", "optimal_lift",
    "feasible_lift", "final_coverage", "covers_space", "energy_approximation_ratio",
    "two_qubit_gates", "time_to_best", "incumbents", "sense", "solution", "trace", "created",
    "git_revision", "record_path",
]
_NUMERIC = ["seed", "objective", "reference", "gap", "approximation_ratio", "violation",
            "raw_objective", "raw_gap", "raw_violation", "dual_bound", "qubits", "qubo_variables",
            "variables", "constraints", "success_probability", "feasible_probability",
            "p_optimal_uniform", "p_feasible_uniform", "uniform_stderr", "optimal_lift", "feasible_lift",
            "final_coverage", "energy_approximation_ratio", "two_qubit_gates", "time_to_best"]


def record_paths(directory: str | Path) -> list[Path]:
    return sorted(Path(directory).rglob(RECORD_FILE))


def load(directory: str | Path, warn=None) -> pd.DataFrame:
    """All readable records under ``directory`` as a flat frame (warnings for unreadable ones)."""
    warn = warn or errors.warn
    rows = []
    for path in record_paths(directory):
        try:
            data = read_data(path)
        except BadRecordError as exc:
            # A truncated, foreign or malformed file must not stop a report.
            warn(f"skipped {exc}")
            continue
        rows.append(flatten(data, path))
    return to_frame(rows)


def flatten(data: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """One table row from one record."""
    config = data.get("config") or {}
    info = SolverInfo.read(data.get("solver_info"))
    sweep = config.get("sweep")
    experiment = sweep.get("experiment") if isinstance(sweep, dict) else None
    row = {name: data.get(name) for name in COLUMNS if name in data}
    if "repair" not in data:
        # A record with no `repair` field had no repair step: its answer is the solver's own.
        row.update(repair="none", raw_objective=data.get("objective"), raw_gap=data.get("gap"),
                   raw_feasible=data.get("feasible"), raw_violation=data.get("violation"))
    row.update(
        experiment=None if experiment is None else str(experiment),
        success_probability=info.optimal_probability,
        feasible_probability=info.feasible_probability,
        two_qubit_gates=info.two_qubit_gates,
        # Numbers only: some solvers trace richer entries (the Lagrangian dual: one dict per iteration).
        trace=info.value_trace(),
        record_path=str(path) if path else None,
        solver_params=json.dumps(_params(config.get("solver")), sort_keys=True),
    )
    estimate = data.get("estimate") or {}
    row.update(estimate_seconds=estimate.get("seconds"), estimate_bytes=estimate.get("peak_bytes"),
               estimate_bound=estimate.get("bound"))
    for phase, seconds in (data.get("times") or {}).items():
        row[f"time_{phase}"] = seconds
    return row


def _params(component: Any) -> dict[str, Any]:
    if not isinstance(component, dict):
        return {}
    return {k: v for k, v in component.items() if k not in ("_target_", "name")}


def to_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    for name in COLUMNS + ["solver_params"]:
        if name not in frame:
            frame[name] = None
    estimates = [c for c in ("estimate_seconds", "estimate_bytes") if c in frame]
    for name in _NUMERIC + estimates + [c for c in frame.columns if c.startswith("time_")]:
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    frame["feasible"] = frame["feasible"].astype("boolean")
    frame["covers_space"] = frame["covers_space"].astype("boolean")
    frame["raw_feasible"] = frame["raw_feasible"].astype("boolean")
    frame["method"] = method_labels(frame)
    times = sorted(c for c in frame.columns if c.startswith("time_") and c not in COLUMNS)
    rest = [c for c in frame.columns if c not in COLUMNS and c not in times]
    return frame[COLUMNS + times + rest]


def method_labels(frame: pd.DataFrame) -> pd.Series:
    """``solver`` plus the solver settings (and formulation, and repair) that vary among its
    records here.

    A study that sweeps CVaR's alpha, or compares penalty and unbalanced formulations for the
    same solver, gets one row per variant in its tables ("cvar_vqe alpha=0.25 / unbalanced");
    runs with and without repair get "qaoa repair=none" and "qaoa repair=greedy".
    """
    labels = pd.Series(frame["solver"].astype(str), index=frame.index, dtype=object)
    for solver, group in frame.groupby("solver"):
        params = [json.loads(p) if isinstance(p, str) else {} for p in group["solver_params"]]
        varying = varying_keys(params)
        show_formulation = group["formulation"].nunique(dropna=True) > 1
        show_repair = group["repair"].nunique(dropna=True) > 1
        for index, p, formulation, repair in zip(group.index, params, group["formulation"], group["repair"]):
            label = " ".join([str(solver)] + [f"{k}={setting_text(p.get(k))}" for k in varying])
            if show_repair:
                label += f" repair={repair}"
            if show_formulation:
                label += f" / {formulation}"
            labels[index] = label
    return labels


def varying_keys(settings: list[dict[str, Any]]) -> list[str]:
    """The keys (sorted) whose values are not the same in all of ``settings`` (a missing key
    counts as null)."""
    keys = sorted({k for p in settings for k in p})
    return [k for k in keys if len({json.dumps(p.get(k), sort_keys=True) for p in settings}) > 1]


def setting_text(value: Any) -> str:
    """A setting's value in a label: JSON for a list or mapping, else as printed."""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def collect(directory: str | Path, out: str | Path | None = None) -> tuple[pd.DataFrame, Path]:
    """Aggregate the records under ``directory`` into the Parquet store; returns (frame, path)."""
    if not Path(directory).is_dir():
        raise QbenchError(f"{directory}: no such results directory")
    frame = load(directory)
    path = Path(out) if out else Path(directory) / STORE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".records-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return frame, path


def read(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def query(path: str | Path, sql: str) -> pd.DataFrame:
    """Run ``sql`` with DuckDB against the store at ``path`` (table name ``records``)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("records", con.read_parquet(str(path)))
        return con.execute(sql).df()
    except duckdb.Error as exc:
        raise QbenchError(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def describe(frame: pd.DataFrame, path: Path) -> str:
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    parts = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "error", "timeout", "skipped"))
    return f"{len(frame)} records ({parts}) -> {path}"
