"""Sweeps: the smoke experiment end to end, kill-and-resume, failing and timed-out runs.

Every sweep here is a real ``python -m qbench sweep`` subprocess on the joblib launcher (two
workers); each run executes in its own child process, as in production.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from itertools import product
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import repo_root

pytestmark = pytest.mark.slow

EXPERIMENTS = repo_root() / "experiments"


def sweep_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "qbench", "sweep", *args, "hydra.launcher.n_jobs=2", "--no-progress"]


def env(experiments: Path | None = None) -> dict[str, str]:
    environment = {**os.environ, "PYTHONPATH": str(repo_root())}
    if experiments is not None:
        environment["QBENCH_EXPERIMENTS"] = str(experiments)
    return environment


def sweep(*args: str, experiments: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(sweep_cmd(*args), capture_output=True, text=True, env=env(experiments),
                          cwd=repo_root(), timeout=timeout)


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("record.json"))]


def assert_one_record_per_key(root: Path) -> list[dict]:
    found = records(root)
    for path in root.rglob("record.json"):
        assert path.parent.parent == root / "runs"
        assert json.loads(path.read_text())["key"] == path.parent.name  # directory named by key
    keys = [r["key"] for r in found]
    assert len(keys) == len(set(keys)), "duplicate records"
    assert not list(root.rglob(".record-*")), "temporary record file left behind"
    return found


def stated_grid_size(name: str) -> int:
    """The grid size an experiment config states in its header comment ("= N runs")."""
    text = (EXPERIMENTS / f"{name}.yaml").read_text()
    (size,) = re.findall(r"= (\d+) runs", text)
    return int(size)


def test_every_experiment_states_its_grid_size():
    names = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))
    assert {"smoke", "comparative_study", "cutting_slack", "graph_shrinking", "bit_allocation"} <= set(names)
    for name in names:
        assert stated_grid_size(name) > 0


def test_smoke_experiment_end_to_end_then_nothing_left_to_run(tmp_path):
    root = tmp_path / "smoke"
    started = time.perf_counter()
    out = sweep("experiment=smoke", f"output_root={root}")
    elapsed = time.perf_counter() - started
    assert out.returncode == 0, out.stdout + out.stderr
    found = assert_one_record_per_key(root)
    assert len(found) == stated_grid_size("smoke")
    assert all(r["status"] == "ok" for r in found), [r["error"] for r in found]
    assert all(r["config"]["sweep"]["experiment"] == "smoke" for r in found)
    # Ground truth: SCIP proves the reference; SCIP and exhaustive search both reach it.
    for r in found:
        assert r["reference_proven"] and r["feasible"] is not None
        if r["solver"] in ("scip", "exact"):
            assert r["gap"] == 0 and r["objective"] == r["reference"]
    assert {r["solver"] for r in found} == {"exact", "qaoa", "sa", "scip"}
    assert {r["problem"] for r in found} == {"mdkp", "mis"}
    n = len(found)
    assert f"{n} runs, 0 done, {n} to run" in out.stdout
    assert f"{n} ok, 0 error, 0 timeout, 0 skipped, 0 missing of {n} runs" in out.stdout
    assert elapsed < 120
    # Every feasible run's incumbent history ends at its answer, within the run's time.
    for r in found:
        if r["feasible"]:
            assert r["incumbents"][-1][1] == r["objective"]
            assert r["time_to_best"] == r["incumbents"][-1][0] <= r["times"]["total"]

    # The report's leaderboard: TTS99 with its interval for every instance x method.
    report = subprocess.run([sys.executable, "-m", "qbench", "report", str(root)], capture_output=True,
                            text=True, env=env(), cwd=repo_root(), timeout=300)
    assert report.returncode == 0, report.stderr
    board = pd.read_csv(root / "report" / "tables" / "leaderboard.csv")
    assert len(board) == len({(r["instance"], r["solver"]) for r in found})
    assert board["tts99_s"].notna().all() and (board["tts99_low_s"] <= board["tts99_high_s"]).all()
    exact = board[board["method"].isin(["scip", "exact"])]  # one run each, always optimal: TTS99 = t
    assert (exact["p_s"] == 1).all() and (exact["tts99_s"] == exact["tts99_low_s"]).all()
    assert "TTS99 [95% CI] [s]" in (root / "report" / "report.md").read_text()

    mtimes = {p: p.stat().st_mtime for p in root.rglob("record.json")}
    again = sweep("experiment=smoke", f"output_root={root}")
    assert again.returncode == 0, again.stderr
    assert f"{n} runs, {n} done, 0 to run" in again.stdout
    assert {p: p.stat().st_mtime for p in root.rglob("record.json")} == mtimes


RESUME = """\
# @package _global_
# Kill-and-resume test grid: 2 solvers x 4 generated instances = 8 runs.
output_root: results/resume
timeout_s: 120
progress: false
problem:
  generator: {n_items: 4, n_constraints: 2}
