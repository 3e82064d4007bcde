"""The results store: records -> Parquet, read back with pandas and DuckDB; bad files skipped."""

from __future__ import annotations

import json
import multiprocessing
import os

import pandas as pd
import pytest

from qbench import store
from qbench.records import RunRecord, write_record


def make_record(key: str, **fields) -> RunRecord:
    base = dict(key=key, problem="mdkp", instance="hp1", formulation="penalty", solver="scip",
                backend=None, seed=0, status="ok", objective=3418.0, reference=3418.0, gap=0.0,
                feasible=True, times={"total": 1.5, "solve": 1.0},
                config={"sweep": {"experiment": "study"}, "solver": {"name": "scip", "time_limit": 60}})
    base.update(fields)
    return RunRecord(**base)


def test_collect_flattens_records_and_skips_bad_files(tmp_path, capsys):
    runs = tmp_path / "runs"
    write_record(make_record("a"), runs / "a")
    write_record(make_record("b", solver="qaoa", backend="aer", qubits=60, gap=0.25, objective=2563.5,
                             solver_info={"optimal_probability": 0.125, "trace": [3.0, 2.0, 1.0]},
                             config={"solver": {"name": "qaoa", "reps": 2}},
                             estimate={"seconds": 12.5, "peak_bytes": 2**30, "qubits": 60, "basis": "x", "bound": False}),
                 runs / "b")
    write_record(make_record("c", status="timeout", objective=None, gap=None, feasible=None,
                             error="exceeded the wall-clock limit"), runs / "c")
    (runs / "d").mkdir()
    (runs / "d" / "record.json").write_text('{"key": "d", "problem": "md')  # cut off mid-write
    (runs / "e").mkdir()
    (runs / "e" / "record.json").write_text('{"hello": 1}')
    (runs / "a" / ".record-xyz.tmp").write_text("{")  # a temporary never counts
    (runs / "f").mkdir()  # valid JSON with every required field, but a malformed one
    bad = make_record("f").__dict__ | {"times": [1, 2]}
    (runs / "f" / "record.json").write_text(__import__("json").dumps(bad))

    frame, path = store.collect(tmp_path)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(l.startswith("qbench: warning: skipped ") for l in err)
    assert any("/f/record.json" in l for l in err)
    assert any("/d/record.json" in l for l in err) and any("not a run record" in l for l in err)
    assert path == tmp_path / "store" / "records.parquet" and path.stat().st_size > 0
    assert sorted(frame["key"]) == ["a", "b", "c"]
    back = store.read(path).set_index("key")
    assert back.loc["b", "qubits"] == 60 and back.loc["b", "gap"] == 0.25
    assert back.loc["b", "success_probability"] == 0.125 and list(back.loc["b", "trace"]) == [3.0, 2.0, 1.0]
    assert back.loc["a", "experiment"] == "study" and pd.isna(back.loc["b", "experiment"])
    assert back.loc["a", "time_total"] == 1.5 and back.loc["a", "time_solve"] == 1.0
    assert back.loc["c", "status"] == "timeout" and pd.isna(back.loc["c", "objective"])
    assert back.loc["b", "estimate_seconds"] == 12.5 and back.loc["b", "estimate_bytes"] == 2**30
    assert pd.isna(back.loc["a", "estimate_seconds"])  # a record without an estimate
    assert back.loc["a", "record_path"].endswith("runs/a/record.json")

    counts = store.query(path, "SELECT status, count(*) AS n FROM records GROUP BY status ORDER BY status")
    assert counts.to_dict("records") == [{"status": "ok", "n": 2}, {"status": "timeout", "n": 1}]
    assert store.describe(frame, path).startswith("3 records (2 ok, 0 error, 1 timeout, 0 skipped)")


def test_method_labels_show_the_settings_that_vary():
    rows = [store.flatten(make_record(k, solver="cvar_vqe", config={"solver": {"name": "cvar_vqe", "alpha": a, "reps": 2}}).__dict__)
            for k, a in (("x", 0.25), ("y", 0.5))]
    rows.append(store.flatten(make_record("z", formulation="unbalanced", solver="cvar_vqe",
                                          config={"solver": {"name": "cvar_vqe", "alpha": 0.25, "reps": 2}}).__dict__))
    rows.append(store.flatten(make_record("s").__dict__))
    frame = store.to_frame(rows).set_index("key")
    assert frame.loc["x", "method"] == "cvar_vqe alpha=0.25 / penalty"
    assert frame.loc["y", "method"] == "cvar_vqe alpha=0.5 / penalty"
    assert frame.loc["z", "method"] == "cvar_vqe alpha=0.25 / unbalanced"
    assert frame.loc["s", "method"] == "scip"


def _writer(args) -> None:
    root, worker, count = args
    for i in range(count):
        key = f"w{worker}-{i}"
        write_record(make_record(key, solver_info={"trace": list(range(200))}), os.path.join(root, "runs", key))


