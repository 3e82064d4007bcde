"""Adaptive graph shrinking: fewer qubits by merging strongly correlated variables.

The formulation's QUBO becomes a weighted Max-Cut on ``n + 1`` nodes; the pair of nodes with
the largest ``|correlation|`` (Goemans-Williamson SDP, or the inner solver's sampled two-point
correlations) is merged -- same side or opposite, by the correlation's sign -- until
``target_qubits`` (or ``ratio * n``) remain, recomputing the correlations every
``recalc_every`` merges. Merges that :meth:`Problem.forbids_tie` rules out are skipped. The
shrunk QUBO is solved by the inner solver, the answer unshrunk (exactly: see
:mod:`qbench.shrinking`), decoded, checked and, if infeasible, repaired by the problem's repair.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from qbench.errors import ConfigError
from qbench.formulations.base import Encoding
from qbench.inner import InnerRuns, build_inner_solver
from qbench.maxcut import bits_to_cut, qubo_to_maxcut
from qbench.params import check
from qbench.shrinking import Shrinker, sampled_correlations, sdp_correlations, shrink_to
from qbench.solver import SolveContext, Solver, SolverResult


@dataclass(frozen=True)
class ShrinkParams:
    """See ``conf/solver/shrink.yaml`` for every field's meaning."""

    inner: str = "exact"
    inner_params: dict[str, Any] = field(default_factory=dict)
    target_qubits: int | None = None
    ratio: float = 2 / 3
    correlations: Literal["sdp", "samples"] = "sdp"
    sdp_solver: Literal["CLARABEL", "SCS"] = "CLARABEL"
    recalc_every: int = 1
    constraint_aware: bool = True
    repair: Literal["infeasible", "always", "none"] = "infeasible"

    def __post_init__(self) -> None:
        check(self.target_qubits is None or self.target_qubits >= 1, "target_qubits",
              f"must be >= 1, got {self.target_qubits}")
        check(0 < self.ratio <= 1, "ratio", f"must be in (0, 1], got {self.ratio}")
        check(self.recalc_every >= 1, "recalc_every", f"must be >= 1, got {self.recalc_every}")


class ShrinkSolver(Solver):
    name = "shrink"
    Params = ShrinkParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        from tqdm.auto import tqdm

        p = self.params
        problem = ctx.problem
        inner = InnerRuns(ctx, build_inner_solver(p.inner, p.inner_params))
        encoding = ctx.encoding()
        n = encoding.qubits
        target = p.target_qubits if p.target_qubits is not None else max(1, math.ceil(p.ratio * n))
        if target > n:
            raise ConfigError(f"solver.target_qubits: {target} is more than the {n} QUBO variables")
        shrinker = Shrinker(qubo_to_maxcut(encoding.qubo), original_variables(problem, encoding),
                            problem.forbids_tie if p.constraint_aware else None)

        start = time.perf_counter()
        bar = tqdm(total=n - target, desc="shrink", unit="merge", disable=not ctx.progress, leave=False)
        stop_reason, recomputed = shrink_to(
            shrinker, target, lambda s: self._correlations(s, inner, ctx), p.recalc_every, lambda: bar.update(1)
        )
        bar.close()
        shrink_seconds = time.perf_counter() - start - inner.seconds

        shrunk = shrunk_encoding(shrinker, encoding)
        x, result = inner.solve(shrunk)
        before = problem.evaluate(x)
        answer, repaired = x, False
        if p.repair == "always" or (p.repair == "infeasible" and not before.feasible):
            try:
                answer, repaired = np.asarray(problem.repair(x), dtype=np.int8), True
            except NotImplementedError:
                pass
        after = problem.evaluate(answer)
        return SolverResult(
            x=answer,
            status="heuristic",
            qubits=shrinker.num_variables,
            info={
                "inner": p.inner,
                "original_qubits": n,
                "target_qubits": target,
                "shrunk_qubits": shrinker.num_variables,
                "stop_reason": stop_reason,
                "correlations": p.correlations,
                "correlation_solves": recomputed,
                "merges": [vars(m) for m in shrinker.merges],
                "refused_merges": shrinker.refused,
                "inner_solves": inner.solves,
                "inner_status": result.status,
                "feasible_before_repair": before.feasible,
                "objective_before_repair": before.objective,
                "violation_before_repair": before.violation,
                "repaired": repaired,
                "feasible_after_repair": after.feasible,
                "repair_changed_bits": int(np.count_nonzero(np.asarray(answer) != np.asarray(x))),
                "inner_info": {k: v for k, v in result.record_info().items() if k != "trace"},
            },
            timings={"shrink": max(shrink_seconds, 0.0), **inner.timings()},
            # The inner solver's sampling over the shrunk QUBO, if it sampled (before repair).
            final_sampling=result.final_sampling,
        )

    def _correlations(self, shrinker: Shrinker, inner: InnerRuns, ctx: SolveContext) -> np.ndarray:
        if self.params.correlations == "sdp":
            return sdp_correlations(shrinker.graph, self.params.sdp_solver)
        samples = inner.samples(shrunk_encoding(shrinker, ctx.encoding()))
        if samples is None:
            raise ConfigError(f"solver.correlations=samples: inner solver {self.params.inner!r} draws no "
                              "samples; choose a sampling one (sa, qaoa, vqe, cvar_vqe, ...) or correlations=sdp")
        bits, probabilities = samples
        return sampled_correlations(bits_to_cut(bits), probabilities)


def original_variables(problem, encoding: Encoding) -> int:
    """How many leading QUBO variables are the problem's own (in its order); the tie rule
    applies to those only. 0 when the encoding does not start with them."""
    names = tuple(v.name for v in problem.to_quadratic_program().variables)
    k = encoding.num_original
    return k if encoding.qubo.names[:k] == names[:k] and k == len(names) else 0


def shrunk_encoding(shrinker: Shrinker, encoding: Encoding) -> Encoding:
    """The shrunk QUBO, decoded by unshrinking and then the formulation's own decoder."""
    qubo = shrinker.qubo()

    def decode(bits: np.ndarray) -> np.ndarray:
        return encoding.decode(shrinker.unshrink_bits(bits))

    return Encoding(
        formulation=f"shrink({encoding.formulation})",
        qubo=qubo,
        decoder=decode,
        num_original=encoding.num_original,
        info={"original_qubits": encoding.qubits},
    )