sweep:
  experiment: resume
hydra:
  sweeper:
    params:
      solver: sa,exact
      problem.generator.seed: 0,1,2,3
"""


def wait_for_records(root: Path, count: int, proc: subprocess.Popen, limit: float = 180) -> None:
    deadline = time.time() + limit
    while len(list(root.rglob("record.json"))) < count:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.time() < deadline, "no progress"
        time.sleep(0.2)


def test_killed_sweep_resumes_to_the_exact_grid(tmp_path):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "resume.yaml").write_text(RESUME)
    root = tmp_path / "out"
    args = sweep_cmd("experiment=resume", f"output_root={root}")

    for kill_signal, after in ((signal.SIGTERM, 2), (signal.SIGKILL, 4)):
        proc = subprocess.Popen(args, env=env(experiments), cwd=repo_root(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_records(root, after, proc)
        proc.send_signal(kill_signal)  # the sweep process itself, mid-way
        proc.wait(timeout=60)
        done = len(list(root.rglob("record.json")))
        assert done < 8, "the sweep finished before the kill"
        # An interrupted run leaves no record: whatever is there is a completed run.
        assert all(r["status"] == "ok" for r in assert_one_record_per_key(root))

    time.sleep(1.0)  # workers of the killed sweep notice their parent is gone
    out = subprocess.run(args, env=env(experiments), cwd=repo_root(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"resume: 8 runs, \d done, \d to run", out.stdout)
    found = assert_one_record_per_key(root)
    got = sorted((r["solver"], r["config"]["problem"]["generator"]["seed"]) for r in found)
    assert got == sorted(product(["sa", "exact"], [0, 1, 2, 3]))
    assert all(r["status"] == "ok" for r in found)


FAULTY = """\
# @package _global_
# Failure-handling test grid: 2 instances x 2 classical solvers + 1 qaoa + 1 failing
# + 1 timed-out + 1 out-of-memory + 1 skipped run = 9 runs.
output_root: results/faulty
timeout_s: 120
progress: false
problem:
  generator: {n_items: 4, n_constraints: 2}
sweep:
  experiment: faulty
  grids:
    - solver: scip,exact
      problem.generator.seed: 0,1
    - solver: qaoa
      solver.reps: 1
      solver.maxiter: 10
    # Invalid parameters: the run itself records the error.
    - solver: exact
      problem.generator.n_items: 0
    # Far more annealing than the limit allows: started anyway (force), killed, recorded as timeout.
    - solver: sa
      solver.num_reads: 100000
      solver.num_sweeps: 100000
      timeout_s: 4
      force: true
    # The child cannot even import its libraries under a 300 MB address-space limit (its estimate
    # says so: forced).
    - solver: sa
      ++sweep.memory_limit_mb: 300
      force: true
    # Estimated past its limit: recorded as skipped by the sweep, never started.
    - solver: sa
      solver.num_reads: 100000
      solver.num_sweeps: 200000
      timeout_s: 4
