"""Pure data helpers of the dashboard: load the results table, filter it, count it.

Nothing here touches Streamlit, so every number the dashboard shows is computed by a function the
unit tests call directly. Records are read only through :mod:`qbench.store` (the one reader).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from qbench import store

#: Columns the sidebar filters on (multi-select; an empty selection keeps everything).
FILTER_COLUMNS = ("experiment", "problem", "instance", "solver", "backend", "formulation")
#: Shown for a missing value (a classical run has no backend) in filters and tables.
NONE_LABEL = "(none)"


@dataclass(frozen=True)
class Filters:
    """The sidebar's selection. ``selected[col]`` empty (or absent) = no restriction on ``col``;
    ``seeds`` is an inclusive range or None."""

    selected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    seeds: tuple[int, int] | None = None


@dataclass(frozen=True)
class Table:
    """The loaded results: one row per readable record, plus the files that could not be read."""

    frame: pd.DataFrame
    skipped: list[str]


def load(directory: str | Path) -> Table:
    """Every readable record under ``directory`` (:func:`qbench.store.load`), and the skipped files."""
    skipped: list[str] = []
    frame = store.load(directory, warn=skipped.append)
    return Table(frame, skipped)


def signature(directory: str | Path) -> tuple[int, int]:
    """(number of record files, newest modification time in ns) under ``directory``: changes
    whenever a record lands or is rewritten, so it keys the dashboard's cache."""
    newest = 0
    paths = store.record_paths(directory)
    for path in paths:
        with contextlib.suppress(OSError):  # removed between listing and stat
            newest = max(newest, path.stat().st_mtime_ns)
    return len(paths), newest


def options(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter column takes, sorted."""
    return {col: sorted(_labels(frame[col]).unique()) for col in FILTER_COLUMNS if col in frame}


def seed_range(frame: pd.DataFrame) -> tuple[int, int] | None:
    seeds = frame["seed"].dropna() if "seed" in frame else pd.Series(dtype=float)
    if seeds.empty:
        return None
    return int(seeds.min()), int(seeds.max())


def apply(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The rows matching every restriction in ``filters``."""
    keep = pd.Series(True, index=frame.index)
    for col, values in filters.selected.items():
        if values and col in frame:
            keep &= _labels(frame[col]).isin(values)
    if filters.seeds is not None and "seed" in frame:
        low, high = filters.seeds
        keep &= frame["seed"].between(low, high)
    return frame[keep]


def overview(frame: pd.DataFrame) -> pd.DataFrame:
    """Per experiment: runs, runs by status (ok / error / timeout), last update."""
    statuses = ["ok", "error", "timeout"]
    if frame.empty:
        return pd.DataFrame(columns=["experiment", "runs", *statuses, "last update"])
    experiment = _labels(frame["experiment"]).rename("experiment")
    counts = pd.crosstab(experiment, frame["status"]).reindex(columns=statuses, fill_value=0)
    table = counts.assign(runs=counts.sum(axis=1))
    table["last update"] = frame["created"].groupby(experiment).max()
    table = table.reset_index()[["experiment", "runs", *statuses, "last update"]]
    return table.sort_values("experiment", ignore_index=True)


def run_labels(frame: pd.DataFrame) -> dict[str, object]:
    """A readable, unique label per row (``problem / instance / method / seed (key)``) -> its
    index. The same configuration run twice has one key; its records are told apart by a number."""
    labels: dict[str, object] = {}
    for index, run in frame.iterrows():
        text = f"{run['problem']} / {run['instance']} / {run['method']} / seed {label(run['seed'])} ({str(run['key'])[:8]})"
        unique, n = text, 1
        while unique in labels:
            n += 1
            unique = f"{text} #{n}"
        labels[unique] = index
    return labels


def label(value: object) -> str:
    """A value as filters and tables show it, missing values as :data:`NONE_LABEL`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return NONE_LABEL if _missing(value) else str(value)


def _labels(column: pd.Series) -> pd.Series:
    return column.map(label)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
