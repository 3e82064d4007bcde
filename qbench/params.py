"""Validated parameter objects built from Hydra config mappings.

Hydra hands us nested mappings; the code works with frozen dataclasses whose ``__post_init__``
checks ranges. :func:`build_params` is the single place where one becomes the other, so an
unknown key or a bad value always produces the same kind of one-line error naming the field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf

from qbench.errors import ConfigError

T = TypeVar("T")


def to_plain(value: Any) -> Any:
    """Convert OmegaConf containers (recursively) into plain dicts and lists."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def build_params(cls: type[T], values: Mapping[str, Any] | None, where: str) -> T:
    """Instantiate the dataclass ``cls`` from ``values``, reporting errors against ``where``.

    ``where`` is the config path shown to the user, e.g. ``"problem.generator"`` (``""`` for
    top-level keys).
    """
    values = to_plain(values) or {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, got {values!r}")
    values = dict(values)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    coerced = {}
    for name, value in values.items():
        coerced[name] = _coerce(value, hints.get(name, Any), f"{where}.{name}" if where else name)
    try:
        return cls(**coerced)
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") if not str(exc).startswith(where) else exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a simple type hint, converting ints to floats where floats are wanted."""
    if value is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(
                f"{where}: {value!r} is not allowed; choose one of {', '.join(map(str, allowed))}"
            )
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            return str(value)
        return value
    return value


def check(condition: bool, field: str, message: str) -> None:
    """Raise a :class:`ConfigError` about ``field`` unless ``condition`` holds.

    Used in dataclass ``__post_init__`` methods; :func:`build_params` prefixes the config path.
    """
    if not condition:
        raise ConfigError(f"{field}: {message}")
