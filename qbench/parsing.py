"""Reading numeric text files strictly, with errors that name the file and line.

Every instance format here (SAC-94, OR-Library, QAPLIB, QOBLIB market split, DIMACS, TSPLIB) is
text holding numbers, so one set of rules serves all loaders:

- the file is UTF-8; a byte-order mark at its start is skipped; a NUL byte or bytes that are not
  UTF-8 make it "not a text file" (with the line where that happens);
- lines end at ``\\n``, ``\\r\\n`` or ``\\r``; fields are separated by ASCII blanks (space, tab,
  vertical tab, form feed);
- a number is ASCII: ``[+-]digits[.digits][e[+-]digits]``. Python's ``int()``/``float()`` also
  accept other scripts' digits (``'٣'``), underscores (``'7_074'``), ``nan`` and ``inf``; none of
  those is a number in a data file;
- every number is finite and at most 2^53 in magnitude (beyond it float64, which all models
  use, no longer holds every integer exactly), and an integer field holds an integer value.

Sizes a file declares are checked before anything of that size is allocated: against the data
that follows (:meth:`NumberStream.require`) or, where the data does not bound them (isolated
vertices of a graph), against the memory available (:func:`check_memory`).
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from qbench.errors import InputFileError
from qbench.memory import available_bytes, format_bytes

#: Largest magnitude of a number in a data file: float64 holds every integer up to it exactly.
MAX_MAGNITUDE = 2**53

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_BLANKS = re.compile(r"[ \t\v\f]+")

#: One field of a file and the line it is on.
Token = tuple[str, int]


def read_text(path: Path) -> str:
    """The file's text: UTF-8 without a leading byte-order mark, line ends turned into ``\\n``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, exc.strerror or str(exc)) from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _line_at(data, exc.start)
        raise InputFileError(path, f"not a text file (byte 0x{data[exc.start]:02x} is not UTF-8)", line) from None
    nul = text.find("\0")
    if nul >= 0:
        raise InputFileError(path, "not a text file (NUL byte)", _line_at(text, nul))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_at(data: bytes | str, offset: int) -> int:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, offset) + 1


def read_lines(path: Path) -> list[str]:
    """The file's lines (numbered from 1 by position), without their line ends."""
    lines = read_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered, stripped, non-empty lines."""
    for number, line in enumerate(read_lines(path), 1):
        stripped = line.strip(" \t\v\f")
        if stripped:
            yield number, stripped


def split_fields(line: str) -> list[str]:
    """The fields of a line, separated by ASCII blanks only."""
    return [field for field in _BLANKS.split(line) if field]


def parse_number(path: Path, token: str, line: int | None, field: str, minimum: float | None = None) -> float:
    """``token`` as a finite float of magnitude <= 2^53 (and >= ``minimum``), or an error naming
    ``field``, the file and the line."""
    if not _DECIMAL.fullmatch(token):
        if _NOT_FINITE.fullmatch(token):
            raise InputFileError(path, f"{field}: must be a finite number, got {token!r}", line)
        hint = " (ASCII digits only)" if not token.isascii() else ""
        raise InputFileError(path, f"{field}: expected a number{hint}, got {token!r}", line)
    value = float(token)
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise InputFileError(path, f"{field}: must lie within +-2^53 = {MAX_MAGNITUDE}, got {token}", line)
    if minimum is not None and value < minimum:
        raise InputFileError(path, f"{field}: must be >= {minimum:g}, got {token}", line)
    return value


def parse_int(
    path: Path, token: str, line: int | None, field: str, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``token`` as an integer (``12``, or an integral decimal such as ``12.0``) of magnitude
    <= 2^53 within [``minimum``, ``maximum``], or an error naming ``field``, the file and the line."""
    if _INTEGER.fullmatch(token):
        value = int(token)
        if abs(value) > MAX_MAGNITUDE:
            raise InputFileError(path, f"{field}: must lie within +-2^53 = {MAX_MAGNITUDE}, got {token}", line)
    elif _DECIMAL.fullmatch(token):
        as_float = parse_number(path, token, line, field)
        if not as_float.is_integer():
            raise InputFileError(path, f"{field}: expected an integer, got {token!r}", line)
        value = int(as_float)
    elif _NOT_FINITE.fullmatch(token):
        raise InputFileError(path, f"{field}: must be a finite number, got {token!r}", line)
    else:
        hint = " (ASCII digits only)" if not token.isascii() else ""
        raise InputFileError(path, f"{field}: expected an integer{hint}, got {token!r}", line)
    if minimum is not None and value < minimum:
        raise InputFileError(path, f"{field}: must be >= {minimum}, got {value}", line)
    if maximum is not None and value > maximum:
        raise InputFileError(path, f"{field}: must be <= {maximum}, got {value}", line)
    return value


