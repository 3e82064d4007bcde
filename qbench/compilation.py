"""numba compiling qbench's kernels: announced in one line, and its seconds counted.

numba compiles a kernel the first time it is called with new argument types unless its on-disk
cache (``cache=True``, ``NUMBA_CACHE_DIR`` or ``__pycache__``) already holds it, so the first
run on the numba state-vector kernels after an install spends tens of seconds compiling (states
of fewer than ``sv_kernel_sets.NUMPY_BELOW`` qubits run on NumPy and compile nothing). :func:`listen`
(called when the kernels are imported) registers a listener for numba's ``numba:compile`` event,
which numba fires only when it really compiles, not when it loads from its cache: the first
compilation of a kernel of :mod:`qbench.backends` prints one line on stderr, and
:func:`seconds` gives the time spent compiling so far, which progress bars leave out of their
estimate of the time remaining (:func:`qbench.variational.minimize`).

This module imports numba only inside :func:`listen`, so reading :func:`seconds` costs nothing
in a run that never touches the kernels.
"""

from __future__ import annotations

import sys
import time

ANNOUNCEMENT = ("qbench: compiling the state-vector kernels (once per install: numba caches "
                "them; tens of seconds) ...")
_OWN_MODULES = "qbench."


class _Clock:
    """Compile time in this process: nested compilations (a kernel compiling the functions it
    calls) count once."""

    def __init__(self) -> None:
        self.depth = 0
        self.started = 0.0
        self.total = 0.0
        self.announced = False
        self.listening = False

    def start(self, module: str) -> None:
        if self.depth == 0:
            self.started = time.perf_counter()
        self.depth += 1
        if not self.announced and module.startswith(_OWN_MODULES):
            self.announced = True
            _announce()

    def end(self) -> None:
        self.depth = max(self.depth - 1, 0)
        if self.depth == 0:
            self.total += time.perf_counter() - self.started

    def seconds(self) -> float:
        running = time.perf_counter() - self.started if self.depth else 0.0
        return self.total + running


_CLOCK = _Clock()


def _announce() -> None:
    from tqdm import tqdm

    tqdm.write(ANNOUNCEMENT, file=sys.stderr)  # above any progress bar on the terminal
    sys.stderr.flush()


def seconds() -> float:
    """Seconds this process has spent compiling numba functions (while listening)."""
    return _CLOCK.seconds()


def announced() -> bool:
    """Whether this process has announced a compilation of qbench's kernels."""
    return _CLOCK.announced


def listen() -> None:
    """Register the ``numba:compile`` listener (once per process)."""
    if _CLOCK.listening:
        return
    from numba.core import event

    class Listener(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            dispatcher = (ev.data or {}).get("dispatcher")
            function = getattr(dispatcher, "py_func", None)
            _CLOCK.start(getattr(function, "__module__", "") or "")

        def on_end(self, ev: event.Event) -> None:
            _CLOCK.end()

    event.register("numba:compile", Listener())
    _CLOCK.listening = True
