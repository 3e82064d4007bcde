"""What a run will take before it runs: wall time and peak memory, from its config.

:func:`estimate` builds the instance and its QUBO (cached per instance and formulation, as a
sweep asks for many runs of each), works out what the solver will execute -- qubits (the QUBO's,
or PCE's and QRAO's own counts), the circuit (layers, two-qubit gates, parameters), circuit
executions from the optimizer's budget, shots -- and prices it on the configured backend with
:mod:`qbench.cost_model`. Classical solvers are priced directly: SCIP by its ``time_limit``
(a bound, not a prediction: it stops there), simulated annealing by reads x sweeps x couplings,
exhaustive search by 2^n.

:func:`admit` decides whether a run starts: not when its estimate exceeds its ``timeout_s`` or
the memory available (``MemAvailable``, or ``sweep.memory_limit_mb`` when lower); ``force=true``
starts it anyway. The runner records the estimate either way (``RunRecord.estimate``) and a run
refused this way as status ``skipped`` with the reason.

The figures are estimates of a model (within a few times of the measured time on the small runs
they were calibrated on), and of the optimizer's full budget: a run that converges earlier
finishes sooner.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from qbench import cost_model as cm
from qbench.errors import QbenchError
from qbench.memory import available_bytes, format_bytes


@dataclass(frozen=True)
class Estimate:
    """A run's estimated wall time (``seconds``, comparable with the record's ``times.total``)
    and peak resident memory (``peak_bytes``), the qubits its method uses, and one line saying
    what the figures rest on. ``bound``: ``seconds`` is a limit the run stops at by itself
    (SCIP's ``time_limit``), not a prediction."""

    seconds: float
    peak_bytes: int
    qubits: int | None
    basis: str
    bound: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": float(f"{self.seconds:.4g}")}

    def describe(self) -> str:
        kind = "at most " if self.bound else ""
        return f"{kind}{format_seconds(self.seconds)}, {format_bytes(self.peak_bytes)}"


@dataclass(frozen=True)
class Verdict:
    """Whether a run starts: ``reason`` says why not (``None``: it starts). ``estimate`` is
    ``None`` when the run could not be estimated (``problem`` says why; it then starts and
    fails, or not, on its own)."""

    estimate: Estimate | None
    reason: str | None = None
    problem: str | None = None


def admit(config: dict[str, Any], memory: int | None = None) -> Verdict:
    """Estimate the run ``config`` and decide whether it may start (see the module docstring).
    ``memory``: bytes available (default: :func:`available_memory` of ``config``)."""
    try:
        found = estimate(config)
    except QbenchError as exc:
        return Verdict(None, problem=str(exc))
    timeout = config.get("timeout_s")
    memory = available_memory(config) if memory is None else memory
    reasons = []
    if timeout and not found.bound and found.seconds > float(timeout):
        reasons.append(f"estimated {format_seconds(found.seconds)} > timeout_s {float(timeout):g} s")
    if found.peak_bytes > memory:
        hint = _instead(config, found, memory)
        reasons.append(f"estimated peak memory {format_bytes(found.peak_bytes)} > {format_bytes(memory)} "
                       f"available{hint}")
    if not reasons:
        return Verdict(found)
    return Verdict(found, "; ".join(reasons) + f" ({found.basis}); force=true (or --force) runs it anyway")


def _instead(config: dict[str, Any], found: Estimate, memory: int) -> str:
    """What would fit instead of a state-vector run past ``memory`` (as the engine's guard says)."""
    if (config.get("backend") or {}).get("name") != "statevector" or not found.qubits:
        return ""
    from qbench.alternatives import instead

    itemsize = 8 if (config.get("backend") or {}).get("precision") == "single" else 16
    in_use = {str((config.get("solver") or {}).get("name"))}
    return "; " + instead(_RunFacts(config).qubo.qubo, found.qubits,
                          lambda q: (itemsize + 24) * 2.0 ** q + cm.BASE_BYTES <= memory, in_use,
                          ("backend=aer_mps",))


def available_memory(config: dict[str, Any]) -> int:
    """Bytes a run may use: the machine's available memory, or ``sweep.memory_limit_mb`` if lower."""
    limit = (config.get("sweep") or {}).get("memory_limit_mb")
    available = available_bytes()
    return min(available, int(limit) * cm.MiB) if limit else available


def estimate(config: dict[str, Any]) -> Estimate:
    """The estimate of the run ``config`` (a resolved, plain run config). Raises
    :class:`~qbench.errors.QbenchError` when the config cannot be built (the run itself will
    report it) or names a solver or backend the model does not know."""
    solver = dict(config.get("solver") or {})
    name = str(solver.get("name"))
    model = _SOLVERS.get(name)
    if model is None:
        raise QbenchError(f"no cost model for solver {name!r}")
    priced = model(_RunFacts(config), _solver_params(solver))
    peak = min(priced.peak_bytes + cm.BASE_BYTES, MAX_BYTES)
    return Estimate(priced.seconds + priced.setup + cm.RUN_OVERHEAD_S, int(peak), priced.qubits, priced.basis,
                    priced.bound)


#: Estimates of memory beyond any machine are stated as this (4 EiB), so that they stay int64.
MAX_BYTES = 2**62


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.3g} h"
    if seconds < 1e4 * 365 * 86400:
        return f"{seconds / 86400:.3g} days"
    return f"1e{int(math.log10(seconds / (365 * 86400)))} years"


