"""Simulated annealing on the QUBO with dwave-samplers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from qbench.params import check
from qbench.sampling import select_answer
from qbench.solver import FinalSampling, SolveContext, Solver, SolverResult


@dataclass(frozen=True)
class SaParams:
    num_reads: int = 100
    num_sweeps: int = 1000
    beta_schedule: Literal["geometric", "linear"] = "geometric"

    def __post_init__(self) -> None:
        check(self.num_reads >= 1, "num_reads", f"must be >= 1, got {self.num_reads}")
        check(self.num_sweeps >= 1, "num_sweeps", f"must be >= 1, got {self.num_sweeps}")


class SimulatedAnnealingSolver(Solver):
    name = "sa"
    Params = SaParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        from dwave.samplers import SimulatedAnnealingSampler

        encoding = ctx.encoding()
        n = encoding.qubits
        sampleset = SimulatedAnnealingSampler().sample_qubo(
            encoding.qubo.to_dict(),
            num_reads=self.params.num_reads,
            num_sweeps=self.params.num_sweeps,
            beta_schedule_type=self.params.beta_schedule,
            seed=ctx.seed,
        )
        # Variables with no term at all do not appear in the sample; they are free, take 0.
        bits = np.zeros((len(sampleset), n), dtype=np.int8)
        for column, variable in enumerate(sampleset.variables):
            bits[:, variable] = sampleset.record.sample[:, column]
        weights = np.asarray(sampleset.record.num_occurrences, dtype=float)
        answer = select_answer(encoding, ctx.problem, bits, weights / weights.sum(), ctx.selection)
        return SolverResult(x=answer.x, status="heuristic", answer=answer,
                            final_sampling=FinalSampling(encoding, self.params.num_reads, answer))
