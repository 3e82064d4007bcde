"""The run record: one JSON file per run, defined here and nowhere else.

A record is written atomically (temporary file in the same directory, then ``os.replace``), so a
reader (a report, a dashboard, a resumed sweep) never sees half a record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
#: ``skipped``: not started, its estimate exceeding ``timeout_s`` or the memory available
#: (:func:`qbench.estimate.admit`; ``error`` holds the reason).
Status = Literal["ok", "error", "timeout", "skipped"]

#: Config keys that do not change what a run computes, left out of its key (``sweep`` holds a
#: sweep's bookkeeping: experiment name, the run's own key, the grid definition).
VOLATILE_KEYS = ("output_root", "progress", "hydra", "timeout_s", "launcher", "sweep", "force")


@dataclass
class RunRecord:
    """Everything known about one run. ``gap`` is relative to the reference and >= 0 when the
    reference is optimal (see :func:`qbench.problem.optimality_gap`); it is set only for
    feasible answers.

    ``objective``, ``feasible``, ``violation``, ``gap`` and ``solution`` are the final answer:
    the solver's, or its repair where ``repair`` (:mod:`qbench.repair`) improved it; ``raw_*``
    are the solver's own answer (equal to the final ones when nothing was repaired).
    """

    key: str
    problem: str
    instance: str
    formulation: str
    solver: str
    backend: str | None
    seed: int | None  # None only in the error record of a run whose configured seed is not an integer
    status: Status = "ok"
    error: str | None = None
    error_traceback: str | None = None
    instance_hash: str | None = None
    instance_description: str | None = None
    sense: str | None = None
    objective: float | None = None
    feasible: bool | None = None
    violation: float | None = None
    solution: list[int] | None = None
    reference: float | None = None
    reference_source: str | None = None
    reference_proven: bool | None = None
    gap: float | None = None
    approximation_ratio: float | None = None
    repair: str | None = None
    raw_objective: float | None = None
    raw_feasible: bool | None = None
    raw_violation: float | None = None
    raw_gap: float | None = None
    qubits: int | None = None
    qubo_variables: int | None = None
    variables: int | None = None
    constraints: int | None = None
    solver_status: str | None = None
    dual_bound: float | None = None
    # Uniform random sampling of the same QUBO, for runs whose answer was sampled
    # (see qbench/baseline.py); None for the others.
    p_feasible_uniform: float | None = None
    p_optimal_uniform: float | None = None
    uniform_method: str | None = None
    uniform_stderr: float | None = None
    feasible_lift: float | None = None
    optimal_lift: float | None = None
    final_coverage: float | None = None
    covers_space: bool | None = None
    energy_approximation_ratio: float | None = None
    #: ``[seconds since the run started, native objective]`` each time the run's best feasible
    #: answer improved (strictly), ending with the answer the run returns; empty without a
    #: feasible answer (:mod:`qbench.incumbents`).
    incumbents: list[list[float]] = field(default_factory=list)
    #: Seconds since the run started at which it first held its final best (the last entry of
    #: ``incumbents``); ``None`` without a feasible answer.
    time_to_best: float | None = None
    times: dict[str, float] = field(default_factory=dict)
    #: The estimate made before the run (:class:`qbench.estimate.Estimate` as a dict: seconds,
    #: peak_bytes, qubits, basis, bound); ``None`` when the run could not be estimated.
    estimate: dict[str, Any] | None = None
    solver_info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    git_revision: str | None = None
    created: str = ""
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """The record as JSON, with every secret masked (:func:`qbench.secrets.redact_data`)."""
        from qbench.secrets import redact_data

        return json.dumps(redact_data(_jsonable(dataclasses.asdict(self))), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _jsonable(value: Any) -> Any:
    """Plain JSON values; NaN and infinities become ``None`` (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def config_key(config: dict[str, Any]) -> str:
    """Stable identity of a run: sha256 of its resolved config without volatile keys."""
    stable = {k: v for k, v in config.items() if k not in VOLATILE_KEYS}
    text = json.dumps(_jsonable(stable), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_record(record: RunRecord, directory: str | Path) -> Path:
    """Write ``record`` as ``directory/record.json`` atomically and return the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / RECORD_FILE
    text = record.to_json()
    fd, tmp = tempfile.mkstemp(prefix=".record-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_record(path: str | Path) -> RunRecord:
    """The record at ``path``, validated against the schema (:mod:`qbench.record_reader`;
    :class:`~qbench.record_reader.BadRecordError`, a ``ValueError``, when it is not one)."""
    from qbench.record_reader import read

    return read(path)


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_PACKAGES = (
    "qbench", "qiskit", "qiskit-aer", "qiskit-optimization", "qiskit-ibm-runtime", "pyscipopt",
    "dwave-samplers", "numpy", "scipy", "networkx", "hydra-core",
)


@cache
def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@cache
def git_revision() -> str | None:
    """The source tree's commit, with ``+dirty`` when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