# ------------------------------------------------------------------------------------------------
# The run's facts: instance, QUBO, backend
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuboFacts:
    """What the models read of a QUBO: its size, its couplings, and the QUBO itself."""

    qubits: int
    pairs: np.ndarray  # (k, 2) couplings i < j
    qubo: Any
    variables: int  # the problem's own variables (no slack)

    @property
    def couplings(self) -> int:
        return len(self.pairs)


@lru_cache(maxsize=64)
def _qubo_facts(problem_json: str, formulation_json: str) -> QuboFacts:
    from qbench import registry

    problem = registry.build_problem(json.loads(problem_json))
    encoding = registry.build_component(json.loads(formulation_json), "formulation").encode(problem)
    q = encoding.qubo.quadratic
    rows, cols = np.nonzero(q + q.T)
    upper = rows < cols
    pairs = np.stack([rows[upper], cols[upper]], axis=1)
    return QuboFacts(encoding.qubits, pairs, encoding.qubo, int(problem.size()["variables"]))


class _RunFacts:
    """The config of one run and what it builds, on demand; ``qubo`` given for the inner
    solves of an outer solver (a QUBO of its own making)."""

    def __init__(self, config: dict[str, Any], qubo: QuboFacts | None = None) -> None:
        self.config = config
        self.backend = dict(config.get("backend") or {})
        self._qubo = qubo

    @property
    def keys(self) -> tuple[str, str]:
        return (json.dumps(self.config.get("problem"), sort_keys=True),
                json.dumps(self.config.get("formulation"), sort_keys=True))

    @property
    def qubo(self) -> QuboFacts:
        return self._qubo if self._qubo is not None else _qubo_facts(*self.keys)

    def cost(self, work: cm.Workload, backend: dict[str, Any] | None = None) -> cm.Cost:
        backend = self.backend if backend is None else backend
        try:
            return cm.circuit_cost(work, backend)
        except KeyError:
            raise QbenchError(f"no cost model for backend {backend.get('name')!r}") from None


def _solver_params(solver: dict[str, Any]) -> Any:
    """The solver's validated parameters (its ``Params`` dataclass), without building it."""
    from qbench import registry
    from qbench.params import build_params

    values = {k: v for k, v in solver.items() if k not in ("_target_", "name")}
    cls = registry.load_target(str(solver["_target_"]))
    return build_params(cls.Params, values, "solver")


# ------------------------------------------------------------------------------------------------
# Optimizer budgets
# ------------------------------------------------------------------------------------------------
def cost_evaluations(optimizer: str, maxiter: int, parameters: int) -> int:
    """Cost evaluations an optimizer may spend (``qbench.variational.minimize``'s budget):
    COBYLA at least ``parameters + 2``; Powell and Nelder-Mead ``maxiter`` (Powell may finish
    its last line search past it); L-BFGS-B and SLSQP ``maxiter`` iterations of a finite-
    difference gradient (``parameters`` evaluations) and about two more; SPSA about ``maxiter``."""
    if optimizer == "COBYLA":
        return max(maxiter, parameters + 2)
    if optimizer in ("L-BFGS-B", "SLSQP"):
        return maxiter * (parameters + 2)
    return maxiter


