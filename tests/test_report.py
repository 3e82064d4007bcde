"""Reports: table numbers equal what the records say; figures exist; QOBLIB files follow the format."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import pandas as pd
import pytest

from qbench import metrics, qoblib_export, report, store
from qbench.records import RunRecord, write_record

PNG = b"\x89PNG\r\n\x1a\n"


def rec(key: str, **fields) -> RunRecord:
    base = dict(key=key, problem="mdkp", instance="hp1", formulation="penalty", solver="scip",
                backend=None, seed=0, status="ok", objective=3418.0, reference=3418.0, gap=0.0,
                feasible=True, sense="max", variables=28, qubo_variables=60,
                times={"total": 2.0}, config={"sweep": {"experiment": "study"}, "solver": {"name": "scip"}})
    base.update(fields)
    for name in ("objective", "feasible", "violation", "gap"):  # nothing repaired
        base.setdefault(f"raw_{name}", base.get(name))
    return RunRecord(repair="greedy", **base)


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
    row = "| mdkp | qaoa | 5 | 3 | 1 | 1 | 40.0% | 40.0% | 20.0% | 20.0% | 20.0% | 40.0% | 60 | 60 | 20 | 20 | - | 0 | 2 |"
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
    mis = dict(problem="mis", instance="farm", solver="qaoa", backend="statevector", qubits=17, variables=17,
               qubo_variables=17, reference=10.0)
    runs = [
        rec("a", **mis, objective=10.0, solution=[1, 0, 1] + [0] * 14, times={"total": 4.0},
            incumbents=[[3.0, 10.0]], time_to_best=3.0),
        rec("b", **mis, seed=1, objective=9.0, gap=0.1, solution=[0, 1] + [0] * 15, times={"total": 6.0},
            incumbents=[[5.0, 9.0]], time_to_best=5.0),
        rec("c", **mis, seed=2, feasible=False, objective=12.0, gap=None, solution=[1] * 17, times={"total": 5.0}),
        rec("d", problem="msp", instance="ms_03_050_002", solver="scip", sense="min", objective=0.0, reference=0.0,
            solver_status="optimal", variables=20, solution=[1, 0] * 10, times={"total": 0.7},
            incumbents=[[0.6, 0.0]], time_to_best=0.6),
        rec("e", problem="mdkp", instance="hp1"),  # not a QOBLIB problem: not exported
        rec("f", problem="mis", instance="1tc.8", solver="sa", objective=4.0, reference=4.0, variables=8,
            solution=[0] * 8),  # MIS, but not one of QOBLIB's instances: left out
    ]
    frame = store.to_frame(store.flatten(r.__dict__) for r in runs)
    import datetime

    exported = qoblib_export.export(frame, tmp_path, submitter="Ada Lovelace", today=datetime.date(2026, 12, 1))
    names = sorted(p.relative_to(tmp_path).as_posix() for p in exported.written)
    assert names == ["01-marketsplit/submissions/20261201_scip_Ada-Lovelace/ms_03_050_002",
                     "07-independentset/submissions/20261201_qaoa_Ada-Lovelace/farm"]
    assert exported.skipped == ["mis/1tc.8"]

    farm = tmp_path / "07-independentset" / "submissions" / "20261201_qaoa_Ada-Lovelace" / "farm"
    with open(farm / "farm_summary.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == qoblib_export.COLUMNS and len(reader.fieldnames) == 30
        (row,) = list(reader)
    assert row["Problem"] == "farm" and row["Best Objective Value"] == "10"
    assert (row["# Runs"], row["# Feasible Runs"], row["# Successful Runs"]) == ("3", "2", "1")
    assert row["Success Threshold"] == "0"
    assert row["Time to Solution"] == "4"  # mean of the feasible runs' times to best: (3 + 5) / 2
    assert row["Optimality Bound"] == "N/A" and row["Paradigm"] == "Quantum Simulator"
    assert row["Algorithm Type"] == "Stochastic" and row["Total Runtime"] == "5"
    assert row["# Decision Variables"] == "17" and row["Submitter"] == "Ada Lovelace"
    assert row["Workflow"].endswith("evaluated natively; then the problem's greedy repair, kept where it improved the answer")
    solutions = sorted(p.name for p in (farm / "solutions").iterdir())
    assert solutions == ["farm_solution_0.mst", "farm_solution_1.mst", "farm_solution_2.mst"]
    lines = (farm / "solutions" / "farm_solution_0.mst").read_text().splitlines()
    assert lines[:3] == ["x#1 1", "x#2 0", "x#3 1"] and len(lines) == 17
    # One run per feasible run, each closed at the run's end with its final best.
    series = json.loads((farm / "farm_objective_time_series.json").read_text())
    assert series == [[{"Time": 3.0, "Incumbent": 10.0}, {"Time": 4.0, "Incumbent": 10.0}],
                      [{"Time": 5.0, "Incumbent": 9.0}, {"Time": 6.0, "Incumbent": 9.0}]]

    msp = tmp_path / "01-marketsplit" / "submissions" / "20261201_scip_Ada-Lovelace" / "ms_03_050_002"
    with open(msp / "ms_03_050_002_summary.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["Best Objective Value"] == "0" and row["Optimality Bound"] == "0"  # SCIP proved it
    assert row["Paradigm"] == "Classical" and row["Algorithm Type"] == "Deterministic"
    assert row["Modeling Approach"] == "Binary linear program (MIP)"
    assert row["Time to Solution"] == "0.6"
    assert json.loads((msp / "ms_03_050_002_objective_time_series.json").read_text()) == \
        [[{"Time": 0.6, "Incumbent": 0.0}, {"Time": 0.7, "Incumbent": 0.0}]]

    # QOBLIB's success threshold: within epsilon of the method's own best (10): 9 >= 0.9 * 10.
    again = qoblib_export.export(frame, tmp_path / "eps", today=datetime.date(2026, 12, 1), epsilon=0.1)
    farm = next(p for p in again.written if p.name == "farm")
    with open(farm / "farm_summary.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["# Successful Runs"], row["Success Threshold"]) == ("2", "0.1")


def _write_with_fields(record: RunRecord, directory, **extra) -> None:
    """A record as a branch with more record fields writes it (fields this one does not know)."""
    (directory / record.key).mkdir(parents=True)
    data = json.loads(record.to_json())
    data.update(extra)
    (directory / record.key / "record.json").write_text(json.dumps(data))


def leaderboard_study(tmp_path):
    """SA on hp1: 10 runs of 2 s, 3 optimal; QAOA on hp1: 2 runs with the fields of other branches."""
    runs = tmp_path / "runs"
    for seed in range(10):
        optimal = seed < 3
        write_record(rec(f"sa{seed}", solver="sa", seed=seed, gap=0.0 if optimal else 0.05,
                         objective=3418.0 if optimal else 3247.1, times={"total": 2.0},
                         incumbents=[[1.0 + seed / 10, 3000.0]], time_to_best=1.0 + seed / 10), runs / f"sa{seed}")
    for seed, lift, raw, covers in ((0, 4.0, 0.5, False), (1, 6.0, None, True)):
        _write_with_fields(rec(f"q{seed}", solver="qaoa", backend="statevector", seed=seed, qubits=60, gap=0.0,
                               times={"total": 5.0},
                               solver_info={"optimal_probability": 0.25, "two_qubit_gates": 100 + 20 * seed}),
                           runs, optimal_lift=lift, raw_gap=raw, covers_space=covers, energy_approximation_ratio=0.9)


def test_leaderboard_shows_tts99_with_its_interval(tmp_path, capsys):
    leaderboard_study(tmp_path)
    assert report.main(str(tmp_path)) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "report" / "tables" / "leaderboard.csv").set_index("method")
    sa = table.loc["sa"]
    assert (sa["runs"], sa["feasible_runs"], sa["successful_runs"], sa["p_s"]) == (10, 10, 3, 0.3)
    assert sa["tts99_s"] == pytest.approx(2 * math.log(0.01) / math.log(0.7))
    low, high = metrics.bootstrap_tts99([True] * 3 + [False] * 7, [2.0] * 10)
    assert (sa["tts99_low_s"], sa["tts99_high_s"]) == pytest.approx((low, high))
    assert sa["time_to_best_s"] == pytest.approx(1.45)  # mean of 1.0, 1.1, ..., 1.9
    assert pd.isna(sa["optimal_lift"]) and pd.isna(sa["two_qubit_gates"]) and pd.isna(sa["covers_space"])
    cell = f"{sa['tts99_s']:.3g} [{low:.3g}, {'inf' if math.isinf(high) else f'{high:.3g}'}]"
    assert cell == "25.8 [10.1, inf]"
    row = f"| mdkp | hp1 | sa | 10 | 10 | 3 | 30.0% | - | - | {cell} | 1.45 | 3.5% | 3.5% | - | - | - | - |"
    assert row in printed and row in (tmp_path / "report" / "report.md").read_text()
    q = table.loc["qaoa"]
    assert (q["p_s"], q["tts99_s"], q["tts99_low_s"], q["tts99_high_s"]) == (1.0, 5.0, 5.0, 5.0)
    assert (q["optimal_lift"], q["raw_gap"], q["energy_approximation_ratio"]) == (5.0, 0.5, 0.9)
    assert (q["two_qubit_gates"], q["qubits"], q["shot_success_probability"]) == (110, 60, 0.25)
    assert bool(q["covers_space"]) is True  # one run sampled a quarter of the space: flagged
    assert "| mdkp | hp1 | qaoa | 2 | 2 | 2 | 100.0% | 25.0% | 5x | 5 [5, 5] |" in printed
    # The fields other branches add land in the Parquet store.
    stored = store.read(tmp_path / "store" / "records.parquet").set_index("key")
    assert stored.loc["q1", "covers_space"] and stored.loc["q0", "optimal_lift"] == 4.0
    assert stored.loc["q1", "two_qubit_gates"] == 120 and stored.loc["sa1", "time_to_best"] == 1.1
    assert [list(p) for p in stored.loc["sa1", "incumbents"]] == [[1.1, 3000.0]]


@pytest.mark.slow
def test_report_epsilon_is_a_threshold_on_the_gap(tmp_path, capsys):
    leaderboard_study(tmp_path)
    result = subprocess.run([sys.executable, "-m", "qbench", "report", str(tmp_path), "--epsilon", "0.05"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "successful@0.05" in result.stdout
    sa = pd.read_csv(tmp_path / "report" / "tables" / "leaderboard.csv").set_index("method").loc["sa"]
    assert (sa["successful_runs"], sa["p_s"], sa["tts99_s"]) == (10, 1.0, 2.0)
    bad = subprocess.run([sys.executable, "-m", "qbench", "report", str(tmp_path), "--epsilon", "-0.1"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "qbench: error: --epsilon: must be a relative gap >= 0 (0 = optimal only), got -0.1"]


def test_report_skips_invalid_records_with_one_warning_each(tmp_path, capsys):
    from qbench import cli
    from tests.test_store import BAD_FIELDS, write_bad

    write_record(rec("good"), tmp_path / "good" / "runs" / "good")
    kinds = ["solution-string", "created-number", "key-number", "status-number", "feasible-string",
             "problem-null", "solver-null", "status-null", "gap-nan", "objective-infinity", "nested-file"]
    bad = {kind: write_bad(tmp_path / kind, kind) for kind in kinds}
    with pytest.raises(SystemExit) as exit:
        cli.main(["report", str(tmp_path)])
    assert exit.value.code == 0
    captured = capsys.readouterr()
    warnings = captured.err.splitlines()
    assert len(warnings) == len(kinds)
    for kind, path in bad.items():
        assert any(w.startswith(f"qbench: warning: skipped {path}: {BAD_FIELDS[kind][2]}") for w in warnings), kind
    table = pd.read_csv(tmp_path / "report" / "tables" / "summary.csv")
    assert table[["problem", "method", "runs", "gap_mean"]].values.tolist() == [["mdkp", "scip", 1, 0.0]]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "inf%" not in text and "nan%" not in text and "1 runs: 1 ok, 0 error, 0 timeout" in text
