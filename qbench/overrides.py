"""Check command-line overrides before Hydra runs them, so mistakes cost one line.

Group choices (``solver=foo``) are checked against the config groups, then every combination's
first values are composed with Hydra's compose API, whose errors are folded into one line.
"""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from qbench import registry
from qbench.errors import ConfigError

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


def validate_overrides(argv: list[str]) -> None:
    overrides = split_overrides(argv)
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
            compose(config_name="config", overrides=first_values)
        except (HydraException, OmegaConfBaseException) as exc:
            raise ConfigError(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    noise = ("full_key", "object_type", "reference_type", "Set the environment variable")
    lines = [l.strip() for l in str(exc).splitlines() if l.strip() and not l.strip().startswith(noise)]
    return "; ".join(lines[:3]) or type(exc).__name__
