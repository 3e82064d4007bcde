"""Config groups and the components they name.

The Hydra config groups under ``qbench/conf`` are the registry: a solver, backend or formulation
is a config file whose ``_target_`` names its class, so adding one is one module plus one file.
Problem configs name a module of ``problems/`` through ``name``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qbench.errors import ConfigError
from qbench.params import build_params, to_plain
from qbench.problem import Problem, ProblemFamily

CONF_DIR = Path(__file__).resolve().parent / "conf"
GROUPS = ("problem", "solver", "backend", "formulation")


def choices(group: str) -> list[str]:
    """The options of a config group (its YAML files)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_choice(group: str, value: str) -> None:
    options = choices(group)
    if value not in options:
        raise ConfigError(f"unknown {group} {value!r}; choose one of: {', '.join(options)}")


def load_target(target: str) -> Any:
    """Import ``package.module.Name``."""
    module_name, _, attr = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load {target!r}: {exc}") from None


def build_component(cfg: Mapping[str, Any], group: str) -> Any:
    """Instantiate the class named by ``cfg._target_`` with its validated ``Params``.

    Keys other than ``_target_`` and ``name`` are the parameters.
    """
    values = dict(to_plain(cfg))
    target = values.pop("_target_", None)
    values.pop("name", None)
    if target is None:
        raise ConfigError(f"{group}: config has no _target_")
    cls = load_target(target)
    return cls(build_params(cls.Params, values, group))


def problem_family(kind: str) -> ProblemFamily:
    check_choice("problem", kind)
    module = importlib.import_module(f"qbench.problems.{kind}")
    return module.FAMILY


def build_problem(cfg: Mapping[str, Any]) -> Problem:
    """Generate or load the instance that ``cfg`` (the ``problem`` config node) describes."""
    from qbench import instances

    values = dict(to_plain(cfg))
    kind = values.pop("name")
    family = problem_family(kind)
    spec = values.pop("instance", None)
    generator = values.pop("generator", None)
    options = build_params(family.Options, values, "problem")
    if spec is None:
        return family.generate(build_params(family.Generator, generator, "problem.generator"), options)
    resolved = instances.resolve(kind, str(spec))
    return family.load(resolved.path, options, resolved.entry)
