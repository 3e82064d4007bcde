"""The classical half of every variational method: optimizers selectable by name, optimisation
traces and progress (the cost they minimise, expectation or CVaR, is :mod:`qbench.qubo_cost`).

Optimizers are SciPy's (COBYLA, Powell, L-BFGS-B, SLSQP, Nelder-Mead) and qiskit-optimization's
SPSA; nothing here is a home-made optimizer.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qbench.params import check
from qbench.qubo import Qubo
from qbench.qubo_cost import DiagonalCost, normalisation

log = logging.getLogger(__name__)

OptimizerName = Literal["COBYLA", "Powell", "L-BFGS-B", "SLSQP", "SPSA", "Nelder-Mead"]

#: Shots of the final sampling from which a variational method chooses its answer, by default.
DEFAULT_FINAL_SHOTS = 10000


@dataclass(frozen=True)
class OptimizerSettings:
    """Which optimizer and how long: ``maxiter`` bounds objective evaluations for
    derivative-free methods and iterations for the others."""

    optimizer: OptimizerName = "COBYLA"
    maxiter: int = 100
    tol: float | None = None

    def __post_init__(self) -> None:
        check(self.maxiter >= 1, "maxiter", f"must be >= 1, got {self.maxiter}")
        check(self.tol is None or self.tol > 0, "tol", f"must be positive, got {self.tol}")


#: Optimizers whose first ``n + 1`` evaluations only build the initial simplex of ``n``
#: parameters: a budget below ``n + 2`` optimises nothing (SciPy's COBYLA then raises its budget
#: to ``n + 2`` behind the caller's back, with "Invalid MAXFUN"; Nelder-Mead stops in the simplex).
SIMPLEX_OPTIMIZERS = ("COBYLA", "Nelder-Mead")


def minimum_budget(optimizer: str, num_parameters: int) -> int:
    """The fewest evaluations with which ``optimizer`` takes a step on ``num_parameters``."""
    return num_parameters + 2 if optimizer in SIMPLEX_OPTIMIZERS else 1


@dataclass
class OptimizationResult:
    """``success`` and ``message`` are the optimizer's own verdict (SciPy's ``result.success``:
    False when the budget ran out before its convergence test; ``None`` for SPSA, which has none)."""

    x: np.ndarray
    fun: float
    evaluations: int
    iterations: int | None
    trace: list[float]
    seconds: float
    message: str
    success: bool | None = None
    #: Set when the configured budget was below :func:`minimum_budget` and was raised to it.
    budget_note: str | None = None


def minimize(
    fun: Callable[[np.ndarray], float],
    x0: np.ndarray,
    settings: OptimizerSettings,
    seed: int = 0,
    progress: bool = False,
    label: str = "optimise",
    jac: Callable[[np.ndarray], np.ndarray] | None = None,
    config_path: str = "solver",
) -> OptimizationResult:
    """Minimise ``fun`` from ``x0``; every evaluation is traced and shown on a progress bar.

    ``jac``, the gradient of ``fun``, is used by the gradient-based methods (L-BFGS-B, SLSQP)
    instead of finite differences, and ignored by the others. A budget below
    :func:`minimum_budget` is raised to it, noted in ``budget_note`` (naming
    ``<config_path>.maxiter``)."""
    import scipy.optimize  # noqa: F401  (loads SciPy's own OpenBLAS before its threads are limited below)
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    from qbench import compilation

    n = int(np.asarray(x0).size)
    need = minimum_budget(settings.optimizer, n)
    budget_note = None
    if settings.maxiter < need:
        # Below n + 2 a simplex method only evaluates its first simplex (SciPy's COBYLA even
        # raises the budget itself, silently): the budget is raised to the least that takes one
        # step, and the record says so.
        budget_note = (f"{config_path}.maxiter raised from {settings.maxiter} to {need}: {settings.optimizer} "
                       f"needs n + 2 evaluations for n = {n} parameters (its first simplex, then one step)")
        log.warning(budget_note)
        settings = dataclasses.replace(settings, maxiter=need)

    trace: list[float] = []
    best = [np.inf, np.asarray(x0, dtype=float)]
    # The time left is estimated here, not by tqdm: from the evaluations after the first (which
    # also pays one-off imports and set-up) and without time spent compiling kernels (announced
    # on its own line, see qbench.compilation).
    bar = tqdm(total=settings.maxiter, desc=label, unit="eval", disable=not progress, leave=False,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
    start = time.perf_counter()
    clock = [start, compilation.seconds()]  # since when the rate is measured, compiling until then

    def traced(x: np.ndarray) -> float:
        value = float(fun(np.asarray(x, dtype=float)))
        trace.append(value)
        if value < best[0]:
            best[0], best[1] = value, np.array(x, dtype=float)
        now, compiled = time.perf_counter(), compilation.seconds()
        working = max(now - clock[0] - (compiled - clock[1]), 0.0)
        per = working / max(len(trace) - 1, 1)
        if len(trace) == 1:
            clock[:] = now, compiled
        left = max(settings.maxiter - len(trace), 0) * per
        bar.set_postfix_str(f"left {tqdm.format_interval(left)}, best={best[0]:.6g}", refresh=False)
        bar.update(1)
        return value

    # One BLAS thread: the optimizers' linear algebra is small, and with more threads OpenBLAS
    # spins against the simulator's (SLSQP, 210 parameters, 100 iterations, on 2 busy cores:
    # 0.1 s on one thread, 3-6 s on two; a PCE run on SAC-94 hp1 36 s -> 12 s).
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            if settings.optimizer == "SPSA":
                iterations, message = _spsa(traced, x0, settings, seed)
                success = None
            else:
                iterations, message, success = _scipy(traced, x0, settings, jac)
    finally:
        bar.close()
    return OptimizationResult(
        x=best[1], fun=float(best[0]), evaluations=len(trace), iterations=iterations,
        trace=trace, seconds=time.perf_counter() - start, message=message, success=success,
        budget_note=budget_note,
    )


def _scipy(fun, x0, settings: OptimizerSettings, jac=None) -> tuple[int | None, str, bool]:
    from scipy.optimize import minimize as scipy_minimize

    options: dict = {"maxiter": settings.maxiter}
    if settings.optimizer in ("Powell", "Nelder-Mead"):
        options = {"maxfev": settings.maxiter}
    if settings.optimizer == "COBYLA":
        options = {"maxiter": settings.maxiter}  # COBYLA's maxiter counts evaluations
    if settings.optimizer not in ("L-BFGS-B", "SLSQP"):
        jac = None
    result = scipy_minimize(fun, np.asarray(x0, dtype=float), method=settings.optimizer, jac=jac, tol=settings.tol,
                            options=options)
    return (int(result.nit) if hasattr(result, "nit") else None), str(result.message), bool(result.success)


def _spsa(fun, x0, settings: OptimizerSettings, seed: int) -> tuple[int | None, str]:
    from qiskit_optimization.optimizers import SPSA
    from qiskit_optimization.utils import algorithm_globals

    algorithm_globals.random_seed = seed
    # SPSA spends 2 evaluations per iteration (plus calibration); keep the evaluation budget.
    spsa = SPSA(maxiter=max(1, settings.maxiter // 2 - 25))
    result = spsa.minimize(fun, np.asarray(x0, dtype=float))
    return int(result.nit) if result.nit is not None else None, "SPSA finished"


@dataclass(frozen=True)
class SamplingSettings:
    """``alpha``: CVaR fraction (1 = expectation); ``shots``: shots per cost evaluation
    (``None`` = exact expectation where the backend has it); ``final_shots``: shots of the final
    sampling from which the answer is chosen; ``normalize``: divide the Hamiltonian by its
    largest coefficient before it enters the circuit."""

    alpha: float = 1.0
    shots: int | None = None
    final_shots: int = DEFAULT_FINAL_SHOTS
    normalize: bool = True

    def __post_init__(self) -> None:
        check(0 < self.alpha <= 1, "alpha", f"must be in (0, 1], got {self.alpha}")
        check(self.shots is None or self.shots >= 1, "shots", f"must be >= 1, got {self.shots}")
        check(self.final_shots >= 1, "final_shots", f"must be >= 1, got {self.final_shots}")


def run_diagonal_variational(ctx, cost: DiagonalCost, circuit, x0: np.ndarray, optimizer: OptimizerSettings,
                             sampling: SamplingSettings, label: str, structure=None):
    """Optimise ``circuit``'s parameters for ``cost`` on the context's backend, sample the
    optimum, and choose the answer from the samples (:func:`qbench.sampling.select_answer`)."""
    from qbench.sampling import select_answer
    from qbench.solver import FinalSampling

    backend = ctx.backend().seeded(ctx.seed)
    prepared = backend.prepare(circuit, structure=structure)

    def objective(x: np.ndarray) -> float:
        return float(backend.cost(prepared, cost, x[None, :], sampling.shots)[0])

    executed_before = backend.timings["execute"]
    result = minimize(objective, x0, optimizer, seed=ctx.seed, progress=ctx.progress, label=label,
                      config_path=ctx.config_path)
    optimise_execute = backend.timings["execute"] - executed_before
    (final,) = backend.sample(prepared, result.x[None, :], sampling.final_shots)
    unique, probabilities = final.distribution()
    answer = select_answer(ctx.encoding(), ctx.problem, unique, probabilities, ctx.selection)
    return variational_result(
        backend, prepared, answer, result, x0, optimizer, optimise_execute,
        final_sampling=FinalSampling(ctx.encoding(), sampling.final_shots, answer),
        alpha=sampling.alpha, hamiltonian_scale=cost.scale, final_shots=sampling.final_shots,
    )


@dataclass(frozen=True)
class OptimizerRun:
    """The classical optimizer's run as a record states it: which optimizer (``name``), what it
    returned (``result``, with the trace of every evaluation) and where it started (``x0``)."""

    name: str
    result: OptimizationResult
    x0: np.ndarray

    def as_dict(self) -> dict:
        result = self.result
        return {
            "optimizer": self.name,
            "optimizer_evaluations": result.evaluations,
            "optimizer_iterations": result.iterations,
            "optimizer_message": result.message,
            "optimizer_success": result.success,
            "optimizer_budget_note": result.budget_note,
            "final_cost": result.fun,
            "optimal_parameters": result.x.tolist(),
            "initial_parameters": np.asarray(self.x0, dtype=float).tolist(),
            "trace": result.trace,
        }


def variational_result(backend, prepared, answer, result: OptimizationResult, x0: np.ndarray,
                       optimizer: OptimizerSettings, optimise_execute: float, final_sampling=None, **extra):
    """The :class:`~qbench.solver.SolverResult` of a variational method, recorded alike for all:
    the chosen answer (:class:`qbench.sampling.Answer`), circuit metrics, the backend's counters,
    the optimizer's run, ``extra`` method facts (``info``), and the time breakdown (``optimise``
    is the optimizer's wall time less ``optimise_execute``, the circuit time spent inside it).
    ``final_sampling`` (:class:`~qbench.solver.FinalSampling`) when the answer was drawn from a
    sampled distribution."""
    from qbench.solver import SolverResult

    timings = {
        "transpile": backend.timings["transpile"],
        "execute": backend.timings["execute"],
        "optimise": max(result.seconds - optimise_execute, 0.0),
    }
    return SolverResult(x=answer.x, status="heuristic", qubits=prepared.metrics.qubits, info=extra,
                        timings=timings, final_sampling=final_sampling, answer=answer, circuit=prepared.metrics,
                        backend_usage=backend.usage(), optimizer_run=OptimizerRun(optimizer.optimizer, result, x0))


@dataclass(frozen=True)
class OptimizerParams:
    """The classical optimizer's settings as flat solver fields (``solver.optimizer``,
    ``solver.maxiter``, ``solver.tol``); solvers subclass it and may change the defaults."""

    optimizer: OptimizerName = "COBYLA"
    maxiter: int = 100
    tol: float | None = None

    def __post_init__(self) -> None:
        self.optimizer_settings()

    def optimizer_settings(self) -> OptimizerSettings:
        return OptimizerSettings(self.optimizer, self.maxiter, self.tol)


@dataclass(frozen=True)
class VariationalParams(OptimizerParams):
    """Settings every sampling variational solver shares (flat, so they read as ``solver.maxiter``).

    See :class:`OptimizerSettings` and :class:`SamplingSettings` for their meaning.
    """

    alpha: float = 1.0
    shots: int | None = None
    final_shots: int = DEFAULT_FINAL_SHOTS
    normalize: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.sampling_settings()

    def sampling_settings(self) -> SamplingSettings:
        return SamplingSettings(self.alpha, self.shots, self.final_shots, self.normalize)

    def cost(self, qubo: Qubo) -> DiagonalCost:
        return DiagonalCost(qubo, alpha=self.alpha, scale=normalisation(qubo) if self.normalize else 1.0)
