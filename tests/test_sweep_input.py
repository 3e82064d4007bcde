"""Sweeps given bad input: settings, launcher options, output location and record files that
are not valid records. Each is refused with one line (exit 2) before anything runs, or, for bad
record files, skipped with a warning naming the file and field so that a restart finishes the
grid. Planning runs in process (no run is launched); the tests that launch are marked slow."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

from qbench import cli, sweep
from qbench.records import RECORD_FILE, RunRecord, write_record
from tests.helpers import repo_root

TINY = """\
# @package _global_
# Input test grid: 2 solvers on one generated MDKP instance = 2 runs.
output_root: {root}
timeout_s: 60
progress: false
problem:
  generator: {{n_items: 4, n_constraints: 2}}
sweep:
  experiment: tiny
hydra:
  sweeper:
    params:
      solver: sa,exact
"""


@pytest.fixture
def experiments(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "experiments"
    directory.mkdir()
    (directory / "tiny.yaml").write_text(TINY.format(root=tmp_path / "out"))
    monkeypatch.setenv("QBENCH_EXPERIMENTS", str(directory))
    yield directory
    GlobalHydra.instance().clear()  # planning in process leaves Hydra initialised


def main(*args: str) -> int:
    try:
        cli.main(["sweep", "experiment=tiny", *args, "--no-progress"])
    except SystemExit as exc:
        return exc.code
    return 0


@pytest.mark.parametrize("args,message", [
    (["seed=abc"], "seed: must be an integer in 0..4294967295, got 'abc'"),
    (["seed=-1"], "seed: must be an integer in 0..4294967295, got -1"),
    (["seed=1.5"], "seed: must be an integer in 0..4294967295, got 1.5"),
    (["seed=0,abc"], "seed: must be an integer in 0..4294967295, got 'abc'"),
    (["timeout_s=abc"], "timeout_s: must be a positive number of seconds (or null: no limit), got 'abc'"),
    (["timeout_s=-1"], "timeout_s: must be a positive number of seconds (or null: no limit), got -1"),
    (["+sweep.memory_limit_mb=0"], "sweep.memory_limit_mb: must be a positive integer number of MB"),
    (["reference.time_limit=-1"], "reference.time_limit: must be positive, got -1.0"),
    (["hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs: must be a number of parallel runs >= 1, or "
                                  "negative (-1 = one per CPU core, -2 = all but one), got 0"),
    (["hydra.sweep.subdir=x"], "hydra.sweep.subdir: a sweep names each run's directory by its key"),
    (["hydra.sweep.dir=/a", "output_root=/b"], "hydra.sweep.dir=/a and output_root=/b disagree"),
])
def test_bad_sweep_settings_are_one_line_and_nothing_runs(experiments, tmp_path, capsys, args, message):
    assert main(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("qbench: error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err
    assert not list(tmp_path.rglob(RECORD_FILE))


def test_slurm_launcher_without_slurm_is_one_line(experiments, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no srun / sbatch anywhere
    assert main("hydra/launcher=slurm") == 2
    err = capsys.readouterr().err
    assert err.strip() == ("qbench: error: hydra/launcher=slurm: Slurm's sbatch and srun not found on "
                           "PATH; run the sweep on a Slurm login node, or use hydra/launcher=local")


def test_hydra_sweep_dir_is_the_output_root(experiments, tmp_path, capsys):
    assert main(f"hydra.sweep.dir={tmp_path / 'elsewhere'}", "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"tiny: 2 runs, 0 done, 2 to run  [{tmp_path / 'elsewhere' / 'runs'}]" in out


def _keys(experiments: Path) -> list[str]:
    plan, _ = sweep.plan(["experiment=tiny"])
    GlobalHydra.instance().clear()
    return [run.key for run in plan.runs]


BAD_FILES = {
    "list": ("[1, 2]", "not a run record (a JSON array, not an object)"),
    "null": ("null", "not a run record (a JSON null, not an object)"),
    "deep": ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
    "nan": (None, "gap: not a finite number (nan)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_record_files_are_planned_again_with_a_warning(experiments, tmp_path, capsys, kind):
    keys = _keys(experiments)
    text, reason = BAD_FILES[kind]
    bad = tmp_path / "out" / "runs" / keys[0] / RECORD_FILE
    bad.parent.mkdir(parents=True)
    if text is None:
        good = RunRecord(key=keys[0], problem="mdkp", instance="i", formulation="penalty", solver="sa",
                         backend=None, seed=0).to_json()
        text = good.replace('"gap": null', '"gap": NaN')
    bad.write_text(text)
    assert main("--dry-run") == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == f"qbench: warning: {bad}: {reason}; the run counts as not done"
    assert "2 runs, 0 done, 2 to run" in captured.out
    assert sum(" pending " in line for line in captured.out.splitlines()) == 2


def test_progress_counts_the_runs_that_land_as_the_launcher_returns(tmp_path, capsys):
    runs = [sweep.Run(overrides=[], key=k, config={}) for k in ("a", "b", "c")]
    plan = sweep.Plan("tiny", tmp_path, runs)
    write_record(RunRecord(key="c", problem="mdkp", instance="i", formulation="penalty", solver="sa",
                           backend=None, seed=0, status="error"), plan.runs_dir / "c")
    plan.rerun_failed = True
    with sweep._progress(plan, plan.runs, enabled=True):
        time.sleep(0.2)  # the watcher has looked once and is waiting
        for key, status in (("a", "ok"), ("b", "error"), ("c", "ok")):  # c: its retry replaces the record
            write_record(RunRecord(key=key, problem="mdkp", instance="i", formulation="penalty",
                                   solver="sa", backend=None, seed=0, status=status), plan.runs_dir / key)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert re.search(r"tiny: 100%\|.*\| 3/3 .*failed=1, ok=2, remaining=0", bar), bar


def test_progress_does_not_count_a_failed_record_before_its_retry_replaces_it(tmp_path, capsys):
    plan = sweep.Plan("tiny", tmp_path, [sweep.Run(overrides=[], key="c", config={})], rerun_failed=True)
    write_record(RunRecord(key="c", problem="mdkp", instance="i", formulation="penalty", solver="sa",
                           backend=None, seed=0, status="error"), plan.runs_dir / "c")
    with sweep._progress(plan, plan.runs, enabled=True):
        time.sleep(1.2)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert " 0/1 " in bar, bar


# ------------------------------------------------------------------ launching (slow)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), children first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


SLOW = """\
# @package _global_
# Kill test grid: 3 long annealing runs.
output_root: {root}
timeout_s: 300
progress: false
# Past its estimate on purpose: the runs must start and be killed, not be skipped.
force: true
problem:
  generator: {{n_items: 4, n_constraints: 2}}
