"""Reports: table numbers equal what the records say; figures exist; QOBLIB files follow the format."""

from __future__ import annotations

import csv

import pandas as pd

from qbench import qoblib_export, report, store
from qbench.records import RunRecord, write_record

PNG = b"\x89PNG\r\n\x1a\n"


def rec(key: str, **fields) -> RunRecord:
    base = dict(key=key, problem="mdkp", instance="hp1", formulation="penalty", solver="scip",
                backend=None, seed=0, status="ok", objective=3418.0, reference=3418.0, gap=0.0,
                feasible=True, sense="max", variables=28, qubo_variables=60,
                times={"total": 2.0}, config={"sweep": {"experiment": "study"}, "solver": {"name": "scip"}})
    base.update(fields)
    return RunRecord(**base)


def estimate(seconds: float, bound: bool = False) -> dict:
    return {"seconds": seconds, "peak_bytes": 2**29, "qubits": 60, "basis": "test", "bound": bound}


def study(tmp_path):
    runs = tmp_path / "runs"
    records = [
        rec("s0", times={"total": 1.0}, estimate=estimate(60.0, bound=True)), rec("s1", seed=1, times={"total": 3.0}),
        rec("q0", solver="qaoa", backend="aer", qubits=60, gap=0.1, objective=3076.2, times={"total": 10.0},
            solver_info={"optimal_probability": 0.2, "trace": [5.0, 4.0, 3.0]}, estimate=estimate(5.0)),
        rec("q1", solver="qaoa", backend="aer", seed=1, qubits=60, gap=0.3, objective=2392.6, times={"total": 20.0},
            solver_info={"optimal_probability": 0.4, "trace": [6.0, 2.0]}, estimate=estimate(10.0)),
        rec("q2", solver="qaoa", backend="aer", seed=2, qubits=60, gap=None, feasible=False, objective=4000.0,
            times={"total": 30.0}, solver_info={"optimal_probability": 0.6, "trace": [7.0]}, estimate=estimate(10.0)),
        rec("q3", solver="qaoa", backend="aer", seed=3, status="timeout", objective=None, gap=None,
            feasible=None, times={"total": 99.0}, estimate=estimate(1.0)),
        rec("q4", solver="qaoa", backend="aer", seed=4, status="skipped", objective=None, gap=None,
            feasible=None, times={}, error="estimated 3 h > timeout_s 60 s", estimate=estimate(10800.0)),
        rec("m0", problem="mis", instance="farm", solver="sa", objective=10.0, reference=10.0,
            variables=17, qubo_variables=17, solution=[1, 0] * 8 + [1]),
    ]
    for r in records:
        write_record(r, runs / r.key)
    return records


def test_summary_table_numbers_match_the_records(tmp_path, capsys):
    study(tmp_path)
    assert report.main(str(tmp_path)) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "report" / "tables" / "summary.csv").set_index(["problem", "method"])
    q = table.loc[("mdkp", "qaoa")]
    assert (q["runs"], q["ok"], q["failed"], q["skipped"]) == (5, 3, 1, 1)
    assert q["feasible_rate"] == 0.4                      # 2 feasible of 5 runs
    assert q["gap_mean"] == 0.2 and q["gap_median"] == 0.2  # (0.1 + 0.3) / 2
    assert abs(q["success_probability"] - 0.4) < 1e-12    # mean of 0.2, 0.4, 0.6 (ok runs)
    assert q["qubits"] == 60 and q["qubo_variables"] == 60
    assert q["time_median_s"] == 20.0 and q["time_mean_s"] == 20.0  # ok runs: 10, 20, 30
    assert q["time_vs_estimate"] == 2.0                   # ok runs: 10/5, 20/10, 30/10
    s = table.loc[("mdkp", "scip")]
    assert (s["runs"], s["feasible_rate"], s["gap_mean"], s["time_median_s"]) == (2, 1.0, 0.0, 2.0)
    assert pd.isna(s["time_vs_estimate"])                 # SCIP's estimate is its time limit: a bound
    assert pd.isna(s["qubits"]) and pd.isna(s["success_probability"])
    assert table.loc[("mis", "sa"), "runs"] == 1
    row = "| mdkp | qaoa | 5 | 3 | 1 | 1 | 40.0% | 20.0% | 20.0% | 40.0% | 60 | 60 | 20 | 20 | 2 |"
    text = (tmp_path / "report" / "report.md").read_text()
    assert row in printed and row in text
    assert "8 runs: 6 ok, 0 error, 1 timeout, 1 skipped" in text

    instances = pd.read_csv(tmp_path / "report" / "tables" / "instances.csv")
    best = instances.set_index(["instance", "method"]).loc[("hp1", "qaoa")]
    assert best["best_objective"] == 3076.2 and best["reference"] == 3418  # max over feasible
    qubits = pd.read_csv(tmp_path / "report" / "tables" / "qubits.csv")
    assert set(zip(qubits["problem"], qubits["variables"], qubits["qubo_variables"])) == {("mdkp", 28, 60), ("mis", 17, 17)}


