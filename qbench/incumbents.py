"""A run's incumbent history: when its best feasible answer improved, in native objective units.

QOBLIB's objective time series (CONTRIBUTING.md, "Objective Time Series") records, per run, the
wall-clock seconds from the start of the run at which each new incumbent was first reached; the
time to solution of a run is the time of the first entry holding the run's final best. Here an
incumbent is a *feasible* answer, judged by the problem's own evaluation (never a solver's
internal objective), and the history ends with the answer the run returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from qbench.problem import Problem


@dataclass(frozen=True)
class IncumbentHistory:
    """``points``: ``(seconds since the run started, objective)``, strictly improving in time
    order, seconds rounded to the microsecond as the record's times are; ``time_to_best``: the
    time of the last point (the first time the final best was held), ``None`` when the run has
    no feasible answer."""

    points: list[tuple[float, float]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", [(round(float(t), 6), float(v)) for t, v in self.points])

    @property
    def time_to_best(self) -> float | None:
        return self.points[-1][0] if self.points else None

    def as_lists(self) -> list[list[float]]:
        return [[t, v] for t, v in self.points]


def improving(points: Iterable[tuple[float, float]], sense: str) -> list[tuple[float, float]]:
    """The points (in time order) that strictly improve on every earlier one for ``sense``."""
    kept: list[tuple[float, float]] = []
    for seconds, value in sorted(points, key=lambda p: p[0]):
        if not kept or (value > kept[-1][1] if sense == "max" else value < kept[-1][1]):
            kept.append((float(seconds), float(value)))
    return kept


def history(problem: Problem, found: Iterable[tuple[float, np.ndarray]], final: tuple[float, float] | None
            ) -> IncumbentHistory:
    """The run's incumbent history from the solver's improved answers ``found`` (seconds since the
    run started, decision vector; evaluated here, infeasible ones dropped) and its ``final``
    answer ``(seconds, objective)`` (``None`` when infeasible or missing).

    A solver that saw a feasible answer better than the one it returns contradicts itself; that
    is a bug in the solver and raises rather than recording a history the answer does not match.
    """
    points = []
    for seconds, x in found:
        evaluation = problem.evaluate(np.asarray(x))
        if evaluation.feasible:
            points.append((seconds, evaluation.objective))
    kept = improving(points, problem.sense)
    if kept and (final is None or _better(kept[-1][1], final[1], problem.sense)):
        answer = "no feasible answer" if final is None else f"answer {final[1]:g}"
        raise RuntimeError(f"the solver found a feasible objective of {kept[-1][1]:g} but returned {answer}")
    if final is not None:
        kept = improving([*kept, final], problem.sense)
    return IncumbentHistory(kept)


def _better(a: float, b: float, sense: str) -> bool:
    """``a`` strictly better than ``b`` beyond rounding (relative 1e-9)."""
    margin = 1e-9 * max(1.0, abs(b))
    return a > b + margin if sense == "max" else a < b - margin