def check_memory(path: Path, line: int | None, what: str, needed_bytes: float) -> None:
    """Refuse a declared size whose model would not fit in the memory available now."""
    available = available_bytes()
    if needed_bytes > available:
        raise InputFileError(
            path, f"{what} need about {format_bytes(needed_bytes)} of memory; "
            f"{format_bytes(available)} is available", line,
        )


class NumberStream:
    """Numbers of a text file in order, remembering each one's line for error messages.

    ``comment`` prefixes mark lines to skip entirely (``#`` in QOBLIB files). ``numbered_lines``
    (``(line number, text)`` pairs) replaces the file's lines, for a format whose numbers are
    one part of a larger file.
    """

    def __init__(
        self,
        path: Path,
        comment: tuple[str, ...] = (),
        numbered_lines: Iterable[tuple[int, str]] | None = None,
    ) -> None:
        self.path = Path(path)
        if numbered_lines is None:
            numbered_lines = enumerate(read_lines(self.path), 1)
        self._tokens: list[Token] = []
        self._end_line = 1
        for number, line in numbered_lines:
            self._end_line = number
            if comment and line.lstrip(" \t\v\f").startswith(comment):
                continue
            self._tokens.extend((token, number) for token in split_fields(line))
        self._pos = 0

    @property
    def line(self) -> int:
        """Line of the next token (of the last one at the end; of the last line without any)."""
        if self._pos < len(self._tokens):
            return self._tokens[self._pos][1]
        return self._tokens[-1][1] if self._tokens else self._end_line

    def token_line(self, offset: int) -> int | None:
        """Line of the token ``offset`` places ahead (``None`` past the end)."""
        index = self._pos + offset
        return self._tokens[index][1] if index < len(self._tokens) else None

    def remaining(self) -> int:
        return len(self._tokens) - self._pos

    def exhausted(self) -> bool:
        return self._pos >= len(self._tokens)

    def require(self, count: int, what: str, line: int | None) -> None:
        """Refuse, before anything of that size is allocated, a declared size the file cannot
        hold: ``what`` (declared on ``line``) needs ``count`` more numbers."""
        if count > self.remaining():
            for token, token_line in self._tokens[self._pos:]:
                # a token that is no number explains a short count better than the count does
                parse_number(self.path, token, token_line, "data")
            raise InputFileError(
                self.path, f"{what} need {count} more numbers; the file has {self.remaining()}", line
            )

    def _next(self, field: str) -> Token:
        if self._pos >= len(self._tokens):
            raise InputFileError(self.path, f"file ends before {field}", self.line)
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def float(self, field: str, minimum: float | None = None) -> float:
        token, line = self._next(field)
        return parse_number(self.path, token, line, field, minimum)

    def int(self, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
        token, line = self._next(field)
        return parse_int(self.path, token, line, field, minimum, maximum)

    def floats(self, count: int, field: str, minimum: float | None = None) -> np.ndarray:
        self._check_available(count, field)
        return np.array([self.float(f"{field}[{i}]", minimum) for i in range(count)], dtype=float)

    def ints(self, count: int, field: str, minimum: int | None = None, maximum: int | None = None) -> np.ndarray:
        self._check_available(count, field)
        return np.array([self.int(f"{field}[{i}]", minimum, maximum) for i in range(count)], dtype=np.int64)

    def _check_available(self, count: int, field: str) -> None:
        """A vector longer than the rest of the file is refused where the file ends, before it
        is built."""
        available = self.remaining()
        if count > available:
            self._pos = len(self._tokens)
            raise InputFileError(self.path, f"file ends before {field}[{available}]", self.line)

    def expect_end(self) -> None:
        if not self.exhausted():
            token, line = self._tokens[self._pos]
            raise InputFileError(self.path, f"unexpected extra data {token!r}", line)

