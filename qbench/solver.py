"""The solver interface: one class per solver, one entry point, ``solve(context)``.

A solver gets a :class:`SolveContext` (the problem, the formulation, the backend, the seed) and
returns a :class:`SolverResult` whose ``x`` is the problem's own decision vector; the runner, not
the solver, evaluates it, so every solver is judged by the same code.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np

from qbench.formulations.base import Encoding, Formulation
from qbench.problem import Problem
from qbench.sampling import Answer, Selection

if TYPE_CHECKING:
    from qbench.backends.base import BackendUsage, CircuitMetrics
    from qbench.variational import OptimizerRun

T = TypeVar("T")


@dataclass(frozen=True)
class FinalSampling:
    """The distribution a sampling solver chose its answer from.

    ``encoding``: the QUBO whose bitstrings were drawn (the run's own, or a shrunk one for an
    inner solve); ``shots``: how many bitstrings the final sampling drew (final shots, annealing
    reads, rounding shots); ``answer``: :func:`qbench.sampling.select_answer`'s verdict on them.
    The runner compares it with uniform random sampling (:mod:`qbench.baseline`).
    """

    encoding: Encoding
    shots: int
    answer: Answer


@dataclass
class SolverResult:
    """What a solver found.

    ``x``: the problem's decision vector (``None`` if nothing was found); ``status``: the
    solver's own verdict (``optimal``, ``time_limit``, ``heuristic``, ``infeasible``, ...);
    ``qubits``: qubits the method used (``None`` for classical methods); ``dual_bound``: a bound
    on the optimum in the problem's native units, where the method proves one; ``info``:
    the method's own facts for the record (the facts methods share are the typed fields below;
    :meth:`record_info` puts both in the record's ``solver_info``); ``timings``:
    seconds per phase, merged into the record's time breakdown; ``final_sampling``: the sampled
    distribution the answer came from, ``None`` when the answer was not drawn from one (exact,
    MIP, a single deterministic decode); ``incumbents``: for solvers that keep an incumbent (SCIP,
    the Lagrangian dual), ``(seconds since solve() was called, decision vector)`` each time it
    improved, in order. The runner evaluates them natively and adds the final answer, so a
    solver without a history leaves this empty.

    Typed facts, each ``None`` where the method has none: ``answer``: the answer as
    :func:`qbench.sampling.select_answer` or :func:`~qbench.sampling.decoded_answer` chose it,
    with the samples it was chosen from; ``circuit``: the circuit's metrics on the backend's
    target; ``backend_usage``: the backend's facts and counters; ``optimizer_run``: the classical
    optimizer's run and trace (:class:`qbench.variational.OptimizerRun`).
    """

    x: np.ndarray | None
    status: str
    qubits: int | None = None
    dual_bound: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    final_sampling: FinalSampling | None = None
    incumbents: list[tuple[float, np.ndarray]] = field(default_factory=list)
    answer: Answer | None = None
    circuit: CircuitMetrics | None = None
    backend_usage: BackendUsage | None = None
    optimizer_run: OptimizerRun | None = None

    def record_info(self) -> dict[str, Any]:
        """The record's ``solver_info``: the answer's facts, the circuit's metrics, the
        backend's usage and the optimizer's run, in this order, then ``info``."""
        facts: dict[str, Any] = {}
        if self.answer is not None:
            facts.update(self.answer.info())
        if self.circuit is not None:
            facts.update(self.circuit.as_dict())
        if self.backend_usage is not None:
            facts.update(self.backend_usage.as_dict())
        if self.optimizer_run is not None:
            facts.update(self.optimizer_run.as_dict())
        facts.update(self.info)
        return facts


class Lazy(Generic[T]):
    """A value built by ``build`` on the first call and the same value on every later call;
    ``value`` is ``None`` until then, ``seconds`` the time building took."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self.value: T | None = None
        self.seconds = 0.0

    def __call__(self) -> T:
        if self.value is None:
            start = time.perf_counter()
            self.value = self._build()
            self.seconds = time.perf_counter() - start
        return self.value


@dataclass
class SolveContext:
    """Everything a solver may use; the encoding and the backend are built on first use.

    ``encoding_source`` builds the encoding; a caller that must know whether (and in how long)
    it was built passes its own (the runner, which times it as ``formulate``); by default the
    context builds it from ``formulation``. ``backend_factory`` is called once, on first use.
    """

    problem: Problem
    formulation: Formulation
    seed: int = 0
    progress: bool = False
    backend_factory: Callable[[], Any] | None = None
    #: How an answer is chosen from samples (:data:`qbench.sampling.Selection`), passed by the
    #: solver to :func:`qbench.sampling.select_answer`.
    selection: Selection = "native"
    #: Where the solver's parameters are configured, for error messages (``solver``, or
    #: ``solver.inner_params`` for an inner solver).
    config_path: str = "solver"
    encoding_source: Lazy[Encoding] | None = None
    _backend: Lazy[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.encoding_source is None:
            self.encoding_source = Lazy(lambda: self.formulation.encode(self.problem))
        self._backend = Lazy(self._build_backend)

    def encoding(self) -> Encoding:
        """The problem's QUBO under the configured formulation (built once)."""
        return self.encoding_source()

    def backend(self) -> Any:
        """The configured execution backend (quantum solvers only)."""
        return self._backend()

    def _build_backend(self) -> Any:
        if self.backend_factory is None:
            raise RuntimeError("this run has no backend configured")
        return self.backend_factory()

    def inner(self, encoding: Encoding, seed: int | None = None,
              backend_factory: Callable[[], Any] | None = None) -> SolveContext:
        """A context for solving ``encoding`` (a QUBO of the caller's making) by energy, sharing
        this run's backend (``backend_factory``, by default this context's :meth:`backend`) so its
        counters and timings add up."""
        from qbench.formulations.given import GivenEncoding

        child = SolveContext(
            problem=self.problem,
            formulation=GivenEncoding(encoding),
            seed=self.seed if seed is None else seed,
            progress=False,
            backend_factory=self.backend if backend_factory is None else backend_factory,
            selection="energy",
            config_path="solver.inner_params",
        )
        return child

    def rng(self) -> np.random.Generator:
        """A fresh generator seeded from the run seed (same seed, same stream)."""
        return np.random.default_rng(self.seed)


class Solver(ABC):
    """Base class of every solver; ``Params`` is its validated parameter dataclass."""

    name: ClassVar[str]
    Params: ClassVar[type]
    #: Whether the solver works on the formulation's QUBO (and so has a qubit count).
    uses_qubo: ClassVar[bool] = True

    def __init__(self, params: Any = None) -> None:
        self.params = params if params is not None else self.Params()

    @abstractmethod
    def solve(self, ctx: SolveContext) -> SolverResult:
        """Solve ``ctx.problem`` and return the best decision vector found."""
