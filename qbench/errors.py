"""User-facing errors.

Everything a user can cause (a bad config value, a malformed file, an unknown name) raises a
subclass of :class:`QbenchError`. The CLI prints such an error as one line and exits with status 2;
anything else is a bug and keeps its traceback in the run record.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


class QbenchError(Exception):
    """An error caused by the user's input or configuration; its message is one line."""


class ConfigError(QbenchError):
    """A configuration value is missing, unknown or out of range."""


class InputFileError(QbenchError):
    """A data file is malformed; the message names the file and, where known, the line."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line


class InstanceNotFoundError(QbenchError):
    """A named instance is neither known, nor present locally or in the download cache."""


class ResourceLimitError(QbenchError):
    """A run would exceed a resource limit (memory, variable count) and was refused up front."""


class QubitCapacityError(ResourceLimitError):
    """A circuit needs more qubits, or memory for them, than the backend has. ``fits(q)`` says
    whether ``q`` qubits would fit there; ``backend_hints`` name settings that lift the limit
    (e.g. ``backend=aer_mps``). The runner adds the solvers that would fit (:mod:`qbench.alternatives`)."""

    def __init__(self, message: str, num_qubits: int, fits: Callable[[int], bool],
                 backend_hints: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.num_qubits = num_qubits
        self.fits = fits
        self.backend_hints = backend_hints
def warn(message: str) -> None:
    """Print a one-line warning (something skipped, the command carries on)."""
    print(f"qbench: warning: {message}", file=sys.stderr, flush=True)
