"""Lagrangian dual solvers: inequality constraints dualised, no slack variables.

Every outer iteration solves the relaxed QUBO ``g(x) + u.(A x - b) + equality terms`` (qubits =
the problem's binaries) with the inner solver, takes the residual of the returned ``x`` as the
supergradient and lets the chosen method (:mod:`qbench.dual.methods`) pick the next
multipliers. Equality rows (assignment rows and columns) get a fixed squared penalty, or, with
``method=augmented``, multipliers and a growing penalty.

The dual value bounds the optimum from the correct side (below when minimising, above when
maximising) for every ``u >= 0`` -- the relaxed QUBO is at most the objective on every feasible
point, and the canonical model's optimum is the native one -- but only when the inner answer is
a proven minimiser of the relaxed QUBO (``inner=exact``). On an integral objective the reported
bound is rounded to the integer on its side (:func:`qbench.problem.integral_bound`). With a
heuristic inner solver the relaxed value of its answer is only an estimate of the dual function,
so it is recorded as ``dual_estimate`` and the run reports no bound. Primal answers: the best
feasible iterate, or the best repaired iterate (``repair=iterates``, the usual Lagrangian
heuristic), or the repaired last iterate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from qbench.dual import Cut, DualSettings, make_method
from qbench.errors import QbenchError
from qbench.formulations.base import objective_range_penalty
from qbench.formulations.penalty import PenaltyQubo
from qbench.inner import InnerRuns, build_inner_solver
from qbench.linear_model import LinearModel, identity_encoding
from qbench.params import check
from qbench.problem import integral_bound
from qbench.solver import SolveContext, Solver, SolverResult

Method = Literal["subgradient", "dual_averaging", "cutting_plane", "bundle", "augmented"]


@dataclass(frozen=True)
class LagrangianParams:
    """See ``conf/solver/lagrangian.yaml`` for every field's meaning."""

    method: Method = "subgradient"
    inner: str = "exact"
    inner_params: dict[str, Any] = field(default_factory=dict)
    inner_maxiter: int | None = 20
    max_iter: int = 15
    step: Literal["polyak", "diminishing"] = "polyak"
    step_size: float = 1.0
    initial_multiplier: float = 0.0
    multiplier_bound: float | str = "auto"
    equality_penalty: float | str = "auto"
    bundle_m: float = 0.1
    rho: float | str = "auto"
    rho_growth: float = 2.0
    repair: Literal["iterates", "last", "none"] = "iterates"
    tol: float = 1e-6

    def __post_init__(self) -> None:
        check(self.max_iter >= 1, "max_iter", f"must be >= 1, got {self.max_iter}")
        check(self.inner_maxiter is None or self.inner_maxiter >= 1, "inner_maxiter",
              f"must be >= 1, got {self.inner_maxiter}")
        check(self.step_size > 0, "step_size", f"must be positive, got {self.step_size}")
        check(self.initial_multiplier >= 0, "initial_multiplier", f"must be >= 0, got {self.initial_multiplier}")
        for name in ("multiplier_bound", "equality_penalty", "rho"):
            value = getattr(self, name)
            if isinstance(value, str):
                check(value == "auto", name, f"expected 'auto' or a positive number, got {value!r}")
            else:
                check(value > 0, name, f"must be positive, got {value}")
        check(0 < self.bundle_m < 1, "bundle_m", f"must be in (0, 1), got {self.bundle_m}")
        check(self.rho_growth >= 1, "rho_growth", f"must be >= 1, got {self.rho_growth}")
        check(self.tol >= 0, "tol", f"must be >= 0, got {self.tol}")
        check(isinstance(self.inner, str) and self.inner != "", "inner", "must name a solver config")


