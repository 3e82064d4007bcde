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
