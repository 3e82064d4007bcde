"""Sweeps through hydra-ray-launcher on a real local Ray cluster (``ray start --head``).

The fixture starts a private head node (2 CPUs, free ports, its own ``--temp-dir``, no
dashboard, no usage stats) as ``ray start --block`` in a new session, and stops it by killing
that session's process group: ``ray stop`` would stop every Ray process on the machine, other
people's clusters included. When ray or the plugin is not installed (the ``ray`` extra), or the
head cannot start, the tests skip and print why.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import free_port, repo_root, skip_printed
from tests.test_sweep import assert_one_record_per_key

pytestmark = pytest.mark.slow

# 2 solved runs, 1 invalid (the run records its error), 1 killed at its wall-clock limit = 4.
EXPERIMENT = """\
# @package _global_
output_root: results/ray_smoke
timeout_s: 120
progress: false
# The annealing run must start and hit its wall-clock limit, not be skipped by its estimate.
force: true
problem:
  generator: {n_items: 4, n_constraints: 2}
sweep:
  experiment: ray_smoke
  grids:
    - solver: scip,exact
    - solver: exact
      problem.generator.n_items: 0
    - solver: sa
      solver.num_reads: 100000
      solver.num_sweeps: 100000
      timeout_s: 3
      force: true
"""

# Resume grid: 2 quick exact runs and one annealing run of several seconds = 3 runs.
RESUME = """\
# @package _global_
output_root: results/ray_resume
timeout_s: 120
progress: false
problem:
  generator: {n_items: 4, n_constraints: 2}
sweep:
  experiment: ray_resume
  grids:
    - solver: exact
      problem.generator.seed: 0,1
    - solver: sa
      solver.num_reads: 5000
      solver.num_sweeps: 5000
"""


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the head node: the whole session ``ray start`` leads (GCS, raylet, workers)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):  # a short grace, then whatever is left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)


@pytest.fixture(scope="module")
def ray_cluster():
    for module in ("ray", "hydra_plugins.hydra_ray_launcher"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            skip_printed("test_ray", f"{module} is not installed (pip install -e \".[ray]\")")
    ray_cli = Path(sys.executable).with_name("ray")
    if not ray_cli.exists():
        skip_printed("test_ray", f"the ray command is not next to {sys.executable}")
    # Short, private temp dir: Ray's socket paths must stay under the 107-byte Unix limit.
    temp_dir = Path(tempfile.mkdtemp(prefix="qbray-"))
    port = free_port()
    # Token authentication with a private token (Ray's own format): the cluster and the sweep
    # agree on it, whatever ~/.ray/auth_token holds or whether one exists.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(repo_root()),
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    log = temp_dir / "ray_start.log"
    cmd = [str(ray_cli), "start", "--head", "--block", "--num-cpus", "2", f"--port={port}",
           "--node-ip-address=127.0.0.1", f"--ray-client-server-port={free_port()}",
           f"--dashboard-agent-listen-port={free_port()}", "--include-dashboard=false",
           "--disable-usage-stats", f"--temp-dir={temp_dir}"]
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                skip_printed("test_ray", f"ray start exited with {proc.returncode}: "
                                         f"{log.read_text()[-600:]}")
            status = subprocess.run([str(ray_cli), "status", f"--address={address}"], env=env,
                                    capture_output=True, text=True, timeout=30)
            if status.returncode == 0 and "CPU" in status.stdout:
                break
            if time.time() > deadline:
                skip_printed("test_ray", f"the Ray head did not come up in 60 s: "
                                         f"{log.read_text()[-400:]} (ray status: "
                                         f"{status.stderr.strip()[-300:]})")
            time.sleep(1)
        yield address, temp_dir, env
    finally:
        _stop_group(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _sweep_cmd(name: str, root: Path, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "qbench", "sweep", f"experiment={name}", f"output_root={root}",
            "hydra/launcher=ray", f"hydra.launcher.ray.init.address={address}", "--no-progress",
            *extra]


def _experiments(tmp_path: Path, name: str, text: str) -> Path:
    directory = tmp_path / "experiments"
    directory.mkdir()
    (directory / f"{name}.yaml").write_text(text)
    return directory


def _isolated_children(root: Path) -> list[int]:
    """Process ids of run children (``python -m qbench.isolate DIR``) working under ``root``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"qbench.isolate" in argv and any(a.startswith(str(root).encode()) for a in argv):
            pids.append(int(proc.name))
    return pids


def test_sweep_through_ray_cluster_records_every_run(ray_cluster, tmp_path):
    address, temp_dir, env = ray_cluster
    env = {**env, "QBENCH_EXPERIMENTS": str(_experiments(tmp_path, "ray_smoke", EXPERIMENT))}
    root = tmp_path / "out"
    cmd = _sweep_cmd("ray_smoke", root, address)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=repo_root(),
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 ok, 1 error, 1 timeout, 0 skipped, 0 missing of 4 runs" in out.stdout
    assert "Traceback" not in out.stderr and "ConfigStore schema" not in out.stderr
    found = assert_one_record_per_key(root)
    by_status = sorted((r["status"], r["solver"]) for r in found)
    assert by_status == [("error", "exact"), ("ok", "exact"), ("ok", "scip"), ("timeout", "sa")]
    assert all(r["gap"] == 0 for r in found if r["status"] == "ok")
    (invalid,) = [r for r in found if r["status"] == "error"]
    assert "problem.generator.n_items: must be >= 1" in invalid["error"]
    (late,) = [r for r in found if r["status"] == "timeout"]
    assert "wall-clock limit of 3 s" in late["error"] and 3 <= late["times"]["total"] < 30
    # The sweep joined this cluster (its driver logged into the cluster's session directory)
    # rather than starting a Ray of its own.
    assert list(temp_dir.glob("session_*/logs/python-core-driver-*.log"))
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=repo_root(),
                           timeout=120)
    assert "4 runs, 2 done, 2 failed (1 error, 1 timeout) kept" in again.stdout
    assert "0 to run" in again.stdout and len(assert_one_record_per_key(root)) == 4


def test_killed_ray_sweep_resumes_to_the_exact_grid(ray_cluster, tmp_path):
    address, _, env = ray_cluster
    env = {**env, "QBENCH_EXPERIMENTS": str(_experiments(tmp_path, "ray_resume", RESUME))}
    root = tmp_path / "out"
    cmd = _sweep_cmd("ray_resume", root, address)
    proc = subprocess.Popen(cmd, env=env, cwd=repo_root(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    # Until the two quick runs are done and the annealing run's child process is at work.
    while len(list(root.rglob("record.json"))) < 2 or not _isolated_children(root):
        assert proc.poll() is None and time.time() < deadline, "the sweep ended before the kill"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # the sweep's driver, mid-run
    proc.wait(timeout=30)
    partial = assert_one_record_per_key(root)
    assert sorted(r["solver"] for r in partial) == ["exact", "exact"], "the sweep finished first"
    # Ray ends the dead driver's tasks; their run children go with them (no orphan, no record).
    deadline = time.time() + 30
    while _isolated_children(root) and time.time() < deadline:
        time.sleep(0.5)
    assert not _isolated_children(root), "a run child outlived its killed sweep"
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=repo_root(),
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ray_resume: 3 runs, 2 done, 1 to run" in out.stdout
    found = assert_one_record_per_key(root)
    got = sorted((r["solver"], r["config"]["problem"]["generator"]["seed"]) for r in found)
    assert got == [("exact", 0), ("exact", 1), ("sa", 0)]
    assert all(r["status"] == "ok" for r in found)
