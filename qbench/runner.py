"""Run one configuration end to end and produce its record.

build the instance -> build formulation and solver -> solve -> compare a sampled answer's
distribution with uniform sampling (:mod:`qbench.baseline`) -> repair (``repair: greedy``, kept
only when better) -> evaluate natively -> record.
Every failure ends in a record too: ``status="error"`` with a one-line reason (user errors) or
the exception and its traceback (bugs). Nothing here prints; the CLI does.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np

from qbench import baseline, registry, secrets
from qbench.alternatives import with_alternatives
from qbench.errors import QbenchError, QubitCapacityError
from qbench.formulations.base import Encoding
from qbench.incumbents import history
from qbench.mip import solve_mip
from qbench.params import to_plain
from qbench.problem import Problem, Reference, approximation_ratio, optimality_gap
from qbench.records import RunRecord, config_key, git_revision, now_utc, package_versions
from qbench.repair import RepairedAnswer, repair_answer, repair_setting
from qbench.settings import ReferenceSettings, run_settings
from qbench.solver import FinalSampling, Lazy, SolveContext, Solver, SolverResult

log = logging.getLogger(__name__)


def new_record(config: dict[str, Any]) -> RunRecord:
    """A record holding the run's identity, before anything has run (and before the config is
    validated: a seed that is not an integer is recorded as None)."""
    problem = config.get("problem", {})
    seed = config.get("seed", 0)
    return RunRecord(
        key=config_key(config),
        problem=str(problem.get("name")),
        instance=str(problem.get("instance") or "generated"),
        formulation=str(config.get("formulation", {}).get("name")),
        solver=str(config.get("solver", {}).get("name")),
        backend=config.get("backend", {}).get("name") if config.get("backend") else None,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        config=config,
        versions=package_versions(),
        git_revision=git_revision(),
        created=now_utc(),
    )


def admitted(config: dict[str, Any], record: RunRecord) -> bool:
    """Estimate the run (into ``record.estimate``) and say whether it starts: a run estimated
    past its ``timeout_s`` or the available memory is recorded ``skipped`` with the reason,
    unless ``force`` is set (:func:`qbench.estimate.admit`)."""
    from qbench.estimate import admit

    try:
        verdict = admit(config)
    except Exception:  # a fault of the cost model must not stop the run it estimates
        log.warning("the run could not be estimated", exc_info=True)
        return True
    record.estimate = verdict.estimate.as_dict() if verdict.estimate is not None else None
    if verdict.reason is None or config.get("force"):
        return True
    record.status, record.error = "skipped", verdict.reason
    return False


def execute(cfg: Mapping[str, Any]) -> RunRecord:
    """Run the configuration ``cfg`` (a resolved Hydra config) and return its record."""
    config = to_plain(cfg)
    record = new_record(config)
    if not admitted(config, record):
        return record
    times: dict[str, float] = {}
    started = time.perf_counter()
    try:
        settings = run_settings(config)
        secrets.check_config(config)
        _run(config, record, times, settings.reference, started)
    except QbenchError as exc:
        record.status, record.error = "error", secrets.redact(str(exc))
    except Exception as exc:  # a bug: keep everything needed to find it
        record.status = "error"
        record.error = secrets.redact(f"{type(exc).__name__}: {exc}")
        record.error_traceback = secrets.redact(traceback.format_exc())
        log.debug("run failed", exc_info=True)
    times["total"] = time.perf_counter() - started
    record.times = {k: round(v, 6) for k, v in times.items()}
    return record


def _run(config: dict[str, Any], record: RunRecord, times: dict[str, float],
         reference: ReferenceSettings, started: float) -> None:
    record.repair = repair_setting(config)
    with _timed(times, "build"):
        formulation = registry.build_component(config["formulation"], "formulation")
        solver: Solver = registry.build_component(config["solver"], "solver")
        problem = registry.build_problem(config["problem"])
    with _timed(times, "reference"):
        problem = with_proven_reference(problem, reference)
    record.instance = problem.name
    record.instance_hash = problem.content_hash()
    record.instance_description = problem.describe()
    record.sense = problem.sense
    record.reference = problem.reference.value
    record.reference_source = problem.reference.source
    record.reference_proven = problem.reference.proven
    size = problem.size()
    record.variables, record.constraints = size["variables"], size["constraints"]

    backend_cfg = config.get("backend")
    # The run owns the lazily built encoding and backend, so it knows whether the solver used
    # them (and closes the backend) without asking the context.
    encoding = Lazy(lambda: formulation.encode(problem))
    backend = Lazy(lambda: registry.build_component(backend_cfg, "backend")) if backend_cfg else None
    ctx = SolveContext(
        problem=problem,
        formulation=formulation,
        seed=record.seed,
        progress=bool(config.get("progress", False)),
        backend_factory=backend,
        encoding_source=encoding,
    )
    solve_started = time.perf_counter() - started
    with _timed(times, "solve"):
        try:
            result: SolverResult = solver.solve(ctx)
        except QubitCapacityError as exc:
            qubo = encoding.value.qubo if encoding.value is not None else None
            in_use = {solver.name, str(config["solver"].get("inner"))}
            raise QbenchError(with_alternatives(exc, qubo, in_use)) from None
        finally:
            if backend is not None and backend.value is not None:
                backend.value.close()  # releases what an IBM backend holds open; a no-op for simulators
    if backend is None or backend.value is None:
        # Classical solvers (scip, exact, sa) never touch the configured backend: say so.
        record.backend = None
    # Building the QUBO is timed as "formulate", not as solving, whether the solver built it
    # or it is built now only to report the qubits a classical run would have needed.
    times["solve"] -= encoding.seconds
    record.qubo_variables = _qubo_size(encoding)
    if encoding.value is not None:
        times["formulate"] = encoding.seconds
    times.update(result.timings)
    record.qubits = result.qubits
    record.solver_status = result.status
    record.dual_bound = result.dual_bound
    record.solver_info = result.record_info()
    if result.final_sampling is not None:
        with _timed(times, "baseline"):
            record_baseline(record, problem, result.final_sampling)
    if result.x is None:
        record.feasible = False
    else:
        with _timed(times, "repair"):
            answer = repair_answer(problem, result.x, record.repair)
        with _timed(times, "evaluate"):
            record_evaluation(record, problem, answer)
    record_history(record, problem, [(solve_started + t, x) for t, x in result.incumbents],
                   time.perf_counter() - started)


def with_proven_reference(problem: Problem, settings: ReferenceSettings) -> Problem:
    """Give an instance without a reference one proven by SCIP, when SCIP proves it in time.

    Generated instances have no published optimum; without one no gap can be reported. The
    reference is kept only if SCIP proves optimality within ``settings.time_limit`` seconds.
    """
    if problem.reference.value is not None or not settings.solve:
        return problem
    result = solve_mip(problem, time_limit=settings.time_limit)
    if result.status != "optimal" or result.primal is None:
        return problem
    reference = Reference(result.primal, "SCIP (proven optimal)", proven=True)
    return dataclasses.replace(problem, reference=reference)


def record_evaluation(record: RunRecord, problem: Problem, answer: RepairedAnswer) -> None:
    """Fill the quality fields of ``record``: the final answer's in ``objective``, ``feasible``,
    ``violation``, ``gap``, the solver's raw answer's in ``raw_*`` (the same when not repaired)."""
    evaluation, raw, reference = answer.evaluation, answer.raw, problem.reference.value
    record.repair = answer.repair
    record.solution = [int(v) for v in np.asarray(answer.x).round().astype(int)]
    record.objective = evaluation.objective
    record.feasible = evaluation.feasible
    record.violation = evaluation.violation
    if evaluation.feasible:
        record.gap = optimality_gap(evaluation.objective, reference, problem.sense)
        record.approximation_ratio = approximation_ratio(evaluation.objective, reference, problem.sense)
    record.raw_objective = raw.objective
    record.raw_feasible = raw.feasible
    record.raw_violation = raw.violation
    record.raw_gap = optimality_gap(raw.objective, reference, problem.sense) if raw.feasible else None


def record_baseline(record: RunRecord, problem: Problem, sampling: FinalSampling) -> None:
    """Fill the uniform-sampling comparison fields of ``record`` (:mod:`qbench.baseline`)."""
    comparison = baseline.compare(problem, sampling, record.seed)
    for name, value in dataclasses.asdict(comparison).items():
        setattr(record, name, value)


def record_history(record: RunRecord, problem: Problem, found: list[tuple[float, np.ndarray]],
                   now: float) -> None:
    """Fill ``incumbents`` and ``time_to_best``: the solver's improved answers ``found`` (seconds
    since the run started) and the record's final answer, held from ``now``."""
    final = (now, record.objective) if record.feasible and record.objective is not None else None
    run = history(problem, found, final)
    record.incumbents, record.time_to_best = run.as_lists(), run.time_to_best


def _qubo_size(encoding: Lazy[Encoding]) -> int | None:
    """Size of the formulation's QUBO, for comparing classical runs by qubits they would need."""
    try:
        return encoding().qubits
    except QbenchError:  # a problem this formulation cannot encode: no qubit count to report
        return None


class _timed:
    """Accumulate the wall time of a block into ``times[name]``."""

    def __init__(self, times: dict[str, float], name: str) -> None:
        self.times, self.name = times, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.times[self.name] = self.times.get(self.name, 0.0) + time.perf_counter() - self.start
