"""Check command-line overrides before Hydra runs them, so mistakes cost one line.

Overrides carrying a credential are refused first (:func:`qbench.secrets.check_overrides`), so
that Hydra never saves one. Group choices (``solver=foo``) are checked against the config
groups, then every combination's first values are composed with Hydra's compose API, whose
errors are folded into one line; the composed config's own settings (seed, reference, ...) and
credentials are checked by :func:`check_config`.
"""

from __future__ import annotations

import re
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qbench import registry, secrets
from qbench.errors import ConfigError
from qbench.settings import run_settings

_HYDRA_FLAGS_WITH_VALUE = ("--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd",
                           "--cfg", "-c", "--package", "-p", "--info", "-i", "--experimental-rerun")


def split_overrides(argv: list[str]) -> list[str]:
    """The ``key=value`` overrides among Hydra's command-line arguments."""
    overrides, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _HYDRA_FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides


def compose_first(argv: list[str]) -> dict[str, Any]:
    """The resolved job config (plain dicts) of every override's first value; ConfigError if
    the overrides carry a credential, name an unknown choice or do not compose."""
    overrides = split_overrides(argv)
    secrets.check_overrides(overrides)
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        raise ConfigError(_one_line(exc)) from None
    first_values = []
    for override in parsed:
        key = override.get_key_element()
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else None
        if key.lstrip("+~") in registry.GROUPS and not override.is_delete():
            for value in values or [override.value()]:
                registry.check_choice(key.lstrip("+~"), str(value))
        first_values.append(f"{key}={values[0]}" if values else override.input_line)
    with initialize_config_dir(config_dir=str(registry.CONF_DIR), version_base="1.3"):
        try:
            return OmegaConf.to_container(compose(config_name="config", overrides=first_values), resolve=True)
        except (HydraException, OmegaConfBaseException) as exc:
            raise _compose_error(exc, first_values) from None


def _compose_error(exc: BaseException, overrides: list[str]) -> ConfigError:
    """One line; for a field that does not exist, the fields that do (Hydra says only that it
    could not override it)."""
    match = re.search(r"Could not override '([^']+)'", str(exc))
    if match:
        key = match.group(1)
        parent = key.rpartition(".")[0]
        others = [o for o in overrides if o.partition("=")[0].lstrip("+~") != key]
        try:
            node = compose(config_name="config", overrides=others)
            node = OmegaConf.select(node, parent) if parent else node
        except (HydraException, OmegaConfBaseException):
            node = None
        if isinstance(node, DictConfig):
            fields = sorted(str(k) for k in node.keys() if not str(k).startswith("_"))
            return ConfigError(f"{key}: no such field; allowed: {', '.join(fields)}")
    return ConfigError(_one_line(exc))


def check_config(config: dict[str, Any]) -> None:
    """The run's own settings valid, and no credential in the config (ConfigError otherwise)."""
    run_settings(config)
    secrets.check_config(config)


def validate_overrides(argv: list[str]) -> dict[str, Any]:
    """:func:`compose_first` and :func:`check_config`: the config of the first values, checked."""
    config = compose_first(argv)
    check_config(config)
    return config


def _one_line(exc: BaseException) -> str:
    noise = ("full_key", "object_type", "reference_type", "Set the environment variable")
    lines = [l.strip() for l in str(exc).splitlines() if l.strip() and not l.strip().startswith(noise)]
    return "; ".join(lines[:3]) or type(exc).__name__