@pytest.mark.slow
def test_concurrent_writers_never_give_a_reader_a_partial_record(tmp_path, capsys):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        pending = pool.map_async(_writer, [(str(tmp_path), w, 40) for w in range(3)])
        while not pending.ready():
            frame = store.load(tmp_path)  # a reader racing the writers
            assert frame["status"].eq("ok").all() and frame["key"].is_unique
        pending.get()
    assert capsys.readouterr().err == ""  # never a half-written file
    frame, _ = store.collect(tmp_path)
    assert len(frame) == 120 and frame["key"].is_unique


def test_bad_query_is_one_line(tmp_path):
    write_record(make_record("a"), tmp_path / "runs" / "a")
    _, path = store.collect(tmp_path)
    from qbench.errors import QbenchError

    with pytest.raises(QbenchError, match="^query failed: "):
        store.query(path, "SELECT nosuch FROM records")


#: A valid record with one field made wrong (raw JSON, so NaN and Infinity literals can be
#: written), and the field and reason each warning must name.
BAD_FIELDS = {
    "solution-string": ('"solution": null', '"solution": "abc"', 'solution: expected a list of integers or null, got "abc"'),
    "created-number": ('"created": ""', '"created": 12345', "created: expected a string, got 12345"),
    "key-number": ('"key": "bad"', '"key": 7', "key: expected a string, got 7"),
    "status-number": ('"status": "ok"', '"status": 5', 'status: expected one of "ok", "error", "timeout", "skipped", got 5'),
    "status-unknown": ('"status": "ok"', '"status": "done"', 'status: expected one of "ok", "error", "timeout", "skipped", got "done"'),
    "status-null": ('"status": "ok"', '"status": null', "status: expected one of"),
    "feasible-string": ('"feasible": true', '"feasible": "yes"', 'feasible: expected true or false or null, got "yes"'),
    "problem-null": ('"problem": "mdkp"', '"problem": null', "problem: expected a string, got null"),
    "solver-null": ('"solver": "scip"', '"solver": null', "solver: expected a string, got null"),
    "gap-nan": ('"gap": 0.0', '"gap": NaN', "gap: not a finite number (nan)"),
    "objective-infinity": ('"objective": 3418.0', '"objective": -Infinity', "objective: not a finite number (-inf)"),
    "seed-huge": ('"seed": 0', '"seed": 1e300', "seed: expected an integer or null, got 1e+300"),
    "seed-beyond-float64": ('"seed": 0', '"seed": 123456789012345678901234567890', "seed: integer 12345678901234567890123456789"),
    "times-list": ('"times": {', '"times": [1, 2], "x": {', "times: expected an object of numbers, got [1, 2]"),
    "trace-nan": ('"solver_info": {}', '"solver_info": {"trace": [1.0, NaN]}', "solver_info.trace[1]: not a finite number (nan)"),
    "nested-info": ('"solver_info": {}', '"solver_info": ' + "[" * 80 + "]" * 80, "solver_info: nested deeper than 64 levels"),
    "nested-file": (None, "[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
    "list-file": (None, "[1, 2]", "not a run record (a JSON array, not an object)"),
    "null-file": (None, "null", "not a run record (a JSON null, not an object)"),
    "key-missing": ('"key": "bad",', "", "key: missing (not a run record without it)"),
}


def write_bad(directory, kind: str):
    """``directory/runs/bad/record.json``: a valid record with the defect ``kind``; its path."""
    old, new, _ = BAD_FIELDS[kind]
    text = make_record("bad", solver_info={}).to_json()
    if old is not None:
        assert old in text, old
        text = text.replace(old, new, 1)
    else:
        text = new
    path = directory / "runs" / "bad" / "record.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("kind", BAD_FIELDS)
def test_collect_skips_an_invalid_record_naming_file_and_field(tmp_path, capsys, kind):
    from qbench import cli

    write_record(make_record("good"), tmp_path / "runs" / "good")
    bad = write_bad(tmp_path, kind)
    with pytest.raises(SystemExit) as exit:
        cli.main(["collect", str(tmp_path)])
    assert exit.value.code == 0
    captured = capsys.readouterr()
    (warning,) = captured.err.splitlines()
    assert warning.startswith(f"qbench: warning: skipped {bad}: {BAD_FIELDS[kind][2]}"), warning
    assert captured.out.startswith("1 records (1 ok, 0 error, 0 timeout, 0 skipped)")
    assert list(store.read(tmp_path / "store" / "records.parquet")["key"]) == ["good"]


def test_collect_refuses_a_directory_that_does_not_exist(tmp_path, capsys):
    from qbench import cli

    with pytest.raises(SystemExit) as exit:
        cli.main(["collect", str(tmp_path / "nope")])
    assert exit.value.code == 2
    assert capsys.readouterr().err.strip() == f"qbench: error: {tmp_path / 'nope'}: no such results directory"
    assert not (tmp_path / "nope").exists()


def test_records_as_written_pass_validation_untouched(tmp_path):
    from qbench.record_reader import read_data

    record = make_record("a", solution=[1, 0, 1], qubits=3, solver_info={"trace": [3.0, 2.5], "nested": {"x": [1, {"y": None}]}})
    data = read_data(write_record(record, tmp_path))
    assert data == json.loads(record.to_json())
