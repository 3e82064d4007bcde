"""Inner solvers: an ordinary QUBO solver, named by its config, run on a QUBO of a method's making.

Methods that solve a sequence of QUBOs (a Lagrangian relaxation per multiplier vector, a shrunk
graph) name their inner solver as ``solver.inner`` (any ``conf/solver/<name>.yaml`` that works on
a QUBO) with optional ``solver.inner_params`` overrides; it runs through
:meth:`qbench.solver.SolveContext.inner`, so it shares the run's backend and its counters.
The inner solver's config is composed by Hydra like the run's own ``solver``, so a config that
extends another through its defaults list (``ws_qaoa`` from ``qaoa``) is the same config in both.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from qbench import registry
from qbench.errors import ConfigError
from qbench.formulations.base import Encoding
from qbench.overrides import _one_line
from qbench.params import to_plain
from qbench.solver import Lazy, SolveContext, Solver, SolverResult

#: Solvers that run inner solvers themselves (nesting them is not supported).
OUTER_SOLVERS = ("lagrangian", "shrink")


def build_inner_solver(name: str, overrides: Mapping[str, Any] | None = None,
                       defaults: Mapping[str, Any] | None = None) -> Solver:
    """The solver of ``conf/solver/<name>.yaml`` with ``overrides`` applied (validated).

    ``defaults`` replace the config's values only for parameters the solver has and
    ``overrides`` does not set (e.g. a smaller ``maxiter`` for variational inner solvers)."""
    where = "solver.inner"
    if name in OUTER_SOLVERS:
        raise ConfigError(f"{where}: {name!r} cannot be an inner solver; choose a QUBO solver such as exact, sa, qaoa")
    options = [c for c in registry.choices("solver") if c not in OUTER_SOLVERS]
    if name not in options:
        raise ConfigError(f"{where}: unknown solver {name!r}; choose one of: {', '.join(options)}")
    cfg = solver_config(name)
    overrides = dict(overrides or {})
    for key in ("_target_", "name"):
        if key in overrides:
            raise ConfigError(f"solver.inner_params.{key}: not a parameter; set solver.inner instead")
    for key, value in (defaults or {}).items():
        if key in cfg and key not in overrides and value is not None:
            cfg[key] = value
    cfg.update(overrides)
    solver = registry.build_component(cfg, "solver.inner_params")
    if not solver.uses_qubo:
        raise ConfigError(f"{where}: {name!r} does not solve a QUBO; choose one of: "
                          + ", ".join(c for c in options if c != name))
    return solver


def solver_config(name: str) -> dict[str, Any]:
    """``conf/solver/<name>.yaml`` as Hydra composes it (its defaults list applied), plain.

    Composed as a primary config of its own (``solver/<name>``), so none of the run's other
    groups is involved. Inside a running Hydra app (``python -m qbench run``) the app's Hydra
    composes it (Hydra's compose API is meant to be used there, and a second initialisation
    would be refused); elsewhere (a sweep's run process, tests, library use) a Hydra instance
    on ``qbench/conf`` lives for this compose only (``initialize_config_dir`` as a context)."""
    path = f"solver/{name}"
    try:
        if GlobalHydra.instance().is_initialized():
            cfg = compose(config_name=path)
        else:
            with initialize_config_dir(config_dir=str(registry.CONF_DIR), version_base="1.3"):
                cfg = compose(config_name=path)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"solver.inner: {name!r}: {_one_line(exc)}") from None
    return to_plain(cfg.solver)


@dataclass
class InnerRuns:
    """Runs ``solver`` on encodings through ``ctx.inner``; counts solves and their time."""

    ctx: SolveContext
    solver: Solver
    solves: int = 0
    seconds: float = 0.0
    qubits: list[int] = field(default_factory=list)
    #: The run's backend as the inner solves share it, built when the first of them needs it.
    backend: Lazy[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.backend = Lazy(self.ctx.backend)

    def solve(self, encoding: Encoding) -> tuple[np.ndarray, SolverResult]:
        """The inner solver's answer on ``encoding`` (decoded: the problem's variables) and its
        result. Each solve gets its own seed, derived from the run's."""
        child = self.ctx.inner(encoding, seed=self.ctx.seed * 1000 + self.solves, backend_factory=self.backend)
        start = time.perf_counter()
        result = self.solver.solve(child)
        self.seconds += time.perf_counter() - start
        self.solves += 1
        self.qubits.append(encoding.qubits)
        if result.x is None:
            raise RuntimeError(f"inner solver {self.solver.name} returned no answer")
        return np.asarray(result.x, dtype=np.int8), result

    def samples(self, encoding: Encoding) -> tuple[np.ndarray, np.ndarray] | None:
        """The sample distribution (QUBO bits, probabilities) the answer of one inner solve on
        ``encoding`` was chosen from, or None when the inner solver draws no samples (``exact``)."""
        _, result = self.solve(encoding)
        if result.answer is None:
            return None
        return result.answer.samples, result.answer.sample_probabilities

    @staticmethod
    def proves_optimal(result: SolverResult) -> bool:
        """Whether the inner answer is a proven QUBO minimiser (only then is a bound valid):
        ``exact``'s ``qubo_optimal``, or its ``optimal`` when the minimum is natively optimal too."""
        return result.status in ("optimal", "qubo_optimal")

    def timings(self) -> dict[str, float]:
        times = {"inner": self.seconds}
        if self.backend.value is not None:
            times.update({k: float(v) for k, v in self.backend.value.timings.items()})
        return times
