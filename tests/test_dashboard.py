"""The results dashboard: data helpers, solution drawings, and every view through Streamlit's
AppTest on a results directory made by real runs (tests/dashboard_records.py).

Expected numbers are computed here from the run records themselves (plain Python over
RunRecord objects), never from the code under test.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from qbench import registry
from qbench.dashboard import data, drawing, leaderboard, plots, serve
from qbench.records import RunRecord, write_record
from tests import dashboard_records

APP = str(Path(serve.APP))


@pytest.fixture(scope="session")
def results(tmp_path_factory) -> tuple[Path, list[tuple[str, RunRecord]]]:
    root = tmp_path_factory.mktemp("dashboard-results")
    return root, dashboard_records.build(root)


@pytest.fixture(scope="session")
def records(results) -> list[RunRecord]:
    return [r for _, r in results[1]]


def _app(directory: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("QBENCH_DASHBOARD_DIR", str(directory))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _leaderboard(at: AppTest) -> pd.DataFrame:
    boards = [d.value for d in at.dataframe if "feasible_rate" in d.value.columns]
    assert len(boards) == 1
    return boards[0]


def _expected_row(records: list[RunRecord], problem: str, solver: str, formulation: str | None = None,
                  seeds: tuple[int, int] | None = None) -> dict:
    """The leaderboard numbers of one problem x method, straight from the records."""
    runs = [r for r in records if r.problem == problem and r.solver == solver
            and (formulation is None or r.formulation == formulation)
            and (seeds is None or seeds[0] <= r.seed <= seeds[1])]
    ok = [r for r in runs if r.status == "ok"]
    feasible = [r for r in ok if r.feasible]
    gaps = [r.gap for r in feasible if r.gap is not None]
    success = [r.solver_info["optimal_probability"] for r in ok if "optimal_probability" in r.solver_info]
    return {
        "runs": len(runs), "ok": len(ok), "failed": len(runs) - len(ok),
        "feasible_rate": len(feasible) / len(runs),
        "gap_median": statistics.median(gaps) if gaps else None,
        "success_probability": statistics.fmean(success) if success else None,
        "qubits": statistics.median([r.qubits for r in ok if r.qubits is not None] or [np.nan]),
        "time_median_s": statistics.median([r.times["total"] for r in ok]),
    }


def _assert_row(board: pd.DataFrame, problem: str, method: str, expected: dict) -> None:
    rows = board[(board["problem"] == problem) & (board["method"] == method)]
    assert len(rows) == 1, f"{problem} x {method} not in\n{board[['problem', 'method']]}"
    row = rows.iloc[0]
    for name, value in expected.items():
        if value is None or (isinstance(value, float) and np.isnan(value)):
            assert pd.isna(row[name]), (name, row[name])
        else:
            assert row[name] == pytest.approx(value, rel=1e-9), (problem, method, name)


# --- data helpers --------------------------------------------------------------------------------
def test_load_reads_every_record_and_names_the_corrupt_file(results, records):
    root, _ = results
    table = data.load(root)
    assert sorted(table.frame["key"]) == sorted(r.key for r in records)
    assert len(table.skipped) == 1 and str(root / dashboard_records.CORRUPT) in table.skipped[0]
    assert data.options(table.frame)["experiment"] == ["extra", "study"]
    backends = {data.NONE_LABEL if r.backend is None else r.backend for r in records}
    assert data.options(table.frame)["backend"] == sorted(backends) and len(backends) == 2


def test_filters_keep_exactly_the_matching_records(results, records):
    frame = data.load(results[0]).frame
    chosen = data.apply(frame, data.Filters({"solver": ("sa",), "problem": ("mdkp", "mis")}))
    assert sorted(chosen["key"]) == sorted(r.key for r in records if r.solver == "sa")
    ranged = data.apply(frame, data.Filters(seeds=(1, 2)))
    assert sorted(ranged["key"]) == sorted(r.key for r in records if 1 <= r.seed <= 2)
    classical = data.apply(frame, data.Filters({"backend": (data.NONE_LABEL,)}))
    assert sorted(classical["key"]) == sorted(r.key for r in records if r.backend is None)
    assert data.apply(frame, data.Filters({"solver": ()}))["key"].tolist() == frame["key"].tolist()


def test_overview_counts_runs_by_experiment_and_status(results):
    root, made = results
    table = data.overview(data.load(root).frame).set_index("experiment")
    for experiment in ("study", "extra"):
        mine = [r for e, r in made if e == experiment]
        assert table.loc[experiment, "runs"] == len(mine)
        for status in ("ok", "error", "timeout"):
            assert table.loc[experiment, status] == sum(r.status == status for r in mine)
        assert table.loc[experiment, "last update"] == max(r.created for r in mine)


def test_signature_changes_when_a_record_lands(results, records, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(results[0], copy)
    before = data.signature(copy)
    assert before[0] == len(records) + 1  # the corrupt file is a record file too
    write_record(records[0], copy / "late" / "runs" / "new")
    assert data.signature(copy)[0] == before[0] + 1


def test_leaderboard_numbers_come_from_the_records(results, records):
    board = leaderboard.table(data.load(results[0]).frame)
    _assert_row(board, "mdkp", "scip", _expected_row(records, "mdkp", "scip"))  # one error run
    _assert_row(board, "mdkp", "sa / penalty", _expected_row(records, "mdkp", "sa", "penalty"))
    _assert_row(board, "mdkp", "sa / unbalanced", _expected_row(records, "mdkp", "sa", "unbalanced"))
    _assert_row(board, "mdkp", "lagrangian", _expected_row(records, "mdkp", "lagrangian"))
    _assert_row(board, "mdkp", "qaoa", _expected_row(records, "mdkp", "qaoa"))
    assert _expected_row(records, "mdkp", "scip")["feasible_rate"] == 0.5


def test_qubit_savings_of_slack_free_methods(results, records):
    savings = plots.savings_data(data.load(results[0]).frame).set_index("method")
    penalty = {r.qubo_variables for r in records if r.problem == "mdkp" and r.solver == "scip" and r.status == "ok"}
    assert len(penalty) == 1
    baseline = penalty.pop()
    lagrangian = next(r for r in records if r.solver == "lagrangian")
    unbalanced = next(r for r in records if r.formulation == "unbalanced")
    assert savings.loc["lagrangian", "saving"] == baseline - lagrangian.qubits
    assert savings.loc["sa / unbalanced", "qubits"] == unbalanced.qubo_variables
    assert savings.loc["sa / unbalanced", "saving_rate"] == pytest.approx(1 - unbalanced.qubo_variables / baseline)
    assert "scip" not in savings.index and "sa / penalty" not in savings.index


def test_trace_data_is_the_recorded_trace(results, records):
    frame = data.load(results[0]).frame
    qaoa = next(r for r in records if r.solver == "qaoa")
    labels = {label: index for label, index in data.run_labels(frame).items() if qaoa.key[:8] in label}
    traces = plots.trace_data(frame, labels)
    assert traces["value"].tolist() == pytest.approx(qaoa.solver_info["trace"])
    assert traces["evaluation"].tolist() == list(range(1, len(qaoa.solver_info["trace"]) + 1))


# --- drawings ------------------------------------------------------------------------------------
def test_every_solution_is_drawn_consistently_with_its_record(records):
    drawn = set()
    for record in records:
        if record.solution is None:
            continue
        rebuilt = drawing.rebuild(record.config["problem"], record.instance_hash)
        assert rebuilt.problem is not None, rebuilt.note
        picture = drawing.draw(rebuilt.problem, record.solution)
        assert isinstance(picture, drawing.Drawing), picture
        picture.chart.to_dict()  # a valid Vega-Lite spec
        x = np.array(record.solution)
        problem = rebuilt.problem
        if record.problem == "mdkp":
            assert picture.data["load"].tolist() == pytest.approx((problem.weights @ x).tolist())
            assert (picture.data["state"] == "over capacity").any() == (not record.feasible)
        elif record.problem == "mis":
            assert (picture.data["in_set"] == "in set").sum() == record.objective
        elif record.problem == "tsp":
            tour = picture.data["city"].tolist()
            assert tour[0] == tour[-1] and sorted(tour[:-1]) == list(range(problem.n))
            assert problem.tour_length(np.array(tour[:-1])) == record.objective
        elif record.problem == "qap":
            matrix = picture.data.pivot(index="facility", columns="location", values="value").to_numpy()
            assert problem.cost(matrix.argmax(axis=1)) == record.objective
        elif record.problem == "bitalloc":
            assert picture.data["bits"].tolist() == problem.bit_widths(x)
        elif record.problem == "msp":
            assert np.abs(picture.data["residual"]).sum() == record.violation
            assert (picture.data["residual"] ** 2).sum() == record.objective
        drawn.add(record.problem)
    assert drawn == {"mdkp", "mis", "qap", "tsp", "bitalloc", "msp"}


def test_tsp_map_from_distances_reproduces_them(records):
    tsp = next(r for r in records if r.problem == "tsp")
    problem = registry.build_problem(tsp.config["problem"])
    xy, where = drawing.city_positions(problem)
    assert where == "city coordinates" and np.array_equal(xy, problem.coordinates)
    # Without coordinates (an EXPLICIT matrix file) the map is reconstructed from the distances.
    xy, where = drawing.city_positions(dataclasses.replace(problem, coordinates=None))
    assert "MDS" in where
    rebuilt = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
    assert np.abs(rebuilt - problem.distances).max() < 2.0  # EUC_2D distances are rounded


def test_rebuild_says_why_it_cannot(records):
    failed = next(r for r in records if r.status == "error")
    assert "no-such-instance" in drawing.rebuild(failed.config["problem"], None).note
    mdkp = next(r for r in records if r.problem == "mdkp" and r.status == "ok")
    assert "differs" in drawing.rebuild(mdkp.config["problem"], "0" * 64).note
    assert "no problem config" in drawing.rebuild(None, None).note
    problem = registry.build_problem(mdkp.config["problem"])
    assert "has 6 variables" in drawing.draw(problem, [1, 0])


# --- serving -------------------------------------------------------------------------------------
def test_streamlit_command_is_local_headless_and_private(tmp_path):
    command = serve.streamlit_command(tmp_path, 8600)
    pairs = dict(zip(command[5::2], command[6::2]))
    assert command[1:5] == ["-m", "streamlit", "run", APP]
    assert pairs["--server.address"] == "127.0.0.1" and pairs["--server.port"] == "8600"
    assert pairs["--server.headless"] == "true" and pairs["--browser.gatherUsageStats"] == "false"
    assert command[-2:] == ["--", str(tmp_path.resolve())]


def test_cli_refuses_a_missing_directory_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "qbench", "dashboard", str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"qbench: error: results directory {str(tmp_path / 'nope')!r} does not exist (or is not a directory)"]
    result = subprocess.run([sys.executable, "-m", "qbench", "dashboard", str(tmp_path), "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--port must be in 1..65535" in result.stderr


# --- the app (AppTest) ---------------------------------------------------------------------------
@pytest.mark.slow
def test_every_view_renders_and_shows_the_records(results, records, monkeypatch):
    at = _app(results[0], monkeypatch)
    assert [t.label for t in at.tabs] == ["Overview", "Leaderboard", "Plots", "Run detail"]
    assert any("1 record file(s) could not be read" in w.value for w in at.warning)
    assert [m.value for m in at.metric][:3] == [str(len(records)), "2", str(sum(r.status == "ok" for r in records))]
    board = _leaderboard(at)
    _assert_row(board, "mdkp", "sa / penalty", _expected_row(records, "mdkp", "sa", "penalty"))
    _assert_row(board, "tsp", "scip", _expected_row(records, "tsp", "scip"))
    assert len(board) == len({(r.problem, r.solver, r.formulation) for r in records})
    assert at.get("download_button")[0].proto.label == "Download CSV"
    assert len(at.get("vega_lite_chart")) >= 6  # five plots (convergence included), a solution


@pytest.mark.slow
def test_filters_change_the_numbers(results, records, monkeypatch):
    at = _app(results[0], monkeypatch)
    before = _leaderboard(at)
    at.slider(key="filter_seeds").set_value((0, 1)).run()
    after = _leaderboard(at)
    assert len(after) < len(before)
    assert "sa / unbalanced" not in after["method"].tolist()  # its only run has seed 2
    _assert_row(after, "mis", "scip", _expected_row(records, "mis", "scip", seeds=(0, 1)))
    at.slider(key="filter_seeds").set_value((0, 3))
    at.multiselect(key="filter_problem").set_value(["mdkp"])
    at.multiselect(key="filter_formulation").set_value(["unbalanced"]).run()
    only = _leaderboard(at)
    assert only["method"].tolist() == ["sa / unbalanced"]
    _assert_row(only, "mdkp", "sa / unbalanced", _expected_row(records, "mdkp", "sa", "unbalanced"))
    assert only["raw_feasible_rate"].iloc[0] == 0.0 and only["feasible_rate"].iloc[0] == 1.0  # repaired
    at.multiselect(key="filter_formulation").set_value([])
    at.multiselect(key="filter_solver").set_value(["scip"]).run()
    _assert_row(_leaderboard(at), "mdkp", "scip", _expected_row(records, "mdkp", "scip"))
    assert [m.value for m in at.metric][:4] == ["2", "1", "1", "1"]  # 2 runs, 1 experiment, 1 ok, 1 error


@pytest.mark.slow
def test_run_detail_draws_each_kind_and_explains_failures(results, records, monkeypatch):
    at = _app(results[0], monkeypatch)
    box = at.selectbox(key="detail_run")
    for record in records:
        label = next(o for o in box.options if f"({record.key[:8]})" in o)
        at.selectbox(key="detail_run").set_value(label).run()
        assert not at.exception, (label, at.exception)
        if record.status != "ok":
            assert any(record.error in e.value for e in at.error)
            continue
        if record.solver == "lagrangian":  # a trace of one dict per iteration: shown as a table
            assert at.multiselect(key="detail_series").value == ["dual_value", "objective"]
            assert any(len(d.value) == len(record.solver_info["trace"]) and "dual_value" in d.value
                       for d in at.dataframe)
        rebuilt = drawing.rebuild(record.config["problem"], record.instance_hash)
        caption = drawing.draw(rebuilt.problem, record.solution).caption
        assert caption in [c.value for c in at.caption], label
        assert any(record.key in j.value for j in at.json)  # the whole record


@pytest.mark.slow
def test_a_record_landing_shows_on_the_next_rerun(results, records, tmp_path, monkeypatch):
    copy = tmp_path / "live"
    shutil.copytree(results[0], copy)
    at = _app(copy, monkeypatch)
    assert at.metric[0].value == str(len(records))
    late = dataclasses.replace(records[0], key="late000000000000", seed=7)
    write_record(late, copy / "study" / "runs" / late.key)
    at.run()
    assert at.metric[0].value == str(len(records) + 1)
    assert at.slider(key="filter_seeds").max == 7


def test_run_labels_tell_apart_two_records_of_one_configuration(results, records, tmp_path):
    copy = tmp_path / "twice"
    shutil.copytree(results[0], copy)
    write_record(records[0], copy / "again" / "runs" / records[0].key)
    frame = data.load(copy).frame
    labels = data.run_labels(frame)
    assert len(labels) == len(frame) == len(records) + 1
    assert sum(records[0].key[:8] in label for label in labels) == 2


def test_a_record_the_store_cannot_read_gives_a_message(tmp_path, monkeypatch):
    directory = tmp_path / "odd"
    (directory / "x").mkdir(parents=True)
    (directory / "x" / "record.json").write_text(
        '{"key": "k", "problem": "mdkp", "solver": "scip", "status": "ok", "times": [1, 2]}')
    at = _app(directory, monkeypatch)
    # The store skips such a record with a warning (as `report` does), so the page says so.
    assert not at.error
    assert at.warning and "1 record file(s) could not be read" in at.warning[0].value


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["empty", "corrupt-only", "missing"])
def test_empty_corrupt_or_missing_directory_gives_a_message(layout, tmp_path, monkeypatch):
    directory = tmp_path / "results"
    if layout != "missing":
        directory.mkdir()
    if layout == "corrupt-only":
        (directory / "x").mkdir()
        (directory / "x" / "record.json").write_text("[1, 2")
    at = _app(directory, monkeypatch)
    if layout == "missing":
        assert "does not exist" in at.error[0].value
        return
    assert "No run records" in at.info[0].value
    assert bool(at.warning) == (layout == "corrupt-only")


@pytest.mark.slow
def test_invalid_records_are_named_and_left_out_of_every_view(records, tmp_path, monkeypatch):
    from tests.test_store import BAD_FIELDS, write_bad

    directory = tmp_path / "results"
    good = next(r for r in records if r.status == "ok")
    write_record(good, directory / "study" / "runs" / good.key)
    kinds = ("seed-huge", "nested-file", "nested-info", "gap-nan", "status-number", "feasible-string")
    bad = {kind: write_bad(directory / kind, kind) for kind in kinds}
    at = _app(directory, monkeypatch)
    assert not at.error
    assert [t.label for t in at.tabs] == ["Overview", "Leaderboard", "Plots", "Run detail"]
    assert any(f"{len(kinds)} record file(s) could not be read" in w.value for w in at.warning)
    listed = "\n".join(c.value for c in at.code)
    for kind, path in bad.items():
        assert f"{path}: {BAD_FIELDS[kind][2]}" in listed, kind
    assert any(": 1 records" in c.value for c in at.caption)
    assert _leaderboard(at)["runs"].tolist() == [1]


# --- success and time to solution ----------------------------------------------------------------
def _success_board(at: AppTest) -> pd.DataFrame:
    boards = [d.value for d in at.dataframe if "tts99_s" in d.value.columns]
    assert len(boards) == 1
    return boards[0]


def _expected_success(records: list[RunRecord], problem: str, solver: str, formulation: str,
                      epsilon: float) -> dict:
    """Success and TTS99 of one problem x instance x method, straight from the records."""
    runs = [r for r in records if r.problem == problem and r.solver == solver and r.formulation == formulation
            and r.status == "ok"]
    assert len({r.instance for r in runs}) == 1
    wins = sum(bool(r.feasible) and r.gap is not None and r.gap <= epsilon + 1e-9 for r in runs)
    p = wins / len(runs)
    t = statistics.fmean(r.times["total"] for r in runs)
    tts = t if p >= 0.99 else math.inf if p == 0 else t * math.log(0.01) / math.log(1 - p)
    return {"instance": runs[0].instance, "runs": len(runs), "successful_runs": wins, "p_s": p, "tts99_s": tts}


@pytest.mark.slow
def test_success_leaderboard_follows_the_records_and_epsilon(results, records, monkeypatch):
    at = _app(results[0], monkeypatch)
    at.multiselect(key="filter_problem").set_value(["mdkp"]).run()
    for epsilon in (0.0, 0.5):
        at.number_input(key="leaderboard_epsilon").set_value(epsilon).run()
        board = _success_board(at)
        for solver, formulation, method in (("sa", "penalty", "sa / penalty"), ("lagrangian", "penalty", "lagrangian"),
                                            ("qaoa", "penalty", "qaoa")):
            expected = _expected_success(records, "mdkp", solver, formulation, epsilon)
            rows = board[(board["method"] == method) & (board["instance"] == expected.pop("instance"))]
            assert len(rows) == 1, (method, board[["instance", "method"]])
            for name, value in expected.items():
                assert rows.iloc[0][name] == pytest.approx(value, rel=1e-9), (method, name, epsilon)
            assert rows.iloc[0]["tts99_low_s"] <= rows.iloc[0]["tts99_s"] <= rows.iloc[0]["tts99_high_s"]
    assert [b.proto.label for b in at.get("download_button")] == ["Download CSV", "Download CSV"]
