"""Uniform random sampling of the QUBO: the baseline every sampling method must beat.

Draws ``shots`` bitstrings of the formulation's QUBO uniformly at random (from the run seed)
and chooses the answer from them exactly as every sampling solver does
(:func:`qbench.sampling.select_answer`). Give it the sampling budget of the method it is
compared with: ``solver.shots`` = that method's final shots, or its final shots plus shots per
evaluation x evaluations for the whole budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbench.params import check
from qbench.sampling import select_answer
from qbench.solver import FinalSampling, SolveContext, Solver, SolverResult
from qbench.variational import DEFAULT_FINAL_SHOTS


@dataclass(frozen=True)
class RandomParams:
    """``shots``: bitstrings drawn (default: the variational solvers' default final shots)."""

    shots: int = DEFAULT_FINAL_SHOTS

    def __post_init__(self) -> None:
        check(self.shots >= 1, "shots", f"must be >= 1, got {self.shots}")


class RandomSampling(Solver):
    """Uniform bitstrings over the QUBO's variables, judged like any sampled distribution."""

    name = "random"
    Params = RandomParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        encoding = ctx.encoding()
        shots = self.params.shots
        bits = ctx.rng().integers(0, 2, size=(shots, encoding.qubits), dtype=np.int8)
        answer = select_answer(encoding, ctx.problem, bits, np.full(shots, 1.0 / shots), ctx.selection)
        return SolverResult(
            x=answer.x, status="heuristic", qubits=encoding.qubits, info={"shots": shots}, answer=answer,
            final_sampling=FinalSampling(encoding, shots, answer),
        )
