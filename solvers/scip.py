"""SCIP on the problem's own MIP model: the exact classical baseline (:mod:`qbench.mip`)."""

from __future__ import annotations

from dataclasses import dataclass

from qbench.mip import solve_mip
from qbench.params import check
from qbench.solver import SolveContext, Solver, SolverResult


@dataclass(frozen=True)
class ScipParams:
    time_limit: float = 60.0
    gap_limit: float = 0.0
    threads: int = 1
    verbose: bool = False

    def __post_init__(self) -> None:
        check(self.time_limit > 0, "time_limit", f"must be positive, got {self.time_limit}")
        check(self.gap_limit >= 0, "gap_limit", f"must be >= 0, got {self.gap_limit}")
        check(self.threads >= 1, "threads", f"must be >= 1, got {self.threads}")


class ScipSolver(Solver):
    """Exact MIP baseline: the problem's strongest standard model (not the QUBO)."""

    name = "scip"
    Params = ScipParams
    uses_qubo = False

    def solve(self, ctx: SolveContext) -> SolverResult:
        p = self.params
        result = solve_mip(ctx.problem, p.time_limit, p.gap_limit, p.threads, p.verbose, ctx.seed)
        return SolverResult(
            x=result.x,
            status=result.status,
            dual_bound=result.dual,
            info={"primal_bound": result.primal, "mip_gap": result.gap, "nodes": result.nodes},
            timings={"scip": result.seconds},
            incumbents=result.incumbents,
        )