# ------------------------------------------------------------------------------------------------
# Solver models
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Priced:
    """A solver model's answer: ``seconds`` of work, ``setup`` seconds paid once per run
    (imports, building the backend), peak bytes of its data, qubits, basis, bound."""

    seconds: float
    peak_bytes: float
    qubits: int | None
    basis: str
    bound: bool = False
    setup: float = 0.0


def cost_shots(run: _RunFacts, p: Any) -> int | None:
    """Shots per cost evaluation (``Backend.cost``): ``solver.shots``, else exact (``None``)
    where the backend has exact values -- the state vector always, Aer for expectations --
    and the backend's default shots otherwise (CVaR on Aer, noisy and hardware backends)."""
    from qbench.backends.base import Backend

    name = run.backend.get("name")
    if p.shots is not None or name == "statevector" or (name in ("aer", "aer_gpu", "aer_mps") and p.alpha >= 1.0):
        return p.shots
    return Backend.default_shots


def _variational(run: _RunFacts, shape: cm.CircuitShape, p: Any, cost_terms: int, build_s: float = 0.0,
                 label: str = "", imports: float = cm.OPTIMIZER_SETUP_S) -> Priced:
    evaluations = cost_evaluations(p.optimizer, p.maxiter, shape.parameters)
    work = cm.Workload(shape, evaluations, cost_terms=cost_terms, shots=cost_shots(run, p),
                       final_shots=p.final_shots)
    cost = run.cost(work)
    answers = min(p.final_shots, 2 ** min(shape.qubits, 62)) * cm.ANSWER_S
    seconds = cost.seconds + evaluations * _evaluation_s(p.optimizer) + build_s + answers
    basis = f"{label}{p.optimizer} budget {evaluations} evaluations; {cost.basis}"
    return Priced(seconds, cost.peak_bytes, shape.qubits, basis, setup=cost.setup + imports)


def _evaluation_s(optimizer: str) -> float:
    return cm.EVALUATION_S.get(optimizer, cm.DEFAULT_EVALUATION_S)


def _qaoa(run: _RunFacts, p: Any) -> Priced:
    facts = run.qubo
    n, k = facts.qubits, facts.couplings
    name = str(run.config["solver"]["name"])
    parameters = p.reps * (n + k + n) if name == "ma_qaoa" else 2 * p.reps
    shape = cm.CircuitShape.of_pairs(n, facts.pairs, p.reps, parameters, warm=name == "ws_qaoa")
    build = shape.gates * cm.CIRCUIT_GATE_S
    # (solvers.qaoa imports SciPy's optimizers itself, when the run is estimated)
    return _variational(run, shape, p, cost_terms=n + k, build_s=build, label=f"QAOA p={p.reps}: ", imports=0.0)


@lru_cache(maxsize=256)
def _ansatz_shape(qubits: int, kind: str, reps: int, entanglement: str) -> cm.CircuitShape:
    from qbench.ansatz import hardware_efficient

    return cm.CircuitShape.of_circuit(hardware_efficient(qubits, kind, reps, entanglement))


def _vqe(run: _RunFacts, p: Any) -> Priced:
    facts = run.qubo
    shape = _ansatz_shape(facts.qubits, p.ansatz, p.reps, p.entanglement)
    return _variational(run, shape, p, cost_terms=facts.qubits + facts.couplings,
                        label=f"{p.ansatz} reps {p.reps}: ")


@lru_cache(maxsize=64)
def _brickwork_shape(qubits: int, layers: int) -> cm.CircuitShape:
    from qbench.solvers.pce import brickwork

    return cm.CircuitShape.of_circuit(brickwork(qubits, layers))