def multiplier_scale(model: LinearModel, objective_range: float) -> float:
    """Objective units per constraint unit: the objective's range per variable over the largest
    constraint coefficient. Step sizes and penalties are measured in it, so that the defaults
    behave alike on instances whose profits are 10 or 100000."""
    rows = np.vstack([model.ineq, model.eq]) if model.eq.size else model.ineq
    largest = float(np.max(np.abs(rows))) if rows.size else 1.0
    return objective_range / (model.num_variables * max(largest, 1e-12))


class LagrangianSolver(Solver):
    name = "lagrangian"
    Params = LagrangianParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        from tqdm.auto import tqdm

        called = time.perf_counter()
        p = self.params
        problem = ctx.problem
        inner = InnerRuns(ctx, build_inner_solver(p.inner, p.inner_params, {"maxiter": p.inner_maxiter}))
        qp = problem.to_quadratic_program()
        model = LinearModel.from_program(qp, problem.kind)
        objective_range = objective_range_penalty(qp)
        scale = multiplier_scale(model, objective_range)
        smallest = _smallest_coefficient(model)
        settings = DualSettings(
            scale=scale,
            upper=objective_range / smallest if p.multiplier_bound == "auto" else float(p.multiplier_bound),
            step=p.step,
            step_size=p.step_size,
            bundle_m=p.bundle_m,
            rho=scale if p.rho == "auto" else float(p.rho),
            rho_growth=p.rho_growth,
            # Beyond this the penalty alone outweighs every objective gain (exact for integer rows).
            rho_max=max(2 * objective_range, scale if p.rho == "auto" else float(p.rho)),
            tol=p.tol,
        )
        penalty = objective_range if p.equality_penalty == "auto" else float(p.equality_penalty)
        m_ineq, m_eq = len(model.ineq_names), len(model.eq_names)
        augmented = p.method == "augmented"
        dim = m_ineq + (m_eq if augmented else 0)
        lower = np.concatenate([np.zeros(m_ineq), np.full(dim - m_ineq, -np.inf)])
        start = np.concatenate([np.full(m_ineq, p.initial_multiplier), np.zeros(dim - m_ineq)])
        method = make_method(p.method, settings, lower, start)

        sense = problem.sense
        best_dual = -np.inf  # minimisation form, over proven iterations only
        estimate = -np.inf  # the same over all iterations (an estimate unless all are proven)
        all_proven = True
        best: tuple[float, np.ndarray, str] | None = None  # (native objective, x, source)
        incumbents: list[tuple[float, np.ndarray]] = []  # (seconds, x) each time best improved
        trace: list[dict[str, Any]] = []
        u = method.start.copy()
        x = None
        stop_reason = "max_iter"
        bar = tqdm(range(p.max_iter), desc=f"lagrangian/{p.method}", unit="it", disable=not ctx.progress, leave=False)
        for k in bar:
            eq_weight = method.eq_square()
            qubo = model.qubo(
                ineq_linear=u[:m_ineq],
                eq_linear=u[m_ineq:] if augmented else None,
                eq_square=penalty if eq_weight is None else eq_weight,
            )
            x, result = inner.solve(identity_encoding(qubo, "lagrangian", relaxes_model=True))
            value = qubo.energy(x)
            proven = inner.proves_optimal(result)
            all_proven &= proven
            estimate = max(estimate, value)
            if proven:
                best_dual = max(best_dual, value)
            residual = model.ineq_residual(x)
            subgradient = np.concatenate([residual, model.eq_residual(x)]) if augmented else residual
            evaluation = problem.evaluate(x)
            candidates = [(x, f"iterate {k}")] if evaluation.feasible else []
            if p.repair == "iterates":
                # Repair also completes a feasible iterate (MDKP: greedy fill), so try it on all.
                candidates += _repaired(problem, x, f"repair of iterate {k}")
            for cand, source in candidates:
                objective = problem.evaluate(cand).objective
                if best is None or _better(objective, best[0], sense):
                    best = (objective, np.asarray(cand, dtype=np.int8), source)
                    incumbents.append((time.perf_counter() - called, best[1]))
            target = None if best is None else model.sign * best[0]
            trace.append({
                "iteration": k,
                "multipliers": u.tolist(),
                "dual_value": model.sign * value,
                "bound_valid": proven,
                "objective": evaluation.objective,
                "feasible": evaluation.feasible,
                "violation": evaluation.violation,
                **({"equality_weight": eq_weight} if eq_weight is not None else {}),
            })
            bar.set_postfix(dual=f"{model.sign * estimate:.6g}", primal="-" if best is None else f"{best[0]:.6g}", refresh=False)
            # x is optimal when it is feasible and complementary (u.r = 0 on the inequalities).
            if proven and evaluation.feasible and abs(u[:m_ineq] @ residual) <= p.tol * max(1.0, abs(value)):
                stop_reason = "complementary feasible iterate"
                break
            if best is not None and all_proven and target - best_dual <= p.tol * max(1.0, abs(target)):
                stop_reason = "bound meets primal"
                break
            u_next = method.next(Cut(u.copy(), value, subgradient), estimate, target)
            trace[-1].update(method.last)
            if method.converged:
                stop_reason = "method converged"
                break
            u = u_next
        bar.close()

        if best is None and p.repair != "none":
            repaired = _repaired(problem, x, "repair of the last iterate")
            if repaired:
                cand, source = repaired[0]
                best = (problem.evaluate(cand).objective, cand, source)
                incumbents.append((time.perf_counter() - called, cand))
        answer, source = (best[1], best[2]) if best is not None else (x, "last iterate (no repair)")
        bound = model.sign * best_dual if all_proven and np.isfinite(best_dual) else None
        if bound is not None and problem.objective_is_integral():
            bound = integral_bound(bound, sense)
        proven_optimal = bound is not None and best is not None and abs(bound - best[0]) <= p.tol * max(1.0, abs(bound))
        slack_qubits = _slack_formulation_qubits(problem)
        return SolverResult(
            x=answer,
            status="optimal" if proven_optimal else "heuristic",
            qubits=model.num_variables,
            dual_bound=bound,
            info={
                "method": p.method,
                "inner": p.inner,
                "bound_status": "valid" if bound is not None else "estimate",
                "dual_estimate": float(model.sign * estimate),
                "best_primal": None if best is None else float(best[0]),
                "primal_source": source,
                "iterations": len(trace),
                "inner_solves": inner.solves,
                "stop_reason": stop_reason,
                "qubits": model.num_variables,
                "slack_formulation_qubits": slack_qubits,
                "dualised_constraints": list(model.ineq_names),
                "equality_constraints": list(model.eq_names),
                "equality_handling": ("augmented" if augmented else "penalty") if m_eq else None,
                "equality_penalty": penalty if m_eq and not augmented else None,
                "multiplier_scale": scale,
                "multiplier_box": settings.upper,
                "trace": trace,
            },
            timings=inner.timings(),
            incumbents=incumbents,
        )


def _better(a: float, b: float, sense: str) -> bool:
    return a > b if sense == "max" else a < b


def _repaired(problem, x, source: str) -> list[tuple[np.ndarray, str]]:
    """``problem.repair(x)`` when the problem has a repair and it yields a feasible vector."""
    try:
        fixed = np.asarray(problem.repair(np.asarray(x)), dtype=np.int8)
    except NotImplementedError:
        return []
    return [(fixed, source)] if problem.evaluate(fixed).feasible else []


def _smallest_coefficient(model: LinearModel) -> float:
    rows = np.abs(model.ineq)
    nonzero = rows[rows > 0]
    return float(nonzero.min()) if nonzero.size else 1.0


def _slack_formulation_qubits(problem) -> int | None:
    """Qubits of the default penalty QUBO with slack on the same problem, for comparison."""
    try:
        return PenaltyQubo().encode(problem).qubits
    except QbenchError:  # a comparison figure, never a reason to fail the run
        return None
