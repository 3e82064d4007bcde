"""Planning a sweep: each grid point's config and key as Hydra composes them for the job (the
planner composes each choice of config groups once and applies the values itself), and the
``sweep.products`` grids of the comparative experiments."""

from __future__ import annotations


import pytest

from qbench import sweep

pytestmark = pytest.mark.slow

GRID = """\
# @package _global_
output_root: results/planned
timeout_s: 120
progress: false
hydra:
  sweeper:
    params:
      seed: 0,1
sweep:
  experiment: planned
  sets:
    small:
      - problem: mdkp
        problem.generator.n_items: 3,4
      - problem: mis
        problem.generator.n: 6
  products:
    - ["${sweep.sets.small}", [{solver: sa, solver.num_reads: 10}, {solver: qaoa, backend: aer, solver.reps: 1}]]
  grids:
    - solver: exact
      timeout_s: 4
      force: true
    - solver: sa
      ++sweep.memory_limit_mb: 300
    - solver: sa
      +solver.extra: 1
"""


def full_composition(plan_, hydra, run):
    combo = [o for o in run.overrides if not o.startswith("++sweep.key=")]
    return sweep._plain_job_config(hydra.config_loader.load_sweep_config(plan_.master, combo))


def test_planned_configs_and_keys_are_hydras(tmp_path, monkeypatch):
    (tmp_path / "planned.yaml").write_text(GRID)
    monkeypatch.setenv("QBENCH_EXPERIMENTS", str(tmp_path))
    plan_, hydra = sweep.plan(["experiment=planned", f"output_root={tmp_path / 'out'}"])
    # 2 seeds x (3 problem points x 2 methods + exact + sa with a memory limit); "+solver.extra" is
    # not a parameter of sa: its run keeps the config, and fails when it runs, as with Hydra alone
    assert len(plan_.runs) == 2 * (3 * 2 + 1 + 1 + 1)
    for run in plan_.runs:
        assert run.config == full_composition(plan_, hydra, run)
        assert run.key == sweep.config_key(run.config)
    limits = [r for r in plan_.runs if (r.config["sweep"].get("memory_limit_mb") == 300)]
    assert len(limits) == 2
    forced = [r for r in plan_.runs if r.config["force"]]
    assert len(forced) == 2 and all(r.config["timeout_s"] == 4 for r in forced)
    assert all(r.config["sweep"]["products"][0][0][0]["problem"] == "mdkp" for r in plan_.runs)


def test_smoke_plan_is_hydras():
    plan_, hydra = sweep.plan(["experiment=smoke", "output_root=/nonexistent/smoke"])
    assert len(plan_.runs) == 18
    for run in plan_.runs:
        assert run.config == full_composition(plan_, hydra, run)
