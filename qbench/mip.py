"""A problem's own MIP model solved by SCIP: build it with pyscipopt, solve it under limits, read
a typed result.

Used by the SCIP solver (``solver=scip``, the exact classical baseline) and by the runner, which
proves a reference optimum for an instance that has none (:func:`qbench.runner.with_proven_reference`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from qbench.problem import Problem, integral_bound

#: SCIP's status strings mapped to the record's vocabulary.
_STATUS = {
    "optimal": "optimal",
    "timelimit": "time_limit",
    "gaplimit": "gap_limit",
    "infeasible": "infeasible",
    "unbounded": "unbounded",
    "inforunbd": "infeasible_or_unbounded",
    "nodelimit": "node_limit",
    "memlimit": "memory_limit",
    "userinterrupt": "interrupted",
}


@dataclass(frozen=True)
class MipSolution:
    """Outcome of one SCIP solve, values in the problem's native units (integers when the
    objective is integral; ``gap`` is SCIP's own)."""

    x: np.ndarray | None
    status: str
    primal: float | None
    dual: float | None
    gap: float | None
    nodes: int
    seconds: float
    #: ``(seconds since solve_mip was called, decision vector)`` of every new best solution SCIP
    #: found, in order (SCIP's BESTSOLFOUND events).
    incumbents: list[tuple[float, np.ndarray]] = field(default_factory=list)


def solve_mip(problem: Problem, time_limit: float, gap_limit: float = 0.0, threads: int = 1,
              verbose: bool = False, seed: int = 0) -> MipSolution:
    """Build ``problem``'s MIP, solve it with SCIP within ``time_limit`` seconds (and relative
    ``gap_limit``, on ``threads`` threads, SCIP's output shown when ``verbose``, SCIP's random
    seed shifted by ``seed``), and read the result."""
    from pyscipopt import Model

    called = time.perf_counter()
    model = Model(f"{problem.kind}_{problem.name}")
    if not verbose:
        model.hideOutput()
    model.setParam("limits/time", time_limit)
    model.setParam("limits/gap", gap_limit)
    model.setParam("parallel/maxnthreads", threads)
    model.setParam("randomization/randomseedshift", seed)
    extract = problem.build_mip(model)
    recorder = _incumbent_recorder(extract, called)
    model.includeEventhdlr(recorder, "qbench_incumbents", "records every new best solution")
    start = time.perf_counter()
    model.optimize()
    seconds = time.perf_counter() - start
    has_solution = model.getNSols() > 0
    primal = _finite(model.getPrimalbound()) if has_solution else None
    dual = _finite(model.getDualbound())
    if problem.objective_is_integral():
        # SCIP's values carry its tolerances (4014.9999999999995 for 4015): an integral
        # objective's value is the nearest integer, its bound the integer on the bound's side.
        primal = None if primal is None else float(round(primal))
        dual = None if dual is None else integral_bound(dual, problem.sense)
    return MipSolution(
        x=extract(model) if has_solution else None,
        status=_STATUS.get(model.getStatus(), model.getStatus()),
        primal=primal,
        dual=dual,
        gap=_finite(model.getGap()) if has_solution else None,
        nodes=int(model.getNNodes()),
        seconds=seconds,
        incumbents=recorder.found,
    )


class _SolutionView:
    """A problem's MIP extractor reads values with ``m.getVal(var)`` (the best solution); this
    view answers the same call from one given solution, so every incumbent decodes with the
    problem's own extractor."""

    def __init__(self, model, solution) -> None:
        self.model, self.solution = model, solution

    def getVal(self, var):  # noqa: N802 - the name the extractors call
        return self.model.getSolVal(self.solution, var)


def _incumbent_recorder(extract, origin: float):
    """A SCIP event handler on BESTSOLFOUND keeping ``(seconds since origin, decision vector)`` of
    each new best solution in its ``found`` list (pyscipopt is imported only when SCIP runs)."""
    from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

    class IncumbentRecorder(Eventhdlr):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[float, np.ndarray]] = []

        def eventinit(self):
            self.model.catchEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

        def eventexit(self):
            self.model.dropEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

        def eventexec(self, event):
            seconds = time.perf_counter() - origin
            self.found.append((seconds, extract(_SolutionView(self.model, self.model.getBestSol()))))

    return IncumbentRecorder()


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) and abs(value) < 1e19 else None