"""


@pytest.fixture(scope="module")
def faulty_sweep(tmp_path_factory):
    base = tmp_path_factory.mktemp("faulty")
    (base / "experiments").mkdir()
    (base / "experiments" / "faulty.yaml").write_text(FAULTY)
    root = base / "out"
    out = sweep("experiment=faulty", f"output_root={root}", experiments=base / "experiments")
    return root, out, base / "experiments"


def test_failed_and_timed_out_runs_leave_records_and_the_rest_complete(faulty_sweep):
    root, out, _ = faulty_sweep
    assert out.returncode == 0, out.stdout + out.stderr  # complete grid, failures included
    found = assert_one_record_per_key(root)
    assert len(found) == 9
    by_status = {}
    for r in found:
        by_status.setdefault(r["status"], []).append(r)
    assert len(by_status["ok"]) == 5
    (error_run,) = [r for r in by_status["error"] if r["config"]["problem"]["generator"]["n_items"] == 0]
    assert "problem.generator.n_items: must be >= 1" in error_run["error"]
    (timeout_run,) = by_status["timeout"]
    assert timeout_run["solver"] == "sa" and "wall-clock limit of 4 s" in timeout_run["error"]
    assert 4 <= timeout_run["times"]["total"] < 30
    (oom_run,) = [r for r in by_status["error"] if r is not error_run]
    assert "the run crashed" in oom_run["error"] and "out of memory" in oom_run["error"]
    assert "memory_limit_mb=300" in oom_run["error"] and oom_run["error_traceback"]
    (skipped,) = by_status["skipped"]
    assert skipped["error"].startswith("estimated ") and "> timeout_s 4 s" in skipped["error"]
    assert skipped["estimate"]["seconds"] > 4 and skipped["times"] == {}
    assert not (root / "runs" / skipped["key"] / "run.log").exists()  # no child was started
    assert "9 runs" in out.stdout and "5 ok, 2 error, 1 timeout, 1 skipped, 0 missing of 9 runs" in out.stdout


def test_rerun_failed_retries_only_failed_runs(faulty_sweep):
    root, _, experiments = faulty_sweep
    ok_mtimes = {p: p.stat().st_mtime for p in root.rglob("record.json")
                 if json.loads(p.read_text())["status"] == "ok"}
    out = sweep("experiment=faulty", f"output_root={root}", "--dry-run", experiments=experiments)
    assert "9 runs, 5 done, 3 failed (2 error, 1 timeout) kept" in out.stdout
    assert "1 to run" in out.stdout  # the skipped run is estimated again (a longer timeout_s starts it)
    out = sweep("experiment=faulty", f"output_root={root}", "--dry-run", "--rerun-failed",
                experiments=experiments)
    assert "4 to run" in out.stdout
    lines = [l for l in out.stdout.splitlines() if re.match(r"  [0-9a-f]{16}  ", l)]
    assert sum(" ok " in l for l in lines) == 5 and len(lines) == 9
    assert {p: p.stat().st_mtime for p in ok_mtimes} == ok_mtimes


def test_unknown_experiment_is_one_line():
    out = sweep("experiment=nosuch")
    assert out.returncode == 2
    assert out.stderr.startswith("qbench: error: unknown experiment 'nosuch'; choose one of: ")
    assert "smoke" in out.stderr and "Traceback" not in out.stderr


def test_collect_and_report_on_the_sweep_records(faulty_sweep):
    root, _, _ = faulty_sweep
    import pandas as pd

    out = subprocess.run([sys.executable, "-m", "qbench", "collect", str(root), "--query",
                          "SELECT status, count(*) AS n FROM records GROUP BY status ORDER BY status"],
                         capture_output=True, text=True, env=env(), cwd=repo_root(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "9 records (5 ok, 2 error, 1 timeout, 1 skipped)" in out.stdout
    assert [l.split() for l in out.stdout.splitlines()[-4:]] == [["error", "2"], ["ok", "5"], ["skipped", "1"],
                                                                 ["timeout", "1"]]

    out = subprocess.run([sys.executable, "-m", "qbench", "report", str(root)], capture_output=True,
                         text=True, env=env(), cwd=repo_root(), timeout=120)
    assert out.returncode == 0, out.stderr
    summary = pd.read_csv(root / "report" / "tables" / "summary.csv")
    found = records(root)
    methods = dict(pd.read_parquet(root / "store" / "records.parquet")[["key", "method"]].values)
    assert set(methods) == {r["key"] for r in found}
    for (problem, method), row in summary.set_index(["problem", "method"]).iterrows():
        mine = [r for r in found if methods[r["key"]] == method and r["problem"] == problem]
        assert {methods[r["key"]].split()[0] for r in mine} == {r["solver"] for r in mine}
        ok = [r for r in mine if r["status"] == "ok"]
        assert row["runs"] == len(mine) and row["ok"] == len(ok)
        assert row["feasible_rate"] == sum(bool(r["feasible"]) for r in ok) / len(mine)
        gaps = [r["gap"] for r in ok if r["feasible"] and r["gap"] is not None]
        assert row["gap_mean"] == pytest.approx(sum(gaps) / len(gaps)) if gaps else pd.isna(row["gap_mean"])
    assert summary["runs"].sum() == 9
    figures = sorted(p.name for p in (root / "report" / "figures").iterdir())
    assert figures == ["convergence_mdkp.png", "feasibility.png", "gap_vs_qubits.png",
                       "qubits_vs_size.png", "time_scaling.png"]
    assert all((root / "report" / "figures" / f).stat().st_size > 5000 for f in figures)
