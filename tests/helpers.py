"""Small helpers shared by tests: composing configs, running them in-process, brute-force optima."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

from qbench import runner
from qbench.records import RunRecord
from qbench.registry import CONF_DIR


def compose_config(*overrides: str):
    """The resolved config for ``overrides``, as ``python -m qbench run`` would build it."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def run(*overrides: str) -> RunRecord:
    """Execute a run in-process and return its record (not written to disk)."""
    return runner.execute(compose_config(*overrides))


def brute_force_optimum(problem) -> float:
    """Best native objective over all feasible 0/1 vectors (small instances only). Market split
    is QOBLIB's unconstrained minimisation of sum_i (A_i x - b_i)^2: every vector competes, and
    "feasible" (an exact split) only says whether the optimum is 0."""
    n = problem.size()["variables"]
    best = None
    for bits in itertools.product([0, 1], repeat=n):
        ev = problem.evaluate(np.array(bits))
        if (ev.feasible or problem.kind == "msp") and (
                best is None or (ev.objective > best if problem.sense == "max" else ev.objective < best)):
            best = ev.objective
    return best


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (for daemons a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def skip_printed(test: str, reason: str):
    """Skip, printing why on stderr as well (a skipped integration test is never silent)."""
    import sys

    import pytest

    print(f"\n{test} skipped: {reason}", file=sys.stderr, flush=True)
    pytest.skip(reason)
