"""A sweep submitted through hydra-submitit-launcher to a real single-node Slurm.

The test starts its own munge + slurmctld + slurmd (Debian's ``munge`` and ``slurm-wlm``,
installed by ``.ci/run``) with a private configuration under a temporary directory (own ports,
own munge socket; ``/etc`` is not touched), submits a two-run sweep, checks the records, and
stops the daemons by their process ids. When the daemons cannot start here (not root, packages
missing, a daemon exits), it skips and prints why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import free_port, repo_root, skip_printed

pytestmark = pytest.mark.slow

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")

EXPERIMENT = """\
# @package _global_
# Slurm test grid: 2 solvers on one generated MDKP instance = 2 runs.
output_root: results/slurm_smoke
timeout_s: 120
progress: false
problem:
  generator: {n_items: 4, n_constraints: 2}
sweep:
  experiment: slurm_smoke
hydra:
  sweeper:
    params:
      solver: scip,exact
"""


def _skip(reason: str):
    skip_printed("test_slurm", reason)


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _slurm_conf(base: Path, munge_socket: Path) -> str:
    host = socket.gethostname().split(".")[0]
    memory_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    return f"""\
ClusterName=qbenchtest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = [d for d in DAEMONS if shutil.which(d) is None and not Path(f"/usr/sbin/{d}").exists()]
    if missing:
        _skip(f"Slurm/munge not installed ({', '.join(missing)} missing; .ci/run installs slurm-wlm and munge)")
    if os.geteuid() != 0:
        _skip("the single-node Slurm test runs the daemons as root; not root here")
    base = tmp_path_factory.mktemp("slurm")
    for sub in ("state", "spool", "munge"):
        (base / sub).mkdir()
    os.chmod(base / "munge", 0o700)
    key = base / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    munge_socket = base / "munge" / "munge.socket"
    conf = base / "slurm.conf"
    conf.write_text(_slurm_conf(base, munge_socket))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs: list[subprocess.Popen] = []

    def start(cmd: list[str], log: Path) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
        procs.append(proc)
        return proc

    try:
        start(["munged", "-F", "--force", f"--key-file={key}", f"--socket={munge_socket}",
               f"--pid-file={base}/munge/munged.pid", f"--log-file={base}/munge/munged.log",
               f"--seed-file={base}/munge/munged.seed"], base / "munged.out")
        deadline = time.time() + 15
        while not munge_socket.exists():
            if procs[0].poll() is not None or time.time() > deadline:
                _skip(f"munged did not start: {_tail(base / 'munged.out')} {_tail(base / 'munge' / 'munged.log')}")
            time.sleep(0.2)
        start(["slurmctld", "-D", "-f", str(conf)], base / "slurmctld.out")
        time.sleep(2)
        start(["slurmd", "-D", "-f", str(conf)], base / "slurmd.out")
        deadline = time.time() + 60
        state = ""
        while state not in ("idle", "mixed", "allocated"):
            for proc, name in zip(procs, ("munged", "slurmctld", "slurmd")):
                if proc.poll() is not None:
                    _skip(f"{name} exited with {proc.returncode}: {_tail(base / f'{name}.log')} "
                          f"{_tail(base / f'{name}.out')}")
            if time.time() > deadline:
                _skip(f"the node did not become idle (state {state!r}): {_tail(base / 'slurmd.log')}")
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env)
            state = out.stdout.strip().rstrip("*~#")
            time.sleep(0.5)
        yield env
    finally:
        for proc in reversed(procs):  # stop our daemons, by their process ids
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_sweep_through_hydra_submitit_on_slurm(slurm, tmp_path):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "slurm_smoke.yaml").write_text(EXPERIMENT)
    root = tmp_path / "out"
    env = {**slurm, "QBENCH_EXPERIMENTS": str(experiments), "PYTHONPATH": str(repo_root())}
    cmd = [sys.executable, "-m", "qbench", "sweep", "experiment=slurm_smoke", f"output_root={root}",
           "hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.mem_gb=1",
           "hydra.launcher.timeout_min=5", "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=repo_root(), timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 ok, 0 error, 0 timeout, 0 skipped, 0 missing of 2 runs" in out.stdout
    records = [json.loads(p.read_text()) for p in sorted(root.rglob("record.json"))]
    assert sorted(r["solver"] for r in records) == ["exact", "scip"]
    assert all(r["status"] == "ok" and r["gap"] == 0 for r in records)
    # submitit's own files: the jobs really went through Slurm (sbatch script, job logs)
    submitted = list((root / ".submitit").rglob("*_submission.sh"))
    assert submitted and "#SBATCH --partition=debug" in submitted[0].read_text()
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=repo_root(), timeout=200)
    assert "2 runs, 2 done, 0 to run" in again.stdout
