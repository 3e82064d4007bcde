"""The command line as a user meets it: summaries, records, one-line errors, exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import repo_root


def qbench(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = str(repo_root())
    return subprocess.run(
        [sys.executable, "-m", "qbench", *args], capture_output=True, text=True,
        cwd=cwd or repo_root(), env=environment, timeout=300,
    )


def records_under(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("record.json"))]


@pytest.mark.slow
def test_run_prints_summary_and_writes_one_record(tmp_path, instances_dir):
    out = qbench("run", "problem=mdkp", "problem.instance=hp1", "solver=scip", f"output_root={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert "objective  3418" in out.stdout and "gap 0%" in out.stdout
    (record,) = records_under(tmp_path)
    assert record["status"] == "ok"
    assert record["objective"] == 3418 and record["reference"] == 3418 and record["gap"] == 0
    assert record["feasible"] is True and record["qubo_variables"] == 60
    assert record["variables"] == 28 and record["constraints"] == 4
    assert record["instance_hash"] and record["versions"]["qiskit"].startswith("2.")
    assert set(record["times"]) >= {"build", "solve", "evaluate", "total"}
    assert record["config"]["solver"]["time_limit"] == 60.0
    assert not list(tmp_path.rglob(".record-*"))  # no temporary left behind


@pytest.mark.slow
def test_default_generated_run_gets_a_scip_proven_reference(tmp_path):
    out = qbench("run", "solver=sa", f"output_root={tmp_path}")
    assert out.returncode == 0, out.stderr
    (record,) = records_under(tmp_path)
    assert record["reference_source"] == "SCIP (proven optimal)" and record["reference_proven"]
    assert record["gap"] is not None and record["gap"] >= 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "args,message",
    [
        (["solver=nosuch"], "unknown solver 'nosuch'; choose one of: "),
        (["problem=nosuch"], "unknown problem 'nosuch'; choose one of: "),
        (["problem.instance=nosuch"], "unknown mdkp instance 'nosuch'"),
        (["problem.generator.n_items=0"], "problem.generator.n_items: must be >= 1, got 0"),
        (["problem.generator.tightness=2"], "problem.generator.tightness: must be in (0, 1)"),
        (["problem.generator.colour=red"],
         "problem.generator.colour: no such field; allowed: max_weight, n_constraints, n_items, seed, tightness"),
        (["problem.generator.seed=-1"], "problem.generator.seed: must be >= 0, got -1"),
        (["solver.time_limit=-1"], "solver.time_limit: must be positive"),
        (["solver=sa", "solver.beta_schedule=cubic"], "choose one of geometric, linear"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, args, message):
    out = qbench("run", *args, f"output_root={tmp_path}")
    assert out.returncode == 2
    text = out.stdout + out.stderr
    assert message in text, text
    assert "Traceback" not in text
    error_lines = [l for l in text.splitlines() if l.startswith("qbench: error:")]
    assert len(error_lines) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["seed=abc"], "seed: must be an integer in 0..4294967295, got 'abc'"),
        (["seed=-1"], "seed: must be an integer in 0..4294967295, got -1"),
        (["seed=1.5"], "seed: must be an integer in 0..4294967295, got 1.5"),
        (["seed=4294967296"], "seed: must be an integer in 0..4294967295, got 4294967296"),
        (["reference.time_limit=-1"], "reference.time_limit: must be positive, got -1.0"),
        (["+timeout_s=-1"], "timeout_s: must be a positive number of seconds (or null: no limit), got -1"),
        (["+timeout_s=abc"], "timeout_s: must be a positive number of seconds (or null: no limit), got 'abc'"),
        (["progress=maybe"], "progress: expected true or false, got 'maybe'"),
        (["solver=foo"], "unknown solver 'foo'; choose one of: cvar_vqe, exact, lagrangian, "),
        (["solver.foo=1"], "solver.foo: no such field; allowed: gap_limit, name, threads, time_limit, verbose"),
        (["-m", "solver=scip,foo"], "unknown solver 'foo'; choose one of: "),
    ],
)
def test_refused_before_hydra_is_one_line_and_still_an_error_record(tmp_path, capsys, args, message):
    from qbench import cli

    with pytest.raises(SystemExit) as exit:
        cli.main(["run", *args, f"output_root={tmp_path}"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    (line,) = [l for l in err.splitlines() if l.startswith("qbench: error:")]
    assert message in line and "Traceback" not in err
    (path,) = tmp_path.rglob("record.json")
    record = json.loads(path.read_text())
    assert record["status"] == "error" and message in record["error"]
    assert f"record     {path}" in err
    # Where Hydra would have put the run: runs/DATE/TIME_PROBLEM_SOLVER, multirun/DATE/TIME/0_...
    if args[0] == "-m":
        assert path.relative_to(tmp_path).parts[0] == "multirun" and path.parent.name.startswith("0_mdkp_")
    else:
        solver = "foo" if args == ["solver=foo"] else "scip"
        assert path.relative_to(tmp_path).parts[0] == "runs" and path.parent.name.endswith(f"_mdkp_{solver}")
        assert (record["problem"], record["solver"]) == ("mdkp", solver)
    if args in (["seed=abc"], ["seed=1.5"]):
        assert record["seed"] is None  # not an integer: not recorded as one


@pytest.mark.slow
@pytest.mark.parametrize("debug", [False, True])
def test_qbench_debug_shows_the_traceback_of_an_internal_error(tmp_path, debug):
    # A component class without a Params schema: a bug, not a user error.
    out = qbench("run", "solver._target_=builtins.dict", f"output_root={tmp_path}",
                 env={"QBENCH_DEBUG": "1"} if debug else {"QBENCH_DEBUG": ""})
    assert out.returncode == 2
    assert "qbench: error: AttributeError: type object 'dict' has no attribute 'Params'" in out.stderr
    assert ("Traceback (most recent call last)" in out.stderr) == debug
    (record,) = records_under(tmp_path)
    assert "Traceback" in record["error_traceback"]


@pytest.mark.slow
def test_error_run_still_writes_an_error_record(tmp_path):
    out = qbench("run", "problem.generator.n_items=0", f"output_root={tmp_path}")
    assert out.returncode == 2
    (record,) = records_under(tmp_path)
    assert record["status"] == "error"
    assert "n_items" in record["error"] and record["objective"] is None


@pytest.mark.slow
def test_malformed_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_text("3 1 10\n5 6 x\n1 2 3\n4\n")
    out = qbench("run", f"problem.instance={bad}", f"output_root={tmp_path / 'out'}")
    assert out.returncode == 2
    assert f"{bad}:2: instance profit[2]: expected a number, got 'x'" in out.stderr


@pytest.mark.slow
def test_list_shows_groups_and_instances(instances_dir):
    out = qbench("list")
    assert out.returncode == 0, out.stderr
    assert "solvers: " in out.stdout and "scip" in out.stdout
    assert "hp1" in out.stdout and "available" in out.stdout


def test_instances_fetch_unknown_name_is_one_line():
    out = qbench("instances", "fetch", "nosuch")
    assert out.returncode == 2
    assert out.stderr.strip() == "qbench: error: unknown instance 'nosuch'; see `python -m qbench instances list`"


@pytest.mark.slow
def test_multirun_sweeps_and_keeps_going(tmp_path):
    out = qbench("run", "-m", "solver=exact,sa", "problem.generator.n_items=4", f"output_root={tmp_path}")
    assert out.returncode == 0, out.stderr
    records = records_under(tmp_path)
    assert sorted(r["solver"] for r in records) == ["exact", "sa"]
    assert all(r["status"] == "ok" for r in records)
