"""The run's own settings (the config's top-level keys), validated like a component's parameters.

``seed``, ``progress``, ``output_root``, ``reference.*`` and, for sweeps, ``timeout_s`` and
``sweep.memory_limit_mb``. ``run`` checks them before Hydra starts the job, a sweep when it plans
its grid, and the runner again, so a bad value is one line naming the field, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qbench.errors import ConfigError
from qbench.params import build_params, check

#: Seeds go to numpy, SCIP, dwave-samplers and Aer; the annealer takes 0 .. 2^32 - 1.
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class ReferenceSettings:
    """``reference.*``: prove a reference optimum with SCIP (``solve``) within ``time_limit`` s."""

    solve: bool = True
    time_limit: float = 10.0

    def __post_init__(self) -> None:
        check(self.time_limit > 0, "time_limit", f"must be positive, got {self.time_limit}")


@dataclass(frozen=True)
class TopLevelSettings:
    """The scalar top-level keys; ``timeout_s`` (seconds per sweep run) is set by experiments.
    ``seed`` and ``timeout_s`` are checked here, type and range in one message."""

    seed: Any = 0
    progress: bool = True
    output_root: str = "results"
    timeout_s: Any = None

    def __post_init__(self) -> None:
        check(_is_int(self.seed) and 0 <= self.seed <= SEED_MAX, "seed",
              f"must be an integer in 0..{SEED_MAX}, got {self.seed!r}")
        check(self.timeout_s is None or (_is_number(self.timeout_s) and self.timeout_s > 0), "timeout_s",
              f"must be a positive number of seconds (or null: no limit), got {self.timeout_s!r}")


@dataclass(frozen=True)
class SweepLimits:
    """``sweep.memory_limit_mb``: the address-space limit of each run's process (null = none)."""

    memory_limit_mb: Any = None

    def __post_init__(self) -> None:
        check(self.memory_limit_mb is None or (_is_int(self.memory_limit_mb) and self.memory_limit_mb > 0),
              "memory_limit_mb", f"must be a positive integer number of MB (or null: no limit), "
              f"got {self.memory_limit_mb!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class RunSettings:
    seed: int
    timeout_s: float | None
    memory_limit_mb: int | None
    reference: ReferenceSettings


def run_settings(config: Mapping[str, Any]) -> RunSettings:
    """The validated settings of the resolved, plain ``config``; :class:`ConfigError` if one is bad."""
    names = [f for f in TopLevelSettings.__dataclass_fields__ if f in config]
    top = build_params(TopLevelSettings, {k: config[k] for k in names}, "")
    reference = build_params(ReferenceSettings, config.get("reference"), "reference")
    sweep = config.get("sweep") or {}
    if not isinstance(sweep, Mapping):
        raise ConfigError(f"sweep: expected a mapping of settings, got {sweep!r}")
    limits = build_params(SweepLimits, {k: sweep[k] for k in ("memory_limit_mb",) if k in sweep}, "sweep")
    return RunSettings(top.seed, top.timeout_s, limits.memory_limit_mb, reference)
