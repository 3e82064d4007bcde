"""The results store: records -> Parquet, read back with pandas and DuckDB; bad files skipped."""

from __future__ import annotations

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
