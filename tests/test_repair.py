"""Repair: every class's heuristic against brute force on small instances, the never-worse rule
of :mod:`qbench.repair`, raw and repaired figures in the record, the summary and the report."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qbench.problems import bitalloc, mdkp, mis, msp, qap, tsp
from qbench.errors import ConfigError
from qbench.problem import Evaluation
from qbench.records import RunRecord
from qbench.repair import better, repair_answer, repair_setting
from qbench.summary import format_summary
from tests.helpers import run

#: Small instances of every class (at most 12 binaries, so brute force is instant).
INSTANCES = {
    "mdkp": [mdkp.generate(mdkp.Generator(n_items=10, n_constraints=3, tightness=t, seed=s))
             for s, t in ((0, 0.3), (1, 0.5), (2, 0.7))],
    "mis": [mis.generate(mis.Generator(n=11, p=p, seed=s)) for s, p in ((0, 0.2), (1, 0.4), (2, 0.6))],
    "qap": [qap.generate(qap.Generator(n=3, seed=s)) for s in range(3)],
    "tsp": [tsp.generate(tsp.Generator(n=4, seed=0)),
            tsp.generate(tsp.Generator(n=3, seed=1), tsp.Options(fix_first_city=False)),
            tsp.generate(tsp.Generator(n=5, seed=2), tsp.Options(model="edge"))],
    "msp": [msp.generate(msp.Generator(m=2, n=10, cap=5, seed=s)) for s in range(3)]
    + [msp.generate(msp.Generator(m=3, n=12, cap=20, seed=4))],
    "bitalloc": [bitalloc.generate(bitalloc.Generator(n_layers=4, n_ties=1, seed=2)),
                 bitalloc.generate(bitalloc.Generator(n_layers=4, seed=5), bitalloc.Options(frac=0.3)),
                 bitalloc.generate(bitalloc.Generator(n_layers=8, widths=(4, 8), n_ties=2, seed=1))],
}
CASES = [(kind, k) for kind, problems in INSTANCES.items() for k in range(len(problems))]


def _size(problem) -> int:
    return problem.to_quadratic_program().get_num_vars()


def _all_vectors(problem) -> np.ndarray:
    return np.array(list(itertools.product((0, 1), repeat=_size(problem))), dtype=np.int8)


def _optima(problem) -> list[np.ndarray]:
    """Every optimal decision vector, by brute force (market split without an exact split:
    every vector of least violation, its objective)."""
    vectors = _all_vectors(problem)
    evaluations = [problem.evaluate(x) for x in vectors]
    feasible = [(x, e.objective) for x, e in zip(vectors, evaluations) if e.feasible or problem.kind == "msp"]
    best = (max if problem.sense == "max" else min)(v for _, v in feasible)
    return [x for x, v in feasible if v == pytest.approx(best, rel=1e-12, abs=1e-12)]


@pytest.mark.parametrize(("kind", "k"), CASES)
def test_repair_is_feasible_and_never_worse_on_random_inputs(kind, k):
    problem = INSTANCES[kind][k]
    rng = np.random.default_rng(k)
    n = _size(problem)
    infeasible = 0
    for density in (0.2, 0.5, 0.8):
        for _ in range(15):
            x = (rng.random(n) < density).astype(np.int8)
            raw = problem.evaluate(x)
            fixed = problem.repair(x)
            assert fixed.shape == (n,) and set(np.unique(fixed)) <= {0, 1}
            repaired = problem.evaluate(fixed)
            assert not better(raw, repaired, problem.sense), (x, raw, repaired)
            assert np.array_equal(problem.repair(x), fixed)  # deterministic
            infeasible += not raw.feasible
            if kind == "msp":
                assert repaired.violation <= raw.violation
            else:
                assert repaired.feasible, (x, repaired)
            if raw.feasible:
                assert repaired.feasible
    assert infeasible >= 10  # the inputs did exercise the repair


@pytest.mark.parametrize(("kind", "k"), CASES)
def test_repair_returns_every_optimal_input_unchanged(kind, k):
    problem = INSTANCES[kind][k]
    for x in _optima(problem):
        assert np.array_equal(problem.repair(x), x), x


def test_market_split_repair_ends_where_no_single_flip_lowers_the_violation():
    problem = INSTANCES["msp"][3]
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(0, 2, size=problem.n_retailers)
        y = problem.repair(x)
        violation = problem.evaluate(y).violation
        assert violation <= problem.evaluate(x).violation
        for j in range(problem.n_retailers):
            flipped = y.copy()
            flipped[j] ^= 1
            assert problem.evaluate(flipped).violation >= violation


def test_market_split_repair_reaches_an_exact_split_one_flip_away():
    problem = INSTANCES["msp"][0]
    split = _optima(problem)[0]
    for j in range(problem.n_retailers):
        x = split.copy()
        x[j] ^= 1
        if problem.evaluate(x).violation > 0:  # a retailer with an all-zero column changes nothing
            assert problem.evaluate(problem.repair(x)).violation == 0


def test_knapsack_repair_adds_no_item_of_zero_profit():
    problem = mdkp.Mdkp("t", np.array([5.0, 0.0]), np.array([[1.0, 1.0]]), np.array([2.0]))
    assert problem.repair(np.array([1, 0])).tolist() == [1, 0]


def test_bit_allocation_repair_spends_leftover_budget():
    """After lowering widths to meet the budget, no single raise that fits would lower the
    perturbation further."""
    problem = INSTANCES["bitalloc"][0]
    groups = bitalloc._tie_groups(problem.n_layers, problem.ties)
    rng = np.random.default_rng(0)
    for _ in range(30):
        x = rng.integers(0, 2, size=_size(problem))
        y = problem.repair(x)
        base = problem.evaluate(y)
        k = problem.choices(y).argmax(axis=1)
        for group in groups:
            if k[group[0]] + 1 == len(problem.widths):
                continue
            raised = k.copy()
            raised[group] += 1
            z = np.zeros((problem.n_layers, len(problem.widths)), dtype=np.int8)
            z[np.arange(problem.n_layers), raised] = 1
            after = problem.evaluate(problem.encode_choices(z))
            assert not (after.feasible and after.objective < base.objective - 1e-12)


def test_better_orders_feasibility_then_objective_then_violation():
    feasible, infeasible = Evaluation(10.0, True, 0.0), Evaluation(50.0, False, 3.0)
    assert better(feasible, infeasible, "max") and not better(infeasible, feasible, "max")
    assert better(Evaluation(11.0, True, 0.0), feasible, "max")
    assert better(Evaluation(9.0, True, 0.0), feasible, "min") and not better(feasible, feasible, "max")
    assert not better(Evaluation(10.0 + 1e-12, True, 0.0), feasible, "max")  # float noise is a tie
    assert better(Evaluation(99.0, False, 1.0), infeasible, "max")
    assert not better(Evaluation(1.0, False, 3.0), infeasible, "min")


def test_a_repair_that_is_not_better_is_not_kept(monkeypatch):
    problem = INSTANCES["mdkp"][1]
    x = _optima(problem)[0]
    monkeypatch.setattr(mdkp.Mdkp, "repair", lambda self, v: np.zeros_like(v))  # feasible but worse
    kept = repair_answer(problem, x, "greedy")
    assert np.array_equal(kept.x, x) and kept.evaluation == kept.raw == problem.evaluate(x)
    overloaded = np.ones_like(x)
    taken = repair_answer(problem, overloaded, "greedy")  # infeasible: the empty knapsack beats it
    assert taken.evaluation.feasible and not taken.raw.feasible and not taken.x.any()
    assert repair_answer(problem, overloaded, "none").evaluation == problem.evaluate(overloaded)


def test_repair_setting_is_validated():
    assert repair_setting({}) == "greedy" and repair_setting({"repair": "none"}) == "none"
    with pytest.raises(ConfigError, match=r"^repair: 'fix' is not allowed; choose one of none, greedy$"):
        repair_setting({"repair": "fix"})


def test_bad_repair_value_is_a_one_line_error_record():
    record = run("repair=always", "solver=exact")
    assert record.status == "error" and record.error_traceback is None
    assert record.error == "repair: 'always' is not allowed; choose one of none, greedy"


#: One annealing read of one sweep: a deterministic, infeasible raw answer (violation 2).
ROUGH_SA = ("problem=mdkp", "problem.generator.n_items=8", "solver=sa", "solver.num_reads=1",
            "solver.num_sweeps=1", "seed=0", "progress=false")


def test_record_holds_raw_and_repaired_answers():
    record = run(*ROUGH_SA)
    assert record.status == "ok", record.error
    problem = mdkp.generate(mdkp.Generator(n_items=8))
    assert record.repair == "greedy" and record.reference_proven
    assert record.raw_feasible is False and record.raw_violation > 0 and record.raw_gap is None
    assert record.feasible and record.violation == 0 and record.gap is not None and record.gap >= 0
    final = problem.evaluate(np.array(record.solution))
    assert (final.objective, final.feasible) == (record.objective, True)
    assert "repair" in record.times
    lines = format_summary(record).splitlines()
    assert f"(raw {record.raw_objective:g}, greedy repair)" in lines[2] and "gap" in lines[2]
    assert lines[3].startswith("feasible   yes (violation 0); raw NO (violation ")


def test_repair_none_keeps_the_solver_answer():
    raw = run(*ROUGH_SA, "repair=none")
    repaired = run(*ROUGH_SA)
    assert raw.repair == "none" and raw.key != repaired.key
    assert (raw.objective, raw.feasible, raw.violation, raw.gap) == (
        raw.raw_objective, raw.raw_feasible, raw.raw_violation, raw.raw_gap)
    assert (raw.objective, raw.feasible, raw.violation) == (
        repaired.raw_objective, repaired.raw_feasible, repaired.raw_violation)
    assert "raw" not in format_summary(raw).splitlines()[2]


def test_optimal_answers_are_left_alone():
    record = run("problem=mis", "solver=scip", "progress=false")
    assert record.status == "ok", record.error
    assert record.repair == "greedy" and record.gap == record.raw_gap == 0
    assert (record.objective, record.feasible) == (record.raw_objective, record.raw_feasible)
    assert "raw" not in format_summary(record)


def _record(key: str, **fields) -> RunRecord:
    base = dict(key=key, problem="mdkp", instance="i", formulation="penalty", solver="qaoa", backend=None,
                seed=0, status="ok", sense="max", reference=10.0, repair="greedy", times={"total": 1.0},
                config={"solver": {"name": "qaoa"}})
    return RunRecord(**{**base, **fields})


def test_report_shows_raw_next_to_repaired(tmp_path):
    import pandas as pd

    from qbench import report
    from qbench.records import write_record

    records = [
        _record("a", objective=9.0, feasible=True, gap=0.1, raw_objective=7.0, raw_feasible=True, raw_gap=0.3),
        _record("b", seed=1, objective=8.0, feasible=True, gap=0.2, raw_objective=12.0, raw_feasible=False,
                raw_violation=2.0),
        _record("c", seed=2, objective=10.0, feasible=True, gap=0.0, raw_objective=10.0, raw_feasible=True, raw_gap=0.0),
    ]
    for r in records:
        write_record(r, tmp_path / r.key)
    old = tmp_path / "old" / "record.json"  # a record without repair fields: raw = final
    old.parent.mkdir()
    old.write_text(_record("d", solver="sa", objective=5.0, feasible=True, gap=0.5,
                           config={"solver": {"name": "sa"}}).to_json().replace('"repair": "greedy",', ""))
    report.main(str(tmp_path))
    table = pd.read_csv(tmp_path / "report" / "tables" / "summary.csv").set_index("method")
    q = table.loc["qaoa"]
    assert q["feasible_rate"] == 1.0 and q["raw_feasible_rate"] == pytest.approx(2 / 3)
    assert q["gap_mean"] == pytest.approx(0.1) and q["raw_gap_mean"] == pytest.approx(0.15)
    s = table.loc["sa"]
    assert s["raw_feasible_rate"] == 1.0 and s["raw_gap_mean"] == 0.5
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| feasible | feasible raw | gap mean | gap raw | gap median |" in text
    assert "| 100.0% | 66.7% | 10.0% | 15.0% | 10.0% |" in text


def test_store_labels_methods_by_repair_when_it_varies(tmp_path):
    from qbench import store
    from qbench.records import write_record

    write_record(_record("a", objective=1.0, feasible=True), tmp_path / "a")
    write_record(_record("b", repair="none", objective=1.0, feasible=True), tmp_path / "b")
    frame = store.load(tmp_path)
    assert sorted(frame["method"]) == ["qaoa repair=greedy", "qaoa repair=none"]
    assert frame["raw_feasible"].dtype == "boolean"


def test_pce_keeps_its_raw_decode_when_the_bit_flip_search_is_natively_worse(monkeypatch):
    """The search minimises QUBO energy, not the native objective; a search result that is
    natively worse than the raw decode (here: every bit set, an overloaded knapsack) is dropped."""
    import qbench.solvers.pce
    from qbench.localsearch import LocalSearchResult

    def overload(qubo, bits, depth):
        ones = np.ones_like(bits)
        return LocalSearchResult(bits=ones, energy=-np.inf, moves=1)

    monkeypatch.setattr(qbench.solvers.pce, "local_search", overload)
    record = run("solver=pce", "solver.layers=2", "solver.maxiter=5", "repair=none", "progress=false")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert (record.objective, record.feasible, record.violation) == (
        info["raw_objective"], info["raw_feasible"], info["raw_violation"])
    assert info["local_search_kept"] is False
    problem = mdkp.generate(mdkp.Generator())
    assert problem.evaluate(np.ones(problem.n_items)).violation > record.violation
