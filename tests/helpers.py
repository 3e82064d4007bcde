"""Small helpers shared by tests: composing configs and running them in-process."""

from __future__ import annotations

from pathlib import Path

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
