"""A record's ``solver_info`` read back as typed values.

Solvers state their facts as typed fields of :class:`qbench.solver.SolverResult`, which
:meth:`~qbench.solver.SolverResult.record_info` writes into the record's ``solver_info`` under
the keys of :meth:`qbench.sampling.Answer.info`, :meth:`qbench.backends.base.CircuitMetrics.as_dict`
and :meth:`qbench.variational.OptimizerRun.as_dict`. The results table, the run summary and the
dashboard read them through :class:`SolverInfo`, so those keys are read in this one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SolverInfo:
    """The facts of a record's ``solver_info`` that reports use; each ``None`` when absent.

    ``optimal_probability`` / ``feasible_probability``: of the distribution the answer was
    chosen from; ``sampled_here``: whether the record states them itself (a graph shrinking run's
    answer comes from its inner solver, whose facts are ``inner``); ``two_qubit_gates``: of the
    transpiled circuit; ``trace``: as recorded (an optimizer's value per evaluation, or the
    Lagrangian dual's one dict per iteration).
    """

    optimal_probability: float | None = None
    feasible_probability: float | None = None
    sampled_here: bool = False
    two_qubit_gates: int | None = None
    trace: Any = None
    inner: SolverInfo | None = None

    @classmethod
    def read(cls, info: Mapping[str, Any] | None) -> SolverInfo:
        info = info or {}
        inner = info.get("inner_info")
        return cls(
            optimal_probability=info.get("optimal_probability"),
            feasible_probability=info.get("feasible_probability"),
            sampled_here="optimal_probability" in info,
            two_qubit_gates=info.get("two_qubit_gates"),
            trace=info.get("trace"),
            inner=cls.read(inner) if isinstance(inner, Mapping) else None,
        )

    def sampled(self) -> SolverInfo:
        """The facts of the solve whose samples the answer came from: these, or the inner
        solver's when this record states no probabilities of its own."""
        if self.sampled_here:
            return self
        return self.inner if self.inner is not None else SolverInfo()

    def value_trace(self) -> list[float] | None:
        """The optimizer's trace, its numbers only (entries of another kind are left out)."""
        if not isinstance(self.trace, list):
            return None
        return [float(v) for v in self.trace if isinstance(v, (int, float))]

    def iteration_trace(self) -> list[dict[str, Any]] | None:
        """A trace of one dict per iteration (the Lagrangian dual's); ``None`` for any other."""
        trace = self.trace
        if not isinstance(trace, list) or not trace or not all(isinstance(t, dict) for t in trace):
            return None
        return trace
