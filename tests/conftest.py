"""Shared fixtures. Shipped-instance tests read ``QBENCH_INSTANCES`` (default ``../shared/instances``);
without it they skip with the reason shown, unless ``QBENCH_REQUIRE_INSTANCES`` is set (CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_INSTANCES = ROOT.parent / "shared" / "instances"

if "QBENCH_INSTANCES" not in os.environ and _DEFAULT_INSTANCES.is_dir():
    os.environ["QBENCH_INSTANCES"] = str(_DEFAULT_INSTANCES)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never read or write the user's download cache from tests."""
    monkeypatch.setenv("QBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def instances_dir() -> Path:
    """The directory of shipped benchmark files with verified optima."""
    value = os.environ.get("QBENCH_INSTANCES")
    if value and Path(value).is_dir():
        return Path(value)
    message = "QBENCH_INSTANCES is not set to a directory of benchmark files (see README)"
    if os.environ.get("QBENCH_REQUIRE_INSTANCES"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def numba_kernels(monkeypatch):
    """Route every state, however small, through the numba kernels (states of fewer than
    ``sv_kernel_sets.NUMPY_BELOW`` qubits otherwise run on NumPy), so that tests of the kernels
    can use small states."""
    from qbench.backends import sv_kernel_sets

    monkeypatch.setattr(sv_kernel_sets, "NUMPY_BELOW", 0)


@pytest.fixture(autouse=True)
def _no_global_hydra_left():
    """``sweep.plan`` leaves Hydra initialised for the sweep that follows it (as the CLI needs);
    a test must not pass that on to the next test in its process."""
    yield
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