def _pce(run: _RunFacts, p: Any) -> Priced:
    from qbench.solvers.pce import qubits_needed

    facts = run.qubo
    nodes = facts.qubits + 1 if p.form == "maxcut" else facts.qubits
    n = p.num_qubits or qubits_needed(nodes, p.k)
    layers = p.layers or 2 * n
    shape = _brickwork_shape(n, layers)
    # A gradient optimizer's gradient: the state vector's adjoint method (a backward sweep with
    # one generator per parameter: about 4 + P/8 executions' worth, measured on the comparative
    # study's PCE circuits), elsewhere the parameter-shift rule (2P executions in one call).
    adjoint = p.optimizer in ("L-BFGS-B", "SLSQP") and run.backend.get("name") == "statevector"
    if p.optimizer in ("L-BFGS-B", "SLSQP"):
        iterations = p.maxiter
        executions = iterations * (4 + shape.parameters // 8 if adjoint else 2 * shape.parameters + 2)
        calls = 3 * iterations
    else:
        executions = calls = cost_evaluations(p.optimizer, p.maxiter, shape.parameters)
    work = cm.Workload(shape, p.restarts * executions, terms=nodes, final_executions=0,
                       calls=p.restarts * calls)
    cost = run.cost(work)
    search = p.restarts * _local_search_s(facts.qubits, p.local_search)
    seconds = cost.seconds + p.restarts * calls * _evaluation_s(p.optimizer) + search
    basis = (f"PCE {nodes} nodes on {n} qubits, {shape.parameters} parameters, {p.optimizer} "
             f"{executions} executions ({'adjoint' if adjoint else 'parameter-shift'} gradient); {cost.basis}")
    return Priced(seconds, cost.peak_bytes, n, basis, setup=cost.setup)


def _local_search_s(n: int, depth: str) -> float:
    """Bit-flip descent: about n/2 moves, each scanning every flip of up to ``depth`` bits."""
    size = {"none": 0, "single": n, "double": n * n, "triple": n ** 3}[depth]
    return (n / 2) * size * 20e-9 if size else 0.0


def _qrao(run: _RunFacts, p: Any) -> Priced:
    from qbench.solvers.qrao import qrao_qubits

    facts = run.qubo
    n = qrao_qubits(facts.qubo, p.max_vars_per_qubit)
    terms = facts.qubits + facts.couplings  # at most: terms on one qubit pair add up
    shape = _ansatz_shape(n, "efficient_su2", p.reps, p.entanglement)
    evaluations = cost_evaluations(p.optimizer, p.maxiter, shape.parameters)
    # Magic rounding: a basis per shot (uniform), each distinct basis one sampled execution.
    bases = min(p.rounding_shots, (2 ** (p.max_vars_per_qubit - 1)) ** n) if p.rounding == "magic" else 0
    work = cm.Workload(shape, evaluations + 1, terms=terms, calls=evaluations + 2, final_executions=bases,
                       final_shots=p.rounding_shots if bases else 0)
    cost = run.cost(work)
    seconds = (cost.seconds + evaluations * _evaluation_s(p.optimizer) + bases * ROUNDING_BASIS_S
               + (p.rounding_shots if bases else 1) * cm.ANSWER_S)
    basis = (f"QRAO {facts.qubits} variables on {n} qubits, {terms} terms, {p.optimizer} {evaluations} "
             f"evaluations + {bases} rounding bases; {cost.basis}")
    return Priced(seconds, cost.peak_bytes, n, basis, setup=cost.setup)


#: Magic rounding's own work per measured basis (qiskit-optimization's bookkeeping, the counts
#: of each basis as strings; measured 3-8 ms on a busy machine).
ROUNDING_BASIS_S = 3e-3
#: dwave-samplers' simulated annealing, per read, sweep and (variable + coupling) (measured
#: 1.7-4 ns), and importing it (0.3-1.0 s).
SA_S = 3e-9
SA_SETUP_S = 0.3

#: Exhaustive search (``Qubo.all_energies``), per state and variable.
EXACT_S = 1.2e-9
#: One Goemans-Williamson SDP with Clarabel, per (nodes)^3 (graph shrinking), and importing cvxpy.
SDP_S = 2e-7
SDP_SETUP_S = 1.5


def _sa(run: _RunFacts, p: Any) -> Priced:
    facts = run.qubo
    work = p.num_reads * p.num_sweeps * (facts.qubits + 2 * facts.couplings)
    answers = p.num_reads * cm.ANSWER_S
    return Priced(work * SA_S + answers, 8 * p.num_reads * facts.qubits, None,
                  f"simulated annealing {p.num_reads} reads x {p.num_sweeps} sweeps x "
                  f"{facts.qubits + 2 * facts.couplings} spins and couplings", setup=SA_SETUP_S)


def _exact(run: _RunFacts, p: Any) -> Priced:
    n = run.qubo.qubits
    if n > p.max_variables:  # the solver refuses it: the run would end in an error record
        raise QbenchError(f"exact: {n} variables > max_variables {p.max_variables}")
    return Priced(2.0 ** n * n * EXACT_S, 3 * 8 * 2 ** n, None, f"exhaustive search of 2^{n} states")


def _scip(run: _RunFacts, p: Any) -> Priced:
    return Priced(p.time_limit, 200 * cm.MiB, None, f"SCIP stops at its time_limit {p.time_limit:g} s", bound=True)


def _inner(run: _RunFacts, name: str, overrides: dict[str, Any], defaults: dict[str, Any]) -> tuple[dict, Any]:
    """The inner solver's config and parameters (as ``qbench.inner.build_inner_solver``)."""
    cfg = dict(_inner_config(name))
    for key, value in defaults.items():
        if key in cfg and key not in overrides and value is not None:
            cfg[key] = value
    cfg.update(overrides)
    return cfg, _solver_params(cfg)


@lru_cache(maxsize=None)
def _inner_config(name: str) -> dict[str, Any]:
    from qbench.inner import solver_config

    return solver_config(name)


def _with_qubo(run: _RunFacts, facts: QuboFacts, solver_cfg: dict) -> _RunFacts:
    """The run's facts with another QUBO and solver (an outer solver's inner solves)."""
    return _RunFacts({**run.config, "solver": solver_cfg}, facts)


def _lagrangian(run: _RunFacts, p: Any) -> Priced:
    outer = run.qubo
    cfg, params = _inner(run, p.inner, p.inner_params, {"maxiter": p.inner_maxiter})
    facts = _relaxed(outer, outer.variables)
    inner = _SOLVERS[cfg["name"]](_with_qubo(run, facts, cfg), params)
    return Priced(p.max_iter * (inner.seconds + LAGRANGIAN_ITERATION_S), inner.peak_bytes, inner.qubits,
                  f"{p.max_iter} iterations x inner {cfg['name']} on {facts.qubits} variables ({inner.basis})",
                  setup=inner.setup)


#: The outer loop's own time per iteration (multiplier update, bounds, the inner solver's
#: set-up), measured on bit_allocation_small's Lagrangian runs with an exhaustive inner solver.
LAGRANGIAN_ITERATION_S = 0.2


def _relaxed(facts: QuboFacts, n: int) -> QuboFacts:
    """The slack-free QUBO over the problem's ``n`` variables: their couplings in ``facts``."""
    keep = (facts.pairs < n).all(axis=1)
    return QuboFacts(n, facts.pairs[keep], None, n)


def _shrink(run: _RunFacts, p: Any) -> Priced:
    facts = run.qubo
    n = facts.qubits
    target = p.target_qubits or max(1, math.ceil(p.ratio * n))
    merges = max(n - target, 0)
    sizes = np.arange(target + 1, n + 2, dtype=float)[::-1][:merges:p.recalc_every]
    sdp = float(np.sum(sizes ** 3)) * SDP_S if p.correlations == "sdp" else 0.0
    cfg, params = _inner(run, p.inner, p.inner_params, {})
    shrunk = QuboFacts(target, facts.pairs[(facts.pairs < target).all(axis=1)], None, target)
    inner = _SOLVERS[cfg["name"]](_with_qubo(run, shrunk, cfg), params)
    return Priced(sdp + inner.seconds, inner.peak_bytes, inner.qubits,
                  f"{len(sizes)} SDPs on <= {n + 1} nodes, then {cfg['name']} on {target} qubits ({inner.basis})",
                  setup=inner.setup + (SDP_SETUP_S if p.correlations == "sdp" else 0.0))


_SOLVERS = {
    "qaoa": _qaoa, "ws_qaoa": _qaoa, "ma_qaoa": _qaoa, "vqe": _vqe, "cvar_vqe": _vqe,
    "pce": _pce, "qrao": _qrao, "sa": _sa, "exact": _exact, "scip": _scip,
    "lagrangian": _lagrangian, "shrink": _shrink,
}
