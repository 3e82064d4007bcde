"""Kernel compilation: counted by numba's compile event, announced once for qbench's kernels,
and left out of the optimizer progress bar's estimate of the time left."""

import re
import time

import numba
import numpy as np

from qbench import compilation
from qbench.variational import OptimizerSettings, minimize


def test_compiling_a_function_is_counted_but_only_qbench_kernels_are_announced():
    compilation.listen()
    before = compilation.seconds()

    @numba.njit(cache=False)
    def plus_one(x):
        return x + 1

    assert plus_one(41) == 42
    assert compilation.seconds() > before  # numba compiled it: the event fired
    assert plus_one.py_func.__module__ == __name__ and not __name__.startswith("qbench.")
    # a compilation of a function outside qbench is timed but not announced as the kernels'
    assert compilation.seconds() - before < 60


def test_progress_estimate_leaves_compilation_out(capsys, monkeypatch):
    """The first evaluation spends 0.6 s 'compiling' (numba's compile event, as a kernel's first
    call does): the bar announces it in one line and estimates the time left from the
    evaluations' own time, not 0.6 s each."""
    import scipy.optimize  # noqa: F401  (imported before: its import is not what is measured)

    monkeypatch.setattr(compilation, "_CLOCK", compilation._Clock())
    calls = []

    def fun(x):
        if not calls:
            compilation._CLOCK.start("qbench.backends.sv_kernels")  # what the listener does
            time.sleep(0.6)
            compilation._CLOCK.end()
        calls.append(1)
        time.sleep(0.01)
        return float(np.sum(x ** 2))

    minimize(fun, np.ones(2), OptimizerSettings("COBYLA", maxiter=40), progress=True)
    err = capsys.readouterr().err
    assert err.count(compilation.ANNOUNCEMENT) == 1
    left = [int(m) for m in re.findall(r"left 00:(\d\d)", err)]
    # 0.6 s x 39 evaluations would show 00:23; the evaluations' own ~0.4 s shows 00:00-00:01,
    # a few seconds on a loaded machine.
    assert len(left) >= 2 and max(left) <= 5
    assert compilation.announced() and compilation.seconds() >= 0.6
