"""Every shipped experiment runs where it says: each of its runs has an estimate and none is
estimated past its ``timeout_s`` or the memory of the machine kind CI runs on (rows declared for
IBM hardware are estimated as device time); the ``*_small`` variants fit an hour on 2 workers."""

from __future__ import annotations

import pytest

from qbench import sweep
from qbench.cost_model import PROCESS_START_S
from qbench.estimate import admit
from tests.test_sweep import EXPERIMENTS, stated_grid_size

GiB = 2**30
#: The memory a run may use on the 24 GiB machines the project is measured on.
MEMORY = 16 * GiB


def shipped() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("name", shipped())
def test_every_run_of_a_shipped_experiment_would_start(name, tmp_path):
    plan_, _ = sweep.plan([f"experiment={name}", f"output_root={tmp_path}"])
    assert len(plan_.runs) == stated_grid_size(name)
    local_seconds = 0.0
    for run in plan_.runs:
        verdict = admit(run.config, memory=MEMORY)
        assert verdict.estimate is not None, (run.label, verdict.problem)
        assert verdict.reason is None, (run.label, verdict.reason)
        if (run.config.get("backend") or {}).get("name") != "ibm":
            local_seconds += verdict.estimate.seconds + PROCESS_START_S
    if name.endswith("_small"):
        assert local_seconds / 2 <= 3600, f"{name}: {local_seconds / 2 / 60:.0f} min on 2 workers"
