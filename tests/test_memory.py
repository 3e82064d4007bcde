"""The memory guard counts the address-space limit a sweep sets (``sweep.memory_limit_mb``), so
a state that cannot fit under it is refused up front instead of failing mid-allocation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qbench.isolate import run_isolated
from qbench.params import to_plain
from tests.helpers import compose_config, repo_root

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

PROBE = """\
import resource
from qbench import memory
used = memory._address_space_used()
resource.setrlimit(resource.RLIMIT_AS, (used + 2**30, resource.RLIM_INFINITY))
print(memory.available_bytes())
print(memory.describe_available())
"""


def test_available_memory_is_capped_by_the_address_space_limit():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=repo_root(),
                         timeout=60)
    assert out.returncode == 0, out.stderr
    available, described = out.stdout.splitlines()
    assert 0.9 * 2**30 < int(available) <= 2**30  # the 1 GiB left under the limit, not the machine's memory
    assert "is available under the process's address-space limit of " in described
    assert described.endswith(" (sweep.memory_limit_mb)")


@pytest.mark.slow
def test_a_state_too_large_for_the_sweep_memory_limit_is_refused_up_front(tmp_path):
    config = to_plain(compose_config("problem=mis", "problem.generator.n=26", "solver=qaoa", "solver.reps=1",
                                     "solver.maxiter=1", "backend=statevector", "progress=false",
                                     "force=true"))  # past the estimate, to the guard
    assert run_isolated(config, tmp_path, timeout_s=300, memory_limit_mb=3000) == "error"
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["error"].startswith("26 qubits need about 2.5 GiB on backend statevector but only ")
    assert "under the process's address-space limit of 2.93 GiB (sweep.memory_limit_mb)" in record["error"]
    assert record["error_traceback"] is None  # a refusal, not a crash (no MemoryError)
