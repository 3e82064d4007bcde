"""Reading whitespace-separated numeric files with errors that name the file and line.

Every instance format here (SAC-94, OR-Library, QAPLIB, QOBLIB market split, DIMACS) is a
stream of numbers, so one tokenizer serves all loaders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from qbench.errors import InputFileError


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text()
    except UnicodeDecodeError:
        raise InputFileError(path, "not a text file") from None
    except OSError as exc:
        raise InputFileError(path, exc.strerror or str(exc)) from None


class NumberStream:
    """Numbers of a text file in order, remembering each one's line for error messages.

    ``comment`` prefixes mark lines to skip entirely (``#`` in QOBLIB files).
    """

    def __init__(self, path: Path, comment: tuple[str, ...] = ()) -> None:
        self.path = Path(path)
        self._tokens: list[tuple[str, int]] = []
        for number, line in enumerate(read_text(self.path).splitlines(), 1):
            if comment and line.lstrip().startswith(comment):
                continue
            self._tokens.extend((token, number) for token in line.split())
        self._pos = 0

    @property
    def line(self) -> int | None:
        """Line of the next token (or of the last one at the end)."""
        if self._pos < len(self._tokens):
            return self._tokens[self._pos][1]
        return self._tokens[-1][1] if self._tokens else None

    def exhausted(self) -> bool:
        return self._pos >= len(self._tokens)

    def _next(self, field: str) -> tuple[str, int]:
        if self._pos >= len(self._tokens):
            raise InputFileError(self.path, f"file ends before {field}", self.line)
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def float(self, field: str) -> float:
        token, line = self._next(field)
        try:
            return float(token)
        except ValueError:
            raise InputFileError(self.path, f"{field}: expected a number, got {token!r}", line) from None

    def int(self, field: str, minimum: int | None = None) -> int:
        token, line = self._next(field)
        try:
            value = int(token)
        except ValueError:
            try:
                as_float = float(token)
            except ValueError:
                as_float = None
            if as_float is None or not as_float.is_integer():
                raise InputFileError(self.path, f"{field}: expected an integer, got {token!r}", line) from None
            value = int(as_float)
        if minimum is not None and value < minimum:
            raise InputFileError(self.path, f"{field}: must be >= {minimum}, got {value}", line)
        return value

    def floats(self, count: int, field: str) -> np.ndarray:
        return np.array([self.float(f"{field}[{i}]") for i in range(count)], dtype=float)

    def ints(self, count: int, field: str) -> np.ndarray:
        return np.array([self.int(f"{field}[{i}]") for i in range(count)], dtype=np.int64)

    def expect_end(self) -> None:
        if not self.exhausted():
            token, line = self._tokens[self._pos]
            raise InputFileError(self.path, f"unexpected extra data {token!r}", line)


def lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered, stripped, non-empty lines."""
    for number, line in enumerate(read_text(path).splitlines(), 1):
        stripped = line.strip()
        if stripped:
            yield number, stripped
