"""Repairing a solver's final answer: the problem's own heuristic, kept only when it is better.

``repair: greedy`` (the top-level config key) runs :meth:`qbench.problem.Problem.repair` on the
answer a solver returns and keeps the repaired vector only if it is strictly better than the raw
one (:func:`better`): a repair never makes an answer worse. ``repair: none`` keeps the raw answer.
Either way the record holds both, the final answer in ``objective``/``feasible``/``violation``/
``gap`` and the solver's own in ``raw_*``, so raw and repaired figures can be reported side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from qbench.errors import ConfigError
from qbench.problem import GAP_TOLERANCE, Evaluation, Problem, Sense

RepairName = Literal["none", "greedy"]
REPAIRS: tuple[str, ...] = get_args(RepairName)


def repair_setting(config: dict[str, Any]) -> RepairName:
    """The validated ``repair`` value of a run config (``greedy`` when absent)."""
    value = config.get("repair", "greedy")
    if value not in REPAIRS:
        raise ConfigError(f"repair: {value!r} is not allowed; choose one of {', '.join(REPAIRS)}")
    return value


def better(candidate: Evaluation, incumbent: Evaluation, sense: Sense) -> bool:
    """Whether ``candidate`` is strictly better than ``incumbent``: feasible beats infeasible;
    between feasible answers the better objective by more than float noise (relative
    :data:`~qbench.problem.GAP_TOLERANCE`); between infeasible answers the lower violation."""
    if candidate.feasible != incumbent.feasible:
        return candidate.feasible
    if candidate.feasible:
        a, b = candidate.objective, incumbent.objective
        margin = GAP_TOLERANCE * max(1.0, abs(b))
        return a > b + margin if sense == "max" else a < b - margin
    return candidate.violation < incumbent.violation - GAP_TOLERANCE * max(1.0, abs(incumbent.violation))


@dataclass(frozen=True)
class RepairedAnswer:
    """The final answer ``x`` and its evaluation, the solver's raw answer's evaluation, and the
    repair that was run (``none`` when none was asked for or the problem has none)."""

    x: np.ndarray
    evaluation: Evaluation
    raw: Evaluation
    repair: RepairName


def repair_answer(problem: Problem, x: np.ndarray, repair: RepairName) -> RepairedAnswer:
    """Evaluate ``x`` and, for ``greedy``, its repair; the final answer is the repaired vector
    when :func:`better`, else ``x`` itself."""
    x = np.asarray(x)
    raw = problem.evaluate(x)
    if repair == "none":
        return RepairedAnswer(x, raw, raw, "none")
    try:
        fixed = np.asarray(problem.repair(x), dtype=np.int8)
    except NotImplementedError:  # a problem class without a repair heuristic
        return RepairedAnswer(x, raw, raw, "none")
    repaired = problem.evaluate(fixed)
    if better(repaired, raw, problem.sense):
        return RepairedAnswer(fixed, repaired, raw, repair)
    return RepairedAnswer(x, raw, raw, repair)
