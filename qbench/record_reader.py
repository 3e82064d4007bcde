"""Reading run records back: a ``record.json`` file -> a record checked against the schema.

The one reader of record files, used by sweep planning, the results store (``collect``,
``report``) and the dashboard. A file is a record only when it is a JSON object whose fields
have the types :class:`qbench.records.RunRecord` declares (derived from the dataclass itself,
so a field added there is checked without a change here): every required field present, strings
where strings are declared, integers (exactly representable as float64, as the results table
holds them) where integers are, ``status`` one of its allowed values, lists and maps of the
declared item types, and every number anywhere in it finite. Fields the schema does not know
are kept as they are. Anything else raises :class:`BadRecordError`, naming the file and field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

from qbench.records import RunRecord

#: Deeper nesting than any record has (configs and solver details are a few levels deep).
MAX_DEPTH = 64
#: Integers beyond this lose their exact value in a float64 column (and in JavaScript).
MAX_EXACT_INT = 2**53
#: Required although the dataclass has a default for it: a record without its outcome says nothing.
_ALWAYS_REQUIRED = ("status",)


class BadRecordError(ValueError):
    """A file that is not a valid run record; the message names the file and the field."""

    def __init__(self, path: str | Path | None, field: str | None, reason: str) -> None:
        where = ": ".join(str(p) for p in (path, field) if p)
        super().__init__(f"{where}: {reason}" if where else reason)
        self.path, self.field, self.reason = path, field, reason


def read_data(path: str | Path) -> dict[str, Any]:
    """The validated JSON object of the record file at ``path``."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRecordError(path, None, f"cannot be read ({type(exc).__name__}: {exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRecordError(path, None, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise BadRecordError(path, None, f"nested deeper than {MAX_DEPTH} levels") from None
    return validate(data, path)


def read(path: str | Path) -> RunRecord:
    """The record at ``path``, validated (:class:`BadRecordError` otherwise)."""
    return RunRecord.from_dict(read_data(path))


def validate(data: Any, path: str | Path | None = None) -> dict[str, Any]:
    """``data`` itself when it is a valid record (see the module docstring)."""
    if not isinstance(data, dict):
        raise BadRecordError(path, None, f"not a run record (a JSON {_json_type(data)}, not an object)")
    _check_numbers(data, path)
    hints = _field_hints()
    for name, (hint, required) in hints.items():
        if name not in data:
            if required:
                raise BadRecordError(path, name, "missing (not a run record without it)")
            continue
        if not _matches(data[name], hint):
            raise BadRecordError(path, name, f"expected {_describe(hint)}, got {_show(data[name])}")
    return data


@cache
def _field_hints() -> dict[str, tuple[Any, bool]]:
    """Each RunRecord field's type and whether it is required: it has no default (fields added
    later have one, so older records stay readable), or it is the run's outcome, ``status``."""
    hints = typing.get_type_hints(RunRecord)
    return {f.name: (hints[f.name], f.name in _ALWAYS_REQUIRED or (
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING))
            for f in dataclasses.fields(RunRecord)}


def _check_numbers(data: Any, path: str | Path | None) -> None:
    """Every number in ``data`` finite and an integer within float64's exact range, and no deeper
    nesting than :data:`MAX_DEPTH`. Iterative (a record nested just under the JSON parser's
    limit must not exhaust the stack here); paths are built only to report a defect."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH or _bad_number(value) is not None:
            field, reason = _locate(data)
            raise BadRecordError(path, field, reason)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _bad_number(value: Any) -> str | None:
    """Why ``value`` is not a number a record may hold; None if it is fine (or not a number)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"not a finite number ({value})"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INT:
        return f"integer {_show(value)} out of range (|n| <= 2^53)"
    return None


def _locate(data: Any) -> tuple[str | None, str]:
    """(field path, reason) of the first defect :func:`_check_numbers` found in ``data``."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            return where.split(".")[0].split("[")[0] or None, f"nested deeper than {MAX_DEPTH} levels"
        if (reason := _bad_number(value)) is not None:
            return where, reason
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
    raise AssertionError("no defect to locate")


def _matches(value: Any, hint: Any) -> bool:
    """Whether the JSON value ``value`` has the declared type ``hint``."""
    if hint is Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(hint))
    if origin in (list, tuple) or hint in (list, tuple):
        args = typing.get_args(hint)
        return isinstance(value, list) and (not args or all(_matches(v, args[0]) for v in value))
    if origin is dict or hint is dict:
        args = typing.get_args(hint)
        return isinstance(value, dict) and (not args or all(_matches(v, args[1]) for v in value.values()))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # a type JSON has no counterpart for: nothing to check it against


def _describe(hint: Any, plural: bool = False) -> str:
    """``hint`` in words ("an integer or null", "a list of integers")."""
    if hint is Any:
        return "any values" if plural else "any value"
    if hint is type(None) or hint is None:
        return "nulls" if plural else "null"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option, plural) for option in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(json.dumps(a) for a in typing.get_args(hint))
    args = typing.get_args(hint)
    if origin in (list, tuple) or hint in (list, tuple):
        text = f"list of {_describe(args[0], True)}" if args else "list"
        return text + "s" if plural else "a " + text
    if origin is dict or hint is dict:
        text = f"object of {_describe(args[1], True)}" if args else "object"
        return text + "s" if plural else "an " + text
    names = {bool: ("true or false", "booleans"), int: ("an integer", "integers"),
             float: ("a number", "numbers"), str: ("a string", "strings")}
    if hint in names:
        return names[hint][plural]
    return getattr(hint, "__name__", str(hint))


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