def test_figures_are_drawn_for_the_data_present(tmp_path, capsys):
    study(tmp_path)
    report.main(str(tmp_path))
    figures = sorted(p.name for p in (tmp_path / "report" / "figures").iterdir())
    # traces exist for mdkp only: one convergence figure
    assert figures == ["convergence_mdkp.png", "feasibility.png", "gap_vs_qubits.png",
                       "qubits_vs_size.png", "time_scaling.png"]
    for name in figures:
        data = (tmp_path / "report" / "figures" / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    assert "figures 5: " in capsys.readouterr().out


def test_classical_only_records_have_no_qubit_or_trace_figures(tmp_path, capsys):
    write_record(rec("s0"), tmp_path / "runs" / "s0")
    report.main(str(tmp_path))
    figures = sorted(p.name for p in (tmp_path / "report" / "figures").iterdir())
    assert figures == ["feasibility.png", "qubits_vs_size.png", "time_scaling.png"]


def test_qoblib_export_follows_the_submission_format(tmp_path):
    runs = [
        rec("a", problem="mis", instance="farm", solver="qaoa", backend="statevector", qubits=17, objective=10.0,
            reference=10.0, variables=17, qubo_variables=17, solution=[1, 0, 1] + [0] * 14, times={"total": 4.0}),
        rec("b", problem="mis", instance="farm", solver="qaoa", backend="statevector", qubits=17, seed=1, objective=9.0,
            reference=10.0, gap=0.1, variables=17, qubo_variables=17, solution=[0, 1] + [0] * 15, times={"total": 6.0}),
        rec("c", problem="mis", instance="farm", solver="qaoa", backend="statevector", qubits=17, seed=2, feasible=False,
            objective=12.0, gap=None, variables=17, qubo_variables=17, solution=[1] * 17, times={"total": 5.0}),
        rec("d", problem="msp", instance="ms_03_050_002", solver="scip", sense="min", objective=0.0, reference=0.0,
            solver_status="optimal", variables=20, solution=[1, 0] * 10, times={"total": 0.7}),
        rec("e", problem="mdkp", instance="hp1"),  # not a QOBLIB problem: not exported
    ]
    frame = store.to_frame(store.flatten(r.__dict__) for r in runs)
    import datetime

    written = qoblib_export.export(frame, tmp_path, submitter="Ada Lovelace", today=datetime.date(2026, 12, 1))
    names = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    assert names == ["20261201_qaoa_Ada-Lovelace/farm", "20261201_scip_Ada-Lovelace/ms_03_050_002"]

    farm = tmp_path / "20261201_qaoa_Ada-Lovelace" / "farm"
    with open(farm / "farm_summary.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == qoblib_export.COLUMNS and len(reader.fieldnames) == 30
        (row,) = list(reader)
    assert row["Problem"] == "farm" and row["Best Objective Value"] == "10"
    assert (row["# Runs"], row["# Feasible Runs"], row["# Successful Runs"]) == ("3", "2", "1")
    assert row["Optimality Bound"] == "N/A" and row["Paradigm"] == "Quantum Simulator"
    assert row["Algorithm Type"] == "Stochastic" and row["Total Runtime"] == "5"
    assert row["# Decision Variables"] == "17" and row["Submitter"] == "Ada Lovelace"
    solutions = sorted(p.name for p in (farm / "solutions").iterdir())
    assert solutions == ["farm_solution_0.mst", "farm_solution_1.mst", "farm_solution_2.mst"]
    lines = (farm / "solutions" / "farm_solution_0.mst").read_text().splitlines()
    assert lines[:3] == ["x#1 1", "x#2 0", "x#3 1"] and len(lines) == 17

    msp = tmp_path / "20261201_scip_Ada-Lovelace" / "ms_03_050_002"
    with open(msp / "ms_03_050_002_summary.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["Best Objective Value"] == "0" and row["Optimality Bound"] == "0"  # SCIP proved it
    assert row["Paradigm"] == "Classical" and row["Algorithm Type"] == "Deterministic"
    assert row["Modeling Approach"] == "Binary linear program (MIP)"