sweep:
  experiment: slow
hydra:
  sweeper:
    params:
      solver: sa
      solver.num_reads: 100000
      solver.num_sweeps: 100000
      seed: 0,1,2
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("kill_signal", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_sweep_leaves_no_worker_or_run_behind(tmp_path, kill_signal):
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "slow.yaml").write_text(SLOW.format(root=tmp_path / "out"))
    env = {**os.environ, "PYTHONPATH": str(repo_root()), "QBENCH_EXPERIMENTS": str(tmp_path / "experiments")}
    proc = subprocess.Popen([sys.executable, "-m", "qbench", "sweep", "experiment=slow",
                             "hydra.launcher.n_jobs=2", "--no-progress"], env=env, cwd=repo_root(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    below: list[int] = []
    try:
        deadline = time.time() + 120
        while sum("qbench.isolate" in _cmdline(p) for p in _descendants(proc.pid)) < 2:
            assert proc.poll() is None and time.time() < deadline, "the runs never started"
            time.sleep(0.2)
        below = _descendants(proc.pid)
        proc.send_signal(kill_signal)
        proc.wait(timeout=30)
        deadline = time.time() + 5
        while any(_alive(p) for p in below) and time.time() < deadline:
            time.sleep(0.1)
        left = {p: _cmdline(p) for p in below if _alive(p)}
        assert not left, f"left running after the sweep was killed: {left}"
        assert not list((tmp_path / "out").rglob(RECORD_FILE))  # interrupted runs leave no record
    finally:  # whatever is left (orphans included: they are no longer below the sweep)
        for pid in {proc.pid, *_descendants(proc.pid), *below}:
            if pid == proc.pid or _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.slow
def test_a_restart_replaces_bad_records_and_sweeps_into_the_given_sweep_dir(experiments, tmp_path):
    keys = _keys(experiments)
    target = tmp_path / "elsewhere"
    bad = target / "runs" / keys[0] / RECORD_FILE
    bad.parent.mkdir(parents=True)
    bad.write_text('{"key": 7}')
    env = {**os.environ, "PYTHONPATH": str(repo_root()), "QBENCH_EXPERIMENTS": str(experiments)}
    out = subprocess.run([sys.executable, "-m", "qbench", "sweep", "experiment=tiny", f"hydra.sweep.dir={target}",
                          "hydra.launcher.n_jobs=2"], capture_output=True, text=True, env=env,
                         cwd=repo_root(), timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"qbench: warning: {bad}: key: expected a string, got 7; the run counts as not done" in out.stderr
    assert "tiny: 2 ok, 0 error, 0 timeout, 0 skipped, 0 missing of 2 runs" in out.stdout
    assert re.search(r"tiny: 100%\|.*\| 2/2 ", out.stderr.replace("\r", "\n")), out.stderr
    records = [json.loads(p.read_text()) for p in sorted(target.rglob(RECORD_FILE))]
    assert sorted(r["key"] for r in records) == sorted(keys) and all(r["status"] == "ok" for r in records)
